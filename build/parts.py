"""A work unit's result on disk: its part (the rows, parquet) and its marker (the summary, JSON), and the
rows of many parts read back in id order.

The part is synced before the marker is written and the marker is synced before the unit counts as done,
so a finished unit survives a power loss. A marker or part that does not read back whole (empty, torn JSON,
a parquet file without its footer, another unit's summary, a row count that differs) means the unit is
run again, never that the build stops.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .faults import fault_point
from .output import fsync_dir, write_durable
from .schema import arrow_schema
from .shards import ArrowRow

OPEN_PARTS = 32  # parquet parts kept open while rows are written out


@dataclass(frozen=True)
class SkippedSample:
    """A sample no draw could give (at its source and its fallbacks), and why."""

    id: str
    spec: str
    source: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class UnitSummary:
    """What one unit gave: its row ids (in part order), each row's config and size as shards count it, the
    samples made at a fallback source (sample id -> that source), the samples it could not give, why its
    source gave nothing (``None`` when it gave rows), and what the checks of its rows counted and found
    (problems as ``[check, where, message]``)."""

    unit: str
    source: str
    rows: list[str] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)
    skipped_samples: list[SkippedSample] = field(default_factory=list)
    source_error: str | None = None
    row_configs: list[str] = field(default_factory=list)
    row_bytes: list[int] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)
    problems: list[list[str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "skipped_samples": [s.to_dict() for s in self.skipped_samples]}

    @classmethod
    def from_json(cls, data: object) -> UnitSummary:
        """The summary a marker holds; ``ValueError`` when it is not one."""
        if not isinstance(data, dict) or not {f.name for f in fields(cls)} <= set(data):
            raise ValueError("not a unit summary")
        lists = ("rows", "skipped_samples", "row_configs", "row_bytes", "problems")
        if not all(isinstance(data[k], list) for k in lists) or not isinstance(data["moved"], dict):
            raise ValueError("not a unit summary")
        if not isinstance(data["checks"], dict) or len(data["row_configs"]) != len(data["rows"]):
            raise ValueError("not a unit summary")
        try:
            samples = [SkippedSample(**s) for s in data["skipped_samples"]]
        except TypeError:
            raise ValueError("not a unit summary") from None
        return cls(
            data["unit"],
            data["source"],
            data["rows"],
            data["moved"],
            samples,
            data["source_error"],
            data["row_configs"],
            data["row_bytes"],
            data["checks"],
            data["problems"],
        )

    def positions(self, config: str) -> list[int]:
        """Where the rows of ``config`` are in the unit's part (one row per row group)."""
        return [k for k, c in enumerate(self.row_configs) if c == config]


def write_part(part: Path, marker: Path, rows: list[dict[str, Any]], summary: UnitSummary) -> None:
    """Write a unit's rows (one row per row group: the driver reads them back one at a time, in id order,
    across parts) and then its summary, each synced to disk."""
    part.parent.mkdir(parents=True, exist_ok=True)
    fault_point("part")
    tmp = part.with_name(f".{part.name}.tmp-{os.getpid()}")
    pq.write_table(
        pa.Table.from_pylist(rows, schema=arrow_schema()), tmp, compression="zstd", row_group_size=1
    )
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, part)
    fault_point("unit-marker")
    write_durable(marker, json.dumps(summary.to_json(), sort_keys=True).encode())
    fsync_dir(part.parent)


def finished_summary(key: str, part: Path, marker: Path) -> UnitSummary | None:
    """The summary of unit ``key`` when its marker and part are both complete and agree; None otherwise
    (not run yet, or cut short: the unit is run again)."""
    try:
        summary = UnitSummary.from_json(json.loads(marker.read_bytes()))
    except (OSError, ValueError):
        return None
    if summary.unit != key:
        return None
    try:
        num_rows = pq.ParquetFile(part).metadata.num_rows
    except (OSError, ValueError, pa.ArrowException):
        return None
    return summary if num_rows == len(summary.rows) else None


def iter_part_rows(parts: list[Path], ids: list[str]) -> Iterator[ArrowRow]:
    """Rows of all parts in id order, one row in memory at a time and every byte read once. Samples are dealt
    to sources in turn, so id order visits the parts round-robin: parts hold one row per row group and each
    row is read on its own, on this thread and without pre-buffering (pyarrow's I/O threads would each keep
    a heap of freed pages). ``ParquetFile``, not ``pq.read_table``: the latter goes through
    ``pyarrow.dataset``, whose import pulls in pandas."""
    where: dict[str, tuple[Path, int, int]] = {}  # id -> (part, row group, row within it)
    for part in parts:
        pf = pq.ParquetFile(part)
        for group in range(pf.num_row_groups):
            for k, rid in enumerate(pf.read_row_group(group, columns=["id"]).column("id").to_pylist()):
                where[rid] = (part, group, k)
    handles: OrderedDict[Path, pq.ParquetFile] = OrderedDict()
    for rid in sorted(ids):
        part, group, k = where[rid]
        if part not in handles:
            handles[part] = pq.ParquetFile(part, pre_buffer=False)
            if len(handles) > OPEN_PARTS:
                handles.popitem(last=False)[1].close()
        handles.move_to_end(part)
        table = handles[part].read_row_group(group, use_threads=False).slice(k, 1)
        yield ArrowRow(table.to_pylist()[0], table)
    for pf in handles.values():
        pf.close()
