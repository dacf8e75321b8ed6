"""The rows a training run saw, written as a dataset folder by the build's writer.

A run records each row it trained on by position, with its id, task, difficulty offset and source
(:class:`SeenRow`). Rows are a function of the position and the offset, so :func:`export_rows` draws them
again, with their clips encoded as the build encodes them, and checks that each comes out with the recorded
id and source. The folder is written by :func:`~videossr.build.repo.finalize_repo` (shards, card, preview,
manifest, swapped in whole) and passes ``build/verify.py`` like any built dataset.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from videossr.build.manifest import tool_versions
from videossr.build.repo import finalize_repo
from videossr.build.shards import RepoSummary

from .difficulty import Levels
from .generate import Row, SampleStream

_WORKER_STREAM: SampleStream | None = None


class ExportError(RuntimeError):
    """A row drawn again differs from the one the run recorded (its source or id)."""


@dataclass(frozen=True)
class SeenRow:
    """One row a run trained on: enough to draw it again and to check it."""

    position: int
    id: str
    task: str
    offset: int
    source: str

    def levels(self) -> Levels:
        return Levels.of({self.task: self.offset})


def seen_to_json(rows: Sequence[SeenRow]) -> list[list[Any]]:
    return [[r.position, r.id, r.task, r.offset, r.source] for r in sorted(rows, key=lambda r: r.position)]


def seen_from_json(data: list[list[Any]]) -> list[SeenRow]:
    return [SeenRow(int(p), str(i), str(t), int(o), str(s)) for p, i, t, o, s in data]


def _init_worker(stream: SampleStream) -> None:
    global _WORKER_STREAM
    _WORKER_STREAM = stream


def _draw(seen: SeenRow) -> Row:
    assert _WORKER_STREAM is not None
    return draw_again(_WORKER_STREAM, seen)


def draw_again(stream: SampleStream, seen: SeenRow) -> Row:
    """The row at ``seen.position`` at its recorded offset; :class:`ExportError` if it is not the same row."""
    row = stream.draw(seen.position, seen.levels()).row
    if (row["id"], row["source"]) != (seen.id, seen.source):
        raise ExportError(
            f"position {seen.position} now gives {row['id']} from {row['source']}, but the run trained on "
            f"{seen.id} from {seen.source}: the sources changed since (a file edited, added or removed?), "
            "or a decode timed out in one run and not in the other"
        )
    return row


def drawn_rows(stream: SampleStream, seen: Sequence[SeenRow], workers: int) -> Iterator[Row]:
    """The rows of ``seen`` in order, drawn in ``workers`` processes (each with its decode child)."""
    if workers <= 1:
        for s in seen:
            yield draw_again(stream, s)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(stream,)) as pool:
        yield from pool.imap(_draw, seen, chunksize=1)


def export_manifest(stream: SampleStream, seen: Sequence[SeenRow]) -> dict[str, Any]:
    """The ``build_manifest.json`` of an export, before the writer adds what the shards hold."""
    recipe, settings = stream.settings.recipe, stream.settings
    used = sorted({s.source for s in seen})
    skipped = [s.to_dict() for s in stream.corpus.skipped if s.source not in used]
    offsets: dict[str, dict[str, int]] = {}
    for s in seen:
        by_offset = offsets.setdefault(s.task, {})
        by_offset[str(s.offset)] = by_offset.get(str(s.offset), 0) + 1
    return {
        "pretty_name": f"{recipe.pretty_name or recipe.name} (rows seen in training)",
        "role": "the rows one training run drew from a stream of generated samples",
        "recipe_name": recipe.name,
        "recipe": recipe.describe(),
        "seed": settings.seed,
        "crf": settings.crf,
        "x264_preset": settings.preset,
        "num_frames": recipe.num_frames,
        "max_pixels": recipe.max_pixels,
        "span": "5%-95% of each source's duration",
        "requested": len(seen),
        "skipped_samples": [],
        "sources": used,
        "num_sources_used": len(used),
        "skipped_sources": skipped,
        "num_sources_skipped": len(skipped),
        "stream": {
            "positions": len(seen),
            "first_position": min((s.position for s in seen), default=0),
            "last_position": max((s.position for s in seen), default=0),
            "difficulty_offsets": offsets,
            "sources_drawn_from": len(stream.corpus.sources),
            "sources_held_out": len(stream.corpus.held_out),
        },
        "versions": tool_versions(),
    }


def export_rows(
    stream: SampleStream, seen: Sequence[SeenRow], folder: Path, *, workers: int = 1, progress: bool = False
) -> RepoSummary:
    """Write the rows of ``seen`` (deduplicated by position) as the dataset folder ``folder``."""
    unique = sorted({s.position: s for s in seen}.values(), key=lambda s: s.id)
    if not unique:
        raise ExportError("no row to export: the run trained on none")
    mp4 = SampleStream(stream.corpus, stream.settings, length=stream.length, clips="mp4")
    rows = tqdm(
        drawn_rows(mp4, unique, workers),
        total=len(unique),
        desc="exporting",
        unit="row",
        disable=not progress,
    )
    return finalize_repo(rows, folder, dataset_name=folder.name, manifest=export_manifest(mp4, unique))


def seen_row_of(row: dict[str, Any]) -> SeenRow:
    """The record of one observed training row (its columns ``position``, ``id``, ``task``, ``offset``,
    ``source``)."""
    return SeenRow(
        int(row["position"]), str(row["id"]), str(row["task"]), int(row["offset"]), str(row["source"])
    )
