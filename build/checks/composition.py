"""The whole dataset against its own description: rows per config folder and shard names, the manifest's
counts, configs, sources and skips, and the card's ``configs`` globs and ``dataset_info``. These checks need
every row's small columns (counted in a :class:`DatasetTally`), never a clip."""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import MANIFEST, README, relative
from .report import VerifyReport
from .rows import bad_source_id

if TYPE_CHECKING:
    from datasets import Features

SHARD_NAME = re.compile(r"^train-(?P<fp>[0-9a-f]+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")


@dataclass
class DatasetTally:
    """What the whole-dataset checks need of the rows, counted one row at a time."""

    shards: list[str] = field(default_factory=list)  # relative paths, in reading order
    shard_rows: dict[str, int] = field(default_factory=dict)
    shard_keys: dict[str, Counter[str]] = field(default_factory=dict)  # config of each row, per shard
    rows_by: dict[str, Counter[str]] = field(
        default_factory=lambda: {"task": Counter(), "subtype": Counter(), "difficulty": Counter()}
    )
    sources: set[str] = field(default_factory=set)
    ids: dict[str, str] = field(default_factory=dict)  # row id -> the shard it is in

    def start_shard(self, shard: str) -> None:
        self.shards.append(shard)
        self.shard_rows[shard], self.shard_keys[shard] = 0, Counter()

    def add(self, row: dict, shard: str) -> str | None:
        """Count one row of ``shard``; the shard of an earlier row with its id when it is a duplicate."""
        rid = row.get("id")
        self.shard_rows[shard] += 1
        earlier = None
        if isinstance(rid, str):
            earlier = self.ids.get(rid)
            if earlier is None:
                self.ids[rid] = shard
        task, subtype, difficulty = row.get("task"), row.get("subtype"), row.get("difficulty")
        self.shard_keys[shard][f"{task}-{subtype}"] += 1
        self.rows_by["task"][str(task)] += 1
        self.rows_by["subtype"][f"{task}/{subtype}"] += 1
        self.rows_by["difficulty"][f"{task}/{difficulty}"] += 1
        if isinstance(row.get("source"), str):
            self.sources.add(row["source"])
        return earlier

    @property
    def num_rows(self) -> int:
        return sum(self.shard_rows.values())


def check_composition(
    folder: Path,
    tally: DatasetTally,
    manifest: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    expected: Features | None,
    report: VerifyReport,
) -> None:
    by_dir, fingerprints = check_config_folders(tally, report)
    if manifest is not None:
        check_manifest_totals(manifest, tally, fingerprints, report)
        check_manifest_configs(manifest, tally, by_dir, report)
        check_manifest_sources(manifest, tally, report)
    if meta is not None:
        check_card(folder, meta, manifest, tally, by_dir, expected, report)


def check_config_folders(tally: DatasetTally, report: VerifyReport) -> tuple[dict[str, list[str]], set[str]]:
    """Each ``data/<cfg>/`` folder holds only rows of that task-subtype, in numbered fingerprinted shards.
    Returns the shards per config and the fingerprints their names carry."""
    by_dir: dict[str, list[str]] = defaultdict(list)
    for s in tally.shards:
        parts = s.split("/")
        if len(parts) != 3 or parts[0] != "data":
            report.add("config", s, "a parquet file outside data/<task>-<subtype>/")
            continue
        by_dir[parts[1]].append(s)
    fingerprints = set()
    for cfg, files in sorted(by_dir.items()):
        for s in files:
            wrong = {k: n for k, n in tally.shard_keys[s].items() if k != cfg}
            if wrong:
                report.add("config", s, f"holds rows of other configs {dict(wrong)} (folder is {cfg!r})")
            m = SHARD_NAME.match(s.rsplit("/", 1)[-1])
            if not m:
                report.add("config", s, "shard name is not train-<fingerprint>-NNNNN-of-NNNNN.parquet")
                continue
            fingerprints.add(m["fp"])
            if int(m["n"]) != len(files) or int(m["i"]) >= len(files):
                i, n = int(m["i"]), int(m["n"])
                report.add("config", s, f"shard numbering says {i} of {n}, the folder has {len(files)}")
    report.count("configs", len(by_dir))
    return by_dir, fingerprints


def check_manifest_totals(
    manifest: dict[str, Any], tally: DatasetTally, fingerprints: set[str], report: VerifyReport
) -> None:
    """The fingerprint, the row count and the counts per task, subtype and difficulty."""
    fp = manifest.get("fingerprint")
    if fingerprints and fingerprints != {fp}:
        report.add("manifest", MANIFEST, f"fingerprint {fp!r}, shards carry {sorted(fingerprints)}")
    if manifest.get("num_rows") != tally.num_rows:
        report.add(
            "manifest", MANIFEST, f"num_rows {manifest.get('num_rows')!r}, the shards hold {tally.num_rows}"
        )
    counts = manifest.get("counts")
    if not isinstance(counts, dict):
        report.add("manifest", MANIFEST, "has no 'counts' (task, subtype, difficulty)")
        return
    for kind in ("task", "subtype", "difficulty"):
        got, want = dict(tally.rows_by[kind]), counts.get(kind)
        if not isinstance(want, dict):
            report.add("manifest", MANIFEST, f"counts has no {kind!r} table")
            continue
        for key in sorted(set(got) | set(want)):
            if got.get(key, 0) != want.get(key, 0):
                report.add(
                    "manifest",
                    MANIFEST,
                    f"counts.{kind}[{key!r}] is {want.get(key, 0)}, the shards hold {got.get(key, 0)} rows",
                )


def check_manifest_configs(
    manifest: dict[str, Any], tally: DatasetTally, by_dir: dict[str, list[str]], report: VerifyReport
) -> None:
    """Rows and shards per config."""
    configs = manifest.get("configs")
    if not isinstance(configs, dict):
        report.add("manifest", MANIFEST, "has no 'configs' (rows and shards per config)")
        return
    for cfg in sorted(set(configs) | set(by_dir)):
        entry = configs.get(cfg)
        files = sorted(by_dir.get(cfg, []))
        rows = sum(tally.shard_rows[s] for s in files)
        if not isinstance(entry, dict):
            report.add("manifest", MANIFEST, f"configs lacks {cfg!r} (data/{cfg}/ holds {rows} rows)")
            continue
        if entry.get("rows") != rows:
            report.add(
                "manifest",
                MANIFEST,
                f"configs[{cfg!r}].rows is {entry.get('rows')!r}, the shards hold {rows}",
            )
        listed = sorted(entry.get("shards") or [])
        if listed != files:
            report.add("manifest", MANIFEST, f"configs[{cfg!r}].shards {listed} != on disk {files}")


def check_manifest_sources(manifest: dict[str, Any], tally: DatasetTally, report: VerifyReport) -> None:
    """The sources listed are exactly the rows' sources; nothing listed as skipped has rows."""
    sources = tally.sources
    listed = manifest.get("sources")
    if listed is not None and not isinstance(listed, list):
        report.add("manifest", MANIFEST, "'sources' is not a list")
    elif listed is not None:
        for s in sorted(sources - set(listed)):
            report.add("manifest", MANIFEST, f"source {s!r} has rows but is not in 'sources'")
        for s in sorted(set(listed) - sources):
            report.add("manifest", MANIFEST, f"'sources' lists {s!r}, which has no rows")
        for s in listed:
            bad = bad_source_id(s)
            if bad:
                report.add("source", MANIFEST, f"source id {s!r} {bad}")
    for key in ("skipped", "skipped_sources"):
        check_skipped_sources(manifest, key, sources, report)
    n_used = manifest.get("num_sources_used")
    if isinstance(n_used, int) and n_used != len(sources):
        report.add(
            "manifest", MANIFEST, f"num_sources_used {n_used}, the rows come from {len(sources)} sources"
        )
    skipped_samples = manifest.get("skipped_samples")
    if isinstance(skipped_samples, list):
        for s in skipped_samples:
            if not (isinstance(s, dict) and s.get("id") and s.get("reason")):
                report.add("manifest", MANIFEST, f"skipped_samples entry {s!r} lacks an id or a reason")
            elif s["id"] in tally.ids:
                report.add("manifest", MANIFEST, f"sample {s['id']!r} is listed as skipped but is a row")


def check_skipped_sources(
    manifest: dict[str, Any], key: str, sources: set[str], report: VerifyReport
) -> None:
    skipped = manifest.get(key)
    if skipped is None:
        return
    if not isinstance(skipped, list) or not all(
        isinstance(s, dict) and s.get("source") and s.get("reason") for s in skipped
    ):
        report.add("manifest", MANIFEST, f"'{key}' is not a list of {{source, reason}} with both set")
        return
    for s in sorted({s["source"] for s in skipped} & sources):
        report.add("manifest", MANIFEST, f"source {s!r} is listed in '{key}' but has rows")
    n_skipped = manifest.get("num_sources_skipped")
    if key == "skipped_sources" and isinstance(n_skipped, int) and n_skipped != len(skipped):
        report.add("manifest", MANIFEST, f"num_sources_skipped {n_skipped} != {len(skipped)} in '{key}'")


def glob_shards(folder: Path, pattern: str) -> set[str]:
    """The files a README ``data_files`` pattern selects, resolved as ``datasets`` resolves them."""
    if pattern.startswith("/") or ".." in pattern.split("/"):
        return set()
    try:
        from datasets.data_files import resolve_pattern
    except ImportError:  # no datasets: pathlib's glob (the same for the patterns the card writes)
        return {relative(p, folder) for p in folder.glob(pattern) if p.is_file()}
    try:
        found = resolve_pattern(pattern, base_path=str(folder))
    except FileNotFoundError:
        return set()
    return {Path(os.path.relpath(str(f).removeprefix("file://"), folder)).as_posix() for f in found}


def check_card(
    folder: Path,
    meta: dict[str, Any],
    manifest: dict[str, Any] | None,
    tally: DatasetTally,
    by_dir: dict[str, list[str]],
    expected: Features | None,
    report: VerifyReport,
) -> None:
    """The card's YAML: its fingerprint, a config per dataset, task and config folder whose globs select
    exactly that one's shards, and a ``dataset_info`` entry per config with its row count."""
    if manifest is not None and meta.get("videossr_fingerprint") not in (None, manifest.get("fingerprint")):
        report.add(
            "readme",
            README,
            f"videossr_fingerprint {meta.get('videossr_fingerprint')!r} != "
            f"manifest {manifest.get('fingerprint')!r}",
        )
    expected_sets: dict[str, set[str]] = {"default": set(tally.shards)}
    for t in sorted({cfg.split("-", 1)[0] for cfg in by_dir}):
        expected_sets[t] = {s for cfg, files in by_dir.items() if cfg.split("-", 1)[0] == t for s in files}
    for cfg, files in by_dir.items():
        expected_sets.setdefault(cfg, set(files))
    configs = meta.get("configs")
    if not isinstance(configs, list):
        report.add("readme", README, "YAML has no 'configs' list")
        configs = []
    names = [c.get("config_name") for c in configs if isinstance(c, dict)]
    for name, k in Counter(names).items():
        if k > 1:
            report.add("readme", README, f"config {name!r} is declared {k} times")
    defaults = [c.get("config_name") for c in configs if isinstance(c, dict) and c.get("default")]
    if configs and len(defaults) != 1:
        report.add("readme", README, f"exactly one config must be the default, found {defaults}")
    for name in sorted(set(expected_sets) - set(names)):
        report.add("readme", README, f"no config {name!r} for the shards {sorted(expected_sets[name])[:3]}")
    for c in configs:
        check_card_config(folder, c, expected_sets, report)
    check_dataset_info(meta, names, expected_sets, tally, expected, report)


def check_card_config(
    folder: Path, config: object, expected_sets: dict[str, set[str]], report: VerifyReport
) -> None:
    """One ``configs`` entry: its ``data_files`` globs select exactly its shards."""
    if not isinstance(config, dict):
        report.add("readme", README, f"config entry {config!r} is not a mapping")
        return
    name = config.get("config_name")
    data_files = config.get("data_files")
    if isinstance(data_files, str):
        data_files = [{"split": "train", "path": data_files}]
    elif isinstance(data_files, dict):  # {split: pattern(s)}
        data_files = [{"split": k, "path": v} for k, v in data_files.items()]
    if not isinstance(data_files, list) or not data_files:
        report.add("readme", README, f"config {name!r} has no data_files")
        return
    matched: set[str] = set()
    for df in data_files:
        paths = df.get("path") if isinstance(df, dict) else df
        for pattern in [paths] if isinstance(paths, str) else list(paths or []):
            hits = glob_shards(folder, str(pattern))
            if not hits:
                report.add("readme", README, f"config {name!r}: data_files glob {pattern!r} matches no shard")
            elif not all(h.endswith(".parquet") for h in hits):
                report.add("readme", README, f"config {name!r}: glob {pattern!r} matches non-parquet files")
            matched |= hits
    want = expected_sets.get(name)
    if want is None:
        report.add("readme", README, f"config {name!r} does not correspond to any data/ folder")
    elif matched and matched != want:
        extra, missing = sorted(matched - want), sorted(want - matched)
        report.add(
            "readme",
            README,
            f"config {name!r} globs match {len(matched)} shards, expected {len(want)}"
            + (f"; extra {extra[:3]}" if extra else "")
            + (f"; missing {missing[:3]}" if missing else ""),
        )


def check_dataset_info(
    meta: dict[str, Any],
    names: list[Any],
    expected_sets: dict[str, set[str]],
    tally: DatasetTally,
    expected: Features | None,
    report: VerifyReport,
) -> None:
    infos = meta.get("dataset_info")
    if isinstance(infos, dict):
        infos = [infos]
    if not isinstance(infos, list):
        report.add("readme", README, "YAML has no 'dataset_info'")
        return
    info_names = [i.get("config_name", "default") for i in infos if isinstance(i, dict)]
    for name in sorted(set(names) - set(info_names)):
        report.add("readme", README, f"dataset_info has no entry for config {name!r}")
    for info in infos:
        if not isinstance(info, dict):
            continue
        name = info.get("config_name", "default")
        splits = {s.get("name"): s for s in info.get("splits") or [] if isinstance(s, dict)}
        rows = (splits.get("train") or {}).get("num_examples")
        want = sum(tally.shard_rows[s] for s in expected_sets.get(name, set()))
        if name not in expected_sets:
            report.add("readme", README, f"dataset_info entry {name!r} is not a config of the data")
        elif rows != want:
            report.add(
                "readme",
                README,
                f"dataset_info[{name!r}] num_examples is {rows!r}, its shards hold {want} rows",
            )
        if expected is not None and "features" in info and not _features_match(info["features"], expected):
            report.add("readme", README, f"dataset_info[{name!r}] features differ from the row schema")


def _features_match(yaml_features: Any, expected: Features) -> bool:
    try:
        from datasets import Features

        return Features._from_yaml_list(yaml_features) == expected
    except Exception:
        return False
