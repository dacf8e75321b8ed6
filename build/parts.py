"""A work unit's result on disk: its part (the rows, parquet) and its marker (the summary, JSON).

The part is synced before the marker is written and the marker is synced before the unit counts as done,
so a finished unit survives a power loss. A marker or part that does not read back whole (empty, torn JSON,
a parquet file without its footer, another unit's summary, a row count that differs) means the unit is
run again, never that the build stops.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .faults import fault_point
from .output import fsync_dir, write_durable
from .schema import arrow_schema

SUMMARY_KEYS = frozenset({"unit", "source", "rows", "moved", "skipped_samples", "source_error"})


def write_part(part: Path, marker: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
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
    write_durable(marker, json.dumps(summary, sort_keys=True).encode())
    fsync_dir(part.parent)


def finished_summary(key: str, part: Path, marker: Path) -> dict[str, Any] | None:
    """The summary of unit ``key`` when its marker and part are both complete and agree; None otherwise
    (not run yet, or cut short: the unit is run again)."""
    try:
        summary = json.loads(marker.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or not set(summary) >= SUMMARY_KEYS or summary["unit"] != key:
        return None
    if not isinstance(summary["rows"], list):
        return None
    try:
        num_rows = pq.ParquetFile(part).metadata.num_rows
    except (OSError, ValueError, pa.ArrowException):
        return None
    return summary if num_rows == len(summary["rows"]) else None
