"""A work unit, on a worker: decode the source once for all its samples, draw, make and render them, and
write the unit's part (:mod:`.parts`).

A draw the task rejects (e.g. an invisible perturbation) is drawn again with the next attempt's seed; a
sample rejected on every draw at its source is made at its fallback sources (:func:`.plan.fallbacks`) in the
same unit. A source that does not decode loses its samples with that reason (the driver re-draws them from
the sources that work).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from videossr.tasks import (
    FramePlan,
    Sample,
    SampleRejected,
    VideoInfo,
    make_sample,
    plan_sample,
    resolve_secondary,
)

from .checks.rendered import RowChecks, RowFindings, check_rendered_row
from .faults import kill_once
from .frames import DecodeError, FrameSampler, worker_sampler
from .parts import SkippedSample, UnitSummary, finished_summary, write_part
from .plan import SampleJob, Unit, sample_rng
from .render import FFmpegError
from .repo import render_row
from .shards import config_name, row_size
from .source_frames import MakeSample, SourceFrames, decodable_info, frame_indices
from .sources import Source

MAX_ATTEMPTS = 3  # a rejected draw (e.g. an invisible perturbation) is re-drawn this many times
Row = dict[str, Any]
SampleRng = Callable[[int, str, int, int], np.random.Generator]


@dataclass(frozen=True)
class Draw:
    """One planned draw of a sample: its plan, Swap's second-video frames, and which attempt it is."""

    job: SampleJob
    plan: FramePlan
    secondary: np.ndarray | None
    attempt: int


def content_key(row: Row) -> tuple[Any, ...]:
    """What makes two rows the same sample to a model: the question, the answer and every clip's bytes (or,
    for rows that carry decoded clips, their frames)."""
    clips = (v["bytes"] if "bytes" in v else np.ascontiguousarray(v["frames"]) for v in row["videos"])
    return (row["question"], row["answer"], *(hashlib.sha256(c).digest() for c in clips))


def run_unit(
    unit: Unit,
    *,
    sampler: FrameSampler | None = None,
    make: MakeSample = make_sample,
    rng: SampleRng = sample_rng,
    checks: RowChecks | None = None,
) -> UnitSummary:
    """Run ``unit`` (or return the summary of its finished part). ``sampler``: the decoder (default: this
    worker's decode child); ``make`` and ``rng``: how samples are made and draws seeded (the task library's
    functions; tests give others); ``checks``: check every row as it is rendered (verify's row and clip
    checks; their findings go into the summary)."""
    done = finished_summary(unit.key, unit.part_path, unit.marker_path)
    if done is not None:
        return done
    kill_once()
    run = UnitRun(unit, sampler or worker_sampler(unit.decode_timeout), make, rng)
    src = unit.source
    source_error: str | None = None
    try:
        rows, moved, skipped = run.make_all()
    except (DecodeError, FFmpegError) as exc:
        source_error = f"decode failed: {exc}"
        rows, moved = [], {}
        skipped = [SkippedSample(j.sample_id, j.spec.key, src.id, source_error) for j in unit.jobs]
    if not rows and source_error is None and skipped:
        source_error = f"no usable sample: {skipped[0].reason}"
    rows.sort(key=lambda r: r["id"])
    findings = RowFindings()
    if checks is not None:
        scanner = checks.scanner()
        for row in rows:
            check_rendered_row(row, scanner, findings)
    summary = UnitSummary(
        unit.key,
        src.id,
        [r["id"] for r in rows],
        moved,
        skipped,
        source_error,
        row_configs=[config_name(r["task"], r["subtype"]) for r in rows],
        row_bytes=[row_size(r) for r in rows],
        checks=dict(sorted(findings.counts.items())),
        problems=[list(p) for p in findings.problems],
    )
    write_part(unit.part_path, unit.marker_path, rows, summary)
    return summary


class UnitRun:
    """One unit being run: its decoder, how samples are made and seeded, and the Swap second videos that
    did not decode in it (tried once per unit)."""

    def __init__(self, unit: Unit, sampler: FrameSampler, make: MakeSample, rng: SampleRng) -> None:
        self.unit, self.sampler, self.make, self.rng = unit, sampler, make, rng
        self.broken: dict[str, str] = {}  # second video id -> why it does not decode

    def make_all(self) -> tuple[list[Row], dict[str, str], list[SkippedSample]]:
        """Every sample of the unit: its rows, the samples made at a fallback source (sample id -> that
        source) and those no draw could give. Raises DecodeError/FFmpegError when the source fails."""
        unit, src = self.unit, self.unit.source
        info = decodable_info(self.sampler, src, unit.max_pixels)
        store = SourceFrames(self.sampler, src, info)
        # 1. Draw every sample (re-drawing rejected draws) before decoding anything of the primary video.
        planned, rejected = self.draw_all(store)
        # 2. Decode every frame any plan needs, once, in one pass over the file.
        if planned:
            store.fetch(np.concatenate([frame_indices(d.plan.times, info) for d in planned]))
        # 3. Make the samples, re-drawing those rejected only now.
        rows = self.make_planned(store, planned, rejected)
        # 4. Samples no draw here could give: more chances at other sources of the same dataset.
        kept = self.frames_file(src, info)
        if kept is not None:
            with contextlib.suppress(OSError):
                store.remember(kept)
        del store
        moved: dict[str, str] = {}
        skipped: list[SkippedSample] = []
        for job, reason in sorted(rejected, key=lambda jr: jr[0].index):
            row, where, reason = self.make_elsewhere(job, reason)
            if row is not None:
                rows.append(row)
                moved[job.sample_id] = where
            else:
                skipped.append(SkippedSample(job.sample_id, job.spec.key, src.id, reason))
        return rows, moved, skipped

    def draw(self, job: SampleJob, store: SourceFrames, attempt: int) -> Draw:
        """Plan one sample with the seed of ``attempt``; for Swap also decode the second video's frames.

        A second video that does not decode rejects this sample only (not the unit, whose source is fine),
        and is remembered for the rest of the unit so later draws do not wait on it again."""
        unit = self.unit
        plan = plan_sample(job.spec, store.info, self.rng(unit.seed, unit.dataset, job.index, attempt))
        if not plan.needs_secondary:
            return Draw(job, plan, None, attempt)
        second = job.secondary
        if second is None:
            raise SampleRejected("Swap needs a second source video and the dataset has only one")
        if second.id not in self.broken:
            try:
                other = decodable_info(self.sampler, second, unit.max_pixels)  # as its own unit plans it
                idx = frame_indices(resolve_secondary(plan, other), other)
                frames = self.sampler.frames_at(second.path, idx, other.width, other.height, second.rotation)
                return Draw(job, plan, frames.frames, attempt)
            except DecodeError as exc:
                self.broken[second.id] = str(exc)
        raise SampleRejected(f"Swap's second video {second.id} does not decode: {self.broken[second.id]}")

    def draw_all(self, store: SourceFrames) -> tuple[list[Draw], list[tuple[SampleJob, str]]]:
        """Each sample's first draw the planner accepts, and the samples whose every draw it rejected."""
        planned: list[Draw] = []
        rejected: list[tuple[SampleJob, str]] = []
        for job in self.unit.jobs:
            reason = ""
            for attempt in range(MAX_ATTEMPTS):
                try:
                    planned.append(self.draw(job, store, attempt))
                    break
                except SampleRejected as exc:
                    reason = str(exc)
            else:
                rejected.append((job, reason))
        return planned, rejected

    def make_planned(
        self, store: SourceFrames, planned: list[Draw], rejected: list[tuple[SampleJob, str]]
    ) -> list[Row]:
        """The rows of the planned draws. A draw rejected only now is re-drawn with the next attempts'
        seeds, decoding just the frames they add. A draw that gives the same row as an earlier sample of this
        source (the same frames and answer: a source gives several samples when the recipe asks for more
        samples than there are sources) is rejected too, so no row is published twice. Samples rejected on
        every attempt are added to ``rejected``."""
        made: set[tuple[Any, ...]] = set()
        rows: list[Row] = []
        for first in planned:
            draw, row, reason = first, None, ""
            for attempt in range(first.attempt, MAX_ATTEMPTS):
                try:
                    if attempt > first.attempt:
                        draw = self.draw(first.job, store, attempt)
                    # Rendered at once (clips are encoded in-process): a worker holds one sample's clips.
                    row = self.render(
                        first.job,
                        self.unit.source.id,
                        store.sample(draw.plan, draw.secondary, make=self.make),
                    )
                    if content_key(row) in made:
                        raise SampleRejected("the same frames and answer as another sample of this source")
                    break
                except SampleRejected as exc:
                    row, reason = None, str(exc)
            if row is None:
                rejected.append((first.job, reason))
                continue
            made.add(content_key(row))
            rows.append(row)
        return rows

    def make_elsewhere(self, job: SampleJob, reason: str) -> tuple[Row | None, str, str]:
        """More chances for a sample rejected on every draw at its source: its draws at each fallback source
        in turn (each decoded once for all its draws; a draw is first tried on the frames that decide a
        rejection only, since the content that made it invisible here may be common). Returns ``(row or
        None, the source it was made from, last rejection reason)``."""
        unit = self.unit
        partner = job.secondary.id if job.secondary else None
        for other in job.fallbacks:
            if other.id in (unit.source.id, partner):
                continue
            try:
                store = SourceFrames(
                    self.sampler, other, decodable_info(self.sampler, other, unit.max_pixels)
                )
                kept = self.frames_file(other, store.info)
                if kept is not None:
                    store.recall(kept)
                for attempt in range(MAX_ATTEMPTS):
                    try:
                        draw = self.draw(job, store, attempt)
                        sample = store.sample(draw.plan, draw.secondary, prescreen=True, make=self.make)
                    except SampleRejected as exc:
                        reason = str(exc)
                        continue
                    return self.render(job, other.id, sample), other.id, ""
            except (DecodeError, FFmpegError):
                continue  # that source does not decode: the next fallback
        return None, "", reason

    def frames_file(self, source: Source, info: VideoInfo) -> Path | None:
        """Where the unit leaves a source's decoded frames for later units' fallbacks (None: nowhere)."""
        return self.unit.frames_path(source, info)

    def render(self, job: SampleJob, source_id: str, sample: Sample) -> Row:
        return render_row(job.sample_id, source_id, sample, crf=self.unit.crf, preset=self.unit.preset)
