"""Shared fixtures for the eval tests: a small VIUBench built with videossr.tasks, tiny clips, and the
real-layout benchmark fixtures (tests/_benchmark_fixtures.py). Nothing here touches the network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VIU_SPECS = (
    ("counting", "easy"),
    ("counting", "hard"),
    ("grounding", "ChannelSwap"),
    ("grounding", "Rotate180"),
    ("grounding", "ZoomOut"),
    ("grounding", "Mirror"),
    ("grounding", "Shuffle"),
    ("jigsaw", "easy"),
    ("jigsaw", "hard"),
)


def _frames(rng: np.random.Generator, n: int, h: int = 64, w: int = 64) -> np.ndarray:
    """Smooth, distinct frames: a moving gradient plus noise (every perturbation is visible on them)."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    base = rng.integers(0, 255, size=3)
    for i in range(n):
        r = (xx * 3 + i * 5 + base[0]) % 256
        g = (yy * 2 + i * 3 + base[1]) % 256
        b = ((xx + yy) + i * 7 + base[2]) % 256
        noise = rng.integers(0, 20, size=(h, w, 3))
        out[i] = np.clip(np.stack([r, g, b], -1) + noise, 0, 255).astype(np.uint8)
    return out


def make_viubench_samples(per_subtype: int = 1, seed: int = 0, size: int = 64):
    """``(sample_id, source_id, Sample)`` triples covering the 9 VIUBench subtypes."""
    from videossr.tasks import SampleRejected, TaskSpec, VideoInfo, make_sample, plan_sample

    rng = np.random.default_rng(seed)
    info = VideoInfo(duration=60.0, fps=24.0, num_frames=1440, width=size, height=size)
    out = []
    for task, subtype in VIU_SPECS:
        made = 0
        attempts = 0
        while made < per_subtype:
            attempts += 1
            assert attempts < 50, f"cannot make {task}/{subtype}"
            plan = plan_sample(TaskSpec(task, subtype), info, rng)
            try:
                sample = make_sample(plan, _frames(rng, len(plan.times), size, size))
            except SampleRejected:
                continue
            out.append((f"{task}-{subtype}-{made:04d}", f"src{made}", sample))
            made += 1
    return out


def make_viubench(out_dir: Path, per_subtype: int = 1, seed: int = 0) -> Path:
    from videossr.build.repo import write_samples_repo

    write_samples_repo(make_viubench_samples(per_subtype, seed), out_dir, dataset_name="viubench-test")
    return Path(out_dir)


def tiny_mp4(path: Path, n: int = 8, fps: float = 4.0, seed: int = 0, size: int = 32) -> Path:
    from videossr.build.render import encode_clip

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_clip(_frames(np.random.default_rng(seed), n, size, size), fps))
    return path


def write_card(folder: Path, configs: list[tuple[str, str, str]]) -> None:
    """README.md with ``configs`` (name, split, data file): a folder laid out as a Hub dataset repo."""
    lines = ["---", "configs:"]
    for i, (name, split, path) in enumerate(configs):
        lines += [f"- config_name: {name}", "  data_files:", f"  - split: {split}", f"    path: {path}"]
        if i == 0:
            lines.append("  default: true")
    lines += ["---", "", "fixture"]
    (folder / "README.md").write_text("\n".join(lines) + "\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_benchmark_fixture(bench: str, root: Path) -> tuple[Path, int]:
    """The real-layout fixture of ``bench`` (tests/fixtures/benchmarks) built under ``root``; returns
    (the path for --data, the number of items it holds)."""
    from _benchmark_fixtures import build_fixture

    fx = build_fixture(bench, root / bench)
    return fx.data, fx.items
