"""Parquet shards of a dataset folder: rows streamed into ``data/<task>-<subtype>/`` files of bounded size,
named by a fingerprint of their content, and read back a batch at a time.

Shard names carry the fingerprint so that the README's ``configs`` change whenever the data changes:
``load_dataset(FOLDER)`` caches by README YAML, not by data.
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

from .schema import COLUMNS, arrow_schema

DEFAULT_MAX_SHARD_BYTES = 500 * 1000 * 1000
ROW_GROUP_ROWS = 64
# Also cut a row group at this much video: the writer holds a few row groups' worth at once (buffered rows,
# the combined table, encoded and compressed pages), so its memory stays small and flat however large the
# dataset; readers that fetch a few rows (the Hub viewer, a shuffled loader) read one small row group.
ROW_GROUP_BYTES = 4 * 1000 * 1000


@contextlib.contextmanager
def returning_allocator() -> Iterator[None]:
    """pyarrow's default memory pool (what tables, concatenation and the parquet writer allocate from) is the
    system allocator in the block, for the whole process. pyarrow's own default, mimalloc, keeps the pages it
    freed in per-thread heaps, so streaming rows through the writer would leave the process holding memory
    that grows with the dataset; the system allocator gives it back. (Parquet reads allocate from Arrow's C++
    default, which this does not change; parts are read without pre-buffering instead.)"""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def config_name(task: str, subtype: str) -> str:
    return f"{task}-{subtype}"


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
    described: dict[str, Any] = field(default_factory=dict)  # the manifest's counts and examples

    @property
    def num_rows(self) -> int:
        return sum(c.rows for c in self.configs.values())

    @property
    def num_bytes(self) -> int:
        return sum(c.num_bytes for c in self.configs.values())


class ArrowRow(dict):
    """A row read back from a parquet file that keeps its one-row Arrow table: writing it again is a copy,
    not a conversion from Python objects (which also imports pandas, through ``pa.array``)."""

    __slots__ = ("table",)

    def __init__(self, values: dict, table: pa.Table) -> None:
        super().__init__(values)
        self.table = table


def row_size(row: dict) -> int:
    """What a row counts for in a shard's size: its video bytes and its longest text columns."""
    return sum(len(v["bytes"]) for v in row["videos"]) + sum(len(str(row[c])) for c in ("question", "params"))


def row_digest(row: dict) -> bytes:
    """A row's content, hashed: the dataset's fingerprint is made of these."""
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


class ShardFile:
    """One parquet shard being written: rows in the order given, a row group every ``ROW_GROUP_ROWS`` rows
    or ``row_group_bytes`` of video. Tallies what the dataset's manifest and card say of it: rows, bytes,
    the digest its content adds to the fingerprint, counts per task, subtype and difficulty, and each task's
    first row by id (the card's example)."""

    def __init__(self, path: Path, row_group_bytes: int = ROW_GROUP_BYTES) -> None:
        self.path, self.row_group_bytes, self.schema = path, row_group_bytes, arrow_schema()
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd", write_statistics=False)
        self.buffer: list[dict | pa.Table] = []
        self.buffer_bytes = 0
        self.stats = ShardStats()
        self.hash = hashlib.sha256()

    def add(self, row: dict, size: int | None = None) -> None:
        size = row_size(row) if size is None else size
        # A row read back from a part is kept as its one-row Arrow table only (not also as Python objects).
        table = getattr(row, "table", None)
        self.buffer.append(table if table is not None and table.schema.equals(self.schema) else row)
        self.buffer_bytes += size
        self.hash.update(row_digest(row))
        self.stats.count(row, size)
        if len(self.buffer) >= ROW_GROUP_ROWS or self.buffer_bytes >= self.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        if all(isinstance(item, pa.Table) for item in self.buffer):
            # Rows read back from parts: copied, not converted from Python (same bytes: contiguous chunks).
            table = pa.concat_tables(self.buffer).combine_chunks()
        else:
            rows = [item.to_pylist()[0] if isinstance(item, pa.Table) else item for item in self.buffer]
            table = pa.Table.from_pylist(rows, schema=self.schema)
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.buffer = []
        self.buffer_bytes = 0

    def close(self) -> ShardStats:
        try:
            self._flush()
        finally:
            self.writer.close()
        self.stats.digest = self.hash.hexdigest()
        return self.stats


@dataclass
class ShardStats:
    """What one shard holds, as the manifest and the card describe it (JSON-able: a shard's marker)."""

    rows: int = 0
    num_bytes: int = 0
    digest: str = ""
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"task": {}, "subtype": {}, "difficulty": {}}
    )
    examples: dict[str, dict[str, str]] = field(default_factory=dict)  # task -> its first row by id

    def count(self, row: dict, size: int) -> None:
        self.rows += 1
        self.num_bytes += size
        task = row["task"]
        for kind, key in (
            ("task", task),
            ("subtype", f"{task}/{row['subtype']}"),
            ("difficulty", f"{task}/{row['difficulty']}"),
        ):
            self.counts[kind][key] = self.counts[kind].get(key, 0) + 1
        first = self.examples.get(task)
        if first is None or row["id"] < first["id"]:
            self.examples[task] = {c: row[c] for c in EXAMPLE_COLUMNS}


EXAMPLE_COLUMNS = ("id", "task", "subtype", "system", "question", "answer")


def fingerprint(digests: Iterable[str]) -> str:
    """The dataset's fingerprint: its shards' digests, in the order of their names, hashed."""
    h = hashlib.sha256()
    for digest in digests:
        h.update(bytes.fromhex(digest))
    return h.hexdigest()[:12]


def shard_name(fp: str, index: int, count: int) -> str:
    return f"train-{fp}-{index:05d}-of-{count:05d}.parquet"


def summarize(out_dir: Path, fp: str, shards: list[tuple[str, ShardStats]]) -> RepoSummary:
    """The summary of a dataset folder whose shards (in name order, per config) hold ``shards``, with what
    its manifest says of them (``described``): counts per task, subtype and difficulty, and one example per
    task."""
    configs: dict[str, ConfigStats] = {}
    per_config: dict[str, int] = {}
    for cfg, _ in shards:
        per_config[cfg] = per_config.get(cfg, 0) + 1
    counts: dict[str, dict[str, int]] = {"task": {}, "subtype": {}, "difficulty": {}}
    examples: dict[str, dict[str, str]] = {}
    for cfg, stats in shards:
        c = configs.setdefault(cfg, ConfigStats())
        c.shards.append(f"data/{cfg}/{shard_name(fp, len(c.shards), per_config[cfg])}")
        c.rows += stats.rows
        c.num_bytes += stats.num_bytes
        for kind, table in stats.counts.items():
            for key, n in table.items():
                counts[kind][key] = counts[kind].get(key, 0) + n
        for task, row in stats.examples.items():
            if task not in examples or row["id"] < examples[task]["id"]:
                examples[task] = row
    tasks: dict[str, set[str]] = {}
    for cfg, stats in shards:
        for task in stats.counts["task"]:
            tasks.setdefault(task, set()).add(cfg)
    composition = {kind: dict(sorted(table.items())) for kind, table in counts.items()}
    described = {"counts": composition, "examples": [examples[t] for t in sorted(examples)]}
    return RepoSummary(out_dir, fp, configs, {t: sorted(c) for t, c in sorted(tasks.items())}, described)


class _ShardSink:
    """Rolls rows of one config into shard files of at most ``max_bytes`` (by video payload)."""

    def __init__(self, scratch: Path, config: str, max_bytes: int, row_group_bytes: int) -> None:
        self.dir = scratch / config
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.row_group_bytes = max_bytes, row_group_bytes
        self.files: list[tuple[Path, ShardStats]] = []
        self.current: ShardFile | None = None

    def add(self, row: dict, size: int) -> None:
        if self.current is not None and self.current.stats.num_bytes + size > self.max_bytes:
            self.files.append((self.current.path, self.current.close()))
            self.current = None
        if self.current is None:
            path = self.dir / f"part-{len(self.files):05d}.parquet"
            self.current = ShardFile(path, self.row_group_bytes)
        self.current.add(row, size)

    def close(self) -> list[tuple[Path, ShardStats]]:
        if self.current is not None:
            self.files.append((self.current.path, self.current.close()))
            self.current = None
        return self.files


def write_shards(
    rows: Iterable[dict],
    out_dir: str | os.PathLike,
    *,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    row_group_bytes: int = ROW_GROUP_BYTES,
) -> RepoSummary:
    """Stream rows (already sorted by id) into ``out_dir/data/<config>/`` shards, in a folder that has no
    ``data/`` yet (the staged dataset folder of :func:`.repo.finalize_repo`). Shards are written under work
    names and given their fingerprinted names once every row is in; a config's shard ends before the row
    that would take it over ``max_shard_bytes``. The summary's ``described`` holds the manifest's counts
    and examples."""
    out_dir = Path(out_dir)
    final = out_dir / "data"
    if final.exists():
        raise FileExistsError(f"{final} exists: shards are written into a new folder")
    scratch = out_dir / ".shards"
    scratch.mkdir(parents=True)
    sinks: dict[str, _ShardSink] = {}
    last_id: str | None = None
    try:
        for row in rows:
            if last_id is not None and row["id"] <= last_id:
                raise ValueError(f"rows must be sorted by unique id; {row['id']!r} came after {last_id!r}")
            last_id = row["id"]
            cfg = config_name(row["task"], row["subtype"])
            if cfg not in sinks:
                sinks[cfg] = _ShardSink(scratch, cfg, max_shard_bytes, row_group_bytes)
            sinks[cfg].add(row, row_size(row))
        written = [(cfg, path, stats) for cfg in sorted(sinks) for path, stats in sinks[cfg].close()]
        fp = fingerprint(stats.digest for _, _, stats in written)
        summary = summarize(out_dir, fp, [(cfg, stats) for cfg, _, stats in written])
        final.mkdir()
        for (cfg, path, _), name in zip(written, (s for c in summary.configs.values() for s in c.shards)):
            (final / cfg).mkdir(exist_ok=True)
            os.replace(path, out_dir / name)
    finally:
        for sink in sinks.values():
            if sink.current is not None:
                sink.current.writer.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return summary


def open_shard(path: str | os.PathLike) -> pq.ParquetFile:
    """A shard opened for reading its rows in order: only the batch being read is in memory (pyarrow's default
    pre-buffering makes ``iter_batches`` read every row group of the file up front)."""
    return pq.ParquetFile(path, pre_buffer=False)


def iter_repo_rows(out_dir: str | os.PathLike, columns: list[str] | None = None) -> Iterator[dict]:
    """Read rows back from a written repo with pyarrow (no torch), config by config, shard by shard."""
    for shard in sorted(Path(out_dir).glob("data/*/*.parquet")):
        pf = open_shard(shard)
        for batch in pf.iter_batches(batch_size=ROW_GROUP_ROWS, columns=columns):
            yield from batch.to_pylist()
