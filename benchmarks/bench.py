"""``make bench`` (``python -m benchmarks.bench``): how fast the command users run is, against the paper's
released pipeline and the build's own floors; where its CPU goes; how it scales with workers; how small and
how fast to load its output. No network.

One run, on one cached corpus; each repeat runs, back to back:

1. with ``--reference-repo PATH`` (a checkout of github.com/lcqysl/VideoSSR), **the paper's pipeline**
   (``pretext_tasks/sample_frames.py`` then its three task scripts, :mod:`.baselines`) with as many
   processes as the machine has cores;
2. **the decode floor** (:mod:`.floor`): decoding exactly the frames the build's plans need, with the
   build's decoder, in as many processes;
3. **the default command**, ``python build/run.py --sources CORPUS --recipe bench.yaml`` (verify included),
   in a fresh process tree, with as many workers as cores, then with each other count of ``--workers``
   (counts above the core count oversubscribe the machine: the report says so);
4. the frame-folder layout (the paper's storage, re-implemented), the load speed of the output
   (:mod:`.loading`) and a standalone ``build/verify.py`` of it.

The recipe has one sample of each task family per source video (grounding/ChannelSwap, counting/easy,
jigsaw/easy: 48 frames, at most 256x256 pixels). Timings are medians over ``--repeats``; ratios of two
timings are medians of each repeat's ratio (:func:`.measure.paired_ratio`). CPU is every process's, reaped;
the CPU beyond decode and encode is the command's CPU less the decode floor's and the encode floor's (its
clips encoded again, :func:`.floor.clip_floors`). The corpus (``--num-videos`` generated videos, 640x360 30
fps 60 s H.264 with 2 s keyframes by default, or ``--natural`` 720p/1080p ones, or ``--sources DIR``) is made
once under ``--cache-dir``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.build.config import crf_value, positive_int
from videossr.build.render import DEFAULT_CRF, MAX_CRF

from videossr.arguments import DataclassArgumentParser, option

from .baselines import run_frame_folder, run_reference
from .corpus import prepare_corpus
from .floor import FAMILIES, MAX_PIXELS, clip_floors, floor_plans, run_floor
from .loading import run_load, run_verify
from .measure import ROOT, median, paired_ratio, phases, repo_sizes, run_command
from .report import report

SMOKE_CACHE = ".cache/bench-smoke"
CORES = os.cpu_count() or 1


def worker_counts(text: str) -> list[int]:
    """``1,2,4``: worker counts, each at least 1."""
    try:
        counts = sorted({int(w) for w in text.split(",") if w.strip()})
    except ValueError:
        raise ValueError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not counts or counts[0] < 1:
        raise ValueError("worker counts must be at least 1")
    return counts


@dataclass
class BenchOptions:
    num_videos: int = option(24, help="corpus size N", parse=positive_int, metavar="N")
    workers: list[int] = option(
        default_factory=lambda: sorted({1, CORES}),
        help="worker counts to build with, e.g. 1,2,4,8,16: speed-up and efficiency per count (default: 1 "
        "and the number of cores; the comparisons use the count nearest the cores)",
        parse=worker_counts,
        metavar="N,N,...",
    )
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
    scaling: bool = option(True, help="also build with the other --workers counts and with 4x the samples")
    baseline: bool = option(True, help="also time the frame-folder baseline")
    reference_repo: Path | None = option(
        None,
        help="a checkout of github.com/lcqysl/VideoSSR: also time its released pipeline (sample_frames.py, "
        "grounding.py, counting.py, jigsaw.py; needs opencv-python-headless)",
    )
    json: Path | None = option(None, help="also write every figure to this JSON file")
    smoke: bool = option(False, help="tiny run for tests: N=1, 1 repeat, 4 s 320x180 videos")

    @property
    def main_workers(self) -> int:
        """The count the comparisons use: the largest one up to the cores (else the smallest)."""
        fitting = [w for w in self.workers if w <= CORES]
        return max(fitting) if fitting else min(self.workers)


@dataclass
class Runs:
    """Every measurement of every repeat."""

    commands: dict[int, list[dict]] = field(default_factory=dict)  # worker count -> runs
    floors: list[dict] = field(default_factory=list)
    loads: list[dict] = field(default_factory=list)
    verifies: list[dict] = field(default_factory=list)
    folders: list[dict] = field(default_factory=list)
    refs: list[dict] = field(default_factory=list)
    big: dict | None = None
    clips: dict = field(default_factory=dict)


def parse_args(argv: list[str] | None) -> BenchOptions:
    p = DataclassArgumentParser(
        BenchOptions,
        prog="python -m benchmarks.bench",
        description="Benchmark the default build command against the paper's pipeline and the build's "
        "floors, its CPU, its scaling with workers, and the size and load speed of its output.",
        epilog="example: python -m benchmarks.bench --reference-repo ../VideoSSR --workers 1,2,4,8,16",
    )
    (args,) = p.parse_into_dataclasses(argv)
    if args.smoke:
        args.num_videos, args.repeats, args.duration, args.width, args.height = 1, 1, 4.0, 320, 180
        args.cache_dir = args.cache_dir if args.cache_dir != ".cache/bench" else SMOKE_CACHE
    return args


def write_recipe(path: Path, num_sources: int, per_family: int) -> Path:
    """The bench recipe as a recipe file (``per_family`` samples of each family per source)."""
    mix = [{"task": t, "subtype": s, "count": num_sources * per_family} for t, s in FAMILIES]
    path.write_text(json.dumps({"name": "bench", "max_pixels": MAX_PIXELS, "mix": mix}))
    return path


def run_build(args: BenchOptions, sources: Path, out: Path, workers: int, per_family: int = 1) -> dict:
    """The default command, as users run it, in a fresh process tree: its time, phases, CPU, memory and
    output."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    recipe = write_recipe(out.parent / f".{out.name}-recipe.json", args.num_videos, per_family)
    cmd = [sys.executable, str(ROOT / "build" / "run.py"), "--sources", str(sources.resolve())]
    cmd += ["--recipe", str(recipe), "--out-dir", str(out.resolve()), "--workers", str(workers)]
    cmd += ["--seed", str(args.seed), "--crf", str(args.crf), "--no-progress"]
    res = run_command(cmd)
    if not any(line == "[verify] bench: OK" for _, line in res["stamps"]):
        raise RuntimeError("the build's checks found problems:\n" + "\n".join(m for _, m in res["stamps"]))
    res.update(phases(res["stamps"], res["wall"]))
    res.update(repo_sizes(out / "bench"))
    res["rows"] = res["repo_rows"]
    return res


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
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


def run(args: BenchOptions, work: Path) -> int:
    sources, corpus = prepare_corpus(args, work, CORES)
    counts = args.workers if args.scaling else [args.main_workers]
    what = f"workers {counts} on {CORES} cores; {args.repeats} repeats; CRF {args.crf}"
    print(f"[bench] corpus: {corpus}; {what}", flush=True)
    runs = repeat(args, sources, work, floor_plans(sources, 1, args.seed), counts)
    fig = figures(args, runs, corpus)
    report(fig)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
    return 0


def repeat(args: BenchOptions, sources: Path, work: Path, plans: list, counts: list[int]) -> Runs:
    """Each repeat runs what a ratio compares back to back (the paper's pipeline, the floor, the command
    at every worker count), so ratios are medians of per-repeat ratios (see ``paired_ratio``)."""
    w, runs = args.main_workers, Runs()
    out = work / "out"
    for r in range(args.repeats):

        def say(what: str, r: int = r) -> None:
            print(f"[bench] run {r + 1}: {what} (load average {os.getloadavg()[0]:.1f})", flush=True)

        if args.reference_repo:
            runs.refs.append(
                run_reference(args.reference_repo, sources, work / "reference", w, args.num_videos)
            )
            say(f"the paper's pipeline {runs.refs[-1]['wall']:.2f} s ({runs.refs[-1]['rows']} rows)")
        runs.floors.append(run_floor(plans, w))
        say(f"decode floor {runs.floors[-1]['wall']:.2f} s")
        for n in [w, *(c for c in counts if c != w)]:
            done = run_build(args, sources, out if n == w else work / f"out{n}", n)
            runs.commands.setdefault(n, []).append(done)
            say(f"build/run.py with {n} workers {done['wall']:.2f} s ({done['rows']} rows)")
        if args.baseline:
            runs.folders.append(run_frame_folder(sources, work / "frame-folder", w))
            say(f"frame-folder baseline {runs.folders[-1]['wall']:.2f} s")
        runs.loads.append(run_load(out / "bench", w))
        say(f"load {runs.loads[-1]['rows_per_s']:.1f} rows/s")
        runs.verifies.append(run_verify(out / "bench", w))
        say(f"standalone verify {runs.verifies[-1]['wall']:.2f} s")
    runs.clips = clip_floors(out / "bench")
    if args.scaling:
        runs.big = run_build(args, sources, work / "out4", w, 4)
        print(f"[bench] 4x samples: {runs.big['wall']:.2f} s ({runs.big['rows']} rows)", flush=True)
    return runs


def figures(args: BenchOptions, runs: Runs, corpus: str) -> dict[str, Any]:
    """Every figure of the run, as ``report`` prints them and ``--json`` writes them."""
    w = args.main_workers
    builds = runs.commands[w]
    b0, rows = builds[0], builds[0]["rows"]
    build_s, cpu = median(builds, "wall"), median(builds, "cpu")
    decode, encode = median(runs.floors, "cpu"), runs.clips["encode_cpu"]
    fig: dict[str, Any] = {
        "machine": f"{platform.machine()} {CORES} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "corpus": corpus,
        "num_videos": args.num_videos,
        "workers": w,
        "repeats": args.repeats,
        "crf": args.crf,
        "samples": rows,
        "build_s": build_s,
        "build_start_probe_s": median(builds, "t_start_probe"),
        "build_units_s": median(builds, "t_units"),
        "build_finalize_s": median(builds, "t_finalize"),
        "build_verify_s": median(builds, "t_verify"),
        "build_exit_s": median(builds, "t_exit"),
        "redrawn_samples": b0["redrawn"],
        "floor_s": median(runs.floors, "wall"),
        "floor_frames": runs.floors[0]["frames"],
        "build_over_floor": paired_ratio(builds, runs.floors, "wall"),
        "build_cpu_s": cpu,
        "decode_cpu_s": decode,
        "encode_cpu_s": encode,
        "check_cpu_s": runs.clips["check_cpu"],
        "beyond_share": (cpu - decode - encode) / cpu,
        "samples_per_s": rows / build_s,
        "shard_bytes_per_sample": b0["shard_bytes"] / rows,
        "repo_bytes_per_sample": b0["repo_bytes"] / rows,
        "median_sample_video_bytes": b0["median_sample_video_bytes"],
        "driver_peak_bytes": b0["driver_peak"],
        "worker_peak_bytes": b0["worker_peak"],
        "load_rows_per_s": median(runs.loads, "rows_per_s"),
        "load_cpu_per_row_s": median(runs.loads, "cpu_per_row"),
        "verify_s": median(runs.verifies, "wall"),
        "scaling": scaling(runs, w),
        "load_avg_1min": os.getloadavg()[0],
    }
    fig.update(comparisons(args, runs, fig))
    return fig


def scaling(runs: Runs, w: int) -> list[dict[str, float]]:
    """Per worker count: the command's time, its speed-up over 1 worker (paired) and its efficiency."""
    one = runs.commands.get(1)
    out = []
    for n, builds in sorted(runs.commands.items()):
        speedup = paired_ratio(one, builds, "wall") if one else float("nan")
        out.append(
            {
                "workers": n,
                "s": median(builds, "wall"),
                "units_s": median(builds, "t_units"),
                "speedup": speedup,
                "efficiency": speedup / n,
                "oversubscribed": n > CORES,
            }
        )
    return out


def comparisons(args: BenchOptions, runs: Runs, fig: dict[str, Any]) -> dict[str, Any]:
    """The figures of the optional runs: 4x samples, the baselines."""
    out: dict[str, Any] = {}
    builds = runs.commands[args.main_workers]
    if runs.big:
        out["samples_4x"] = runs.big["rows"]
        out["driver_peak_4x_bytes"] = runs.big["driver_peak"]
        out["worker_peak_4x_bytes"] = runs.big["worker_peak"]
    if runs.folders:
        per_sample = runs.folders[0]["bytes"] / runs.folders[0]["rows"]
        out["frame_folder_s"] = median(runs.folders, "wall")
        out["frame_folder_bytes_per_sample"] = per_sample
        out["frame_folder_bytes_per_video"] = runs.folders[0]["bytes"] / args.num_videos
        out["speed_vs_frame_folder"] = paired_ratio(runs.folders, builds, "wall")
        out["storage_vs_frame_folder"] = per_sample / fig["repo_bytes_per_sample"]
    if runs.refs:
        ref = runs.refs[0]
        out["reference_s"] = median(runs.refs, "wall")
        out["reference_sample_frames_s"] = median(runs.refs, "frames_wall")
        out["reference_cpu_s"] = median(runs.refs, "cpu")
        out["reference_rows"] = ref["rows"]
        out["reference_bytes_per_sample"] = ref["bytes"] / ref["rows"]
        out["reference_frames_bytes_per_video"] = ref["frames_bytes"] / args.num_videos
        out["speed_vs_reference"] = paired_ratio(runs.refs, builds, "wall")
        out["speed_vs_reference_frames"] = paired_ratio(runs.refs, builds, "frames_wall", "wall")
    return out


if __name__ == "__main__":
    sys.exit(main())
