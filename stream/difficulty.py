"""Difficulty ladders: how one step up or down changes a task's parameters.

Each task has one integer offset; 0 is the recipe's own parameters, each step up makes the samples harder
and each step down easier. A ladder turns a recipe entry (a :class:`~videossr.tasks.TaskSpec`) and an offset
into the entry to draw, so the adaptive controller moves numbers and the stream draws ordinary task specs:

* counting: frames per shape and instances per frame both move by the offset (easy 3/3, hard 4/4), within
  what the layout rules allow (frames per shape are more than ``min_frame_gap`` apart; at most
  :data:`MAX_INSTANCES` shapes of a type on one frame, so a layout still fits the frame);
* jigsaw: the clip count moves along the counts that cut the frames into equal clips of 2 frames or more
  (2, 3, 4, 6, 8 for 48 frames: easy is 6, hard 8);
* grounding: the segment-length range shrinks (harder) or grows (easier) by a factor of sqrt(2) per step,
  and a share ``|offset| / 3`` of the rows swap their perturbation for one of a harder or an easier pool.
  The pools follow the paper's benchmark table, where every model scores highest on ChannelSwap and
  Rotate180 and lowest on ZoomOut, Mirror and Shuffle.

Offsets are bounded per task (:data:`BOUNDS`); a ladder clamps what a recipe entry cannot take (a counting
entry at the frame limit stays there), and the row's params record what was drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from videossr.tasks import TaskSpec

MAX_INSTANCES = 5  # counting shapes of one type on a frame: more rarely fit without overlapping
EASY_PERTURBATIONS: tuple[str, ...] = ("ChannelSwap", "Rotate180")
HARD_PERTURBATIONS: tuple[str, ...] = ("ZoomOut", "Mirror", "Shuffle")
MIX_STEPS = 3  # at this offset (and beyond) every grounding row takes its perturbation from a pool
BOUNDS: dict[str, tuple[int, int]] = {"counting": (-2, 3), "jigsaw": (-3, 2), "grounding": (-3, 3)}


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def counting_at(spec: TaskSpec, offset: int, rng: np.random.Generator) -> TaskSpec:
    cfg = spec.config()
    slots = (cfg.num_frames - 1) // (cfg.min_frame_gap + 1) + 1
    frames = clamp(cfg.max_frames_per_shape + offset, 1, slots)
    instances = clamp(
        cfg.max_instances_per_frame + offset, 1, max(MAX_INSTANCES, cfg.max_instances_per_frame)
    )
    params = {**spec.params, "max_frames_per_shape": frames, "max_instances_per_frame": instances}
    return TaskSpec(spec.task, spec.subtype, params)


def clip_counts(num_frames: int) -> list[int]:
    """Clip counts that cut ``num_frames`` into equal clips of at least 2 frames (one answer digit each)."""
    return [n for n in range(2, 10) if num_frames % n == 0 and num_frames // n >= 2]


def jigsaw_at(spec: TaskSpec, offset: int, rng: np.random.Generator) -> TaskSpec:
    cfg = spec.config()
    counts = clip_counts(cfg.num_frames)
    at = counts.index(cfg.num_clips)
    return TaskSpec(
        spec.task, spec.subtype, {**spec.params, "num_clips": counts[clamp(at + offset, 0, len(counts) - 1)]}
    )


def segment_range(low: int, high: int, num_frames: int, offset: int) -> tuple[int, int]:
    """The grounding segment range ``offset`` steps from ``low..high``: sqrt(2) shorter per step up."""
    scale = 2.0 ** (-offset / 2)
    high = clamp(round(high * scale), 2, num_frames - 1)
    return clamp(round(low * scale), 2, high), high


def grounding_at(spec: TaskSpec, offset: int, rng: np.random.Generator) -> TaskSpec:
    cfg = spec.config()
    low, high = segment_range(cfg.min_segment, cfg.max_segment, cfg.num_frames, offset)
    subtype = spec.subtype
    share = min(1.0, abs(offset) / MIX_STEPS)
    pick, which = rng.random(), rng.random()
    if offset and pick < share:
        pool = HARD_PERTURBATIONS if offset > 0 else EASY_PERTURBATIONS
        subtype = pool[min(len(pool) - 1, math.floor(which * len(pool)))]
    return TaskSpec(spec.task, subtype, {**spec.params, "min_segment": low, "max_segment": high})


LADDERS: dict[str, Callable[[TaskSpec, int, np.random.Generator], TaskSpec]] = {
    "counting": counting_at,
    "jigsaw": jigsaw_at,
    "grounding": grounding_at,
}


@dataclass(frozen=True)
class Levels:
    """One offset per task (missing tasks are at 0, the recipe's parameters)."""

    offsets: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, offsets: dict[str, int]) -> Levels:
        for task, k in offsets.items():
            low, high = BOUNDS[task]
            if not low <= k <= high:
                raise ValueError(f"{task} difficulty offset {k} is outside {low}..{high}")
        return cls(tuple(sorted((t, int(k)) for t, k in offsets.items() if k)))

    def offset(self, task: str) -> int:
        return dict(self.offsets).get(task, 0)

    def as_dict(self) -> dict[str, int]:
        return dict(self.offsets)


def spec_at(spec: TaskSpec, offset: int, rng: np.random.Generator) -> TaskSpec:
    """``spec`` moved ``offset`` steps along its task's ladder (``spec`` itself at 0); ``rng`` draws the
    grounding perturbation swap."""
    if offset == 0:
        return spec
    return LADDERS[spec.task](spec, offset, rng)


def describe(spec: TaskSpec, offset: int) -> dict[str, object]:
    """What a row records of the difficulty it was drawn at (params ``stream_difficulty``)."""
    return {"offset": offset, "subtype": spec.subtype, "params": dict(spec.params)}
