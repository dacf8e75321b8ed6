"""``verify_repo``: every check of a built dataset folder, in the order they run.

Exactly the files a push uploads are checked (``publish.ALLOWLIST``); everything else in the folder is
never uploaded and is listed as a note, not a problem.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from ..publish import Publishable, publishable
from ..shards import open_shard
from .clips import clips_of_row
from .composition import DatasetTally, check_composition
from .decoding import ClipDecoder
from .files import list_shards, note_unpublished, read_manifest, read_readme, relative, sources_of
from .leaks import LeakScanner, MachineFacts, file_leaks, row_leaks
from .load import LoadCheck
from .report import VerifyReport
from .rows import check_row, check_video_bytes
from .schema import check_schema, expected_features

if TYPE_CHECKING:
    from datasets import Features

BATCH_ROWS = 64
TALLY_COLUMNS = ("id", "task", "subtype", "difficulty", "source")  # what the whole-dataset checks read


@dataclass(frozen=True)
class Scope:
    """Which of verify's checks run, and how (see :func:`verify_repo`)."""

    decode: bool = True
    load: bool = True
    workers: int = 1
    progress: bool = False
    rows: bool = True
    machines: tuple[MachineFacts, ...] = ()  # more machines whose names and folders are leaks


def verify_repo(
    folder: str | os.PathLike,
    *,
    other: str | os.PathLike | None = None,
    decode: bool = True,
    load: bool = True,
    workers: int | None = None,
    progress: bool | None = None,
    rows: bool = True,
    machines: tuple[MachineFacts, ...] = (),
) -> VerifyReport:
    """Check a built dataset folder; the report lists every problem found (``report.ok`` when none).

    ``other``: the sibling dataset (VIUBench for VideoSSR-30K and vice versa) that must share no source.
    ``decode``: decode every clip with ffmpeg. ``load``: run ``load_dataset`` on the folder.
    ``workers``: parallel clip decoders (default: the CPU count, at most 16).
    ``progress``: show a progress bar (default: when stderr is a terminal).
    ``rows``: run the checks of each row and clip. ``False`` after a build, whose workers ran them on every
    row as they rendered it: only the checks that need the whole dataset run (shards, composition, card,
    leaks in the published files, overlap, ``load_dataset`` of the ids, which needs no torch).
    ``machines``: other machines whose user and host names and folders count as leaks (this one's always
    do): the build's driver, when the checks run on a worker.
    """
    t0 = time.monotonic()
    folder = Path(folder)
    report = VerifyReport(folder=str(folder))
    if not folder.is_dir():
        report.add("files", str(folder), "is not a folder")
    else:
        scope = Scope(
            decode=decode and rows,
            load=load,
            workers=workers or min(os.cpu_count() or 1, 16),
            progress=sys.stderr.isatty() if progress is None else progress,
            rows=rows,
            machines=machines,
        )
        _verify_folder(folder, report, other, scope)
    report.seconds = time.monotonic() - t0
    return report


def _verify_folder(folder: Path, report: VerifyReport, other: str | os.PathLike | None, scope: Scope) -> None:
    expected = expected_features()
    if expected is None:
        report.skipped.append("schema types: the datasets package is not installed")
    manifest = read_manifest(folder, report)
    repo_id = (manifest or {}).get("repo_id")
    allowed = (repo_id,) if isinstance(repo_id, str) else ()
    scanner = LeakScanner(folder, allowed=allowed, machines=scope.machines)
    meta = read_readme(folder, report)
    published = publishable(folder)
    note_unpublished(published, report)
    shard_paths = list_shards(folder, published)
    if not shard_paths:
        report.add("files", "data/", "no parquet shards")
    report.count("shards", len(shard_paths))
    loader = LoadCheck(folder, scope.progress, first_clip=scope.rows) if scope.load and shard_paths else None
    decoder = None
    if scope.decode:
        decoder = ClipDecoder(report, scope.workers, count_clips(shard_paths), scope.progress)
    elif scope.rows:
        report.skipped.append("clip decoding (--no-decode)")
    tally = scan_shards(folder, shard_paths, expected, scanner, decoder, report, scope.rows)
    check_composition(folder, tally, manifest, meta, expected, report)
    check_published_files(published, scanner, report)
    if other is not None:
        check_overlap(folder, Path(other), tally, manifest, report)
    if loader is not None:
        loader.finish(report, tally.num_rows)
    elif not scope.load:
        report.skipped.append("load_dataset (--no-load)")
    report.count("sources", len(tally.sources))


def warm_up() -> None:
    """Import what the whole-dataset checks need (``datasets``: its import costs more than the checks
    themselves), ahead of them: a build does it on a worker its units no longer keep busy."""
    with contextlib.suppress(ImportError):
        import datasets  # noqa: F401


def count_clips(shard_paths: list[Path]) -> int:
    """How many clips the shards hold (for the progress bar; unreadable shards count none)."""
    total = 0
    for p in shard_paths:
        try:
            total += sum(
                len(x or []) for x in pq.read_table(p, columns=["num_frames"])["num_frames"].to_pylist()
            )
        except Exception:
            continue
    return total


def scan_shards(
    folder: Path,
    shard_paths: list[Path],
    expected: Features | None,
    scanner: LeakScanner,
    decoder: ClipDecoder | None,
    report: VerifyReport,
    rows: bool = True,
) -> DatasetTally:
    """Every shard's schema and every row (row checks, leaks, clips handed to ``decoder``; with ``rows``
    false only the small columns the tally needs are read), one batch of rows in memory at a time; the
    tally the whole-dataset checks need."""
    tally = DatasetTally()
    try:
        for path in shard_paths:
            rel = relative(path, folder)
            tally.start_shard(rel)
            try:
                pf = open_shard(path)
            except Exception as exc:
                report.add("schema", rel, f"is not a readable parquet file: {exc}")
                continue
            present = check_schema(pf.schema_arrow, rel, expected, report)
            metadata = {
                k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                for k, v in (pf.schema_arrow.metadata or {}).items()
            }
            for leak in scanner.find(json.dumps(metadata)):
                report.add("leak", rel, f"schema metadata contains {leak}")
            columns = present if rows else [c for c in TALLY_COLUMNS if c in present]
            try:
                for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                    for row in batch.to_pylist():
                        if rows:
                            check_dataset_row(row, rel, tally, scanner, decoder, report)
                        else:
                            count_dataset_row(row, rel, tally, report)
            except Exception as exc:
                report.add("schema", rel, f"cannot read its rows: {type(exc).__name__}: {exc}")
    finally:
        if decoder is not None:
            decoder.close()
    return tally


def count_dataset_row(row: dict[str, Any], shard: str, tally: DatasetTally, report: VerifyReport) -> None:
    """One row of the dataset: counted, and unique."""
    report.count("rows")
    earlier = tally.add(row, shard)
    if earlier is not None:
        report.add("ids", f"row {row.get('id')} ({shard})", f"duplicate id (also in {earlier})")


def check_dataset_row(
    row: dict[str, Any],
    shard: str,
    tally: DatasetTally,
    scanner: LeakScanner,
    decoder: ClipDecoder | None,
    report: VerifyReport,
) -> None:
    """One row of the dataset: counted, unique, its own checks, no leak, its clips queued for decoding."""
    where = f"row {row.get('id')} ({shard})"
    count_dataset_row(row, shard, tally, report)

    def add(check: str, message: str) -> None:
        report.add(check, where, message)

    if check_row(row, add):
        report.count("answers")
    for leak in row_leaks(row, scanner):
        report.add("leak", where, leak)
    check_video_bytes(row, add)
    if decoder is not None:
        for clip in clips_of_row(row):
            decoder.submit(where, clip)


def check_published_files(published: Publishable, scanner: LeakScanner, report: VerifyReport) -> None:
    """Leaks in every published file other than the shards (their rows are scanned row by row)."""
    for f in published.files:
        if f.path.startswith("data/"):
            continue
        try:
            data = f.local.read_bytes()
        except OSError as exc:
            report.add("files", f.path, f"cannot be read: {exc}")
            continue
        report.count("files_scanned")
        for leak in file_leaks(data, scanner):
            report.add("leak", f.path, leak)


def check_overlap(
    folder: Path, other: Path, tally: DatasetTally, manifest: dict[str, Any] | None, report: VerifyReport
) -> None:
    """No source is used by both datasets (VideoSSR-30K trains on none of VIUBench's videos)."""
    if not other.is_dir():
        report.add("overlap", str(other), "--other is not a folder")
        return
    if other.resolve() == folder.resolve():
        report.add("overlap", str(other), "--other is the same folder")
        return
    theirs = sources_of(other)
    report.count("other_sources", len(theirs))
    listed = set((manifest or {}).get("sources") or [])
    for s in sorted(tally.sources & theirs | (listed & theirs)):
        report.add("overlap", f"source {s}", f"is used by both {folder.name} and {other.name}")
