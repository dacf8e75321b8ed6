"""Temporal jigsaw: cut the 48 frames into n equal clips, show them shuffled.

Each clip is its own video input (``Clip i: <video>``) whose timestamps start at 0, so timestamps cannot
leak the order. The answer is the play order of the positions shown: ``answer[k]`` is the 1-based position
at which original clip ``k`` is shown, written for k = 1..n (e.g. ``"341562"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prompts import SYSTEM_PROMPT, jigsaw_question
from .sample import FramePlan, Sample, VideoInfo
from .timeline import DEFAULT_NUM_FRAMES, DEFAULT_SPAN, grid_for_units, indices_to_times

TASK = "jigsaw"
DIFFICULTY_BY_CLIPS = {6: "easy", 8: "hard"}


@dataclass(frozen=True)
class JigsawConfig:
    num_clips: int = 6
    num_frames: int = DEFAULT_NUM_FRAMES
    span: tuple[float, float] = DEFAULT_SPAN

    def __post_init__(self) -> None:
        if not 2 <= self.num_clips <= 9:
            raise ValueError(f"jigsaw supports 2..9 clips (one answer digit per clip), got {self.num_clips}")
        if self.num_frames % self.num_clips:
            raise ValueError(f"{self.num_frames} frames do not split into {self.num_clips} equal clips")
        if self.num_frames // self.num_clips < 2:
            raise ValueError("each jigsaw clip needs at least 2 frames")

    @property
    def difficulty(self) -> str:
        return DIFFICULTY_BY_CLIPS.get(self.num_clips, "custom")


PRESETS: dict[str, JigsawConfig] = {"easy": JigsawConfig(num_clips=6), "hard": JigsawConfig(num_clips=8)}


def answer_from_shown_order(shown: np.ndarray | list[int]) -> str:
    """``shown[p]`` is the original clip index (0-based) at position p; returns the answer string."""
    shown = np.asarray(shown)
    position_of = np.empty_like(shown)
    position_of[shown] = np.arange(len(shown))
    return "".join(str(int(p) + 1) for p in position_of)


def restore_order(answer: str) -> list[int]:
    """Positions (0-based) to play, in order, to restore the source order from the shown clips."""
    return [int(ch) - 1 for ch in answer]


def plan(info: VideoInfo, rng: np.random.Generator, config: JigsawConfig | None = None) -> FramePlan:
    """Draw the shuffle (never the identity) and say which source frames to decode."""
    config = config or PRESETS["easy"]
    grid = grid_for_units(info, config.num_frames, config.span)
    indices = grid.indices(config.num_frames)
    while True:
        shown = rng.permutation(config.num_clips)
        if np.any(shown != np.arange(config.num_clips)):
            break
    params = {
        "num_clips": config.num_clips,
        "frames_per_clip": config.num_frames // config.num_clips,
        "shown_order": shown.tolist(),
        "num_frames": config.num_frames,
        "source_indices": indices.tolist(),
        "source_fps": float(info.fps),
    }
    return FramePlan(
        task=TASK,
        subtype=config.difficulty,
        difficulty=config.difficulty,
        times=indices_to_times(indices, info.fps),
        frame_step=grid.step_seconds,
        params=params,
    )


def make(frame_plan: FramePlan, frames: np.ndarray, secondary: np.ndarray | None = None) -> Sample:
    """Cut the decoded frames into clips and show them in the planned order."""
    params = dict(frame_plan.params)
    n_clips, per_clip, n = params["num_clips"], params["frames_per_clip"], params["num_frames"]
    frames = np.asarray(frames)
    if frames.shape[0] != n or frames.ndim != 4 or frames.dtype != np.uint8:
        raise ValueError(f"jigsaw expects {n} uint8 frames (n, H, W, 3), got {frames.dtype} {frames.shape}")
    shown = params["shown_order"]
    clips = [frames[k * per_clip : (k + 1) * per_clip].copy() for k in shown]
    times = [frame_plan.times[k * per_clip : (k + 1) * per_clip].copy() for k in shown]
    fps = 1.0 / frame_plan.frame_step
    return Sample(
        task=TASK,
        subtype=frame_plan.subtype,
        difficulty=frame_plan.difficulty,
        system=SYSTEM_PROMPT,
        question=jigsaw_question(n_clips),
        answer=answer_from_shown_order(shown),
        clips=clips,
        frame_times=times,
        fps=[fps] * n_clips,
        params={**params, "frame_step": frame_plan.frame_step},
    )
