"""The sources a stream draws from, found and split exactly as ``build/run.py`` finds and splits them.

``--sources`` are listed by the build's :func:`~videossr.build.sources.discover` (folders, list files, single
videos), probed by its :func:`~videossr.build.driver.probe_batch` in the guarded decode child (cached in a
:class:`~videossr.build.probe_cache.ProbeCache`), deduplicated by content, and split between the training
recipe and the held-out benchmark by :func:`~videossr.build.plan.split_sources`. So a stream never draws
from a video that the build would give to VIUBench, and its sources are the ones a build would use.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm
from videossr.build.driver import probe_batch
from videossr.build.frames import close_worker_sampler
from videossr.build.plan import min_source_frames, split_sources
from videossr.build.probe import MAX_SOURCE_PIXELS
from videossr.build.probe_cache import ProbeCache
from videossr.build.recipes import Recipe
from videossr.build.sources import Skipped, Source, dedupe, discover

PROBE_BATCH = 8  # sources per probe task


class CorpusError(ValueError):
    """No source the stream could draw from; the message says why and what to do."""


@dataclass(frozen=True)
class Corpus:
    """The usable, distinct sources of the training side of the split, in id order, and what was left out."""

    sources: tuple[Source, ...]
    skipped: tuple[Skipped, ...]  # not usable: listing, probe and duplicate skips, each with its reason
    held_out: tuple[str, ...]  # ids of the usable sources the build gives to the held-out recipe
    candidates: int  # files the listing found

    def summary(self) -> str:
        left_out = f"{len(self.skipped)} skipped, {len(self.held_out)} held out for the benchmark"
        return f"{len(self.sources)} sources to draw from ({self.candidates} found, {left_out})"


def probe_all(
    pairs: Sequence[tuple[str, Path]],
    *,
    min_frames: int,
    timeout: float,
    max_source_pixels: int,
    workers: int,
    cache: ProbeCache,
    progress: bool,
) -> tuple[list[Source], list[Skipped]]:
    """Probe every ``(id, path)`` not in ``cache`` with the build's probe, ``workers`` processes at a time."""
    found: list[Source] = []
    todo: list[tuple[str, str]] = []
    for sid, path in pairs:
        hit = cache.get(sid, path, min_frames, max_source_pixels)
        if hit is not None:
            found.append(hit)
        else:
            todo.append((sid, str(path)))
    batches = [todo[i : i + PROBE_BATCH] for i in range(0, len(todo), PROBE_BATCH)]
    kwargs = {"min_frames": min_frames, "timeout": timeout, "max_source_pixels": max_source_pixels}
    bar = tqdm(total=len(todo), desc="probing sources", unit="video", disable=not progress or not todo)
    skipped: list[Skipped] = []
    with bar:
        for results in _map_batches(batches, kwargs, workers):
            fresh = [r for r in results if isinstance(r, Source)]
            skipped += [r for r in results if isinstance(r, Skipped)]
            found += fresh
            cache.add(fresh)
            bar.update(len(results))
    return found, skipped


def _map_batches(batches: list, kwargs: dict, workers: int) -> Iterable[list[Source | Skipped]]:
    """``probe_batch`` over ``batches``: in this process for one worker (its decode child is stopped after),
    else in fresh processes, each with its own decode child."""
    if workers <= 1 or len(batches) <= 1:
        try:
            for batch in batches:
                yield probe_batch(batch, **kwargs)
        finally:
            close_worker_sampler()  # no decode child for data-loader workers to inherit
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(batches)), mp_context=context) as pool:
        yield from pool.map(_probe, [(batch, kwargs) for batch in batches])


def _probe(job: tuple[list[tuple[str, str]], dict]) -> list[Source | Skipped]:
    batch, kwargs = job
    return probe_batch(batch, **kwargs)


def open_corpus(
    inputs: Sequence[str | os.PathLike],
    recipe: Recipe,
    holdout: Recipe | None,
    *,
    cache_file: Path | None = None,
    decode_timeout: float = 120.0,
    max_source_pixels: int = MAX_SOURCE_PIXELS,
    workers: int = 1,
    progress: bool = False,
) -> Corpus:
    """The sources ``recipe`` draws from: those of ``inputs`` that ``build/run.py`` would give it when it
    builds ``recipe`` beside ``holdout`` (None: every usable source). Raises :class:`CorpusError` when none
    is left, :class:`~videossr.build.sources.SourcesError` for an unusable ``inputs`` entry."""
    recipes = [recipe] if holdout is None else [recipe, holdout]
    if holdout is not None and holdout.name == recipe.name:
        raise CorpusError(f"the held-out recipe is the training recipe {recipe.name!r}; hold out another one")
    pairs, skipped = discover(inputs)
    sources, probe_skips = probe_all(
        pairs,
        min_frames=min_source_frames(recipes),
        timeout=decode_timeout,
        max_source_pixels=max_source_pixels,
        workers=workers,
        cache=ProbeCache(cache_file),
        progress=progress,
    )
    distinct, dupes = dedupe(sources)
    skipped = [*skipped, *probe_skips, *dupes]
    assigned = split_sources(distinct, recipes)
    train = assigned[recipe.name]
    held = sorted(s.id for s in distinct if s not in train)
    if not train:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:3]) or "no video files found"
        raise CorpusError(
            f"no source to draw {recipe.name} from: {len(pairs)} videos found, {len(distinct)} usable, "
            f"{len(held)} held out for {holdout.name if holdout else 'nothing'} ({reasons}); add videos or "
            "--holdout none"
        )
    return Corpus(tuple(train), tuple(sorted(set(skipped), key=lambda s: s.source)), tuple(held), len(pairs))
