"""Adaptive difficulty: keep each task's share of zero-variance groups inside a target band.

A group is one prompt's ``num_generations`` answers. When they all get the same reward the group's advantage
is zero and GRPO learns nothing from it: either every answer is right (the task is too easy at this
difficulty) or every answer is wrong (too hard). For each task the controller counts, over the last
``window`` groups drawn at the task's current offset, the zero-variance share ``z`` and which side those
groups fall on (solved: their reward is at least ``solved_reward``):

* ``z`` above the band: one step harder when solved groups are the majority of the zero-variance ones, one
  step easier otherwise;
* ``z`` below the band: one step harder (the task has room to be made harder before it stops teaching);
* inside the band: stay.

After a move the task's window starts empty, and only groups drawn at the new offset count: rows already in
flight at the old offset (the schedule's lag) do not vote. Offsets stay within the ladder's bounds
(:data:`.difficulty.BOUNDS`). The state (offsets and windows) is a plain dict for checkpoints.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from .difficulty import BOUNDS, Levels

EQUAL_REWARD = 1e-6  # rewards closer than this count as equal


@dataclass(frozen=True)
class AdaptiveSettings:
    band: tuple[float, float] = (0.1, 0.5)
    window: int = 32
    solved_reward: float = 0.5

    def __post_init__(self) -> None:
        low, high = self.band
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"the zero-variance band must satisfy 0 <= low < high <= 1, got {low} {high}")
        if self.window < 1:
            raise ValueError(f"the adaptive window must be at least 1 group, got {self.window}")


@dataclass(frozen=True)
class Group:
    """One prompt's answers: its task, the offset its row was drawn at, and each answer's reward."""

    task: str
    offset: int
    rewards: tuple[float, ...]

    @property
    def zero_variance(self) -> bool:
        return max(self.rewards) - min(self.rewards) <= EQUAL_REWARD

    def solved(self, threshold: float) -> bool:
        return self.zero_variance and min(self.rewards) >= threshold


@dataclass
class TaskWindow:
    """The recent groups of one task at its current offset: (zero variance, solved) per group."""

    offset: int = 0
    groups: deque[tuple[bool, bool]] = field(default_factory=deque)

    def zero_share(self) -> float:
        return sum(z for z, _ in self.groups) / len(self.groups) if self.groups else 0.0


def zero_variance_shares(groups: Sequence[Group]) -> dict[str, float]:
    """Per task, the share of ``groups`` whose answers all got the same reward (``zero_std/<task>``)."""
    by_task: dict[str, list[bool]] = {}
    for g in groups:
        by_task.setdefault(g.task, []).append(g.zero_variance)
    return {f"zero_std/{t}": sum(z) / len(z) for t, z in sorted(by_task.items())}


class AdaptiveController:
    """Moves each task's offset to keep its zero-variance share inside ``settings.band``."""

    def __init__(self, tasks: Sequence[str], settings: AdaptiveSettings | None = None) -> None:
        self.settings = settings or AdaptiveSettings()
        self.windows = {t: TaskWindow() for t in tasks}
        self.moves = 0

    @property
    def levels(self) -> Levels:
        return Levels.of({t: w.offset for t, w in self.windows.items()})

    def observe(self, groups: Sequence[Group]) -> dict[str, float]:
        """Take one generation batch's groups, move the offsets that left the band; returns the metrics to
        log: per task the batch's zero-variance share, the window's share and the offset now."""
        metrics = zero_variance_shares(groups)
        by_task: dict[str, list[Group]] = {}
        for g in groups:
            by_task.setdefault(g.task, []).append(g)
        for task, batch in sorted(by_task.items()):
            window = self.windows.get(task)
            if window is None:
                continue
            for g in batch:
                if g.offset == window.offset:
                    window.groups.append((g.zero_variance, g.solved(self.settings.solved_reward)))
            while len(window.groups) > self.settings.window:
                window.groups.popleft()
            if window.groups:
                metrics[f"adaptive/{task}/zero_std"] = window.zero_share()
            self._maybe_move(task, window)
        for task, window in self.windows.items():
            metrics[f"adaptive/{task}/offset"] = float(window.offset)
        return metrics

    def _maybe_move(self, task: str, window: TaskWindow) -> None:
        if len(window.groups) < self.settings.window:
            return
        low, high = self.settings.band
        share = window.zero_share()
        if low <= share <= high:
            return
        solved = sum(s for _, s in window.groups)
        failed = sum(z for z, _ in window.groups) - solved
        step = -1 if share > high and failed > solved else 1
        lowest, highest = BOUNDS[task]
        target = max(lowest, min(highest, window.offset + step))
        if target != window.offset:
            self.windows[task] = TaskWindow(offset=target)
            self.moves += 1

    def state_dict(self) -> dict[str, object]:
        return {
            "settings": {"band": list(self.settings.band), "window": self.settings.window},
            "moves": self.moves,
            "windows": {
                t: {"offset": w.offset, "groups": [[int(z), int(s)] for z, s in w.groups]}
                for t, w in self.windows.items()
            },
        }

    def load_state_dict(self, state: dict) -> None:
        self.moves = int(state.get("moves", 0))
        for task, saved in state["windows"].items():
            if task in self.windows:
                groups = deque((bool(z), bool(s)) for z, s in saved["groups"])
                self.windows[task] = TaskWindow(int(saved["offset"]), groups)
