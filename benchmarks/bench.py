"""``make bench`` (``python -m benchmarks.bench``): how fast the build runs beside its decode floor, how small
and how fast to load its output, and how it scales. No network.

One run, on one cached corpus and one worker count:

1. **Decode floor** (:mod:`.floor`) - decoding exactly the frames the build's frame plans need, with the
   build's decoder, in ``--workers`` processes: the unavoidable cost of the build.
2. **Full build** - ``videossr.build.pipeline.build`` of a recipe with one sample of each task family per
   source video (grounding/ChannelSwap, counting/easy, jigsaw/easy: 3 x N samples of 48 frames, at most
   256x256 pixels) into a Hub-ready folder, exactly as ``python build/run.py`` runs it (a fresh driver
   process, a Dask LocalCluster of ``--workers`` single-threaded workers, probe, render, shards, card,
   manifest, preview). Also run with 1 worker (the speed-up) and with 4x the samples (memory stays flat).
3. **Load** and **verify** (:mod:`.loading`) - every clip decoded to model-ready tensors with torchcodec,
   and ``build/verify.py`` on the built folder in a fresh process, as ``build/run.py`` runs it.
4. **Baselines** (:mod:`.baselines`) - the paper's frame-folder layout re-implemented; with
   ``--reference-repo PATH`` (a checkout of github.com/lcqysl/VideoSSR) also the paper's released pipeline on
   the same corpus (needs ``opencv-python-headless``).

Timings are medians over ``--repeats`` runs; ratios of two timings (build / floor, 1 vs N workers, the
baselines vs the build) are medians of each run's ratio, the two measured back to back. The corpus
(``--num-videos`` procedurally generated videos, 640x360 30 fps 60 s H.264 with a 2 s keyframe interval by
default) is made once under ``--cache-dir``; ``--sources DIR`` benchmarks on a folder of your own videos.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.build.config import BuildConfig, crf_value, positive_int
from videossr.build.pipeline import build
from videossr.build.render import DEFAULT_CRF, MAX_CRF

from videossr.arguments import DataclassArgumentParser, option

from .baselines import run_frame_folder, run_reference
from .corpus import CorpusSpec, link_sources, make_corpus
from .floor import bench_recipe, floor_plans, run_floor
from .loading import run_load, run_verify
from .measure import (
    TreeSampler,
    child_entry,
    cpu_children,
    driver_maxrss,
    median,
    paired_ratio,
    phases,
    repo_sizes,
    run_child,
)
from .report import report

MODULE = "benchmarks.bench"
SMOKE_CACHE = ".cache/bench-smoke"


@dataclass
class BenchOptions:
    num_videos: int = option(24, help="corpus size N", parse=positive_int, metavar="N")
    workers: int = option(os.cpu_count() or 1, help="worker processes (default: cores)", parse=positive_int)
    repeats: int = option(3, help="runs per measurement; medians are reported", parse=positive_int)
    cache_dir: str = option(".cache/bench", help="where the generated corpus is kept")
    work_dir: str | None = option(None, help="scratch folder for outputs (default: a temp folder)")
    duration: float = option(60.0, help="source video length in seconds")
    width: int = option(640, help="source video width")
    height: int = option(360, help="source video height")
    fps: int = option(30, help="source video frame rate")
    gop_seconds: float = option(2.0, help="keyframe interval in seconds")
    seed: int = option(0, help="the build's seed")
    crf: int = option(
        DEFAULT_CRF, help=f"x264 CRF of the built clips, 0..{MAX_CRF} (the build's)", parse=crf_value
    )
    natural: bool = option(
        False,
        help="a corpus of natural content instead: the demo's Big Buck Bunny and bikes clips looped into "
        "--duration s web-style videos (per-video speed, mirror, hue and crop; 1280x720 and 1920x1080, "
        "25 and 30 fps, B-frames, 2 s keyframes, AAC audio); --width, --height, --fps and --gop-seconds are "
        "ignored",
    )
    sources: Path | None = option(
        None,
        help="benchmark on the videos under this folder (e.g. your own) instead of the generated corpus; "
        "--num-videos, --duration, --width, --height, --fps and --gop-seconds are then ignored",
    )
    scaling: bool = option(True, help="also build with 1 worker and with 4x the samples")
    baseline: bool = option(True, help="also time the frame-folder baseline")
    reference_repo: Path | None = option(
        None,
        help="a checkout of github.com/lcqysl/VideoSSR: also time its released pipeline (sample_frames.py, "
        "grounding.py, counting.py, jigsaw.py; needs opencv-python-headless)",
    )
    json: Path | None = option(None, help="also write every figure to this JSON file")
    smoke: bool = option(False, help="tiny run for tests: N=1, 1 repeat, 4 s 320x180 videos")

    def corpus(self) -> CorpusSpec:
        return CorpusSpec(
            self.num_videos, self.width, self.height, self.fps, self.duration, self.gop_seconds, self.natural
        )


@dataclass
class Runs:
    """Every measurement of every repeat."""

    floors: list[dict] = field(default_factory=list)
    builds: list[dict] = field(default_factory=list)
    singles: list[dict] = field(default_factory=list)
    loads: list[dict] = field(default_factory=list)
    verifies: list[dict] = field(default_factory=list)
    folders: list[dict] = field(default_factory=list)
    refs: list[dict] = field(default_factory=list)
    big: dict | None = None


def parse_args(argv: list[str] | None) -> BenchOptions:
    p = DataclassArgumentParser(
        BenchOptions,
        prog="python -m benchmarks.bench",
        description="Benchmark the build against its decode floor, and the load speed and size of its "
        "output.",
        epilog="example: python -m benchmarks.bench --num-videos 24 --workers 2 --repeats 3",
    )
    (args,) = p.parse_into_dataclasses(argv)
    if args.smoke:
        args.num_videos, args.repeats, args.duration, args.width, args.height = 1, 1, 4.0, 320, 180
        args.cache_dir = args.cache_dir if args.cache_dir != ".cache/bench" else SMOKE_CACHE
    return args


def child_build(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: one build, its phase times and memory peaks."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    sampler = TreeSampler()
    sampler.start()
    recipe = bench_recipe(spec["num_sources"], spec["per_family"])
    config = BuildConfig(
        out_dir=Path(spec["out"]), seed=spec["seed"], workers=spec["workers"], crf=spec["crf"], progress=False
    )
    stamps: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    result = build(
        [recipe],
        [spec["sources"]],
        config,
        on_progress=lambda msg: stamps.append((time.perf_counter() - t0, msg)),
    )
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    return {
        "wall": wall,
        "rows": result.datasets[0].built,
        "requested": result.datasets[0].requested,
        "stamps": stamps,
        "driver_peak": max(driver_maxrss(), sampler.driver_peak),
        "worker_peak": sampler.worker_peak,
        "worker_process_peak": sampler.worker_process_peak,
    }


def run_build(args: BenchOptions, sources: Path, out: Path, workers: int, per_family: int) -> dict:
    """One build in a fresh driver process, with the CPU of everything it ran and its output's sizes."""
    shutil.rmtree(out, ignore_errors=True)
    spec = {
        "sources": str(sources.resolve()),
        "out": str(out.resolve()),
        "workers": workers,
        "per_family": per_family,
        "num_sources": args.num_videos,
        "seed": args.seed,
        "crf": args.crf,
    }
    c0 = cpu_children()
    res = run_child(MODULE, spec, out.parent / f".{out.name}-result.json")
    res["cpu"] = cpu_children() - c0
    res.update(phases(res["stamps"], res["wall"]))
    res.update(repo_sizes(out / "bench"))
    return res


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if child_entry(argv, child_build):
        return 0
    args = parse_args(argv)
    tmp = None
    if args.work_dir is None:
        tmp = tempfile.mkdtemp(prefix="videossr-bench-")
        args.work_dir = tmp
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, work)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def corpus_of(args: BenchOptions, work: Path) -> tuple[Path, str]:
    """The run's corpus folder and its description."""
    run_dir = work / "sources"
    if args.sources is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        args.num_videos = link_sources(args.sources, run_dir)
        return run_dir, f"{args.num_videos} videos from {args.sources}"
    make_corpus(args.corpus(), Path(args.cache_dir), run_dir, args.workers)
    if args.natural:
        return (
            run_dir,
            f"{args.num_videos} natural videos (720p and 1080p, 25 and 30 fps) {args.duration:g} s",
        )
    size = f"{args.width}x{args.height} {args.fps} fps {args.duration:g} s"
    return run_dir, f"{args.num_videos} videos {size}, GOP {args.gop_seconds:g} s"


def run(args: BenchOptions, work: Path) -> int:
    sources, corpus = corpus_of(args, work)
    print(
        f"[bench] corpus: {corpus}; {args.workers} workers; {args.repeats} repeats; CRF {args.crf}",
        flush=True,
    )
    runs = repeat(args, sources, work, floor_plans(sources, 1, args.seed))
    fig = figures(args, runs)
    report(fig)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    return 0


def repeat(args: BenchOptions, sources: Path, work: Path, plans: list) -> Runs:
    """Each repeat runs what a ratio compares back to back (the paper's pipeline, the floor, the build, the
    1-worker build), so ratios are medians of per-repeat ratios (see ``paired_ratio``)."""
    w, runs = args.workers, Runs()
    for r in range(args.repeats):

        def say(what: str, r: int = r) -> None:
            print(f"[bench] run {r + 1}: {what}", flush=True)

        if args.reference_repo:
            runs.refs.append(
                run_reference(args.reference_repo, sources, work / "reference", w, args.num_videos)
            )
            ref = runs.refs[-1]
            frames = f"sample_frames.py {ref['frames_wall']:.2f} s"
            say(f"the paper's pipeline {ref['wall']:.2f} s ({frames}, {ref['rows']} rows)")
        runs.floors.append(run_floor(plans, w))
        say(f"decode floor {runs.floors[-1]['wall']:.2f} s")
        runs.builds.append(run_build(args, sources, work / "out", w, 1))
        say(f"build {runs.builds[-1]['wall']:.2f} s ({runs.builds[-1]['rows']} rows)")
        if args.scaling:
            # With one worker the build above is already the 1-worker build.
            runs.singles.append(runs.builds[-1] if w == 1 else run_build(args, sources, work / "out1", 1, 1))
            say(f"build with 1 worker {runs.singles[-1]['wall']:.2f} s")
        if args.baseline:
            runs.folders.append(run_frame_folder(sources, work / "frame-folder", w))
            say(f"frame-folder baseline {runs.folders[-1]['wall']:.2f} s")
        runs.loads.append(run_load(work / "out" / "bench", w))
        say(f"load {runs.loads[-1]['rows_per_s']:.1f} rows/s")
        runs.verifies.append(run_verify(work / "out" / "bench", w))
        say(f"verify {runs.verifies[-1]['wall']:.2f} s")
        if args.scaling and runs.big is None:
            runs.big = run_build(args, sources, work / "out4", w, 4)
            print(f"[bench] 4x samples: build {runs.big['wall']:.2f} s ({runs.big['rows']} rows)", flush=True)
    return runs


def figures(args: BenchOptions, runs: Runs) -> dict[str, Any]:
    """Every figure of the run, as ``report`` prints them and ``--json`` writes them."""
    b0, w = runs.builds[0], args.workers
    rows = b0["rows"]
    build_s = median(runs.builds, "wall")
    fig: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "num_videos": args.num_videos,
        "workers": w,
        "repeats": args.repeats,
        "crf": args.crf,
        "samples": rows,
        "build_s": build_s,
        "build_start_probe_s": median(runs.builds, "t_start_probe"),
        "build_units_s": median(runs.builds, "t_units"),
        "build_finalize_s": median(runs.builds, "t_finalize"),
        "redrawn_samples": b0["redrawn"],
        "floor_s": median(runs.floors, "wall"),
        "floor_frames": runs.floors[0]["frames"],
        "floor_cpu_s": median(runs.floors, "cpu"),
        "build_cpu_s": median(runs.builds, "cpu"),
        "build_over_floor_cpu": paired_ratio(runs.builds, runs.floors, "cpu"),
        "samples_per_s": rows / build_s,
        "s_per_sample_per_core": build_s * w / rows,
        "build_over_floor": paired_ratio(runs.builds, runs.floors, "wall"),
        "units_over_floor": paired_ratio(runs.builds, runs.floors, "t_units", "wall"),
        "shard_bytes_per_sample": b0["shard_bytes"] / rows,
        "repo_bytes_per_sample": b0["repo_bytes"] / rows,
        "median_sample_video_bytes": b0["median_sample_video_bytes"],
        "driver_peak_bytes": b0.get("driver_peak", float("nan")),
        "worker_peak_bytes": b0.get("worker_peak", float("nan")),
        "load_rows_per_s": median(runs.loads, "rows_per_s"),
        "load_cpu_per_row_s": median(runs.loads, "cpu_per_row"),
        "verify_s": median(runs.verifies, "wall"),
        "load_avg_1min": os.getloadavg()[0],
    }
    fig.update(comparisons(args, runs, fig))
    return fig


def comparisons(args: BenchOptions, runs: Runs, fig: dict[str, Any]) -> dict[str, Any]:
    """The figures of the optional runs: 1 worker, 4x samples, the baselines."""
    out: dict[str, Any] = {}
    if runs.singles:
        out["build_1_worker_s"] = median(runs.singles, "wall")
        out["speedup"] = paired_ratio(runs.singles, runs.builds, "wall")
        out["units_speedup"] = paired_ratio(runs.singles, runs.builds, "t_units")
    if runs.big:
        out["samples_4x"] = runs.big["rows"]
        out["driver_peak_4x_bytes"] = runs.big.get("driver_peak", float("nan"))
        out["worker_peak_4x_bytes"] = runs.big.get("worker_peak", float("nan"))
    if runs.folders:
        per_sample = runs.folders[0]["bytes"] / runs.folders[0]["rows"]
        out["frame_folder_s"] = median(runs.folders, "wall")
        out["frame_folder_bytes_per_sample"] = per_sample
        out["frame_folder_bytes_per_video"] = runs.folders[0]["bytes"] / args.num_videos
        out["speed_vs_frame_folder"] = paired_ratio(runs.folders, runs.builds, "wall")
        out["storage_vs_frame_folder"] = per_sample / fig["repo_bytes_per_sample"]
    if runs.refs:
        ref = runs.refs[0]
        out["reference_s"] = median(runs.refs, "wall")
        out["reference_sample_frames_s"] = median(runs.refs, "frames_wall")
        out["reference_rows"] = ref["rows"]
        out["reference_bytes_per_sample"] = ref["bytes"] / ref["rows"]
        out["reference_frames_bytes_per_video"] = ref["frames_bytes"] / args.num_videos
        out["speed_vs_reference"] = paired_ratio(runs.refs, runs.builds, "wall")
        out["speed_vs_reference_frames"] = paired_ratio(runs.refs, runs.builds, "frames_wall", "wall")
    return out


if __name__ == "__main__":
    sys.exit(main())
