"""Shared helpers for tests/test_stream_*.py: corpora of generated videos (most tests draw from conftest's
session-wide ``small_corpus``), small recipes, streams on them, and a small-preset training config on a
stream."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from _train_helpers import tiny_model
from videossr.build.recipes import MixEntry, Recipe
from videossr.build.synthetic import make_synthetic_video
from videossr.stream import DrawSettings, SampleStream, open_corpus
from videossr.tasks import TaskSpec

KINDS = ("testsrc2", "mandelbrot", "plasma", "gradients", "cellauto", "life")
FRAME_PIXELS = 64 * 48


def make_corpus(root: Path, count: int = 6, width: int = 96, height: int = 72, seconds: float = 4.0) -> Path:
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        make_synthetic_video(
            root / f"clips/{kind}-{i}.mp4", kind, width=width, height=height, fps=24, duration=seconds, seed=i
        )
    return root


def every_kind_recipe(name: str = "stream-mini", count: int = 1) -> Recipe:
    """Each task family and each kind of grounding timeline (pixels, reorder, speed, swap), 16 frames."""
    grounding = {"num_frames": 16, "min_segment": 3, "max_segment": 6}
    specs = [
        TaskSpec("grounding", p, grounding) for p in ("ChannelSwap", "Mirror", "Shuffle", "Slow", "Swap")
    ]
    specs += [
        TaskSpec("counting", "easy", {"num_frames": 16, "min_frame_gap": 1}),
        TaskSpec("jigsaw", "custom", {"num_frames": 16, "num_clips": 4}),
    ]
    return Recipe(name, tuple(MixEntry(s, count) for s in specs), max_pixels=FRAME_PIXELS, num_frames=16)


def counting_recipe(name: str = "stream-counting", count: int = 64) -> Recipe:
    """Counting only, one shape instance on one frame per type at offset 0: the difficulty ladder's floor."""
    params = {"num_frames": 16, "min_frame_gap": 1, "max_frames_per_shape": 1, "max_instances_per_frame": 1}
    entry = MixEntry(TaskSpec("counting", "custom", params), count)
    return Recipe(name, (entry,), max_pixels=FRAME_PIXELS, num_frames=16)


def open_stream(recipe: Recipe, root: Path, *, seed: int = 0, clips: str = "frames", **kw) -> SampleStream:
    """A stream of ``recipe`` from every video under ``root`` (none held out)."""
    corpus = open_corpus([root], recipe, None)
    return SampleStream(corpus, DrawSettings(recipe, seed=seed), clips=clips, **kw)


def write_recipe(recipe: Recipe, path: Path) -> Path:
    """``recipe`` as a YAML recipe file (what --recipe reads)."""
    import yaml

    mix = [
        {"task": e.spec.task, "subtype": e.spec.subtype, "count": e.count, "params": dict(e.spec.params)}
        for e in recipe.mix
    ]
    data = {"name": recipe.name, "max_pixels": recipe.max_pixels, "num_frames": recipe.num_frames, "mix": mix}
    path.write_text(yaml.safe_dump(data))
    return path


def stream_config(out: Path, recipe_file: Path, root: Path, **overrides):
    """A small-preset TrainConfig on a stream of the videos under ``root``, for the tiny Qwen3-VL."""
    from videossr.train.config import resolve

    values = {
        "dataset": f"stream:{root}",
        "recipe": str(recipe_file),
        "holdout": "none",
        "model": overrides.pop("model", None) or tiny_model("qwen3_vl"),
        "output_dir": str(out),
        "global_batch": 4,
        "num_generations": 2,
        "per_device_batch": 4,
        "max_completion_length": 4,
        "max_steps": 2,
        "max_pixels": FRAME_PIXELS,
        "save_steps": 1000,
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
    }
    values.update(overrides)
    return resolve("small", values)


# Success rate of the rigged reward by the counting rows' frames per shape (the ladder's step from offset 0):
# zero-variance share of 4 answers z = p^4 + (1 - p)^4: 1.0, 0.66, 0.27, 0.16.
SUCCESS = {1: 1.0, 2: 0.9, 3: 0.72, 4: 0.6}
BAND = (0.1, 0.5)  # the zero-variance band the adaptive tests aim for


def rigged_reward(completions, position, params, **_):
    """1 with a probability set by the row's difficulty (its params), else 0; the same for a position and an
    answer index whatever the model writes."""
    rewards, index = [], Counter()
    for pos, text in zip(position, params):
        level = json.loads(text)["max_frames_per_shape"]
        u = np.random.default_rng([pos, index[pos]]).random()
        index[pos] += 1
        rewards.append(1.0 if u < SUCCESS[level] else 0.0)
    return rewards
