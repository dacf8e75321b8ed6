"""The build pipeline: sources -> probe -> split -> per-source work units (decode once, plan, make, render)
-> parts on disk -> Hub-layout dataset folders.

The driver only schedules and counts; workers do all decoding and encoding and write their rows to a part
file under ``<out>/.videossr-work/<dataset>/parts/``. A unit whose part and marker read back whole is not
redone, so re-running the same command resumes, and because every random choice is seeded from
``(seed, dataset, sample index)`` the final dataset is the same as an uninterrupted run's, whichever worker
ran what. Before anything is written the build checks where it writes (:mod:`.output`) and takes each
dataset's lock (:mod:`.lock`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from videossr.tasks import (
    SampleRejected,
    TaskSpec,
    VideoInfo,
    decisive_positions,
    make_sample,
    plan_sample,
    resolve_secondary,
)

from videossr import __version__

from .faults import fault_point, kill_once
from .frames import DecodeError, fit_size, worker_sampler
from .lock import dataset_locks
from .output import (
    CACHE_DIR,
    OutputRefused,
    check_replaceable,
    check_sources_apart,
    dataset_folder,
    recover,
    work_area,
)
from .parts import finished_summary, write_part
from .probe_cache import ProbeCache
from .recipes import Recipe
from .render import DEFAULT_CRF, DEFAULT_PRESET, FFmpegError, encoder_version, ffmpeg_version
from .repo import ArrowRow, finalize_repo, render_row
from .sources import MAX_SOURCE_PIXELS, Skipped, Source, dedupe, discover, probe_source

log = logging.getLogger("videossr.build")

MAX_ATTEMPTS = 3  # a rejected draw (e.g. an invisible perturbation) is re-drawn this many times
FALLBACKS = 4  # other sources a sample rejected on every draw at its own source may be made from
FALLBACK_DISTANCE = 4  # fallbacks are units this many places back first: with up to 4 workers those are done
UNITS_IN_FLIGHT = 256  # units submitted to Dask at once, at least (8 per worker thread on larger clusters)
PROBE_CACHE = Path(CACHE_DIR) / "probe.jsonl"  # under --out-dir, beside the dataset folders
FRAME_FILES_KEPT = 8  # decoded-frame files each worker keeps for later units' fallbacks (see _fallbacks)
PIPELINE_VERSION = 14  # bump when a change alters what a unit produces (invalidates resumable parts)


@dataclass(frozen=True)
class SampleJob:
    index: int
    sample_id: str
    spec: TaskSpec
    secondary: Source | None = None
    # Where the sample is made instead when every draw is rejected at its source (e.g. ChannelSwap on grey
    # content): the first of these that accepts it. Made in the same unit, right away, so no second round
    # waits for the whole first one; they are the sources of units that ran a few places before this one,
    # whose decoded frames are likely still on disk (see _fallbacks).
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
        h = hashlib.sha256()
        h.update(
            json.dumps(
                {
                    "v": PIPELINE_VERSION,
                    "videossr": __version__,
                    "dataset": self.dataset,
                    "source": [self.source.id, self.source.content_hash],
                    "jobs": [
                        [j.index, j.sample_id, j.spec.task, j.spec.subtype, j.spec.params,
                         j.secondary.content_hash if j.secondary else None,
                         [f.content_hash for f in j.fallbacks]]
                        for j in self.jobs
                    ],
                    "max_pixels": self.max_pixels,
                    "seed": self.seed,
                    "crf": self.crf,
                    "preset": self.preset,
                },
                sort_keys=True,
            ).encode()
        )  # fmt: skip
        return h.hexdigest()[:20]

    @property
    def part_path(self) -> Path:
        return Path(self.parts_dir) / f"{self.key}.parquet"

    @property
    def marker_path(self) -> Path:
        return Path(self.parts_dir) / f"{self.key}.json"

    def frames_path(self, source: Source, info: VideoInfo) -> Path:
        """Where a unit keeps a source's decoded frames for the fallbacks of later units (a cache: a missing
        or unreadable file only means decoding again)."""
        name = f"{source.content_hash}-{info.width}x{info.height}-r{source.rotation}-n{info.num_frames}.npz"
        return Path(self.parts_dir).parent / "frames" / name


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def sample_rng(seed: int, dataset: str, index: int, attempt: int) -> np.random.Generator:
    return np.random.default_rng([seed, _stable_int(dataset), index, attempt])


def _video_info(source: Source, max_pixels: int, num_frames: int | None = None) -> VideoInfo:
    w, h = fit_size(source.width, source.height, max_pixels)
    return VideoInfo(
        duration=source.duration,
        fps=source.fps,
        num_frames=num_frames or source.num_frames,
        width=w,
        height=h,
    )


def _decodable_info(sampler: Any, source: Source, max_pixels: int) -> VideoInfo:
    """What plans are drawn on: the source's facts with the frame count the decoder actually delivers
    (containers over-report). Where the frames that decode are spread over the whole video, as with an
    AVI's null frames (frames dropped at capture), they are planned at their real rate, so that clips play
    in real time; a truncated file keeps its rate (its frames are the first ones). Raises
    :class:`DecodeError` below 2 frames."""
    decodable, span = sampler.timeline(source.path)
    if decodable < 2:
        raise DecodeError(f"the decoder found {decodable} frames")
    info = _video_info(source, max_pixels, min(decodable, source.num_frames))
    if span > 0 and decodable < 0.9 * source.num_frames and (decodable - 1) / span < 0.9 * info.fps:
        info = replace(info, fps=(decodable - 1) / span)
    return info


def _use_presentation_times(sample: Any, indices: np.ndarray, pts: np.ndarray, fps: float) -> None:
    """Replace the nominal ``index / fps`` frame times by the decoder's presentation times (they differ
    for variable-frame-rate sources). Frames outside ``indices`` keep nominal times."""
    lookup = dict(zip(indices.tolist(), pts.tolist()))
    planned = [int(i) for i in sample.params.get("source_indices", [])]
    source_pts = [lookup.get(i, i / fps) for i in planned]
    if any(abs(t - i / fps) > 1e-12 + 1e-10 * abs(t) for t, i in zip(source_pts, planned)):
        # e.g. variable frame rate: record the real times of the planned frames so rows can be re-checked
        sample.params["source_pts"] = source_pts
    sample.frame_times = [
        np.asarray([lookup.get(int(i), t) for i, t in zip(np.rint(times * fps).astype(np.int64), times)])
        for times in sample.frame_times
    ]


def _frame_indices(times: np.ndarray, info: VideoInfo) -> np.ndarray:
    """Source-frame indices of planned timestamps (clipped to the frames the decoder can deliver)."""
    return np.clip(np.rint(np.asarray(times) * info.fps).astype(np.int64), 0, info.num_frames - 1)


def _draw(
    job: SampleJob, unit: Unit, info: VideoInfo, sampler: Any, attempt: int, broken: dict[str, str]
) -> tuple[Any, np.ndarray | None]:
    """Plan one sample with the seed of ``attempt``; for Swap also decode the second video's frames.

    A second video that does not decode rejects this sample only (not the unit, whose source is fine), and
    ``broken`` remembers it for the rest of the unit so later draws do not wait on it again."""
    plan = plan_sample(job.spec, info, sample_rng(unit.seed, unit.dataset, job.index, attempt))
    if not plan.needs_secondary:
        return plan, None
    second = job.secondary
    if second is None:
        raise SampleRejected("Swap needs a second source video and the dataset has only one")
    if second.id not in broken:
        try:
            other = _decodable_info(sampler, second, unit.max_pixels)  # as its own unit plans it
            idx = _frame_indices(resolve_secondary(plan, other), other)
            return plan, sampler.frames_at(second.path, idx, other.width, other.height, second.rotation)
        except DecodeError as exc:
            broken[second.id] = str(exc)
    raise SampleRejected(f"Swap's second video {second.id} does not decode: {broken[second.id]}")


_FRAME_FILES: list[Path] = []  # the decoded-frame files this worker process wrote, oldest first


class _SourceFrames:
    """The frames of one source a unit has decoded so far, with their presentation times: every draw gets its
    frames from here, so a frame is decoded once however many draws (first tries, re-draws) want it."""

    def __init__(self, sampler: Any, source: Source, info: VideoInfo) -> None:
        self.sampler, self.source, self.info = sampler, source, info
        self.frames: dict[int, np.ndarray] = {}
        self.pts: dict[int, float] = {}

    def fetch(self, idx: np.ndarray) -> None:
        """Decode, in one pass over the file, those of ``idx`` not decoded yet."""
        missing = np.unique(np.asarray(idx, dtype=np.int64))
        missing = missing[[int(i) not in self.frames for i in missing]]
        if not len(missing):
            return
        src = self.source
        frames = self.sampler.frames_at(src.path, missing, self.info.width, self.info.height, src.rotation)
        self.frames.update(zip(missing.tolist(), frames))
        pts = self.sampler.last_pts
        if pts is not None and len(pts) == len(missing):
            self.pts.update(zip(missing.tolist(), pts.tolist()))

    def get(self, idx: np.ndarray) -> np.ndarray:
        self.fetch(idx)
        return np.stack([self.frames[int(i)] for i in idx])

    def recall(self, path: Path) -> None:
        """Take the frames an earlier unit decoded of this source, if it left them (see :meth:`remember`)."""
        try:
            with np.load(path) as saved:
                indices, frames, pts = saved["indices"], saved["frames"], saved["pts"]
        except (OSError, ValueError, KeyError):
            return
        if frames.shape[1:] != (self.info.height, self.info.width, 3) or len(frames) != len(indices):
            return
        self.frames.update(zip(indices.tolist(), frames))
        self.pts.update((i, t) for i, t in zip(indices.tolist(), pts.tolist()) if t == t)  # NaN: unknown

    def remember(self, path: Path) -> None:
        """Leave this source's decoded frames on disk for later units' fallbacks; this worker keeps its last
        ``FRAME_FILES_KEPT`` such files (frames are the same however often decoded, so rows do not depend
        on whether a later unit finds them)."""
        if not self.frames:
            return
        indices = sorted(self.frames)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            np.savez(f, indices=np.asarray(indices, dtype=np.int64),
                     frames=np.stack([self.frames[i] for i in indices]),
                     pts=np.asarray([self.pts.get(i, np.nan) for i in indices], dtype=np.float64))  # fmt: skip
        os.replace(tmp, path)
        if path not in _FRAME_FILES:
            _FRAME_FILES.append(path)
        while len(_FRAME_FILES) > FRAME_FILES_KEPT:
            with contextlib.suppress(OSError):
                _FRAME_FILES.pop(0).unlink()

    def sample(self, plan: Any, secondary: np.ndarray | None, prescreen: bool = False) -> Any:
        """Make the sample of ``plan`` (raises SampleRejected), with the decoder's frame times. With
        ``prescreen``, the frames that decide a rejection are decoded first and the draw is tried on them
        alone (the others blank): at a source where the draw is invisible, that costs a few frames."""
        idx = _frame_indices(plan.times, self.info)
        positions = decisive_positions(plan) if prescreen else None
        if positions is not None and len(positions) < len(idx):
            partial = np.zeros((len(idx), self.info.height, self.info.width, 3), np.uint8)
            partial[positions] = self.get(idx[positions])
            make_sample(plan, partial, secondary)  # raises SampleRejected where the full draw would
        sample = make_sample(plan, self.get(idx), secondary)
        if self.pts:
            known = np.asarray(sorted(self.pts), dtype=np.int64)
            _use_presentation_times(
                sample, known, np.asarray([self.pts[i] for i in known.tolist()]), self.info.fps
            )
        return sample


def _make_elsewhere(
    job: SampleJob, unit: Unit, sampler: Any, reason: str, broken: dict[str, str]
) -> tuple[dict[str, Any] | None, str, str]:
    """More chances for a sample rejected on every draw at its source: its draws at each fallback source in
    turn (each decoded once for all its draws; a draw is first tried on the frames that decide a rejection
    only, since the content that made it invisible here may be common). Returns ``(row or None, the source
    it was made from, last rejection reason)``."""
    partner = job.secondary.id if job.secondary else None
    for other in job.fallbacks:
        if other.id in (unit.source.id, partner):
            continue
        try:
            store = _SourceFrames(sampler, other, _decodable_info(sampler, other, unit.max_pixels))
            store.recall(unit.frames_path(other, store.info))
            for attempt in range(MAX_ATTEMPTS):
                try:
                    sample = store.sample(
                        *_draw(job, unit, store.info, sampler, attempt, broken), prescreen=True
                    )
                except SampleRejected as exc:
                    reason = str(exc)
                    continue
                row = render_row(job.sample_id, other.id, sample, crf=unit.crf, preset=unit.preset)
                return row, other.id, ""
        except (DecodeError, FFmpegError):
            continue  # that source does not decode: the next fallback
    return None, "", reason


def _content_key(row: dict[str, Any]) -> tuple:
    """What makes two rows the same sample to a model: the question, the answer and every clip's bytes."""
    return (row["question"], row["answer"], *(hashlib.sha256(v["bytes"]).digest() for v in row["videos"]))


def run_unit(unit: Unit) -> dict[str, Any]:
    """Worker side: decode the source once for all its samples, make and render them, write the part."""
    done = finished_summary(unit.key, unit.part_path, unit.marker_path)
    if done is not None:
        return done
    kill_once()
    sampler = worker_sampler(unit.decode_timeout)
    src = unit.source
    skipped_samples: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    moved: dict[str, str] = {}  # sample id -> the fallback source it was made from
    rejected: list[tuple[SampleJob, str]] = []  # every draw rejected here: tried elsewhere at the end
    broken: dict[str, str] = {}  # Swap's second videos that did not decode in this unit -> why
    source_error: str | None = None
    try:
        info = _decodable_info(sampler, src, unit.max_pixels)
        store = _SourceFrames(sampler, src, info)

        # 1. Draw every sample (re-drawing rejected draws) before decoding anything of the primary video.
        planned = []
        for job in unit.jobs:
            reason = ""
            for attempt in range(MAX_ATTEMPTS):
                try:
                    planned.append((job, *_draw(job, unit, info, sampler, attempt, broken), attempt))
                    break
                except SampleRejected as exc:
                    reason = str(exc)
            else:
                rejected.append((job, reason))
        # 2. Decode every frame any plan needs, once, in one pass over the file.
        if planned:
            store.fetch(np.concatenate([_frame_indices(plan.times, info) for _, plan, _, _ in planned]))
        # 3. Make the samples; a draw rejected only now (e.g. an invisible perturbation) is re-drawn with
        #    the next attempts' seeds, decoding just the frames they add.
        #    A draw that gives the same row as an earlier sample of this source (the same frames and answer: a
        #    source gives more samples than one when the recipe asks for more samples than there are sources)
        #    is rejected too, so no row is published twice.
        made: set[tuple] = set()
        for job, plan, secondary, first in planned:
            row, reason = None, ""
            for attempt in range(first, MAX_ATTEMPTS):
                try:
                    if attempt > first:
                        plan, secondary = _draw(job, unit, info, sampler, attempt, broken)
                    # Rendered at once (clips are encoded in-process): a worker holds one sample's clips at a time.
                    row = render_row(job.sample_id, src.id, store.sample(plan, secondary), crf=unit.crf,
                                     preset=unit.preset)  # fmt: skip
                    key = _content_key(row)
                    if key in made:
                        raise SampleRejected("the same frames and answer as another sample of this source")
                    break
                except SampleRejected as exc:
                    row, reason = None, str(exc)
            if row is None:
                rejected.append((job, reason))
                continue
            made.add(key)
            rows.append(row)
        # 4. Samples no draw here could give: more chances at other sources of the same dataset.
        with contextlib.suppress(OSError):
            store.remember(unit.frames_path(src, info))
        del store
        for job, reason in sorted(rejected, key=lambda jr: jr[0].index):
            row, where, reason = _make_elsewhere(job, unit, sampler, reason, broken)
            if row is not None:
                rows.append(row)
                moved[job.sample_id] = where
            else:
                skipped_samples.append(
                    {"id": job.sample_id, "spec": job.spec.key, "source": src.id, "reason": reason}
                )
    except (DecodeError, FFmpegError) as exc:
        source_error = f"decode failed: {exc}"
        rows, moved = [], {}
        skipped_samples = [
            {"id": j.sample_id, "spec": j.spec.key, "source": src.id, "reason": source_error}
            for j in unit.jobs
        ]
    if not rows and source_error is None and skipped_samples:
        source_error = f"no usable sample: {skipped_samples[0]['reason']}"

    rows.sort(key=lambda r: r["id"])
    summary = {
        "unit": unit.key,
        "source": src.id,
        "rows": [r["id"] for r in rows],
        "moved": moved,
        "skipped_samples": skipped_samples,
        "source_error": source_error,
    }
    write_part(unit.part_path, unit.marker_path, rows, summary)
    return summary


def min_source_frames(recipes: Iterable[Recipe]) -> int:
    """The fewest frames a source needs for every recipe's plans: the 5-95 % window must hold the frames."""
    return max(r.num_frames for r in recipes) + 6


def probe_batch(
    pairs: list[tuple[str, str]],
    min_frames: int,
    timeout: float = 60.0,
    max_source_pixels: int = MAX_SOURCE_PIXELS,
) -> list[dict[str, Any]]:
    """Worker side: probe a batch of sources (batched to keep Dask's task count reasonable)."""
    out = []
    for sid, path in pairs:
        result = probe_source(
            sid, path, min_frames=min_frames, timeout=timeout, max_source_pixels=max_source_pixels
        )
        out.append({"kind": "source" if isinstance(result, Source) else "skipped", **result.to_dict()})
    return out


# ---------------------------------------------------------------------------------------------------------
# Driver


@dataclass
class BuildConfig:
    out_dir: Path = Path(".")
    seed: int = 0
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    decode_timeout: float = 120.0
    workers: int | None = None
    scheduler: str | None = None
    retries: int = 2
    max_shard_bytes: int = 500 * 1000 * 1000
    progress: bool = True
    max_source_pixels: int = MAX_SOURCE_PIXELS  # larger sources are skipped with a reason


@dataclass
class DatasetResult:
    name: str
    out_dir: Path
    requested: int
    built: int
    skipped_samples: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    fingerprint: str = ""


@dataclass
class BuildResult:
    datasets: list[DatasetResult]
    skipped_sources: list[Skipped]
    num_sources: int
    seconds: float


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
    position = {s.id: (_stable_int("split:" + s.id) % 10**9) / 10**9 for s in sources}
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


def _fallbacks(order: list[Source], position: int, exclude: set[str]) -> tuple[Source, ...]:
    """The sources a sample goes to when every draw at its own is rejected, in the order they are tried:
    those of the units ``FALLBACK_DISTANCE`` and more places before its own in run order (units run in
    ``order``), nearest first, then the nearer ones (farthest first), then units that run later (from the last
    back). The units further back have finished and left their decoded frames on disk, so the sample usually
    costs no decoding there; the unit just before is often still running on another worker (taking it cost a
    second decode of a 1080p source, 3 s, in 2 of 4 fallbacks on the natural bench corpus). Rows do not depend
    on which worker ran what or when (the same sources and frames either way); only the time does."""
    n, d = len(order), FALLBACK_DISTANCE
    # Candidate positions are walked lazily: a unit looks at FALLBACKS + len(exclude) of them at most, where
    # building the whole candidate list made planning quadratic (94 s for VideoSSR-30K's 30,000 sources).
    candidates = itertools.chain(
        range(position - d, -1, -1),
        range(position - min(d - 1, position), position),
        range(n - 1, position, -1),
    )
    chosen = (s for s in map(order.__getitem__, candidates) if s.id not in exclude)
    return tuple(itertools.islice(chosen, FALLBACKS))


def plan_units(recipe: Recipe, sources: list[Source], config: BuildConfig, parts_dir: Path) -> list[Unit]:
    """Assign the recipe's samples to sources (one per source, cycling when there are more samples than
    sources) and group them into per-source units. Samples are dealt to sources mix entry by mix entry with
    one running cursor, so every source gets an even share of every entry (dealing them in the recipe's
    interleaved order gave each source one family thrice when the source count was a multiple of the mix's
    period: 24 sources, 3 families). Units are returned in the order they run: largest first."""
    if not sources or recipe.total == 0:
        return []
    order = sorted(sources, key=lambda s: _stable_int(f"{config.seed}:{recipe.name}:{s.id}"))
    by_entry: dict[str, list[tuple[int, TaskSpec]]] = {}
    for index, spec in enumerate(recipe.expand()):
        by_entry.setdefault(json.dumps([spec.key, spec.params], sort_keys=True), []).append((index, spec))
    dealt = [item for items in by_entry.values() for item in items]
    by_source: dict[str, list[SampleJob]] = {}
    for cursor, (index, spec) in enumerate(dealt):
        at = cursor % len(order)
        src = order[at]
        secondary = None
        if spec.task == "grounding" and spec.subtype == "Swap" and len(order) > 1:
            # The k-th of the other sources in order (source ids are unique), without listing them per sample.
            k = int(sample_rng(config.seed, recipe.name, index, 99).integers(len(order) - 1))
            secondary = order[k if k < at else k + 1]
        sample_id = f"{spec.task}-{spec.subtype}-{index:06d}"
        by_source.setdefault(src.id, []).append(SampleJob(index, sample_id, spec, secondary))
    lookup = {s.id: s for s in sources}
    # Units run largest first (then in source-id order), so that no large unit is left running alone at the
    # end while the other workers idle (on the natural bench corpus, a 1080p unit run last kept one of two
    # workers idle for seconds).
    run_order = sorted(
        (lookup[sid] for sid in by_source),
        key=lambda s: (-_unit_cost(s, len(by_source[s.id]), recipe.max_pixels), s.id),
    )
    for position, src in enumerate(run_order):
        by_source[src.id] = [
            replace(
                j, fallbacks=_fallbacks(run_order, position, {src.id, j.secondary.id if j.secondary else ""})
            )
            for j in by_source[src.id]
        ]
    return [
        Unit(
            dataset=recipe.name,
            source=lookup[sid],
            jobs=tuple(sorted(jobs, key=lambda j: j.index)),
            max_pixels=recipe.max_pixels,
            seed=config.seed,
            crf=config.crf,
            preset=config.preset,
            decode_timeout=config.decode_timeout,
            parts_dir=str(parts_dir),
        )
        for sid, jobs in ((src.id, by_source[src.id]) for src in run_order)
    ]


def _unit_cost(source: Source, num_samples: int, max_pixels: int) -> int:
    """A unit's relative cost: decoding its source (about once, whatever the samples; by source pixels) and
    encoding its samples (by sample pixels); on this machine the two cost about as much per pixel."""
    w, h = fit_size(source.width, source.height, max_pixels)
    return source.width * source.height + num_samples * w * h


def _run_units(
    client: Any, units: list[Unit], bar: Any, retries: int, more: bool = False
) -> list[dict[str, Any]]:
    """Run units on the cluster (skipping finished ones) and return their summaries. ``more``: these are
    extra units (re-draws), so the progress bar's total grows by their samples."""
    from distributed import as_completed

    if more:
        bar.total += sum(len(u.jobs) for u in units)
        bar.refresh()

    summaries, todo = [], []
    for u in units:
        done = finished_summary(u.key, u.part_path, u.marker_path)
        if done is None:
            todo.append(u)
        else:
            summaries.append(done)

    totals = {"done": 0, "skipped": 0}  # running sums: summing all summaries per unit was quadratic

    def count(summary: dict[str, Any]) -> None:
        totals["done"] += len(summary["rows"])
        totals["skipped"] += len(summary["skipped_samples"])
        bar.update(len(summary["rows"]) + len(summary["skipped_samples"]))
        bar.set_postfix(totals)

    for summary in summaries:
        count(summary)
    # Submitted in plan order (largest first) with falling priority, at most ``window`` at a time: every
    # submitted task costs the driver (Dask's client and scheduler) about 20 KB, 600 MB for VideoSSR-30K's
    # 30,000 units submitted at once; a window keeps the driver flat however many units there are.
    window = max(UNITS_IN_FLIGHT, 8 * _cluster_threads(client))
    queued = iter(enumerate(todo))
    running = as_completed(loop=client.loop)

    def submit(how_many: int) -> None:
        for k, u in itertools.islice(queued, how_many):
            running.add(client.submit(run_unit, u, pure=False, retries=retries, priority=len(todo) - k))

    submit(window)
    for fut in running:
        summaries.append(fut.result())
        count(summaries[-1])
        fut.release()
        submit(1)
    return summaries


def _cluster_threads(client: Any) -> int:
    """Worker threads of the cluster now (0 if the scheduler cannot say)."""
    try:
        return sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values())
    except Exception:  # an old or unreachable scheduler: the floor of the window applies
        return 0


def regroup_units(jobs: list[SampleJob], sources: list[Source], template: Unit) -> list[Unit]:
    """Give ``jobs`` to ``sources`` round-robin (by sample index) and group them into per-source units."""
    by_source: dict[str, list[SampleJob]] = {}
    for k, job in enumerate(sorted(jobs, key=lambda j: j.index)):
        by_source.setdefault(sources[k % len(sources)].id, []).append(job)
    lookup = {s.id: s for s in sources}
    return [replace(template, source=lookup[sid], jobs=tuple(js)) for sid, js in sorted(by_source.items())]


OPEN_PARTS = 32  # parquet parts kept open while rows are written out


def _iter_rows(parts: list[Path], ids: list[str]) -> Iterator[dict[str, Any]]:
    """Rows of all parts in id order, one row in memory at a time and every byte read once. Samples are dealt
    to sources in turn, so id order visits the parts round-robin: parts hold one row per row group and each
    row is read on its own, on this thread and without pre-buffering (pyarrow's I/O threads each kept a heap
    of freed pages: ~80 MB more driver memory, and slower). (``ParquetFile``, not ``pq.read_table``: the latter
    goes through ``pyarrow.dataset``, whose import pulls in pandas, ~1 s.)"""
    from collections import OrderedDict

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


def _tool_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {"videossr": __version__, "python": platform.python_version(), "ffmpeg": ffmpeg_version(),
                "encoder": encoder_version()}  # fmt: skip
    for pkg in (
        "numpy",
        "pillow",
        "av",
        "decord",
        "dask",
        "distributed",
        "pyarrow",
        "datasets",
        "huggingface_hub",
    ):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    return versions


# Dask's statistical profiler samples every worker's stack every 10 ms and its monitors wake the event loop
# every 20-500 ms: about 4 % of a core per idle worker, more under load. Our own cluster runs without them.
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.tick.interval": "1s",
}


class _Client:
    """A Dask client on a LocalCluster (one single-threaded worker process per core) or a given scheduler."""

    def __init__(self, config: BuildConfig) -> None:
        import dask
        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.cluster = None
        self.closed = False
        if config.scheduler:
            self.client = Client(config.scheduler)
        else:
            workers = config.workers or os.cpu_count() or 1
            with dask.config.set(QUIET_DASK):  # the worker processes take the config they start with
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            self.client = Client(self.cluster)

    def close(self) -> None:
        """Close the client and our cluster (once; later calls do nothing)."""
        if self.closed:
            return
        self.closed = True
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _finalize_dataset(job: tuple, max_shard_bytes: int, progress: bool) -> DatasetResult:
    """Driver side: one dataset's rows from its parts into the Hub-layout folder (shards, card, preview)."""
    from tqdm.auto import tqdm

    recipe, out, folder, parts, ids, manifest, skipped_samples, used = job
    rows = tqdm(_iter_rows(parts, ids), total=len(ids), desc=f"{recipe.name}: writing", unit="row",
                disable=not progress, dynamic_ncols=True, leave=False)  # fmt: skip
    summary = finalize_repo(
        rows, folder, dataset_name=recipe.name, manifest=manifest, max_shard_bytes=max_shard_bytes
    )
    return DatasetResult(
        name=recipe.name,
        out_dir=out,
        requested=recipe.total,
        built=summary.num_rows,
        skipped_samples=skipped_samples,
        sources=used,
        fingerprint=summary.fingerprint,
    )


def _output_folders(recipes: list[Recipe], out_dir: Path) -> dict[str, Path]:
    """Each recipe's dataset folder, checked before anything is written: a valid name, inside ``out_dir``,
    absent or made by this tool (raises :class:`~.output.OutputRefused` or ``ValueError``)."""
    folders: dict[str, Path] = {}
    for recipe in recipes:
        if recipe.name in folders:
            raise OutputRefused(f"dataset {recipe.name} is listed twice: each dataset is built once")
        folders[recipe.name] = dataset_folder(out_dir, recipe.name)
        check_replaceable(folders[recipe.name])
    return folders


def build(
    recipes: list[Recipe],
    source_inputs: Iterable[str | os.PathLike],
    config: BuildConfig,
    *,
    on_progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build every recipe's dataset folder under ``config.out_dir`` (``<out>/<recipe name>``).

    Refuses (:class:`~.output.OutputRefused`, nothing written) a folder it did not make and an output that
    overlaps the sources; raises :class:`~.lock.BuildLocked` when another build is writing a dataset."""
    say = on_progress or (lambda msg: print(msg, flush=True))
    t0 = time.monotonic()
    source_inputs = list(source_inputs)
    folders = _output_folders(recipes, Path(config.out_dir))
    pairs, skipped = discover(source_inputs)
    check_sources_apart(Path(config.out_dir), folders.values(), source_inputs, [p for _, p in pairs])
    with dataset_locks(folders.values()):
        fault_point("locked")
        for folder in folders.values():
            check_replaceable(folder)  # again: the folder may have appeared before the lock was taken
            recover(folder)
        say(f"[build] {len(pairs)} candidate source videos ({len(skipped)} skipped while listing)")
        return _build_locked(recipes, pairs, skipped, folders, config, say, t0)


def _probe_all(
    client: Any, pairs: list[tuple[str, Path]], skipped: list[Skipped], config: BuildConfig, min_frames: int
) -> tuple[list[Source], int]:
    """Probe the sources on the cluster, those an earlier run probed (unchanged files) from its cache.
    Returns the usable ones and how many came from the cache; the others are added to ``skipped``."""
    cache = ProbeCache(Path(config.out_dir) / PROBE_CACHE)
    probed: list[Source] = []
    to_probe: list[tuple[str, Path]] = []
    for sid, path in pairs:
        hit = cache.get(sid, path, min_frames, config.max_source_pixels)
        if hit is not None:
            probed.append(hit)
        else:
            to_probe.append((sid, path))
    # Batches of at most 16 (few Dask tasks), but at least ~4 per worker so no worker probes alone.
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = max(1, min(16, -(-len(to_probe) // (4 * n_workers))))
    batches = [[(s, str(p)) for s, p in to_probe[i : i + size]] for i in range(0, len(to_probe), size)]
    futures = client.map(probe_batch, batches, min_frames=min_frames, timeout=config.decode_timeout,
                         max_source_pixels=config.max_source_pixels, pure=False, retries=config.retries)  # fmt: skip
    # In order; each batch is remembered as it comes in, so an interrupted probe phase keeps its work.
    for future in futures:
        fresh = []
        for item in future.result():
            kind = item.pop("kind")
            if kind == "source":
                fresh.append(Source(**item))
            else:
                skipped.append(Skipped(**item))
        future.release()
        probed += fresh
        cache.add(fresh)
    return probed, cache.hits


def _build_locked(
    recipes: list[Recipe],
    pairs: list[tuple[str, Path]],
    skipped: list[Skipped],
    folders: dict[str, Path],
    config: BuildConfig,
    say: Callable[[str], None],
    t0: float,
) -> BuildResult:
    """The build proper, with every dataset's lock held."""
    from tqdm.auto import tqdm

    min_frames = min_source_frames(recipes)
    client = _Client(config)
    # A dataset's shards, card and preview are written by the driver in this thread while the workers run the
    # next dataset's units; the cluster is closed as soon as the last units are done.
    from concurrent.futures import Future, ThreadPoolExecutor

    finalizer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videossr-finalize")
    finalizing: list[Future] = []
    versions = finalizer.submit(_tool_versions)  # for the manifests (~0.1 s: ffmpeg -version, imports)
    try:
        probed, hits = _probe_all(client.client, pairs, skipped, config, min_frames)
        sources, dupes = dedupe(probed)
        skipped += dupes
        earlier = f" ({hits} probed by an earlier run)" if hits else ""
        say(f"[build] {len(sources)} usable sources{earlier}, {len(skipped)} skipped")
        assignment = split_sources(sources, recipes)

        for recipe in recipes:
            out = Path(config.out_dir) / recipe.name
            parts_dir = work_area(folders[recipe.name]) / "parts"
            frames_dir = work_area(folders[recipe.name]) / "frames"  # units leave frames for later fallbacks
            shutil.rmtree(frames_dir, ignore_errors=True)
            units = plan_units(recipe, assignment[recipe.name], config, parts_dir)
            say(
                f"[build] {recipe.name}: {recipe.total} samples from {len(assignment[recipe.name])} sources in "
                f"{len(units)} units"
            )
            bar = tqdm(total=recipe.total, desc=recipe.name, unit="sample", disable=not config.progress,
                       dynamic_ncols=True)  # fmt: skip
            summaries = _run_units(client.client, units, bar, config.retries)
            lookup = {src.id: src for src in assignment[recipe.name]}
            # Samples whose source turned out undecodable are re-drawn from the sources that worked, so the
            # recipe's counts hold; the bad source stays reported. Deterministic: the same sources fail.
            failed = {s["unit"] for s in summaries if s["source_error"]}
            good = sorted({s["source"] for s in summaries if not s["source_error"]})
            if failed and good:
                jobs = [j for u in units if u.key in failed for j in u.jobs]
                retry_units = regroup_units(jobs, [lookup[g] for g in good], units[0])
                say(f"[build] {recipe.name}: {len(jobs)} samples of {len(failed)} undecodable sources re-drawn "
                    f"from {len(good)} good sources")  # fmt: skip
                summaries += _run_units(client.client, retry_units, bar, config.retries, more=True)
                units = units + retry_units
            failed_summaries = [s for s in summaries if s["unit"] in failed and good]
            summaries = [s for s in summaries if not (s["unit"] in failed and good)]
            # Samples rejected on every draw at their source (e.g. ChannelSwap on a grey video) were given one more
            # chance at a fallback source inside their unit; those rejected there too stay reported.
            moved = {sid: to for s in summaries for sid, to in s.get("moved", {}).items()}
            if moved:
                say(f"[build] {recipe.name}: {len(moved)} samples rejected at their source re-drawn from another "
                    f"source")  # fmt: skip
            bar.close()
            for s in failed_summaries:
                skipped.append(Skipped(s["source"], s["source_error"]))
            summaries.sort(key=lambda s: s["unit"])
            ids = [rid for s in summaries for rid in s["rows"]]
            skipped_samples = sorted(
                (x for s in summaries for x in s["skipped_samples"]), key=lambda x: x["id"]
            )
            failed_sources = sorted(
                {s["source"]: s["source_error"] for s in summaries if s["source_error"]}.items()
            )
            for sid, reason in failed_sources:
                skipped.append(Skipped(sid, reason))
            used = sorted(
                {s["source"] for s in summaries if set(s["rows"]) - set(s.get("moved", {}))}
                | set(moved.values())
            )
            manifest = {
                "dataset": recipe.name,
                "pretty_name": recipe.pretty_name or recipe.name,
                "role": recipe.role,
                "recipe_name": recipe.name,
                "recipe": recipe.describe(),
                "seed": config.seed,
                "crf": config.crf,
                "x264_preset": config.preset,
                "num_frames": recipe.num_frames,
                "max_pixels": recipe.max_pixels,
                "span": "5%-95% of each source's duration",
                "requested": recipe.total,
                "skipped_samples": skipped_samples,
                "sources": used,
                "num_sources_used": len(used),
                "skipped_sources": [
                    s.to_dict() for s in sorted(set(skipped), key=lambda s: (s.source, s.reason))
                ],
                "num_sources_skipped": len(set(skipped)),
                "versions": versions.result(),
            }
            shutil.rmtree(frames_dir, ignore_errors=True)
            parts = sorted({u.part_path for u in units})
            say(f"[build] {recipe.name}: writing {len(ids)} rows to {out.name}/")
            job = (recipe, out, folders[recipe.name], parts, ids, manifest, skipped_samples, used)
            finalizing.append(
                finalizer.submit(_finalize_dataset, job, config.max_shard_bytes, config.progress)
            )
        client.close()
        results = [f.result() for f in finalizing]
    finally:
        client.close()
        finalizer.shutdown(wait=True, cancel_futures=True)
    return BuildResult(
        datasets=results,
        skipped_sources=sorted(set(skipped), key=lambda s: (s.source, s.reason)),
        num_sources=len(pairs),
        seconds=time.monotonic() - t0,
    )


def result_dict(result: BuildResult) -> dict[str, Any]:
    return {
        "datasets": [{**asdict(d), "out_dir": str(d.out_dir)} for d in result.datasets],
        "skipped_sources": [s.to_dict() for s in result.skipped_sources],
        "num_sources": result.num_sources,
        "seconds": round(result.seconds, 1),
    }
