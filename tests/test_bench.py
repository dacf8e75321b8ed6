"""The benchmarks (``benchmarks/``): tiny runs print every figure (no timing is asserted), and their parts."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from videossr.build.frames import FrameSampler, close_worker_sampler
from videossr.build.plan import min_source_frames
from videossr.build.synthetic import make_synthetic_video

from benchmarks.baselines import patched_script
from benchmarks.corpus import link_sources
from benchmarks.floor import bench_recipe, floor_plans
from benchmarks.measure import TreeSampler, paired_ratio

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

FIGURES = (
    "python build/run.py (verify included)",
    "start-up and probing",
    "units (decode, make, encode, check)",
    "whole-dataset checks",
    "decode floor",
    "command / floor",
    "samples/s",
    "CPU of the command (every process)",
    "beyond decode + encode",
    "of which decoding every clip to check it",
    "median video bytes per 48-frame sample",
    "bytes per sample (shards only)",
    "bytes per sample (whole repo)",
    "driver peak memory",
    "worker peak memory",
    "driver peak, 12 samples (4x)",
    "worker peak, 12 samples (4x)",
    "load rows/s",
    "workers   time s   units s   speed-up   efficiency",
    "2 workers >= 1.8 x",
    "frame-folder baseline",
    "frame-folder bytes per sample",
    "standalone build/verify.py (every check again)",
)
POSITIVE = (
    "build_s",
    "build_units_s",
    "floor_s",
    "build_over_floor",
    "build_cpu_s",
    "encode_cpu_s",
    "beyond_share",
    "shard_bytes_per_sample",
    "repo_bytes_per_sample",
    "median_sample_video_bytes",
    "driver_peak_bytes",
    "worker_peak_bytes",
    "load_rows_per_s",
    "frame_folder_s",
    "storage_vs_frame_folder",
    "verify_s",
)


def _make(target: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``make TARGET ARGS="..."``, as users run the benchmarks (``-o setup``: the environment is set up)."""
    cmd = [
        "make",
        "--no-print-directory",
        "-o",
        "setup",
        target,
        f"PY={sys.executable}",
        f"ARGS={' '.join(args)}",
    ]
    return subprocess.run(cmd, cwd=ROOT, env=OFFLINE, capture_output=True, text=True, timeout=timeout)


def test_bench_smoke_prints_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    work, cache = tmp_path / "work", tmp_path / "cache"
    args = (
        "--smoke",
        "--workers",
        "1,2",
        "--work-dir",
        str(work),
        "--cache-dir",
        str(cache),
        "--json",
        str(out),
    )
    proc = _make("bench", *args, "--crf", "26")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for figure in FIGURES:
        assert figure in proc.stdout, f"{figure!r} missing from:\n{proc.stdout}"
    figures = json.loads(out.read_text())
    assert figures["samples"] == 3 and figures["samples_4x"] == 12
    assert figures["crf"] == 26 and "CRF 26" in proc.stdout
    assert json.loads((work / "out" / "bench" / "build_manifest.json").read_text())["crf"] == 26
    for key in POSITIVE:
        assert figures[key] > 0, key
    assert figures["workers"] == 2 and [r["workers"] for r in figures["scaling"]] == [1, 2]
    assert figures["scaling"][0]["speedup"] == 1.0
    assert 0 < figures["beyond_share"] < 1


def test_bench_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for flag in (
        "--num-videos",
        "--workers",
        "--repeats",
        "--cache-dir",
        "--reference-repo",
        "--sources",
        "--crf",
    ):
        assert flag in proc.stdout
    assert "--smoke" in proc.stdout and "--no-scaling" in proc.stdout and "--no-baseline" in proc.stdout


def test_reference_scripts_are_pointed_at_the_run(tmp_path) -> None:
    """The paper's task scripts configure themselves with module constants: the bench rewrites exactly those
    lines in a copy under the work dir, and names the script and constant when one is missing."""
    ref = tmp_path / "ref"
    (ref / "pretext_tasks").mkdir(parents=True)
    original = (
        'import os\nVIDEO_BASE_DIR = f"path/to/{48}frames"\nSTART_INDEX = 24000\n'
        "print(VIDEO_BASE_DIR, START_INDEX)\n"
    )
    (ref / "pretext_tasks" / "counting.py").write_text(original)
    out = tmp_path / "out"
    script = patched_script(ref, "counting.py", out, {"VIDEO_BASE_DIR": "/x/frames", "START_INDEX": 0})
    assert script.parent.parent == out and (ref / "pretext_tasks" / "counting.py").read_text() == original
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["/x/frames", "0"]
    with pytest.raises(SystemExit, match=r"counting\.py has no `END_INDEX = \.\.\.` line"):
        patched_script(ref, "counting.py", out, {"END_INDEX": 5})


def test_sources_option_links_a_folder_of_your_own_videos(tmp_path) -> None:
    """``--sources DIR`` benchmarks on a user's folder: every video found (recursively, any container) is
    linked into the run's corpus as the paper's sampler wants them (``*.mp4``), in a stable order."""
    mine = tmp_path / "mine"
    (mine / "trip").mkdir(parents=True)
    for rel in ("b.mp4", "trip/a.mkv", "trip/c.webm"):
        (mine / rel).write_bytes(rel.encode())
    (mine / "notes.txt").write_text("not a video")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert link_sources(mine, run_dir) == 3
    links = sorted(run_dir.iterdir())
    assert [p.name for p in links] == ["v0000.mp4", "v0001.mp4", "v0002.mp4"]
    assert [p.read_bytes() for p in links] == [b"b.mp4", b"trip/a.mkv", b"trip/c.webm"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match=r"--sources .*empty: no videos found"):
        link_sources(tmp_path / "empty", run_dir)


def test_floor_plans_frames_the_decoder_delivers(tmp_path) -> None:
    """An AVI with null frames (a container count three times what decodes) is planned, like the build plans
    it, on the frames the decoder delivers: the floor asks for none past the end and spans the whole video."""
    from _build_helpers import make_null_frame_avi

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    video = make_null_frame_avi(corpus / "nullframes.avi")
    sampler = FrameSampler(60)
    try:
        decodable = sampler.count_frames(str(video))
        assert sampler.probe(str(video)).num_frames >= 3 * decodable - 3  # the container over-reports
    finally:
        sampler.close()
    [(path, indices, _, _)] = floor_plans(corpus, per_family=1, seed=0)
    assert path.endswith("nullframes.avi") and indices
    assert max(indices) < decodable and max(indices) > 0.8 * decodable


def test_floor_plans_skip_the_sources_the_build_skips(tmp_path) -> None:
    """The floor probes with the build's minimum frame count for its recipe (48-frame samples: 54), so a
    53-frame source is left out of both and a 54-frame one is in both."""
    from _build_helpers import small_recipe

    assert min_source_frames([bench_recipe(1, 1)]) == 54
    assert min_source_frames([small_recipe("a"), bench_recipe(1, 1)]) == 54
    corpus = tmp_path / "corpus"
    for frames in (53, 54):
        make_synthetic_video(
            corpus / f"f{frames}.mp4", "testsrc2", width=96, height=64, fps=30, duration=frames / 30
        )
    [(path, indices, _, _)] = floor_plans(corpus, per_family=1, seed=0)
    assert path.endswith("f54.mp4") and indices


def test_tree_sampler_sums_each_worker_and_what_runs_under_it() -> None:
    """The memory sampler counts a worker's own RSS and, as its tree, the worker plus its children (the decode
    child): here a child whose own child holds 60 MB."""
    close_worker_sampler()  # a decode child earlier tests left would count as a second "worker"
    hold = "import time; x = bytearray(60_000_000); x[::4096] = b'1' * len(x[::4096]); time.sleep(30)"
    child = f"subprocess.Popen([sys.executable, '-c', {hold!r}])"
    spawn = f"import subprocess, sys, time; p = {child}; time.sleep(30)"
    worker = subprocess.Popen([sys.executable, "-c", spawn], start_new_session=True)
    try:
        time.sleep(1.0)
        sampler = TreeSampler(interval=0.05, rescan=0.2)
        sampler.start()
        time.sleep(1.0)
        sampler.stop.set()
        sampler.join()
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert sampler.ticks >= 5
    assert sampler.worker_peak >= 60_000_000 > sampler.worker_process_peak > 0
    assert sampler.driver_peak > 0


def test_ratios_are_medians_of_each_runs_ratio() -> None:
    """A ratio of two timings pairs the runs made back to back: a host that slows down between repeats moves
    both timings of a run, not their ratio (the ratio of the two medians would be 13 / 10 here)."""
    builds = [{"wall": 10.0, "t_units": 8.0}, {"wall": 13.0, "t_units": 9.0}, {"wall": 30.0, "t_units": 24.0}]
    floors = [{"wall": 5.0}, {"wall": 13.0}, {"wall": 10.0}]
    assert paired_ratio(builds, floors, "wall") == 2.0
    assert paired_ratio(builds, floors, "t_units", "wall") == 1.6
    assert math.isnan(paired_ratio(builds, floors, "cpu"))


def test_bench_scale_smoke_reports_each_size_and_the_rerun(tmp_path: Path) -> None:
    """``make bench-scale`` on two tiny sizes: each is built (one sample per source), re-run from the finished
    output with every source served by the probe cache, and compared (no timing is asserted)."""
    out = tmp_path / "scale.json"
    args = ("--sizes", "6,12", "--workers", "1", "--cache-dir", str(tmp_path / "cache"), "--work-dir")
    proc = _make("bench-scale", *args, str(tmp_path / "work"), "--json", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert [f["n"] for f in figures["sizes"]] == [6, 12]
    for fig in figures["sizes"]:
        assert fig["build"]["rows"] == fig["build"]["requested"] == fig["n"]
        assert fig["rerun"]["rows"] == fig["n"] and fig["rerun"]["probe_cached"] == fig["n"]
        assert fig["build"]["driver_peak"] > 0 and fig["build"]["worker_peak"] > 0
    assert "12 vs 6 sources (2x): time per unit x" in proc.stdout
    assert len(list((tmp_path / "cache").rglob("*.mp4"))) >= 12


def test_bench_stream_smoke_prints_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    args = ("--smoke", "--work-dir", str(tmp_path / "work"), "--cache-dir", str(tmp_path / "cache"))
    proc = _make("bench-stream", *args, "--json", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "corpus: 2 videos 320x180 30 fps 4 s, GOP 2 s" in proc.stdout
    for figure in ("stream frames", "stream mp4", "built dataset load"):
        assert figure in proc.stdout
    (run,) = json.loads(out.read_text())["runs"]
    assert run["workers"] == 1 and run["stream_frames"]["rows"] == 6 and run["stream_mp4"]["rows"] == 6
    for key in ("stream_frames", "stream_mp4"):
        assert run[key]["rows_per_s"] > 0 and run[key]["rows_per_s_per_worker"] == run[key]["rows_per_s"]
    assert run["built_load"]["rows"] == 6 and run["built_load"]["rows_per_s"] > 0
