"""The VideoSSR pretext tasks and their verifiable rewards: pure, deterministic, numpy in and out.

Typical use (what the builder does)::

    from videossr.tasks import TaskSpec, plan_sample, make_sample
    spec = TaskSpec("grounding", "ChannelSwap")
    plan = plan_sample(spec, video_info, rng)        # before decoding: which timestamps, all random choices
    frames = decode(video, plan.times)               # the builder's job
    sample = make_sample(plan, frames)               # clips, question, answer, params
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import counting, grounding, jigsaw, parsing, rewards
from .perturbations import BUILTIN_PERTURBATIONS, PERTURBATIONS, Perturbation, register_perturbation
from .prompts import SYSTEM_PROMPT
from .rewards import reward, viubench_score
from .sample import (
    TASK_NAMES,
    AmbiguousSample,
    FramePlan,
    Sample,
    SampleRejected,
    VideoInfo,
    VideoTooShort,
)

__all__ = [
    "BUILTIN_PERTURBATIONS",
    "PERTURBATIONS",
    "SYSTEM_PROMPT",
    "TASK_NAMES",
    "AmbiguousSample",
    "FramePlan",
    "Perturbation",
    "Sample",
    "SampleRejected",
    "TaskSpec",
    "VideoInfo",
    "VideoTooShort",
    "counting",
    "decisive_positions",
    "grounding",
    "jigsaw",
    "make_sample",
    "parsing",
    "plan_sample",
    "register_perturbation",
    "resolve_secondary",
    "reward",
    "rewards",
    "viubench_score",
]


@dataclass(frozen=True)
class TaskSpec:
    """What to generate: a task, its subtype, and parameter overrides.

    Subtypes: grounding - a perturbation name (``ChannelSwap``...); counting - ``easy`` | ``hard`` |
    ``custom``; jigsaw - ``easy`` (6 clips) | ``hard`` (8 clips) | ``custom``. ``params`` override the
    task config (e.g. ``{"min_segment": 4}``, ``{"max_frames_per_shape": 5}``, ``{"num_clips": 4}``).
    """

    task: str
    subtype: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            raise ValueError(f"unknown task {self.task!r}; expected one of {', '.join(TASK_NAMES)}")
        self.config()  # validate early: a bad recipe fails before any decoding

    def config(self) -> Any:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in self.params.items()}
        try:
            if self.task == "grounding":
                if self.subtype not in PERTURBATIONS:
                    raise KeyError(
                        f"unknown perturbation {self.subtype!r}; known: {', '.join(sorted(PERTURBATIONS))}"
                    )
                return grounding.GroundingConfig(**params)
            module = counting if self.task == "counting" else jigsaw
            if self.subtype in module.PRESETS:
                base = module.PRESETS[self.subtype]
                return type(base)(**{**base.__dict__, **params})
            if self.subtype == "custom":
                return (counting.CountingConfig if self.task == "counting" else jigsaw.JigsawConfig)(**params)
            raise KeyError(
                f"unknown {self.task} subtype {self.subtype!r}; expected one of "
                f"{', '.join([*module.PRESETS, 'custom'])}"
            )
        except TypeError as exc:
            raise ValueError(f"bad parameters for {self.task}/{self.subtype}: {exc}") from None

    @property
    def key(self) -> str:
        return f"{self.task}/{self.subtype}"


def plan_sample(spec: TaskSpec, info: VideoInfo, rng: np.random.Generator) -> FramePlan:
    """Draw every random choice of one sample and the source timestamps it needs."""
    config = spec.config()
    if spec.task == "grounding":
        return grounding.plan(info, rng, spec.subtype, config)
    if spec.task == "counting":
        plan = counting.plan(info, rng, config)
    else:
        plan = jigsaw.plan(info, rng, config)
    if spec.subtype == "custom":
        plan.subtype = "custom"
    return plan


def resolve_secondary(plan: FramePlan, other: VideoInfo) -> np.ndarray:
    """For plans that need a second video (Swap): the timestamps to decode from ``other``."""
    return grounding.secondary_times(plan, other)


def decisive_positions(plan: FramePlan) -> list[int] | None:
    """Positions (into ``plan.times``) of the frames whose content alone decides whether :func:`make_sample`
    rejects the plan; ``None`` when content never or always matters (counting, jigsaw). For decoding those
    first, to reject cheaply where a draw is likely to be invisible."""
    return grounding.decisive_positions(plan) if plan.task == "grounding" else None


def make_sample(plan: FramePlan, frames: np.ndarray, secondary: np.ndarray | None = None) -> Sample:
    """Turn the decoded frames of a plan into a sample (pure and deterministic)."""
    module = {"grounding": grounding, "counting": counting, "jigsaw": jigsaw}[plan.task]
    return module.make(plan, frames, secondary)
