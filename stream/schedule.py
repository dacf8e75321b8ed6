"""Which difficulty the rows of each generation batch are drawn at, shared between the trainer process and
its data-loader workers.

A training step consumes the positions of one generation batch, ``batch_size`` consecutive positions, so
position ``p`` belongs to batch ``p // batch_size``. The controller decides new offsets after it has seen
the rewards of batch ``g`` and records them here; the rows of batch ``g + lag`` are drawn at them. The lag
lets the workers draw the next batch while the current one trains, and it makes the offsets of every
position a function of the recorded history, so a resumed run draws the same rows as an uninterrupted one.

The history lives in shared memory (``multiprocessing`` raw arrays, inherited by the workers the data loader
forks or spawns). A worker asking for a batch whose offsets are not decided yet waits for them; the trainer's
own process (no loader workers) never waits on itself.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Sequence

from .difficulty import Levels

LAG = 2  # generation batches between observing a batch and drawing rows at what it decided
WAIT_SECONDS = 3600.0  # a worker waits this long for a decision before it gives up


class ScheduleTimeout(RuntimeError):
    """The trainer did not decide a batch's offsets in time (it stopped, or it is stuck)."""


class LevelSchedule:
    """Offsets per task for each generation batch, written by the trainer and read by the workers."""

    def __init__(self, tasks: Sequence[str], batches: int, batch_size: int, lag: int = LAG) -> None:
        if batch_size < 1 or batches < 1 or lag < 1:
            raise ValueError(
                f"a schedule needs batches, batch size and lag >= 1, got {batches}, {batch_size}, {lag}"
            )
        self.tasks = tuple(tasks)
        self.batches, self.batch_size, self.lag = batches, batch_size, lag
        self._offsets = multiprocessing.RawArray("i", batches * max(1, len(self.tasks)))
        self._decided = multiprocessing.RawValue("i", 0)  # batches whose decision is recorded, in order
        self._recorder = os.getpid()  # the trainer: the process that records (it never waits on itself)

    @property
    def decided(self) -> int:
        return int(self._decided.value)

    def batch_of(self, position: int) -> int:
        return position // self.batch_size

    def record(self, batch: int, levels: Levels) -> None:
        """The offsets decided after observing generation batch ``batch`` (batches are recorded in order)."""
        if batch != self.decided:
            raise ValueError(f"generation batch {batch} recorded after {self.decided} batches")
        if batch < self.batches:
            for k, task in enumerate(self.tasks):
                self._offsets[batch * len(self.tasks) + k] = levels.offset(task)
        self._decided.value = batch + 1

    def decision(self, batch: int) -> Levels:
        """The offsets recorded after batch ``batch``."""
        base = batch * len(self.tasks)
        return Levels.of({t: self._offsets[base + k] for k, t in enumerate(self.tasks)})

    def levels_for(self, position: int, *, wait: float = WAIT_SECONDS) -> Levels:
        """The offsets the row at ``position`` is drawn at (waits until they are decided)."""
        source = self.batch_of(position) - self.lag
        if source < 0:
            return Levels()
        deadline = time.monotonic() + (wait if os.getpid() != self._recorder else 0.0)
        while self.decided <= source:
            if time.monotonic() >= deadline:
                raise ScheduleTimeout(
                    f"position {position} needs the difficulty decided after generation batch {source}, but "
                    f"{self.decided} batches are decided; is the trainer still running (and was its "
                    "checkpoint's schedule restored)?"
                )
            time.sleep(0.02)
        return self.decision(source)

    def history(self) -> list[dict[str, int]]:
        return [self.decision(g).as_dict() for g in range(min(self.decided, self.batches))]

    def restore(self, history: list[dict[str, int]]) -> None:
        """Start over with the decisions of a checkpoint (before the workers start)."""
        self._decided.value = 0
        for g, offsets in enumerate(history):
            self.record(g, Levels.of(offsets))
