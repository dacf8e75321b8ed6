"""Procedurally generated source videos (ffmpeg lavfi sources with motion), for the demo, tests and
benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

from .render import run_ffmpeg

# lavfi sources that move every frame (so every perturbation and every jigsaw cut is visible).
LAVFI_SOURCES: dict[str, str] = {
    "testsrc2": "testsrc2=size={w}x{h}:rate={fps}",
    "mandelbrot": "mandelbrot=size={w}x{h}:rate={fps}",
    "life": "life=size={w}x{h}:rate={fps}:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00",
    "cellauto": "cellauto=size={w}x{h}:rate={fps}:rule=110",
    "gradients": "gradients=size={w}x{h}:rate={fps}:speed=0.05:seed={seed}",
    "plasma": (
        "nullsrc=size={w}x{h}:rate={fps},"
        "geq=r='128+120*sin(X/23+T*1.3)':g='128+120*sin(Y/17+T*0.9)':b='128+120*sin((X+Y)/31+T*1.7)'"
    ),
}


def make_synthetic_video(
    path: str | os.PathLike,
    kind: str = "testsrc2",
    *,
    width: int = 320,
    height: int = 240,
    fps: float = 24,
    duration: float = 10.0,
    seed: int = 0,
    gop: int | None = None,
    crf: int = 23,
    overlay_clock: bool = True,
) -> Path:
    """Write an H.264 mp4 from a lavfi source. ``overlay_clock`` burns a moving box whose position encodes
    time, so even a slowly changing source differs visibly from frame to frame."""
    if kind not in LAVFI_SOURCES:
        raise ValueError(f"unknown synthetic source {kind!r}; choose from {', '.join(LAVFI_SOURCES)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = LAVFI_SOURCES[kind].format(w=width, h=height, fps=fps, seed=seed)
    if overlay_clock:
        box = max(4, min(width, height) // 8)
        graph = (
            f"{graph}[bg];color=white:size={box}x{box}:rate={fps}[clock];"
            f"[bg][clock]overlay=x='mod(t*{7 * fps}\\,{max(1, width - box)})'"
            f":y='mod(t*{3 * fps}\\,{max(1, height - box)})':shortest=1"
        )
    encode = f"-c:v libx264 -preset veryfast -crf {crf} -pix_fmt yuv420p -threads 1".split()
    args = ["-f", "lavfi", "-i", graph, "-t", f"{duration}", *encode]
    if gop:
        args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    args += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", str(path)]
    run_ffmpeg(args, timeout=600, what=f"generating {path.name}")
    return path
