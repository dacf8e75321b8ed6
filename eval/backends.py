"""Backends answer items: ``random`` (the paper's Random Guess row), ``oracle`` (the ground truth, a pipeline
check), ``transformers`` (local model) and ``openai`` (any OpenAI-compatible chat server, e.g. vLLM)."""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .items import VIDEO, Item, VideoRef, hash_int


@dataclass(frozen=True)
class Settings:
    """How videos are sampled and how the model decodes (recorded in results.json)."""

    frames: int = 32
    fps: float = 2.0
    max_pixels: int = 512 * 512
    sampling: str = "fps"  # fps | all
    max_new_tokens: int = 128
    cache_dir: str = ".videossr-eval-cache"


def content_parts(item: Item) -> list[tuple[str, Any]]:
    """The user turn as ``("text", str)`` / ``("video", VideoRef)`` parts, in the order of the markers.

    Text around the markers is kept verbatim (empty pieces dropped), exactly as train/data.py builds
    training prompts, so a VIUBench item is shown to the model the way VideoSSR-30K rows were.
    """
    pieces = item.prompt.split(VIDEO)
    if len(pieces) - 1 != len(item.videos):
        raise ValueError(f"{item.id}: {len(pieces) - 1} <video> markers for {len(item.videos)} videos")
    parts: list[tuple[str, Any]] = []
    for i, text in enumerate(pieces):
        if i > 0:
            parts.append(("video", item.videos[i - 1]))
        if text:
            parts.append(("text", text))
    return parts


class Backend:
    name = "base"
    needs_video = True

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.name, "model_revision": None, "decoder": "greedy"}

    def signature(self) -> str:
        d = self.describe()
        return f"{d['backend']}:{d['model']}@{d.get('model_revision')}"

    def generate(self, item: Item, settings: Settings) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass


class CallableBackend(Backend):
    """Wraps ``fn(item, settings) -> str`` (scripted backends in tests and notebooks)."""

    def __init__(
        self, fn: Callable[[Item, Settings], str], name: str = "scripted", needs_video: bool = False
    ):
        self.fn, self.name, self.needs_video = fn, name, needs_video

    def generate(self, item: Item, settings: Settings) -> str:
        return self.fn(item, settings)


def _fmt(x: float) -> str:
    return f"{x:.1f}"


RANDOM_GROUNDING = ("whole-clip", "uniform")


class RandomBackend(Backend):
    """The paper's Random Guess row: a random valid answer per item, seeded by (seed, benchmark, item id), so
    the answers do not depend on sharding or resuming.

    VIUBench follows Table 1's scheme: grounding answers the whole clip (``0.0-<duration>``; its IoU is the
    segment's share of the clip, 25 % on average), counting draws each shape's count uniformly from its
    range (1..9 easy, 1..16 hard: frames per shape x instances per frame), jigsaw a uniform permutation.
    ``viubench_grounding="uniform"`` answers two uniform points of the clip instead (about 20 %).

    The other benchmarks: multiple choice a uniform option letter, grounding two uniform points in
    ``[0, duration]``, VCRBench a uniform permutation of the clips.
    """

    name = "random"
    needs_video = False

    def __init__(self, seed: int = 0, viubench_grounding: str = "whole-clip") -> None:
        if viubench_grounding not in RANDOM_GROUNDING:
            expected = ", ".join(RANDOM_GROUNDING)
            raise ValueError(f"bad viubench_grounding {viubench_grounding!r}; expected one of {expected}")
        self.seed = seed
        self.viubench_grounding = viubench_grounding

    def describe(self) -> dict[str, Any]:
        grounding = (
            "grounding answers the whole clip"
            if self.viubench_grounding == "whole-clip"
            else "grounding answers two uniform points of the clip"
        )
        return {
            "backend": "random",
            "model": "random",
            "model_revision": f"seed={self.seed}",
            "decoder": "uniform random valid answer",
            "random_guess": f"VIUBench: {grounding}, counting uniform over each shape's range, jigsaw a "
            "uniform permutation; other benchmarks: a uniform option, two uniform points in the video, "
            "a uniform order",
        }

    def signature(self) -> str:
        return f"random:seed={self.seed}:viubench-grounding={self.viubench_grounding}"

    def _rng(self, item: Item) -> _random.Random:
        return _random.Random(hash_int(f"{self.seed}:{item.bench}:{item.id}"))

    def generate(self, item: Item, settings: Settings) -> str:
        rng = self._rng(item)
        if item.kind == "mc":
            return rng.choice(item.letters)
        if item.kind == "order":
            order = list(range(1, len(item.answer) + 1))
            rng.shuffle(order)
            return "Correct order: " + ", ".join(map(str, order))
        if item.kind == "grounding":
            duration = item.meta.get("duration") or max(float(b) for _, b in item.answer)
            a, b = sorted(rng.uniform(0.0, duration) for _ in range(2))
            return f"The event happens in {_fmt(a)} - {_fmt(b)} seconds."
        if item.kind == "viubench":
            return self._viubench(item, rng)
        raise ValueError(f"random backend: unknown item kind {item.kind!r}")

    def _viubench(self, item: Item, rng: _random.Random) -> str:
        task = item.meta["task"]
        params = item.meta.get("params", {})
        if task == "counting":
            hard = str(item.meta.get("subtype", "")).endswith("hard")
            default = 4 if hard else 3
            top = int(params.get("max_frames_per_shape", default)) * int(
                params.get("max_instances_per_frame", default)
            )
            return ",".join(str(rng.randint(1, top)) for _ in range(3))
        if task == "jigsaw":
            order = list(range(1, int(params.get("num_clips") or len(str(item.answer))) + 1))
            rng.shuffle(order)
            return "".join(map(str, order)) if len(order) <= 9 else ",".join(map(str, order))
        duration = item.meta.get("duration") or 48.0
        if self.viubench_grounding == "whole-clip":
            # rounded up to the answer's 0.1 s grid, so the interval always covers the clip
            return f"0.0-{math.ceil(round(duration * 10, 6)) / 10:.1f}"
        a, b = sorted(rng.uniform(0.0, duration) for _ in range(2))
        return f"{_fmt(a)}-{_fmt(b)}"


class OracleBackend(Backend):
    """Answers the ground truth in the expected format: every metric must read 100 (a pipeline check)."""

    name = "oracle"
    needs_video = False

    def generate(self, item: Item, settings: Settings) -> str:
        if item.kind == "mc":
            return f"({item.answer})"
        if item.kind == "order":
            return "Correct order: " + ", ".join(map(str, item.answer))
        if item.kind == "grounding":
            a, b = item.answer[0]
            return f"The event happens in {a} - {b} seconds."
        return str(item.answer)


def make_backend(model: str, backend: str = "auto", **kwargs: Any) -> Backend:
    """``random`` / ``oracle`` by model name; ``transformers`` or ``openai`` otherwise."""
    if backend == "auto":
        backend = (
            model
            if model in ("random", "oracle")
            else ("openai" if kwargs.get("api_base") else "transformers")
        )
    if backend == "random":
        return RandomBackend(
            seed=kwargs.get("seed", 0), viubench_grounding=kwargs.get("viubench_grounding", "whole-clip")
        )
    if backend == "oracle":
        return OracleBackend()
    if backend == "transformers":
        from .hf_backend import TransformersBackend

        return TransformersBackend(
            model,
            revision=kwargs.get("revision"),
            dtype=kwargs.get("dtype", "auto"),
            device=kwargs.get("device"),
            attn_implementation=kwargs.get("attn_implementation"),
        )
    if backend == "openai":
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(
            model,
            api_base=kwargs.get("api_base") or "http://127.0.0.1:8000/v1",
            api_key=kwargs.get("api_key"),
            video_mode=kwargs.get("video_mode", "frames"),
            timeout=kwargs.get("timeout", 600.0),
        )
    raise ValueError(f"unknown backend {backend!r}; expected auto, transformers, openai, random or oracle")


__all__ = [
    "RANDOM_GROUNDING",
    "Backend",
    "CallableBackend",
    "OracleBackend",
    "RandomBackend",
    "Settings",
    "VideoRef",
    "content_parts",
    "make_backend",
]
