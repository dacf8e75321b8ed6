"""Write a folder laid out exactly as a Hugging Face dataset repo: parquet shards with embedded mp4 clips,
README.md (dataset card with configs and dataset_info), build_manifest.json and a preview picture.

Layout::

    README.md
    build_manifest.json
    preview.png
    data/<task>-<subtype>/train-<fingerprint>-00000-of-00001.parquet

The shards are written by :mod:`.shards`. The whole folder is written under a staging name and swapped in
at once (:mod:`.output`), so a reader sees the complete previous dataset or the complete new one, never a
mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from videossr.tasks import Sample

from .faults import fault_point
from .lock import dataset_locks
from .output import OutputRefused, check_replaceable, seal, start_staging, swap_in
from .render import DEFAULT_CRF, DEFAULT_PRESET, encode_clips
from .schema import clip_filename
from .shards import DEFAULT_MAX_SHARD_BYTES, ROW_GROUP_BYTES, RepoSummary, iter_repo_rows, write_shards


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
    return sample_row(sample_id, source_id, sample, videos)


def render_rows(
    items: list[tuple[str, str, Sample]],
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
) -> list[dict[str, Any]]:
    """Rows of several ``(sample_id, source_id, Sample)``."""
    return [render_row(sid, src, sample, crf=crf, preset=preset) for sid, src, sample in items]


def sample_row(
    sample_id: str, source_id: str, sample: Sample, videos: list[dict[str, Any]]
) -> dict[str, Any]:
    """The dataset row of a sample whose clips are ``videos`` (encoded clips, or decoded ones in a stream)."""
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


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
    freed in per-thread heaps, so streaming rows through the writer would leave the driver holding memory that
    grows with the dataset; the system allocator gives it back. (Parquet reads allocate from Arrow's C++
    default, which this does not change; parts are read without pre-buffering instead.)"""
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
    row_group_bytes: int = ROW_GROUP_BYTES,
    preview: bool = True,
    atomic_swap: bool = True,
) -> RepoSummary:
    """Write the dataset folder ``out_dir`` whole (shards, then the manifest, card and preview that describe
    them) under a staging name beside it, then make it visible in one step (see :mod:`.output`). Shards are
    cut at ``max_shard_bytes`` and row groups at ``row_group_bytes`` of video; ``preview``: draw
    ``preview.png`` from the rows' clips. Raises
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
            layout = {"max_shard_bytes": max_shard_bytes, "row_group_bytes": row_group_bytes}
            summary = _write_dataset(rows, staging, dataset_name, manifest, layout, preview)
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
    layout: dict[str, int],
    preview: bool,
) -> RepoSummary:
    """Every published file of a dataset into the empty folder ``folder`` (``layout``: the keywords of
    :func:`write_shards` that size shards and row groups)."""
    from .card import write_card
    from .preview import write_preview

    with _returning_allocator():
        fault_point("shards")
        summary = write_shards(rows, folder, **layout)
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
        has_preview = preview and write_preview(folder)
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
