"""Planning, on the driver: which sources each dataset gets, which samples each source gives, grouped into
per-source work units in the order they run, and where a sample goes when its own source cannot give it.

Every random choice is seeded from ``(seed, dataset, sample index)``, so the plan and the rows do not
depend on which worker runs what or when.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from videossr.tasks import TaskSpec, VideoInfo

from videossr import __version__

from .config import BuildConfig
from .frames import fit_size
from .recipes import Recipe
from .sources import Source

PIPELINE_VERSION = 15  # bump when a change alters what a unit produces (invalidates resumable parts)
FALLBACKS = 4  # other sources a sample rejected on every draw at its own source may be made from
FALLBACK_DISTANCE = 4  # fallbacks are units this many places back first: with up to 4 workers those are done


@dataclass(frozen=True)
class SampleJob:
    index: int
    sample_id: str
    spec: TaskSpec
    secondary: Source | None = None
    # Where the sample is made instead when every draw is rejected at its source (e.g. ChannelSwap on grey
    # content): the first of these that accepts it. Made in the same unit, right away, so no second round
    # waits for the whole first one; they are the sources of units that run a few places before this one,
    # whose decoded frames are likely still on disk (see :func:`fallbacks`).
    fallbacks: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Unit:
    """All samples one dataset draws from one source video: decoded together, written as one part."""

    dataset: str
    source: Source
    jobs: tuple[SampleJob, ...]
    max_pixels: int
    seed: int
    crf: int
    preset: str
    decode_timeout: float
    parts_dir: str

    @property
    def key(self) -> str:
        """What the unit produces, hashed: a part made under another key is never reused."""
        jobs = [
            [
                j.index,
                j.sample_id,
                j.spec.task,
                j.spec.subtype,
                j.spec.params,
                j.secondary.content_hash if j.secondary else None,
                [f.content_hash for f in j.fallbacks],
            ]
            for j in self.jobs
        ]
        described = {
            "v": PIPELINE_VERSION,
            "videossr": __version__,
            "dataset": self.dataset,
            "source": [self.source.id, self.source.content_hash],
            "jobs": jobs,
            "max_pixels": self.max_pixels,
            "seed": self.seed,
            "crf": self.crf,
            "preset": self.preset,
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:20]

    @property
    def part_path(self) -> Path:
        return Path(self.parts_dir) / f"{self.key}.parquet"

    @property
    def marker_path(self) -> Path:
        return Path(self.parts_dir) / f"{self.key}.json"

    def frames_path(self, source: Source, info: VideoInfo) -> Path:
        """Where a unit keeps a source's decoded frames for the fallbacks of later units (a cache: a missing
        or unreadable file only means decoding again)."""
        size = f"{info.width}x{info.height}-r{source.rotation}-n{info.num_frames}"
        name = f"{source.content_hash}-{size}.frames"
        return Path(self.parts_dir).parent / "frames" / name


def stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def sample_rng(seed: int, dataset: str, index: int, attempt: int) -> np.random.Generator:
    """The generator of one draw of one sample: the same for the same build wherever it runs."""
    return np.random.default_rng([seed, stable_int(dataset), index, attempt])


def min_source_frames(recipes: Iterable[Recipe]) -> int:
    """The fewest frames a source needs for every recipe's plans: the 5-95 % window must hold the frames."""
    return max(r.num_frames for r in recipes) + 6


def split_sources(sources: list[Source], recipes: list[Recipe]) -> dict[str, list[Source]]:
    """Give each source to at most one dataset by a stable hash of its id, in proportion to the recipes'
    sample counts (so VIUBench never tests on training videos). A dataset that asks for samples gets at
    least one source when there are enough sources."""
    active = [r for r in recipes if r.total > 0]
    out: dict[str, list[Source]] = {r.name: [] for r in recipes}
    if not active or not sources:
        return out
    total = sum(r.total for r in active)
    bounds = np.cumsum([r.total / total for r in active])
    position = {s.id: (stable_int("split:" + s.id) % 10**9) / 10**9 for s in sources}
    for s in sources:
        k = int(np.searchsorted(bounds, position[s.id], side="right"))
        out[active[min(k, len(active) - 1)].name].append(s)
    # Degenerate small corpora: move the nearest source into an empty dataset.
    for i, r in enumerate(active):
        if out[r.name] or len(sources) < len(active):
            continue
        lo = bounds[i - 1] if i else 0.0
        center = (lo + bounds[i]) / 2
        donors = [s for d in active if len(out[d.name]) > 1 for s in out[d.name]]
        if donors:
            pick = min(donors, key=lambda s: abs(position[s.id] - center))
            for d in active:
                if pick in out[d.name]:
                    out[d.name].remove(pick)
            out[r.name].append(pick)
    return {k: sorted(v, key=lambda s: s.id) for k, v in out.items()}


def fallbacks(
    order: list[Source],
    position: int,
    exclude: set[str],
    *,
    count: int = FALLBACKS,
    distance: int = FALLBACK_DISTANCE,
) -> tuple[Source, ...]:
    """The ``count`` sources a sample goes to when every draw at its own is rejected, in the order they are
    tried: those of the units ``distance`` and more places before its own in run order (units run in
    ``order``), nearest first, then the nearer ones (farthest first), then units that run later (from the
    last back). The units further back have finished and left their decoded frames on disk, so the sample
    usually costs no decoding there, where the unit just before may still be running on another worker.
    Rows do not depend on which worker ran what or when (the same sources and frames either way); only the
    time does. Candidates are walked lazily: a unit looks at ``count + len(exclude)`` of them at most."""
    n, d = len(order), distance
    candidates = itertools.chain(
        range(position - d, -1, -1),
        range(position - min(d - 1, position), position),
        range(n - 1, position, -1),
    )
    chosen = (s for s in map(order.__getitem__, candidates) if s.id not in exclude)
    return tuple(itertools.islice(chosen, count))


def deal_samples(recipe: Recipe, order: list[Source], seed: int) -> dict[str, list[SampleJob]]:
    """The recipe's samples dealt to the sources in ``order`` (cycling when there are more samples than
    sources), mix entry by mix entry with one running cursor, so every source gets an even share of every
    entry whatever the source count. A Swap sample's second video is another source, drawn by its seed."""
    by_entry: dict[str, list[tuple[int, TaskSpec]]] = {}
    for index, spec in enumerate(recipe.expand()):
        by_entry.setdefault(json.dumps([spec.key, spec.params], sort_keys=True), []).append((index, spec))
    dealt = [item for items in by_entry.values() for item in items]
    by_source: dict[str, list[SampleJob]] = {}
    for cursor, (index, spec) in enumerate(dealt):
        at = cursor % len(order)
        secondary = None
        if spec.task == "grounding" and spec.subtype == "Swap" and len(order) > 1:
            # The k-th of the other sources in order (source ids are unique), without listing them per sample.
            k = int(sample_rng(seed, recipe.name, index, 99).integers(len(order) - 1))
            secondary = order[k if k < at else k + 1]
        sample_id = f"{spec.task}-{spec.subtype}-{index:06d}"
        by_source.setdefault(order[at].id, []).append(SampleJob(index, sample_id, spec, secondary))
    return by_source


def plan_units(recipe: Recipe, sources: list[Source], config: BuildConfig, parts_dir: Path) -> list[Unit]:
    """Assign the recipe's samples to sources (:func:`deal_samples`) and group them into per-source units,
    returned in the order they run: largest first (then by source id), so that no large unit is left
    running alone at the end while the other workers idle. Each sample's fallbacks are the sources of the
    units before its own."""
    if not sources or recipe.total == 0:
        return []
    order = sorted(sources, key=lambda s: stable_int(f"{config.seed}:{recipe.name}:{s.id}"))
    by_source = deal_samples(recipe, order, config.seed)
    lookup = {s.id: s for s in sources}
    run_order = sorted(
        (lookup[sid] for sid in by_source),
        key=lambda s: (-unit_cost(s, len(by_source[s.id]), recipe.max_pixels), s.id),
    )
    units = []
    for position, src in enumerate(run_order):
        jobs = [
            replace(
                j, fallbacks=fallbacks(run_order, position, {src.id, j.secondary.id if j.secondary else ""})
            )
            for j in by_source[src.id]
        ]
        units.append(
            Unit(
                dataset=recipe.name,
                source=src,
                jobs=tuple(sorted(jobs, key=lambda j: j.index)),
                max_pixels=recipe.max_pixels,
                seed=config.seed,
                crf=config.crf,
                preset=config.preset,
                decode_timeout=config.decode_timeout,
                parts_dir=str(parts_dir),
            )
        )
    return units


def unit_cost(source: Source, num_samples: int, max_pixels: int) -> int:
    """A unit's relative cost: decoding its source (about once, whatever the samples; by source pixels) and
    encoding its samples (by sample pixels), which cost about as much per pixel."""
    w, h = fit_size(source.width, source.height, max_pixels)
    return source.width * source.height + num_samples * w * h


def regroup_units(jobs: list[SampleJob], sources: list[Source], template: Unit) -> list[Unit]:
    """Give ``jobs`` to ``sources`` round-robin (by sample index) and group them into per-source units."""
    by_source: dict[str, list[SampleJob]] = {}
    for k, job in enumerate(sorted(jobs, key=lambda j: j.index)):
        by_source.setdefault(sources[k % len(sources)].id, []).append(job)
    lookup = {s.id: s for s in sources}
    return [replace(template, source=lookup[sid], jobs=tuple(js)) for sid, js in sorted(by_source.items())]
