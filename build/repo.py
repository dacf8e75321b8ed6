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

import errno
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from videossr.tasks import Sample

from .faults import fault_point
from .lock import dataset_locks
from .output import OutputRefused, check_replaceable, seal, start_staging, swap_in
from .preview import pick_rows, preview_png
from .render import DEFAULT_CRF, DEFAULT_PRESET, encode_clips
from .schema import clip_filename
from .shard_tasks import WrittenShard
from .shards import (
    DEFAULT_MAX_SHARD_BYTES,
    ROW_GROUP_BYTES,
    RepoSummary,
    fingerprint,
    returning_allocator,
    summarize,
    write_shards,
)


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
    """Write the dataset folder ``out_dir`` whole from ``rows`` (sorted by id): shards, then the manifest,
    card and preview that describe them, under a staging name beside it, then make it visible in one step
    (see :mod:`.output`). Shards are cut at ``max_shard_bytes`` and row groups at ``row_group_bytes`` of
    video; ``preview``: draw ``preview.png`` from the rows' clips. Raises :class:`~.output.OutputRefused`
    before writing anything when ``out_dir`` is a folder this tool did not make, and
    :class:`~.lock.BuildLocked` when another process is writing it."""

    def write(staging: Path) -> RepoSummary:
        with returning_allocator():
            fault_point("shards")
            summary = write_shards(
                rows, staging, max_shard_bytes=max_shard_bytes, row_group_bytes=row_group_bytes
            )
            png = preview_png(pick_rows(staging)) if preview else None
            describe(staging, summary, manifest, dataset_name, png)
        return summary

    return publish(out_dir, dataset_name, write, atomic_swap=atomic_swap)


def link_repo(
    shards: list[WrittenShard],
    out_dir: str | os.PathLike,
    *,
    dataset_name: str,
    manifest: dict[str, Any],
    preview: bytes | None,
    atomic_swap: bool = True,
) -> RepoSummary:
    """Write the dataset folder ``out_dir`` whole, as :func:`finalize_repo` does, from shards already written
    in the work area (in name order): each is linked in under its fingerprinted name (copied where the
    filesystem has no hard links), so no shard is written twice. ``preview``: the PNG, if any."""

    def write(staging: Path) -> RepoSummary:
        fault_point("shards")
        fp = fingerprint(s.stats.digest for s in shards)
        summary = summarize(staging, fp, [(s.config, s.stats) for s in shards])
        names = [name for c in summary.configs.values() for name in c.shards]
        for shard, name in zip(shards, names):
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(Path(shard.path), staging / name)
        describe(staging, summary, manifest, dataset_name, preview)
        return summary

    return publish(out_dir, dataset_name, write, atomic_swap=atomic_swap)


def link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to ``src``, or a copy where the filesystem cannot link."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copyfile(src, dst)


def publish(
    out_dir: str | os.PathLike,
    dataset_name: str,
    write: Callable[[Path], RepoSummary],
    *,
    atomic_swap: bool = True,
) -> RepoSummary:
    """Make ``out_dir`` the dataset that ``write`` puts into an empty staging folder: the folder is checked
    and locked, staged, sealed (ownership marker, everything synced) and swapped in at once."""
    target = Path(out_dir)
    folder = Path(os.path.abspath(target))  # "." and ".." spelled out; a link as the last part is kept
    folder = folder.parent.resolve() / folder.name
    if not folder.name:
        raise OutputRefused(f"{target} is not a folder a dataset can be written to")
    with dataset_locks([folder]):
        check_replaceable(folder)
        staging = start_staging(folder)
        try:
            summary = write(staging)
            seal(staging, dataset_name, summary.fingerprint)
            check_replaceable(folder)
            swap_in(staging, folder, atomic=atomic_swap)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    summary.out_dir = target
    return summary


def describe(
    folder: Path, summary: RepoSummary, manifest: dict[str, Any], dataset_name: str, preview: bytes | None
) -> None:
    """Write what describes the shards in ``folder``: the preview picture (when there is one), the dataset
    card and ``build_manifest.json`` (``manifest`` completed with what the shards hold)."""
    from .card import write_card

    manifest = dict(manifest)
    manifest.setdefault("dataset", dataset_name)
    manifest["fingerprint"] = summary.fingerprint
    manifest["num_rows"] = summary.num_rows
    manifest["configs"] = {
        name: {"rows": c.rows, "num_bytes": c.num_bytes, "shards": c.shards}
        for name, c in summary.configs.items()
    }
    for key in ("counts", "examples"):
        manifest.setdefault(key, summary.described[key])
    fault_point("preview")
    if preview is not None:
        atomic_write_bytes(folder / "preview.png", preview)
    fault_point("card")
    write_card(folder, summary, manifest, dataset_name=dataset_name, has_preview=preview is not None)
    fault_point("manifest")
    atomic_write_text(folder / "build_manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
