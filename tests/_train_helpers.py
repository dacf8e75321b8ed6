"""Shared fixtures for tests/test_train_*.py: a small published-schema dataset, tiny models (built once), and
multi-process launches of the training code."""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WIDTH, HEIGHT = 64, 48

# (task, subtype, params): few frames so that a training step takes well under a second.
SMALL_SPECS: tuple[tuple[str, str, dict], ...] = (
    ("grounding", "ChannelSwap", {"num_frames": 8, "min_segment": 2, "max_segment": 4}),
    ("grounding", "Mirror", {"num_frames": 8, "min_segment": 2, "max_segment": 4}),
    ("counting", "custom", {"num_frames": 8, "max_frames_per_shape": 2, "min_frame_gap": 1}),
    ("jigsaw", "custom", {"num_clips": 4, "num_frames": 8}),
    ("jigsaw", "custom", {"num_clips": 6, "num_frames": 12}),
)


def gradient_frames(times: np.ndarray, seed: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Moving colour gradients (distinct per seed) sampled at ``times`` seconds: uint8 (T, H, W, 3)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.empty((len(times), height, width, 3), np.uint8)
    a, b, c = 3 + seed % 5, 2 + seed % 7, 5 + seed % 3
    for i, t in enumerate(np.asarray(times, dtype=np.float64)):
        out[i, ..., 0] = (x * a + t * 40 + seed * 17) % 256
        out[i, ..., 1] = (y * b + t * 25) % 256
        out[i, ..., 2] = ((x + y) * c + t * 60) % 256 * 0.6
    return out


def make_samples(n: int = 10, seed: int = 0, specs=SMALL_SPECS):
    """``n`` ``(sample_id, source_id, Sample)`` triples cycling through ``specs``."""
    from videossr.tasks import SampleRejected, TaskSpec, VideoInfo, make_sample, plan_sample

    info = VideoInfo(duration=10.0, fps=24.0, num_frames=240, width=WIDTH, height=HEIGHT)
    rng = np.random.default_rng(seed)
    out = []
    k = 0
    while len(out) < n:
        task, subtype, params = specs[k % len(specs)]
        k += 1
        spec = TaskSpec(task, subtype, params)
        try:
            plan = plan_sample(spec, info, rng)
            sample = make_sample(plan, gradient_frames(plan.times, seed=k))
        except SampleRejected:
            continue
        out.append((f"{task}-{subtype}-{len(out):04d}", f"synthetic/grad{k}", sample))
    return out


def write_small_dataset(out_dir: str | Path, n: int = 10, seed: int = 0) -> Path:
    from videossr.build.repo import write_samples_repo

    write_samples_repo(make_samples(n, seed), out_dir, dataset_name="videossr-test")
    return Path(out_dir)


# ------------------------------------------------------------------------------------------- cached builds
# Built once per test process (pytest runs every module in one process) under one temporary folder.

_ROOT: Path | None = None


def scratch_root() -> Path:
    global _ROOT
    if _ROOT is None:
        import atexit
        import shutil
        import tempfile

        _ROOT = Path(tempfile.mkdtemp(prefix="videossr-train-tests-"))
        atexit.register(shutil.rmtree, _ROOT, True)
    return _ROOT


@functools.cache
def tiny_model(kind: str) -> str:
    from videossr.train.tiny import make_tiny_vlm

    return str(make_tiny_vlm(kind, scratch_root() / f"tiny-{kind}"))


@functools.cache
def small_dataset(n: int = 10) -> str:
    return str(write_small_dataset(scratch_root() / f"dataset-{n}", n=n))


def train_config(kind: str, out: str | Path, **overrides):
    """A small-preset TrainConfig for a tiny model on the small dataset (4 prompts x 2 answers per step)."""
    from videossr.train.config import resolve

    values = {
        "dataset": overrides.pop("dataset", None) or small_dataset(),
        "model": tiny_model(kind),
        "output_dir": str(out),
        "global_batch": 4,
        "num_generations": 2,
        "per_device_batch": 4,
        "max_completion_length": 8,
        "max_steps": 2,
        "max_pixels": WIDTH * HEIGHT,
        "save_steps": 1000,
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
    }
    values.update(overrides)
    return resolve("small", values)


def varied_reward(completion_ids, **_):
    """A reward that varies within every group (so advantages, hence gradients, are non-zero)."""
    return [(sum(ids) % 7) / 6.0 for ids in completion_ids]


@contextlib.contextmanager
def one_thread():
    """Run tiny-model training on one intra-op thread (restored afterwards): torch's spinning worker threads
    slow the tiny-model steps down on a small shared machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------- launches

REPO = Path(__file__).resolve().parent.parent


def cpu_accelerate_config(name: str, out_dir: Path, num_processes: int = 2) -> Path:
    """The shipped ``train/configs/<name>.yaml`` for ``num_processes`` CPU processes in fp32 (CPUs here have
    no bf16 speed-up); everything else as shipped."""
    import yaml

    cfg = yaml.safe_load((REPO / "train" / "configs" / f"{name}.yaml").read_text())
    cfg.update(num_processes=num_processes, mixed_precision="no")
    path = Path(out_dir) / f"{name}-cpu.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def accelerate_launch(config: Path, script: str, args: list[str], timeout: int = 600):
    """Run ``accelerate launch --config_file config script args`` from the repository root."""
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config), script, *args]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
