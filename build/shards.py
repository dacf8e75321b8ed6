"""Parquet shards of a dataset folder: rows streamed into ``data/<task>-<subtype>/`` files of bounded size,
named by a fingerprint of their content, and read back a batch at a time.

Shard names carry the fingerprint so that the README's ``configs`` change whenever the data changes:
``load_dataset(FOLDER)`` caches by README YAML, not by data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .schema import COLUMNS, arrow_schema

DEFAULT_MAX_SHARD_BYTES = 500 * 1000 * 1000
ROW_GROUP_ROWS = 64
# Also cut a row group at this much video: the writer holds a few row groups' worth at once (buffered rows,
# the combined table, encoded and compressed pages), so its memory stays small and flat however large the
# dataset; readers that fetch a few rows (the Hub viewer, a shuffled loader) read one small row group.
ROW_GROUP_BYTES = 4 * 1000 * 1000


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


class _ShardSink:
    """Rolls rows of one config into parquet files of at most ``max_bytes`` (by video payload)."""

    def __init__(
        self, staging: Path, config: str, schema: pa.Schema, max_bytes: int, row_group_bytes: int
    ) -> None:
        self.dir = staging / config
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config, self.schema, self.max_bytes = config, schema, max_bytes
        self.row_group_bytes = row_group_bytes
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
        if len(self.buffer) >= ROW_GROUP_ROWS or self.buffer_bytes >= self.row_group_bytes:
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
    row_group_bytes: int = ROW_GROUP_BYTES,
) -> RepoSummary:
    """Stream rows (already sorted by id) into ``out_dir/data/<config>/`` shards, in a folder that has no
    ``data/`` yet (the staged dataset folder of :func:`finalize_repo`). Shards are written under work names
    and given their fingerprinted names once every row is in. A row group ends after ``ROW_GROUP_ROWS``
    rows or ``row_group_bytes`` bytes of video."""
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
                sinks[cfg] = _ShardSink(scratch, cfg, schema, max_shard_bytes, row_group_bytes)
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
    """A shard opened for reading its rows in order: only the batch being read is in memory (pyarrow's default
    pre-buffering makes ``iter_batches`` read every row group of the file up front)."""
    return pq.ParquetFile(path, pre_buffer=False)


def iter_repo_rows(out_dir: str | os.PathLike, columns: list[str] | None = None) -> Iterator[dict]:
    """Read rows back from a written repo with pyarrow (no torch), config by config, shard by shard."""
    for shard in sorted(Path(out_dir).glob("data/*/*.parquet")):
        pf = open_shard(shard)
        for batch in pf.iter_batches(batch_size=ROW_GROUP_ROWS, columns=columns):
            yield from batch.to_pylist()
