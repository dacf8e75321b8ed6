"""Where a benchmark's release is on disk, and its rows as the release writes them.

A release is a local copy (``--data BENCH=PATH``: a folder laid out like the Hub repo, or one question file),
the spec's default local folder, or a snapshot of the Hub repo at the spec's revision. Rows come from the
spec's data files (json, jsonl, csv, parquet) or, without them, from the folder read as a Hub dataset: the
card's ``configs`` (or files named for the split) are read directly, so an edited local copy is never
shadowed by a cache of an older one.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .registry import BenchmarkSpec


class DatasetUnavailable(RuntimeError):
    """The benchmark's data cannot be found (offline, or no local copy): a one-line reason."""


class RowError(ValueError):
    """A row cannot be used; the reason is recorded on its item, which scores 0 and stays counted."""


class RowExcluded(Exception):
    """A well-formed row outside the evaluated subset (e.g. an open-ended question); counted by reason."""


@dataclass(frozen=True)
class Row:
    """One record of the release: its fields, its position, the config it came from."""

    fields: Mapping[str, object]
    index: int
    config: str | None = None
    error: str | None = None  # the row's config could not be read: the row stands for its missing items

    def get(self, key: str) -> object:
        """The field's value; a RowError when the column is absent or empty in this row."""
        if key not in self.fields:
            raise RowError(f"missing column {key!r}")
        value = self.fields[key]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RowError(f"missing column {key!r} (empty in this row)")
        return value

    def text(self, key: str) -> str:
        return str(self.get(key)).strip()

    def opt(self, key: str) -> object:
        """The field's value, or None when absent."""
        return self.fields.get(key)


@dataclass(frozen=True)
class DataSource:
    """A release on disk. ``folder`` is the dataset's own folder (a file's parent for a single file);
    ``allowed`` are the real paths its files may resolve into (a Hub snapshot's blobs live beside it)."""

    path: Path
    folder: Path
    allowed: tuple[Path, ...]
    origin: str

    @property
    def is_file(self) -> bool:
        return self.path.is_file()


def _source(path: Path, origin: str) -> DataSource:
    folder = path.parent if path.is_file() else path
    allowed = [folder.resolve()]
    real = folder.resolve()
    if real.parent.name == "snapshots":  # huggingface_hub cache: files are symlinks into ../../blobs
        allowed.append(real.parent.parent)
    return DataSource(path=path, folder=folder, allowed=tuple(allowed), origin=origin)


def locate_data(spec: BenchmarkSpec, data: str | None) -> DataSource:
    """The release: ``--data``, the benchmark's default local folder, or a Hub snapshot at its revision."""
    if data:
        path = Path(data).expanduser()
        if not path.exists():
            raise DatasetUnavailable(f"--data {spec.name}={data}: no such file or folder")
        return _source(path, f"--data {data}")
    if spec.default_local and Path(spec.default_local).is_dir():
        return _source(Path(spec.default_local), f"./{spec.default_local}")
    if spec.hub_id is None:
        raise DatasetUnavailable(
            f"{spec.name}: no Hub copy is registered; pass --data {spec.name}=PATH ({spec.manual})"
        )
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(spec.hub_id, repo_type="dataset", revision=spec.revision)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = f" or build it with `make demo` (./{spec.default_local})" if spec.default_local else ""
        raise DatasetUnavailable(
            f"{spec.name}: cannot get {spec.hub_id}@{spec.revision} ({reason}); pass --data {spec.name}=PATH"
            f"{hint}"
        ) from None
    return _source(Path(path), f"{spec.hub_id}@{spec.revision}")


def read_json(path: Path) -> object:
    """A JSON or JSON-lines file's value (a list of records for JSON lines)."""
    try:
        if path.suffix.lower() == ".jsonl":
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DatasetUnavailable(f"{path}: not readable as JSON ({exc})") from None


def records(value: object, path: Path, keys: tuple[str, ...] = ("data", "questions", "annotations")) -> list:
    """The list of records a JSON value holds: the value itself, or the list under one of ``keys``."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), list):
                return value[key]
    raise DatasetUnavailable(f"{path}: expected a list of records")


def read_file(path: Path) -> list:
    """Records of a question file: json, jsonl, csv or parquet."""
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return records(read_json(path), path)
    if suffix == ".csv":
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    raise DatasetUnavailable(f"{path}: unsupported file type {suffix!r} (json, jsonl, csv, parquet)")


def data_file_rows(spec: BenchmarkSpec, folder: Path) -> Iterator[Row]:
    """Rows of the spec's data files inside ``folder``; a config whose file is missing is one error row."""
    assert spec.data_files is not None
    index = 0
    for config in spec.configs:
        pattern = spec.data_files.format(config=config)
        matches = sorted(folder.glob(pattern))
        if not matches:
            if len(spec.configs) == 1:
                raise DatasetUnavailable(f"{folder}: no {pattern} (the {spec.title} question file)")
            yield Row({}, index, config, error=f"config {config} unavailable: no {pattern} in {folder}")
            index += 1
            continue
        for path in matches:
            for record in read_file(path):
                yield Row(record if isinstance(record, dict) else {}, index, config)
                index += 1


DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")


def card_configs(folder: Path) -> list[dict] | None:
    """The ``configs`` list of a Hub dataset card (README.md front matter), or None without one."""
    import yaml

    readme = folder / "README.md"
    if not readme.is_file():
        return None
    m = re.match(r"^---\s*\n(.*?)\n---\s*(?:\n|$)", readme.read_text(errors="replace"), re.DOTALL)
    try:
        meta = yaml.safe_load(m.group(1)) if m else None
    except yaml.YAMLError as exc:
        raise DatasetUnavailable(f"{readme}: its front matter is not YAML ({exc})") from None
    configs = meta.get("configs") if isinstance(meta, dict) else None
    return [c for c in configs if isinstance(c, dict)] if isinstance(configs, list) else None


def _card_entry(configs: list[dict], name: str | None) -> dict | None:
    if name is not None:
        return next((c for c in configs if c.get("config_name") == name), None)
    for pick in (lambda c: c.get("default") is True, lambda c: c.get("config_name", "default") == "default"):
        if found := next((c for c in configs if pick(c)), None):
            return found
    return configs[0] if len(configs) == 1 else None


def _split_patterns(entry: dict, split: str) -> list[str]:
    """The file patterns of one split in a card config (no split given means ``train``, as on the Hub)."""
    files = entry.get("data_files")
    if isinstance(files, str):
        return [files] if split == "train" else []
    if isinstance(files, dict):
        value = files.get(split)
        return [value] if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for f in files if isinstance(files, list) else []:
        if isinstance(f, str) and split == "train":
            out.append(f)
        elif isinstance(f, dict) and f.get("split") == split:
            out += [f["path"]] if isinstance(f.get("path"), str) else list(f.get("path") or [])
    return out


def _inferred(folder: Path, split: str) -> list[Path]:
    """Data files named for the split (``test-00000-of-00001.parquet``, ``test.jsonl``) or in its folder."""
    named = re.compile(rf"^{re.escape(split)}(?:$|[-_.])")
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.suffix.lower() in DATA_SUFFIXES
        and p.is_file()
        and (named.match(p.stem) or split in p.relative_to(folder).parts[:-1])
    ]


def split_files(folder: Path, config: str | None, split: str) -> list[Path]:
    """The data files of one config and split of a folder laid out as a Hub dataset repo."""
    configs = card_configs(folder)
    if configs:
        entry = _card_entry(configs, config)
        if entry is None:
            raise DatasetUnavailable(f"{folder}: its README has no config {config or 'default'!r}")
        files = sorted({p for pat in _split_patterns(entry, split) for p in folder.glob(pat) if p.is_file()})
    elif config is None:
        files = _inferred(folder, split)
    else:
        raise DatasetUnavailable(f"{folder}: no README.md configs to find config {config!r}")
    if not files:
        raise DatasetUnavailable(
            f"{folder}: no data files for split {split!r} of config {config or 'default'!r}"
        )
    return files


def iter_records(path: Path) -> Iterator[dict]:
    """Records of a data file; parquet is read in small batches (embedded videos stay bounded in memory)."""
    if path.suffix.lower() != ".parquet":
        yield from read_file(path)
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=64):
        yield from batch.to_pylist()


def hub_folder_rows(spec: BenchmarkSpec, folder: Path) -> Iterator[Row]:
    """Rows of a folder laid out as a Hub dataset repo (README configs, or files named for the split);
    one error row per config that cannot be read when the benchmark has several."""
    index = 0
    for config in spec.configs:
        try:
            files = split_files(folder, config, spec.split)
        except DatasetUnavailable as exc:
            if spec.configs == (None,):
                raise
            yield Row({}, index, config, error=f"config {config} unavailable: {exc}")
            index += 1
            continue
        for path in files:
            for record in iter_records(path):
                yield Row(record if isinstance(record, dict) else {}, index, config)
                index += 1


def release_rows(spec: BenchmarkSpec, source: DataSource) -> Iterator[Row]:
    """The release's rows in file order: a single file, the spec's data files, or the Hub dataset layout."""
    if source.is_file:
        for index, record in enumerate(read_file(source.path)):
            yield Row(record if isinstance(record, dict) else {}, index)
    elif spec.data_files:
        yield from data_file_rows(spec, source.folder)
    else:
        yield from hub_folder_rows(spec, source.folder)


def inside(path: str | os.PathLike, roots: tuple[Path, ...]) -> Path | None:
    """``path``'s real path when it lies under one of ``roots`` (real paths), else None."""
    real = Path(os.path.realpath(path))
    for root in roots:
        if real == root or root in real.parents:
            return real
    return None
