"""Dataset recipes: how many samples of each task/subtype/difficulty, and the generation settings.

Built in: ``videossr-30k`` (12,000 grounding = 3,000 each of ChannelSwap, Rotate180, ZoomOut,
Mirror; 12,000 jigsaw easy; 6,000 counting easy; 48 frames at most 256x256) and ``viubench`` (9 subtypes x
300; 48 frames at most 512x512). ``scaled(n)`` keeps the proportions (largest remainder). A YAML file can
define any mix::

    name: my-mix
    max_pixels: 65536          # optional (default 256*256)
    num_frames: 48             # optional
    mix:
      - {task: grounding, subtype: Noise, count: 500, params: {min_segment: 4, max_segment: 8}}
      - {task: counting, subtype: hard, count: 200}
      - {task: jigsaw, subtype: custom, count: 100, params: {num_clips: 4}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from videossr.tasks import TaskSpec

from .output import check_dataset_name

MAX_SAMPLES = 10_000_000  # samples per dataset (VideoSSR-30K has 30,000): the driver plans each one in memory
# Frames are downscaled to at most this many pixels: 2048x2048, above what video models take per frame
# (Qwen-VL models are given well under 1 MP per video frame) and a 48-frame sample stays ~600 MB of RGB.
MAX_FRAME_PIXELS = 2048 * 2048
MIN_FRAME_PIXELS = 16 * 16
MAX_NUM_FRAMES = 512  # frames per sample (the paper uses up to 64)


@dataclass(frozen=True)
class MixEntry:
    spec: TaskSpec
    count: int


@dataclass(frozen=True)
class Recipe:
    name: str
    mix: tuple[MixEntry, ...]
    max_pixels: int = 256 * 256
    num_frames: int = 48
    pretty_name: str = ""
    role: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_dataset_name(self.name)
        if not self.mix:
            raise ValueError(f"recipe {self.name!r} has an empty mix")
        for e in self.mix:
            if e.count < 0:
                raise ValueError(f"recipe {self.name!r}: negative count for {e.spec.key}")
            frames = getattr(e.spec.config(), "num_frames", 0)
            if frames > MAX_NUM_FRAMES:
                raise ValueError(
                    f"recipe {self.name!r}: {frames} frames per sample for {e.spec.key}; the limit is "
                    f"{MAX_NUM_FRAMES}"
                )
        if self.total > MAX_SAMPLES:
            raise ValueError(
                f"recipe {self.name!r}: {self.total} samples; the limit is {MAX_SAMPLES:,} per dataset"
            )
        if not MIN_FRAME_PIXELS <= self.max_pixels <= MAX_FRAME_PIXELS:
            raise ValueError(
                f"recipe {self.name!r}: max_pixels {self.max_pixels} is outside 16x16..2048x2048 "
                f"({MIN_FRAME_PIXELS}..{MAX_FRAME_PIXELS})"
            )
        if not 1 <= self.num_frames <= MAX_NUM_FRAMES:
            raise ValueError(
                f"recipe {self.name!r}: num_frames {self.num_frames} is outside 1..{MAX_NUM_FRAMES}"
            )

    @property
    def total(self) -> int:
        return sum(e.count for e in self.mix)

    def scaled(self, n: int) -> Recipe:
        """The same mix with ``n`` samples in total, proportions kept (largest remainder, ties by order)."""
        if not 0 <= n <= MAX_SAMPLES:
            raise ValueError(f"--num-samples must be in 0..{MAX_SAMPLES:,}, got {n}")
        total = self.total
        exact = [e.count * n / total for e in self.mix]
        counts = [math.floor(x) for x in exact]
        order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
        for i in order[: n - sum(counts)]:
            counts[i] += 1
        mix = tuple(MixEntry(e.spec, c) for e, c in zip(self.mix, counts))
        return Recipe(
            self.name, mix, self.max_pixels, self.num_frames, self.pretty_name, self.role, self.extra
        )

    def expand(self) -> list[TaskSpec]:
        """One spec per sample, interleaved across the mix so any prefix keeps the proportions."""
        remaining = [e.count for e in self.mix]
        total = sum(remaining)
        out: list[TaskSpec] = []
        # Deterministic smooth interleaving (like weighted round-robin).
        credit = [0.0] * len(self.mix)
        for _ in range(total):
            for i, e in enumerate(self.mix):
                credit[i] += e.count / total
            best = max((i for i in range(len(self.mix)) if remaining[i] > 0), key=lambda i: (credit[i], -i))
            credit[best] -= 1.0
            remaining[best] -= 1
            out.append(self.mix[best].spec)
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "max_pixels": self.max_pixels,
            "num_frames": self.num_frames,
            "mix": [
                {"task": e.spec.task, "subtype": e.spec.subtype, "count": e.count, "params": e.spec.params}
                for e in self.mix
            ],
        }


def _with_frames(params: dict[str, Any], num_frames: int) -> dict[str, Any]:
    return params if num_frames == 48 else {**params, "num_frames": num_frames}


def videossr_30k() -> Recipe:
    mix = [
        MixEntry(TaskSpec("grounding", p), 3000) for p in ("ChannelSwap", "Rotate180", "ZoomOut", "Mirror")
    ]
    mix += [MixEntry(TaskSpec("jigsaw", "easy"), 12000), MixEntry(TaskSpec("counting", "easy"), 6000)]
    return Recipe(
        "videossr-30k",
        tuple(mix),
        max_pixels=256 * 256,
        pretty_name="VideoSSR-30K",
        role="a GRPO training set",
    )


def viubench() -> Recipe:
    specs = [TaskSpec("counting", "easy"), TaskSpec("counting", "hard")]
    specs += [TaskSpec("grounding", p) for p in ("ChannelSwap", "Rotate180", "ZoomOut", "Mirror", "Shuffle")]
    specs += [TaskSpec("jigsaw", "easy"), TaskSpec("jigsaw", "hard")]
    return Recipe(
        "viubench",
        tuple(MixEntry(s, 300) for s in specs),
        max_pixels=512 * 512,
        pretty_name="VIUBench",
        role="an evaluation benchmark (Video Intrinsic Understanding Benchmark)",
    )


BUILTIN: dict[str, Any] = {"videossr-30k": videossr_30k, "viubench": viubench}


def _integer(value: Any, what: str) -> int:
    """A whole number from YAML (``12``, ``"12"``, ``1.2e3``), never a fraction, a bool or text."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            number = float(value) if any(c in value.lower() for c in ".e") else int(value)
        except ValueError:
            raise ValueError(f"{what} must be a whole number, got {value!r}") from None
        return _integer(number, what)
    if isinstance(value, int):
        return value
    raise ValueError(f"{what} must be a whole number, got {value!r}")


def load_recipe(name_or_path: str) -> Recipe:
    """A built-in recipe by name, or a YAML recipe file."""
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]()
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"unknown recipe {name_or_path!r}: not a built-in ({', '.join(BUILTIN)}) nor a YAML file"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"recipe file {path.name} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("mix"), list):
        raise ValueError(f"recipe file {path.name} needs a top-level 'mix' list")
    num_frames = _integer(data.get("num_frames", 48), f"recipe file {path.name}: num_frames")
    mix = []
    for i, item in enumerate(data["mix"], 1):
        if not isinstance(item, dict) or not {"task", "subtype", "count"} <= set(item):
            raise ValueError(f"recipe file {path.name}: mix entry {i} needs task, subtype and count")
        try:
            spec = TaskSpec(
                str(item["task"]),
                str(item["subtype"]),
                _with_frames(dict(item.get("params") or {}), num_frames),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"recipe file {path.name}: mix entry {i}: {exc}") from None
        count = _integer(item["count"], f"recipe file {path.name}: mix entry {i}: count")
        if not 0 <= count <= MAX_SAMPLES:
            raise ValueError(
                f"recipe file {path.name}: mix entry {i}: count {count} is outside 0..{MAX_SAMPLES:,}"
            )
        mix.append(MixEntry(spec, count))
    return Recipe(
        name=str(data.get("name") or path.stem),
        mix=tuple(mix),
        max_pixels=_integer(data.get("max_pixels", 256 * 256), f"recipe file {path.name}: max_pixels"),
        num_frames=num_frames,
        pretty_name=str(data.get("pretty_name", "")),
        role=str(data.get("role", "")),
    )
