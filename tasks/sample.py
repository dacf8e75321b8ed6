"""The data model shared by every pretext task: what a task plans before decoding, and what it emits.

A task works in two pure steps so that the builder decodes exactly what is needed:

1. ``plan(video, rng)`` draws every random choice from the seeded generator and returns a
   :class:`FramePlan`: the source timestamps to decode (and, for Swap, those of a second video) plus
   the drawn parameters.
2. ``make(plan, frames, secondary)`` turns the decoded frames into a :class:`Sample`. It uses no
   randomness beyond seeds already stored in the plan, so the same plan and frames always give the same
   arrays and answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np


class SampleRejected(ValueError):
    """A task cannot make a trustworthy sample from this input; the builder skips it and reports why."""


class VideoTooShort(SampleRejected):
    """The source has too few frames (or too low a frame rate) for the requested plan."""


class AmbiguousSample(SampleRejected):
    """The perturbation would not be visible (e.g. a static or flat segment): the answer is not verifiable."""


TaskName = Literal["grounding", "counting", "jigsaw"]
TASK_NAMES: tuple[str, ...] = ("grounding", "counting", "jigsaw")


@dataclass(frozen=True)
class VideoInfo:
    """What a task may know about a source before decoding it (from the probe).

    ``width``/``height`` are the size of the frames the sampler will deliver (after downscaling),
    because shape sizes and positions are drawn in that pixel space.
    """

    duration: float
    fps: float
    num_frames: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (self.duration > 0 and self.fps > 0 and self.num_frames > 0):
            raise ValueError(f"VideoInfo needs positive duration, fps and num_frames, got {self}")
        if self.width < 2 or self.height < 2:
            raise ValueError(f"VideoInfo needs a frame size of at least 2x2, got {self.width}x{self.height}")


@dataclass
class FramePlan:
    """Which source timestamps a sample needs, and every random choice already drawn.

    ``times`` are the source timestamps (seconds) of the frames to decode from the primary video, in
    the order ``make`` expects them. A plan that needs a second video (Swap) sets
    ``secondary_positions`` (positions in that video's own sampling grid); the builder picks the video and
    resolves them into ``secondary_times``.
    ``frame_step`` is the nominal spacing (seconds) of the clip timeline: clips are rendered at
    ``fps = 1 / frame_step`` so that a clip's time equals source time from its first frame on.
    """

    task: str
    subtype: str
    difficulty: str
    times: np.ndarray
    frame_step: float
    params: dict[str, Any] = field(default_factory=dict)
    secondary_positions: list[int] | None = None
    secondary_times: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        if self.secondary_times is not None:
            self.secondary_times = np.asarray(self.secondary_times, dtype=np.float64)
        if self.frame_step <= 0:
            raise ValueError(f"frame_step must be positive, got {self.frame_step}")

    @property
    def needs_secondary(self) -> bool:
        return self.secondary_positions is not None


@dataclass
class Sample:
    """One question/answer pair with its clips, ready to be rendered and published.

    ``clips`` holds one uint8 array ``(frames, H, W, 3)`` per video input (one for grounding and
    counting, n for jigsaw), in the order they are shown. ``frame_times`` holds, per clip, the source
    timestamp in seconds of every frame. ``fps`` is the rate each clip is rendered at. ``params`` is
    JSON-serialisable and holds everything needed to re-derive the answer.
    """

    task: str
    subtype: str
    difficulty: str
    system: str
    question: str
    answer: str
    clips: list[np.ndarray]
    frame_times: list[np.ndarray]
    fps: list[float]
    params: dict[str, Any]

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            raise ValueError(f"unknown task {self.task!r}; expected one of {TASK_NAMES}")
        if not (len(self.clips) == len(self.frame_times) == len(self.fps)) or not self.clips:
            raise ValueError(
                "a sample needs one frame_times array and one fps per clip, and at least one clip"
            )
        for i, (clip, times) in enumerate(zip(self.clips, self.frame_times)):
            if clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[-1] != 3:
                raise ValueError(f"clip {i} must be uint8 (frames, H, W, 3), got {clip.dtype} {clip.shape}")
            if len(times) != clip.shape[0]:
                raise ValueError(f"clip {i} has {clip.shape[0]} frames but {len(times)} frame times")

    @property
    def num_frames(self) -> list[int]:
        return [int(c.shape[0]) for c in self.clips]

    def params_json(self) -> str:
        """``params`` as canonical JSON text (sorted keys) for the dataset's ``params`` column."""
        return json.dumps(to_jsonable(self.params), sort_keys=True, separators=(",", ":"))


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays nested in dicts and lists to plain Python for JSON."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
