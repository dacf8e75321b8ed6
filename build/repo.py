"""Write a folder laid out exactly as a Hugging Face dataset repo: parquet shards with embedded mp4 clips,
README.md (dataset card with configs and dataset_info), build_manifest.json and a preview picture.

Layout::

    README.md
    build_manifest.json
    preview.png
    data/<task>-<subtype>/train-<fingerprint>-00000-of-00001.parquet

Shard names carry a fingerprint of the content so that the README's ``configs`` change whenever the data
changes: ``load_dataset(FOLDER)`` caches by README YAML, not by data.
The whole folder is written under a staging name and swapped in at once (:mod:`.output`), so a reader sees
the complete previous dataset or the complete new one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from videossr.tasks import Sample

from .faults import fault_point
from .lock import dataset_locks
from .output import OutputRefused, check_replaceable, seal, start_staging, swap_in
from .render import DEFAULT_CRF, DEFAULT_PRESET, encode_clips
from .schema import COLUMNS, arrow_schema, clip_filename

DEFAULT_MAX_SHARD_BYTES = 500 * 1000 * 1000
ROW_GROUP_ROWS = 64
# Also cut a row group at this much video: the writer holds about 5x a row group at once (buffered rows, the
# combined table, encoded and compressed pages), so its memory stays small and flat however large the dataset;
# readers that fetch a few rows (the Hub viewer, a shuffled loader) read ~4 MB, not a whole 64-row group.
ROW_GROUP_BYTES = 4 * 1000 * 1000


def render_row(
    sample_id: str,
    source_id: str,
    sample: Sample,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
) -> dict[str, Any]:
    """Encode a sample's clips and return its dataset row (see :mod:`videossr.build.schema`)."""
    videos = [
        {"bytes": data, "path": clip_filename(sample_id, i)}
        for i, data in enumerate(encode_clips(list(zip(sample.clips, sample.fps)), crf=crf, preset=preset))
    ]
    return _row(sample_id, source_id, sample, videos)


def render_rows(
    items: list[tuple[str, str, Sample]],
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
) -> list[dict[str, Any]]:
    """Rows of several ``(sample_id, source_id, Sample)``."""
    return [render_row(sid, src, sample, crf=crf, preset=preset) for sid, src, sample in items]


def _row(sample_id: str, source_id: str, sample: Sample, videos: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": sample_id,
        "task": sample.task,
        "subtype": sample.subtype,
        "difficulty": sample.difficulty,
        "system": sample.system,
        "question": sample.question,
        "answer": sample.answer,
        "videos": videos,
        "fps": [float(f) for f in sample.fps],
        "num_frames": sample.num_frames,
        "frame_times": [[float(t) for t in times] for times in sample.frame_times],
        "source": source_id,
        "params": sample.params_json(),
    }


def config_name(task: str, subtype: str) -> str:
    return f"{task}-{subtype}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@dataclass
class ConfigStats:
    rows: int = 0
    num_bytes: int = 0
    shards: list[str] = field(default_factory=list)


@dataclass
class RepoSummary:
    """What was written: per-config row counts and bytes, the fingerprint and the shard paths."""

    out_dir: Path
    fingerprint: str
    configs: dict[str, ConfigStats]
    tasks: dict[str, list[str]]  # task -> its config names

    @property
    def num_rows(self) -> int:
        return sum(c.rows for c in self.configs.values())

    @property
    def num_bytes(self) -> int:
        return sum(c.num_bytes for c in self.configs.values())


class ArrowRow(dict):
    """A row read back from a parquet file that keeps its one-row Arrow table: writing it again is a copy,
    not a conversion from Python objects (which also imports pandas, ~0.3 s, through ``pa.array``)."""

    __slots__ = ("table",)

    def __init__(self, values: dict, table: pa.Table) -> None:
        super().__init__(values)
        self.table = table


class _ShardSink:
    """Rolls rows of one config into parquet files of at most ``max_bytes`` (by video payload)."""

    def __init__(self, staging: Path, config: str, schema: pa.Schema, max_bytes: int) -> None:
        self.dir = staging / config
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config, self.schema, self.max_bytes = config, schema, max_bytes
        self.files: list[Path] = []
        self.writer: pq.ParquetWriter | None = None
        self.buffer: list[dict | pa.Table] = []
        self.buffer_bytes = 0
        self.current_bytes = 0
        self.stats = ConfigStats()

    def _open(self) -> None:
        path = self.dir / f"part-{len(self.files):05d}.parquet"
        self.files.append(path)
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd", write_statistics=False)
        self.current_bytes = 0

    def _flush(self) -> None:
        if not self.buffer:
            return
        if self.writer is None:
            self._open()
        assert self.writer is not None
        if all(isinstance(item, pa.Table) for item in self.buffer):
            # Rows read back from parts: copied, not converted from Python (same bytes: contiguous chunks).
            table = pa.concat_tables(self.buffer).combine_chunks()
        else:
            rows = [item.to_pylist()[0] if isinstance(item, pa.Table) else item for item in self.buffer]
            table = pa.Table.from_pylist(rows, schema=self.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.buffer = []
        self.buffer_bytes = 0

    def add(self, row: dict, size: int) -> None:
        if self.writer is not None and self.current_bytes + size > self.max_bytes and self.current_bytes > 0:
            self._flush()
            self.writer.close()
            self.writer = None
        if self.writer is None and not self.buffer:
            self._open()
        # A row read back from a part is kept as its one-row Arrow table only (not also as Python objects).
        table = getattr(row, "table", None)
        self.buffer.append(table if table is not None and table.schema.equals(self.schema) else row)
        self.buffer_bytes += size
        self.current_bytes += size
        self.stats.rows += 1
        self.stats.num_bytes += size
        if len(self.buffer) >= ROW_GROUP_ROWS or self.buffer_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def close(self) -> list[Path]:
        self._flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        return self.files


def _row_size(row: dict) -> int:
    return sum(len(v["bytes"]) for v in row["videos"]) + sum(len(str(row[c])) for c in ("question", "params"))


def _row_digest(row: dict) -> bytes:
    h = hashlib.sha256()
    for col in COLUMNS:
        if col == "videos":
            for v in row["videos"]:
                h.update(hashlib.sha256(v["bytes"]).digest())
                h.update(v["path"].encode())
        else:
            h.update(json.dumps(row[col], sort_keys=True).encode())
        h.update(b"\x00")
    return h.digest()


def write_shards(
    rows: Iterable[dict],
    out_dir: str | os.PathLike,
    *,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> RepoSummary:
    """Stream rows (already sorted by id) into ``out_dir/data/<config>/`` shards, in a folder that has no
    ``data/`` yet (the staged dataset folder of :func:`finalize_repo`). Shards are written under work names
    and given their fingerprinted names once every row is in."""
    out_dir = Path(out_dir)
    final = out_dir / "data"
    if final.exists():
        raise FileExistsError(f"{final} exists: shards are written into a new folder")
    scratch = out_dir / ".shards"
    scratch.mkdir(parents=True)
    schema = arrow_schema()
    sinks: dict[str, _ShardSink] = {}
    tasks: dict[str, list[str]] = {}
    fp = hashlib.sha256()
    last_id: str | None = None
    try:
        for row in rows:
            if last_id is not None and row["id"] <= last_id:
                raise ValueError(f"rows must be sorted by unique id; {row['id']!r} came after {last_id!r}")
            last_id = row["id"]
            cfg = config_name(row["task"], row["subtype"])
            if cfg not in sinks:
                sinks[cfg] = _ShardSink(scratch, cfg, schema, max_shard_bytes)
                tasks.setdefault(row["task"], []).append(cfg)
            sinks[cfg].add(row, _row_size(row))
            fp.update(_row_digest(row))
        fingerprint = fp.hexdigest()[:12]
        final.mkdir()
        configs: dict[str, ConfigStats] = {}
        for cfg in sorted(sinks):
            files = sinks[cfg].close()
            (final / cfg).mkdir()
            for i, f in enumerate(files):
                name = f"train-{fingerprint}-{i:05d}-of-{len(files):05d}.parquet"
                os.replace(f, final / cfg / name)
                sinks[cfg].stats.shards.append(f"data/{cfg}/{name}")
            configs[cfg] = sinks[cfg].stats
    finally:
        for sink in sinks.values():
            if sink.writer is not None:
                sink.writer.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return RepoSummary(
        out_dir=out_dir,
        fingerprint=fingerprint,
        configs=configs,
        tasks={t: sorted(c) for t, c in sorted(tasks.items())},
    )


def open_shard(path: str | os.PathLike) -> pq.ParquetFile:
    """A shard opened for reading its rows in order: only the batch being read is in memory. (pyarrow's default
    pre-buffering makes ``iter_batches`` read every row group of the file up front: a 458 MB shard held 440 MB
    of Arrow memory while its rows were read, 16 MB without.)"""
    return pq.ParquetFile(path, pre_buffer=False)


def iter_repo_rows(out_dir: str | os.PathLike, columns: list[str] | None = None) -> Iterator[dict]:
    """Read rows back from a written repo with pyarrow (no torch), config by config, shard by shard."""
    for shard in sorted(Path(out_dir).glob("data/*/*.parquet")):
        pf = open_shard(shard)
        for batch in pf.iter_batches(batch_size=ROW_GROUP_ROWS, columns=columns):
            yield from batch.to_pylist()


def write_samples_repo(
    samples: Iterable[tuple[str, str, Sample]],
    out_dir: str | os.PathLike,
    *,
    dataset_name: str = "videossr-custom",
    crf: int = DEFAULT_CRF,
    manifest: dict[str, Any] | None = None,
) -> RepoSummary:
    """Render ``(sample_id, source_id, Sample)`` triples and write a complete Hub-layout folder.

    The small, single-process path (tests, notebooks). ``build/run.py`` renders in parallel workers and
    then calls :func:`finalize_repo` with the same rows.
    """
    rows = sorted((render_row(sid, src, s, crf=crf) for sid, src, s in samples), key=lambda r: r["id"])
    return finalize_repo(rows, out_dir, dataset_name=dataset_name, manifest=manifest or {})


@contextlib.contextmanager
def _returning_allocator() -> Iterator[None]:
    """pyarrow's default memory pool (what tables, concatenation and the parquet writer allocate from) is the
    system allocator in the block, for the whole process. pyarrow's own default, mimalloc, keeps the pages it
    freed in per-thread heaps: streaming rows through the writer left ~100 MB of them with the driver (up to
    ~200 MB as datasets grew), where the system allocator gives them back. (Parquet reads allocate from
    Arrow's C++ default, which this does not change; parts are read without pre-buffering instead.)"""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def finalize_repo(
    rows: Iterable[dict],
    out_dir: str | os.PathLike,
    *,
    dataset_name: str,
    manifest: dict[str, Any],
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    preview_rows: list[dict] | None = None,
    atomic_swap: bool = True,
) -> RepoSummary:
    """Write the dataset folder ``out_dir`` whole (shards, then the manifest, card and preview that describe
    them) under a staging name beside it, then make it visible in one step (see :mod:`.output`). Raises
    :class:`~.output.OutputRefused` before writing anything when ``out_dir`` is a folder this tool did not
    make, and :class:`~.lock.BuildLocked` when another process is writing it."""
    target = Path(out_dir)
    folder = Path(os.path.abspath(target))  # "." and ".." spelled out; a link as the last part is kept
    folder = folder.parent.resolve() / folder.name
    if not folder.name:
        raise OutputRefused(f"{target} is not a folder a dataset can be written to")
    with dataset_locks([folder]):
        check_replaceable(folder)
        staging = start_staging(folder)
        try:
            summary = _write_dataset(rows, staging, dataset_name, manifest, max_shard_bytes, preview_rows)
            seal(staging, dataset_name, summary.fingerprint)
            check_replaceable(folder)
            swap_in(staging, folder, atomic=atomic_swap)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    summary.out_dir = target
    return summary


def _write_dataset(
    rows: Iterable[dict],
    folder: Path,
    dataset_name: str,
    manifest: dict[str, Any],
    max_shard_bytes: int,
    preview_rows: list[dict] | None,
) -> RepoSummary:
    """Every published file of a dataset into the empty folder ``folder``."""
    from .card import write_card
    from .preview import write_preview

    with _returning_allocator():
        fault_point("shards")
        summary = write_shards(rows, folder, max_shard_bytes=max_shard_bytes)
        manifest = dict(manifest)
        manifest.setdefault("dataset", dataset_name)
        manifest["fingerprint"] = summary.fingerprint
        manifest["num_rows"] = summary.num_rows
        manifest["configs"] = {
            cfg: {"rows": s.rows, "num_bytes": s.num_bytes, "shards": s.shards}
            for cfg, s in summary.configs.items()
        }
        if "counts" not in manifest:
            manifest["counts"] = composition(folder)
        if "examples" not in manifest:
            manifest["examples"] = examples(folder)
        fault_point("preview")
        has_preview = write_preview(folder, preview_rows)
        fault_point("card")
        write_card(folder, summary, manifest, dataset_name=dataset_name, has_preview=has_preview)
        fault_point("manifest")
        atomic_write_text(
            folder / "build_manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        )
    return summary


def composition(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Counts per task, per task/subtype and per task/difficulty, read from the written shards."""
    by_task: dict[str, int] = {}
    by_subtype: dict[str, int] = {}
    by_difficulty: dict[str, int] = {}
    for row in iter_repo_rows(out_dir, columns=["task", "subtype", "difficulty"]):
        by_task[row["task"]] = by_task.get(row["task"], 0) + 1
        key = f"{row['task']}/{row['subtype']}"
        by_subtype[key] = by_subtype.get(key, 0) + 1
        dkey = f"{row['task']}/{row['difficulty']}"
        by_difficulty[dkey] = by_difficulty.get(dkey, 0) + 1
    return {
        "task": dict(sorted(by_task.items())),
        "subtype": dict(sorted(by_subtype.items())),
        "difficulty": dict(sorted(by_difficulty.items())),
    }


def examples(out_dir: str | os.PathLike) -> list[dict[str, str]]:
    """One example per task (its first row by id) for the dataset card."""
    found: dict[str, dict[str, str]] = {}
    for row in iter_repo_rows(out_dir, columns=["id", "task", "subtype", "system", "question", "answer"]):
        if row["task"] not in found or row["id"] < found[row["task"]]["id"]:
            found[row["task"]] = row
    return [found[t] for t in sorted(found)]
