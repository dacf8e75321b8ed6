"""Shared helpers for the build tests: a small generated corpus and small recipes."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
from videossr.build.config import BuildConfig
from videossr.build.frames import DecodedFrames, DecodeError, FrameSampler
from videossr.build.pipeline import BuildResult, build
from videossr.build.recipes import MixEntry, Recipe, load_recipe
from videossr.build.render import decode_all_frames
from videossr.build.synthetic import make_synthetic_video
from videossr.tasks import FramePlan, Sample, SampleRejected, TaskSpec, make_sample

REPO = Path(__file__).resolve().parent.parent

CORPUS = (
    ("cooking/testsrc2", "testsrc2", 192, 144),
    ("cooking/mandelbrot", "mandelbrot", 160, 120),
    ("sports/plasma", "plasma", 144, 176),
    ("sports/life", "life", 192, 108),
)


def make_corpus(root: Path, duration: float = 6.0) -> Path:
    for rel, kind, w, h in CORPUS:
        make_synthetic_video(
            root / f"{rel}.mp4", kind, width=w, height=h, fps=24, duration=duration, seed=len(rel)
        )
    return root


def make_null_frame_avi(path: Path, lavfi: str = "testsrc") -> Path:
    """A 12 s 160x120 MPEG-4 AVI whose container lists 30 fps (360 frames) while only every third frame is
    stored (AVI null frames, as from frames dropped at capture): 120 frames decode, 10 a second."""
    from videossr.build.render import run_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    source = ["-f", "lavfi", "-i", f"{lavfi}=size=160x120:rate=30", "-t", "12"]
    every_third = ["-vf", r"select=not(mod(n\,3))", "-fps_mode", "passthrough", "-r", "30"]
    run_ffmpeg([*source, *every_third, "-c:v", "mpeg4", "-q:v", "5", str(path)])
    return path


def small_recipe(name: str = "mini", max_pixels: int = 96 * 96) -> Recipe:
    """Every task family and the perturbation kinds with special timelines (pixels, reorder, speed, swap)."""
    grounding = ("ChannelSwap", "Mirror", "ZoomOut", "Shuffle", "StutterHold", "Slow", "Fast", "Swap")
    specs = [("grounding", s) for s in grounding]
    specs += [("counting", "easy"), ("counting", "hard"), ("jigsaw", "easy"), ("jigsaw", "hard")]
    return Recipe(name, tuple(MixEntry(TaskSpec(t, s), 1) for t, s in specs), max_pixels=max_pixels)


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every published file (hidden work files excluded)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def decode_clip(video: dict) -> np.ndarray:
    return decode_all_frames(video["bytes"])


def mini_corpus(root: Path) -> Path:
    """Two 8 s sources: enough for a few samples of every task, quick to build."""
    make_synthetic_video(root / "a.mp4", "testsrc2", width=128, height=96, fps=24, duration=8)
    make_synthetic_video(root / "b.mp4", "plasma", width=96, height=128, fps=24, duration=8)
    return root


MINI_BUILD = "videossr-30k"  # the recipe of ``build_mini``
MINI_SAMPLES = 6


def build_mini(corpus: Path, out: Path, seed: int) -> BuildResult:
    """``videossr-30k`` scaled to ``MINI_SAMPLES`` samples from ``corpus`` into ``out`` (2 workers)."""
    recipe = load_recipe(MINI_BUILD).scaled(MINI_SAMPLES)
    config = BuildConfig(out_dir=out, seed=seed, workers=2, progress=False)
    return build([recipe], [corpus], config, on_progress=lambda m: None)


def cli(*args: str) -> list[str]:
    """The command line of ``python build/run.py ARGS``."""
    return [sys.executable, str(REPO / "build" / "run.py"), *args]


class RecordingSampler(FrameSampler):
    """The build's frame sampler, recording every frame index it is asked to decode, per source path; the
    paths in ``refuse`` fail as a file that does not decode."""

    def __init__(self, refuse: tuple[str, ...] = (), timeout: float = 60) -> None:
        super().__init__(timeout)
        self.decoded: dict[str, list[int]] = {}
        self.calls = 0
        self.refuse = refuse
        self.refused: list[str] = []

    def frames_at(self, path: str, indices, *args, **kwargs) -> DecodedFrames:
        if str(path) in self.refuse:
            self.refused.append(str(path))
            raise DecodeError("invalid data found when processing input")
        self.calls += 1
        self.decoded.setdefault(str(path), []).extend(int(i) for i in indices)
        return super().frames_at(path, indices, *args, **kwargs)


class RejectFirst:
    """``make_sample`` that rejects the first ``n`` draws (as if the anomaly were invisible there) and makes
    the rest; ``rejected`` counts the rejections (set it to 0 to reject the next ``n`` again)."""

    def __init__(self, n: int, reason: str = "test: invisible here") -> None:
        self.n, self.reason, self.rejected, self.calls = n, reason, 0, 0

    def __call__(self, plan: FramePlan, frames: np.ndarray, secondary: np.ndarray | None = None) -> Sample:
        self.calls += 1
        if self.rejected < self.n:
            self.rejected += 1
            raise SampleRejected(self.reason)
        return make_sample(plan, frames, secondary)
