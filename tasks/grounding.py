"""Anomaly grounding: perturb a segment of the 48 sampled frames; the answer is its time interval.

The answer is ``"{start:.1f}-{end:.1f}"`` in seconds of the clip timeline, end exclusive (the time of the
first frame after the segment), exactly as the reference code. The clip is rendered at
``fps = 1 / frame_step`` so that a clip's timeline equals source time from its first sampled frame on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .perturbations import Perturbation, apply_pixels, fit_cover, get_perturbation
from .prompts import SYSTEM_PROMPT, grounding_question, single_video_question
from .sample import AmbiguousSample, FramePlan, Sample, VideoInfo, VideoTooShort
from .timeline import DEFAULT_NUM_FRAMES, DEFAULT_SPAN, Grid, grid_for_units, indices_to_times

TASK = "grounding"
DIFFICULTY = "none"


@dataclass(frozen=True)
class GroundingConfig:
    """Grounding parameters. Defaults are the reference code's (segment 8-16 of 48 frames)."""

    num_frames: int = DEFAULT_NUM_FRAMES
    min_segment: int = 8
    max_segment: int = 16
    speed_factor: float = 2.0  # Slow/Fast: segment sampled this many times denser/sparser
    span: tuple[float, float] = DEFAULT_SPAN
    min_visible_change: float = 6.0  # mean |delta| (0-255) a perturbed boundary frame must show

    def __post_init__(self) -> None:
        if not 2 <= self.min_segment <= self.max_segment < self.num_frames:
            raise ValueError(
                f"grounding needs 2 <= min_segment <= max_segment < num_frames, got "
                f"{self.min_segment}, {self.max_segment}, {self.num_frames}"
            )
        if self.speed_factor <= 1.0:
            raise ValueError(f"speed_factor must be > 1, got {self.speed_factor}")


def format_interval(start: float, end: float) -> str:
    return f"{start:.1f}-{end:.1f}"


def plan(
    info: VideoInfo, rng: np.random.Generator, perturbation: str, config: GroundingConfig | None = None
) -> FramePlan:
    """Draw the segment and perturbation seed, and say which source frames to decode."""
    config = config or GroundingConfig()
    pert = get_perturbation(perturbation)
    n = config.num_frames
    length = int(rng.integers(config.min_segment, config.max_segment + 1))
    start = int(rng.integers(0, n - length + 1))
    seed = int(rng.integers(0, 2**63 - 1))
    params: dict = {
        "perturbation": pert.name,
        "group": pert.group,
        "kind": pert.kind,
        "segment_start": start,
        "segment_length": length,
        "num_frames": n,
        "seed": seed,
    }

    if pert.kind == "speed":
        indices, params["speed_factor"], grid = _speed_indices(info, pert, config, start, length)
        grid_step = grid.step_seconds
    else:
        grid = grid_for_units(info, n, config.span)
        indices = grid.indices(n)
        grid_step = grid.step_seconds

    params["source_indices"] = indices.tolist()
    params["source_fps"] = float(info.fps)
    frame_plan = FramePlan(
        task=TASK,
        subtype=pert.name,
        difficulty=DIFFICULTY,
        times=indices_to_times(indices, info.fps),
        frame_step=grid_step,
        params=params,
    )
    if pert.kind == "swap":
        # Same-position frames of another video's own sampling grid (reference code); the builder
        # resolves them with :func:`secondary_times` once it has chosen the other video.
        frame_plan.secondary_positions = list(range(start, start + length))
    params["_min_visible_change"] = config.min_visible_change
    params["_span"] = list(config.span)
    return frame_plan


def _speed_grid(info: VideoInfo, pert: Perturbation, config: GroundingConfig, length: int) -> Grid:
    """The sampling grid of a Slow/Fast plan: a Fast segment consumes ``speed_factor`` steps per frame, so
    the grid is sized for the whole plan to fit."""
    n, k = config.num_frames, config.speed_factor
    assert pert.speed_factor is not None
    if pert.speed_factor > 1.0:
        return grid_for_units(info, n - length + length * k, config.span)
    return grid_for_units(info, n, config.span)


def _speed_indices(
    info: VideoInfo, pert: Perturbation, config: GroundingConfig, start: int, length: int
) -> tuple[np.ndarray, float, Grid]:
    """Source indices of a Slow/Fast plan (the segment sampled ``speed_factor`` times denser or sparser), the
    speed factor the integer steps give, and the grid of the frames outside the segment."""
    grid, k = _speed_grid(info, pert, config, length), config.speed_factor
    assert pert.speed_factor is not None
    if pert.speed_factor > 1.0:
        seg_step = int(round(grid.interval * k))
    else:
        seg_step = int(round(grid.interval / k))
        if seg_step < 1 or seg_step >= grid.interval:
            raise VideoTooShort(
                f"Slow needs a sampling interval of at least {int(np.ceil(k))} source frames, "
                f"has {grid.interval}"
            )
    steps = np.full(config.num_frames - 1, grid.interval, dtype=np.int64)
    steps[start : start + length - 1] = seg_step  # diffs between consecutive segment frames
    return grid.start + np.concatenate([[0], np.cumsum(steps)]), seg_step / grid.interval, grid


def secondary_times(frame_plan: FramePlan, other: VideoInfo) -> np.ndarray:
    """Resolve a Swap plan against the chosen second video: its grid times at the segment positions."""
    span = tuple(frame_plan.params.get("_span", DEFAULT_SPAN))
    n = frame_plan.params["num_frames"]
    grid = grid_for_units(other, n, span)  # type: ignore[arg-type]
    if frame_plan.secondary_positions is None:
        raise ValueError(f"{frame_plan.subtype} plans use no second video")
    positions = np.asarray(frame_plan.secondary_positions, dtype=np.int64)
    times = indices_to_times(grid.indices(n)[positions], other.fps)
    frame_plan.secondary_times = times
    frame_plan.params["secondary_source_indices"] = grid.indices(n)[positions].tolist()
    frame_plan.params["secondary_source_fps"] = float(other.fps)
    return times


def decisive_positions(frame_plan: FramePlan) -> list[int]:
    """The frame positions whose content decides whether :func:`make` rejects the plan as invisible: the
    segment's first and last frames (the whole segment for reorderings, whose boundary frames come from
    inside it). A builder can decode these first and call :func:`make` with the other frames blank: a
    rejection then costs two frames instead of all of them. (Built-in perturbations draw their random
    numbers independently of frame content, so the verdict is the same as with every frame decoded.)"""
    start, length = frame_plan.params["segment_start"], frame_plan.params["segment_length"]
    if frame_plan.params["kind"] == "reorder":
        return list(range(start, start + length))
    return sorted({start, start + length - 1})


def _visible(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def _perturb(
    frame_plan: FramePlan,
    pert: Perturbation,
    frames: np.ndarray,
    secondary: np.ndarray | None,
    rng: np.random.Generator,
    params: dict,
) -> tuple[np.ndarray, np.ndarray]:
    """The clip's frames with the segment perturbed, and their source times (a reorder reorders them);
    the perturbation's drawn parameters go into ``params``. A speed plan already chose the segment's
    source times: its frames are used as decoded."""
    start, length = params["segment_start"], params["segment_length"]
    segment = slice(start, start + length)
    out, times = frames.copy(), frame_plan.times.copy()
    if pert.kind == "pixels":
        per_frame = []
        for i in range(start, start + length):
            out[i], p = apply_pixels(pert, frames[i], rng)
            per_frame.append(p)
        if any(per_frame):
            params["per_frame"] = per_frame
    elif pert.kind == "reorder":
        assert pert.fn is not None
        order, p = pert.fn(length, rng)
        order = np.asarray(order, dtype=np.int64)
        out[segment] = frames[segment][order]
        times[segment] = frame_plan.times[segment][order]
        params.update(p)
    elif pert.kind == "swap":
        if secondary is None or frame_plan.secondary_times is None:
            raise ValueError(
                "Swap needs the second video's frames (resolve the plan with secondary_times first)"
            )
        if len(secondary) != length:
            raise ValueError(f"Swap expects {length} secondary frames, got {len(secondary)}")
        h, w = frames.shape[1:3]
        for j in range(length):
            out[start + j] = fit_cover(np.asarray(secondary[j]), h, w)
    return out, times


def _check_visible(
    pert: Perturbation, frames: np.ndarray, out: np.ndarray, start: int, length: int, threshold: float
) -> None:
    """Reject a sample whose anomaly a viewer could not see: a speed change in a still segment, or a
    perturbed boundary frame that barely differs from the clean one."""
    if pert.kind == "speed":
        change = _visible(frames[start], frames[start + length - 1])
        if change < threshold:
            raise AmbiguousSample(f"{pert.name}: no visible motion in the segment (mean change {change:.2f})")
        return
    for i in (start, start + length - 1):
        change = _visible(out[i], frames[i])
        if change < threshold:
            raise AmbiguousSample(
                f"{pert.name}: perturbed frame {i} differs from the clean frame by only {change:.2f} "
                f"(< {threshold}); the anomaly would not be visible"
            )


def make(frame_plan: FramePlan, frames: np.ndarray, secondary: np.ndarray | None = None) -> Sample:
    """Apply the planned perturbation to the decoded frames and emit the sample."""
    params = dict(frame_plan.params)
    pert = get_perturbation(params["perturbation"])
    n, start, length = params["num_frames"], params["segment_start"], params["segment_length"]
    frames = np.asarray(frames)
    if frames.shape[0] != n or frames.ndim != 4 or frames.dtype != np.uint8:
        raise ValueError(
            f"grounding expects {n} uint8 frames (n, H, W, 3), got {frames.dtype} {frames.shape}"
        )
    rng = np.random.default_rng(params["seed"])
    threshold = float(params.pop("_min_visible_change", GroundingConfig.min_visible_change))
    params.pop("_span", None)

    out, times = _perturb(frame_plan, pert, frames, secondary, rng, params)
    _check_visible(pert, frames, out, start, length, threshold)

    step = frame_plan.frame_step
    answer = format_interval(start * step, (start + length) * step)
    params["frame_step"] = step
    return Sample(
        task=TASK,
        subtype=pert.name,
        difficulty=DIFFICULTY,
        system=SYSTEM_PROMPT,
        question=single_video_question(grounding_question(pert.description)),
        answer=answer,
        clips=[out],
        frame_times=[times],
        fps=[1.0 / step],
        params=params,
    )
