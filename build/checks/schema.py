"""A shard's columns, Arrow types and ``huggingface`` metadata against the published row schema."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pyarrow as pa

from ..schema import COLUMNS
from .report import VerifyReport

if TYPE_CHECKING:
    from datasets import Features


def expected_features() -> Features | None:
    """The row schema as ``datasets.Features``; None where ``datasets`` is not installed."""
    try:
        from ..schema import features

        return features()
    except ImportError:
        return None


def check_schema(schema: pa.Schema, where: str, expected: Features | None, report: VerifyReport) -> list[str]:
    """Compare a shard's schema to the row schema; return the expected columns it has."""
    names = schema.names
    present = [c for c in COLUMNS if c in names]
    for col in COLUMNS:
        if col not in names:
            report.add("schema", where, f"missing column {col!r}")
    for col in names:
        if col not in COLUMNS:
            report.add("schema", where, f"unexpected column {col!r}")
    if expected is None:
        return present
    want = expected.arrow_schema
    for col in present:
        got_t, want_t = schema.field(col).type, want.field(col).type
        if not got_t.equals(want_t):
            report.add("schema", where, f"column {col!r} has type {got_t}, expected {want_t}")
    if names != list(COLUMNS) and set(names) == set(COLUMNS):
        report.add("schema", where, f"columns are in the order {names}, expected {list(COLUMNS)}")
    _check_features_metadata(schema, where, expected, report)
    return present


def _check_features_metadata(schema: pa.Schema, where: str, expected: Features, report: VerifyReport) -> None:
    """The ``huggingface`` metadata that makes ``datasets`` read ``videos`` as a list of ``Video``."""
    meta = (schema.metadata or {}).get(b"huggingface")
    if meta is None:
        report.add(
            "schema", where, "no 'huggingface' schema metadata: datasets will not see `videos` as Video"
        )
        return
    try:
        from datasets import Features

        got = Features.from_dict(json.loads(meta)["info"]["features"])
    except Exception as exc:  # metadata that datasets cannot read
        report.add("schema", where, f"'huggingface' schema metadata is unreadable: {exc}")
        return
    if got != expected:
        diff = [k for k in set(got) | set(expected) if got.get(k) != expected.get(k)]
        report.add("schema", where, f"datasets features differ from the row schema in {sorted(diff)}")
