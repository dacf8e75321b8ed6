"""Smoke test of ``build/bench.py``: a tiny run prints every figure (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIGURES = (
    "decode floor",
    "full build",
    "build / floor",
    "samples/s",
    "seconds per sample per core",
    "median video bytes per 48-frame sample",
    "bytes per sample (shards only)",
    "bytes per sample (whole repo)",
    "driver peak memory",
    "worker peak memory",
    "driver peak, 12 samples (4x)",
    "worker peak, 12 samples (4x)",
    "load rows/s",
    "build with 1 worker",
    "speed-up, 1 workers vs 1",
    "frame-folder baseline",
    "frame-folder bytes per sample",
)


def test_bench_smoke_prints_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "build/bench.py", "--smoke", "--workers", "1", "--work-dir", str(tmp_path / "work"),
         "--cache-dir", str(tmp_path / "cache"), "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for figure in FIGURES:
        assert figure in proc.stdout, f"{figure!r} missing from:\n{proc.stdout}"
    figures = json.loads(out.read_text())
    assert figures["samples"] == 3 and figures["samples_4x"] == 12
    for key in ("build_s", "floor_s", "build_over_floor", "shard_bytes_per_sample", "repo_bytes_per_sample",
                "median_sample_video_bytes", "driver_peak_bytes", "worker_peak_bytes", "load_rows_per_s",
                "speedup", "frame_folder_s", "storage_vs_frame_folder"):  # fmt: skip
        assert figures[key] > 0, key


def test_bench_help() -> None:
    proc = subprocess.run(
        [sys.executable, "build/bench.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    for option in ("--num-videos", "--workers", "--repeats", "--cache-dir", "--reference-repo", "--smoke"):
        assert option in proc.stdout
