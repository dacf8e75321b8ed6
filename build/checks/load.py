"""``load_dataset(FOLDER)`` in a fresh cache, and the first clip through ``datasets.Video`` (torchcodec):
the dataset loads the way users load it. Runs on its own thread beside the other checks (its imports take
a while on one core while the clips decode in other processes).

After a build (whose workers decoded every clip as they encoded it) only the ``id`` column is loaded: the
card's configs, the data files they resolve to and every shard's rows, as ``datasets`` reads them, without
torch and with a cache copy of the ids only."""

from __future__ import annotations

import importlib.util
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from .report import VerifyReport

if TYPE_CHECKING:
    from datasets import Dataset


def check_load(folder: Path, report: VerifyReport, progress: bool, first_clip: bool = True) -> None:
    """Load every row; count them as ``load_dataset_rows`` (the caller compares them with the shards').
    ``first_clip``: load every column and decode the first clip (torchcodec); otherwise the ids only."""
    try:
        import datasets
    except ImportError:
        report.skipped.append("load_dataset: the datasets package is not installed")
        return
    was_enabled = not datasets.are_progress_bars_disabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        with tempfile.TemporaryDirectory(prefix="videossr-verify-cache-") as cache:
            try:
                ds = datasets.load_dataset(
                    str(folder),
                    split="train",
                    cache_dir=cache,
                    download_mode="force_redownload",
                    **({} if first_clip else {"columns": ["id"]}),
                )
            except Exception as exc:
                msg = str(exc).strip().splitlines()
                report.add(
                    "load",
                    ".",
                    f"load_dataset(FOLDER) fails: {type(exc).__name__}: {msg[0] if msg else ''}"[:500],
                )
                return
            report.count("load_dataset_rows", len(ds))
            if len(ds) == 0 or not first_clip:
                return
            if importlib.util.find_spec("torchcodec") is None:
                report.skipped.append("load_dataset: first clip not decoded (torchcodec is not installed)")
                return
            check_first_clip(ds, report)
    finally:
        if not progress and was_enabled:
            datasets.enable_progress_bars()


def check_first_clip(ds: Dataset, report: VerifyReport) -> None:
    """The first row's first clip decodes through ``datasets.Video`` to the frames its row says."""
    try:
        row = ds[0]
        decoder = row["videos"][0]
        n = int(decoder.metadata.num_frames) if decoder.metadata.num_frames is not None else len(decoder)
        decoder[0]  # decode the first frame
    except Exception as exc:
        msg = str(exc).strip().splitlines()
        where = str(ds[0]["id"]) if "id" in ds.column_names else "."
        report.add(
            "load", where, f"datasets cannot decode the first clip: {msg[0] if msg else type(exc).__name__}"
        )
        return
    want = row["num_frames"][0] if row.get("num_frames") else None
    if want is not None and n != want:
        report.add(
            "load", str(row.get("id")), f"datasets' decoder sees {n} frames in clip 0, the row says {want}"
        )
    report.count("load_dataset_clips_decoded")


class LoadCheck:
    """:func:`check_load` on a thread of its own; :meth:`finish` folds its findings into the report."""

    def __init__(self, folder: Path, progress: bool, first_clip: bool = True) -> None:
        self.report = VerifyReport(folder=str(folder))
        self.thread = threading.Thread(
            target=check_load, args=(folder, self.report, progress, first_clip), daemon=True
        )
        self.thread.start()

    def finish(self, report: VerifyReport, num_rows: int) -> None:
        self.thread.join()
        loaded = self.report.checked.get("load_dataset_rows")
        if loaded is not None and loaded != num_rows:
            report.add("load", ".", f"load_dataset(FOLDER) gives {loaded} rows, the shards hold {num_rows}")
        report.merge(self.report)
