"""Dataset recipes: how many samples of each task/subtype/difficulty, and the generation settings.

Built in (SPEC 11): ``videossr-30k`` (12,000 grounding = 3,000 each of ChannelSwap, Rotate180, ZoomOut,
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
        if not self.mix:
            raise ValueError(f"recipe {self.name!r} has an empty mix")
        for e in self.mix:
            if e.count < 0:
                raise ValueError(f"recipe {self.name!r}: negative count for {e.spec.key}")
        if self.max_pixels < 16 * 16:
            raise ValueError(f"recipe {self.name!r}: max_pixels {self.max_pixels} is below 16x16")

    @property
    def total(self) -> int:
        return sum(e.count for e in self.mix)

    def scaled(self, n: int) -> Recipe:
        """The same mix with ``n`` samples in total, proportions kept (largest remainder, ties by order)."""
        if n < 0:
            raise ValueError(f"--num-samples must be >= 0, got {n}")
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
    num_frames = int(data.get("num_frames", 48))
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
        mix.append(MixEntry(spec, int(item["count"])))
    return Recipe(
        name=str(data.get("name") or path.stem),
        mix=tuple(mix),
        max_pixels=int(data.get("max_pixels", 256 * 256)),
        num_frames=num_frames,
        pretty_name=str(data.get("pretty_name", "")),
        role=str(data.get("role", "")),
    )
