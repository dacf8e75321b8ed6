"""The stream: a dataset whose row ``p`` is generated on demand from the sample at position ``p``.

A row is made by the build's own work-unit code (:class:`~videossr.build.unit.UnitRun`) run on a unit of one
sample: the same plans, draws and re-draws (``MAX_ATTEMPTS`` per source), Swap partners and fallback sources,
decoded by this process's guarded decode child. Only the ending differs: the build encodes each sample into
mp4 clips and writes a part; the stream returns the row, with its clips as decoded frames (``clips="frames"``)
or as in-memory mp4 encoded exactly as the build encodes them (``clips="mp4"``), and leaves nothing on disk.

A source that does not decode gives its samples to its fallback sources (the build re-deals them among the
sources that work, which a stream cannot know in advance); a sample that no source and no draw can give takes
the same sample of a spare plan (:mod:`.positions`). Both are counted in the :class:`Draw`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from videossr.build.frames import DecodeError, FrameSampler
from videossr.build.plan import SampleJob, Unit, sample_rng
from videossr.build.render import FFmpegError
from videossr.build.repo import sample_row
from videossr.build.schema import clip_filename
from videossr.build.sources import Source
from videossr.build.unit import UnitRun
from videossr.tasks import Sample, TaskSpec, VideoInfo, make_sample

from .corpus import Corpus
from .difficulty import Levels, describe, spec_at
from .positions import DrawSettings, PositionPlan, level_rng
from .schedule import LevelSchedule

CLIP_FORMS: tuple[str, ...] = ("frames", "mp4")
SPARES = 3  # spare plans a position tries before it gives up
Row = dict[str, Any]


class StreamError(RuntimeError):
    """A position no source and no draw could fill (every source broken, or every draw rejected)."""


@dataclass(frozen=True)
class Draw:
    """One generated row and how it came about."""

    position: int
    row: Row
    offset: int  # the difficulty offset of the row's task
    spare: int  # 0, or the spare plan that gave the row
    moved: bool  # made at another source than the one the plan dealt it to


def row_id(spec: TaskSpec, position: int) -> str:
    """The id of the row at ``position``: the build's ``<task>-<subtype>-<index>``, with the position as index
    (in epoch 0 the position is the build's sample index)."""
    return f"{spec.task}-{spec.subtype}-{position:06d}"


class StreamUnitRun(UnitRun):
    """The build's unit run for one stream row: it keeps frames only in memory, and renders the row with
    decoded clips (or the build's mp4 clips) and the difficulty it was drawn at in its params."""

    def __init__(
        self, unit: Unit, sampler: FrameSampler, clips: str, difficulty: dict[str, Any] | None
    ) -> None:
        super().__init__(unit, sampler, make_sample, sample_rng)
        self.clips, self.difficulty = clips, difficulty

    def frames_file(self, source: Source, info: VideoInfo) -> Path | None:
        return None

    def render(self, job: SampleJob, source_id: str, sample: Sample) -> Row:
        if self.difficulty is not None:
            sample.params["stream_difficulty"] = self.difficulty
        if self.clips == "mp4":
            return super().render(job, source_id, sample)
        videos = [
            {"path": clip_filename(job.sample_id, i), "frames": clip} for i, clip in enumerate(sample.clips)
        ]
        return sample_row(job.sample_id, source_id, sample, videos)


class SampleStream:
    """Rows of the published schema generated from ``corpus`` by position (``stream[p]``), ``length`` of them.

    The same corpus, settings and position give the same row in any process; ``schedule`` (adaptive
    difficulty) sets each position's difficulty offsets. Each process decodes with its own decode child,
    started on first use (data-loader workers included)."""

    def __init__(
        self,
        corpus: Corpus,
        settings: DrawSettings,
        *,
        length: int | None = None,
        clips: str = "frames",
        schedule: LevelSchedule | None = None,
    ) -> None:
        if clips not in CLIP_FORMS:
            raise ValueError(f"clips must be one of {', '.join(CLIP_FORMS)}, got {clips!r}")
        self.corpus, self.settings, self.clips, self.schedule = corpus, settings, clips, schedule
        self.length = settings.recipe.total if length is None else length
        self.plan = PositionPlan(corpus.sources, settings)
        self.broken: dict[str, str] = {}  # source id -> why it does not decode (this process)
        self._sampler: FrameSampler | None = None
        self._pid = os.getpid()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, position: int) -> Row:
        return self.draw(position).row

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sampler": None, "plan": PositionPlan(self.corpus.sources, self.settings)}

    def sampler(self) -> FrameSampler:
        """This process's decode child (a forked process starts its own and leaves its parent's alone)."""
        if self._pid != os.getpid():
            if self._sampler is not None:
                self._sampler.proc = None  # the parent's child: never signal it from here
            self._sampler, self._pid = None, os.getpid()
        if self._sampler is None:
            self._sampler = FrameSampler(self.settings.decode_timeout)
        return self._sampler

    def drawn_spec(self, position: int, levels: Levels | None = None) -> tuple[TaskSpec, int]:
        """The task spec the row at ``position`` is drawn with, and its task's offset."""
        _, job = self.plan.job(position)
        if levels is None:
            levels = self.schedule.levels_for(position) if self.schedule is not None else Levels()
        offset = levels.offset(job.spec.task)
        return spec_at(job.spec, offset, level_rng(self.settings.seed, position)), offset

    def draw(self, position: int, levels: Levels | None = None) -> Draw:
        """The row at ``position`` (``levels``: its difficulty offsets, default the schedule's)."""
        if not 0 <= position < self.length:
            raise IndexError(f"stream position {position} is outside 0..{self.length - 1}")
        spec, offset = self.drawn_spec(position, levels)
        difficulty = describe(spec, offset) if offset else None
        reasons: list[str] = []
        for spare in range(SPARES + 1):
            unit, job = self.plan.job(position, spare)
            job = replace(job, spec=spec, sample_id=row_id(spec, position))
            row, moved = self._make(replace(unit, jobs=(job,)), job, difficulty, reasons)
            if row is not None:
                return Draw(position, row, offset, spare, moved)
        raise StreamError(
            f"stream position {position} ({spec.key}): no source gave a sample in {SPARES + 1} plans; "
            f"last reasons: {'; '.join(reasons[-3:])}"
        )

    def _make(
        self, unit: Unit, job: SampleJob, difficulty: dict[str, Any] | None, reasons: list[str]
    ) -> tuple[Row | None, bool]:
        """The row of ``job`` at its source, or at its fallbacks when that source does not decode."""
        candidates = [unit.source, *job.fallbacks]
        for k, source in enumerate(candidates):
            if source.id in self.broken:
                continue
            here = replace(job, fallbacks=tuple(candidates[k + 1 :]))
            run = StreamUnitRun(
                replace(unit, source=source, jobs=(here,)), self.sampler(), self.clips, difficulty
            )
            try:
                rows, _, skipped = run.make_all()
            except (DecodeError, FFmpegError) as exc:
                self.broken[source.id] = str(exc)
                reasons.append(f"{source.id} does not decode: {exc}")
                continue
            if rows:
                return rows[0], k > 0 or rows[0]["source"] != unit.source.id
            reasons += [s.reason for s in skipped]
            return None, False
        return None, False
