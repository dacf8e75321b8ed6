"""``make bench-scale`` (``python -m benchmarks.bench_scale``): does the build stay linear in time and flat
in memory as the number of source videos grows to VideoSSR-30K's 30,000? No network.

``benchmarks.bench`` measures the cost of each sample on realistic sources. This measures what only shows
with many sources: the driver's own work per unit (planning, Dask bookkeeping, progress, writing shards) and
its memory. The sources are tiny (128x72, 10 fps, 6 s, made once by two ffmpeg processes and cached), so a
unit costs little and the driver's share is as large as it can get. For each ``--sizes`` N it builds the
VideoSSR-30K recipe scaled to N samples from N sources (one unit each), exactly as
``python build/run.py --no-verify`` does, in a fresh process, then runs it again on the finished output (the
resume path: probe cache, markers, shards rewritten). Printed per N: wall time and ms per unit, the probe,
units and writing phases, driver and worker peak memory, and the re-run's time; then the largest N against
the smallest: time per unit and peak memory should stay about the same.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videossr.build.config import BuildConfig, positive_int
from videossr.build.pipeline import build
from videossr.build.recipes import load_recipe
from videossr.build.render import run_ffmpeg

from videossr.arguments import DataclassArgumentParser, option

from .measure import TreeSampler, child_entry, driver_maxrss, phases, run_child

MODULE = "benchmarks.bench_scale"
TINY = {"width": 128, "height": 72, "fps": 10, "seconds": 6}
# Two generator processes; each source is one 6 s segment of a long test-pattern video, so every file
# differs (the pattern's clock) and none is a duplicate.
STREAMS = ("testsrc2", "testsrc2,negate")


def sizes_list(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise ValueError("sizes must be positive")
    return sizes


@dataclass
class ScaleOptions:
    sizes: list[int] = option(
        default_factory=lambda: [3000, 12000],
        help="comma-separated source counts N to build (4x apart by default)",
        parse=sizes_list,
        metavar="N,N,...",
    )
    workers: int = option(os.cpu_count() or 1, help="worker processes (default: cores)", parse=positive_int)
    cache_dir: str = option(".cache/bench", help="where the tiny sources are kept")
    work_dir: str | None = option(None, help="scratch folder for outputs (default: a temp folder)")
    rerun: bool = option(True, help="run each finished build again (the resume path)")
    json: Path | None = option(None, help="also write every figure to this JSON file")


def make_tiny_corpus(n: int, cache_dir: Path) -> list[Path]:
    """At least ``n`` tiny distinct H.264 sources under ``cache_dir`` (made once, reused while enough)."""
    folder = cache_dir / "tiny-{width}x{height}-{fps}fps-{seconds}s".format(**TINY)
    done = folder / "complete.json"
    if done.is_file() and json.loads(done.read_text())["count"] >= n:
        return _listing(folder)[:n]
    shutil.rmtree(folder, ignore_errors=True)
    per_stream = -(-n // len(STREAMS))
    seconds = per_stream * TINY["seconds"]
    print(f"[scale] making {per_stream * len(STREAMS)} tiny sources under {folder} (once)", flush=True)

    def generate(k: int) -> None:
        out = folder / f"s{k}"
        out.mkdir(parents=True)
        pattern, *filters = STREAMS[k].split(",")
        size = f"{TINY['width']}x{TINY['height']}"
        graph = ",".join([f"{pattern}=size={size}:rate={TINY['fps']}:duration={seconds}", *filters])
        gop = str(TINY["fps"] * TINY["seconds"])
        encode = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-threads", "1"]
        keyframes = ["-g", gop, "-keyint_min", gop, "-sc_threshold", "0"]
        segments = ["-f", "segment", "-segment_time", str(TINY["seconds"]), "-reset_timestamps", "1"]
        run_ffmpeg(
            ["-f", "lavfi", "-i", graph, *encode, *keyframes, *segments, str(out / "v%06d.mp4")],
            timeout=max(600, seconds),
            what=f"generating tiny sources ({STREAMS[k]})",
        )

    with ThreadPoolExecutor(len(STREAMS)) as pool:
        list(pool.map(generate, range(len(STREAMS))))
    files = _listing(folder)
    done.write_text(json.dumps({"count": len(files), **TINY}))
    return files[:n]


def _listing(folder: Path) -> list[Path]:
    """Sources interleaved across the generator streams, so any prefix mixes both."""
    streams = [sorted((folder / f"s{k}").glob("*.mp4")) for k in range(len(STREAMS))]
    return [p for group in zip(*streams) for p in group]


def child_build(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: one build of the scaled VideoSSR-30K recipe, its phases and memory peaks."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    sampler = TreeSampler(interval=0.2)
    sampler.start()
    stamps: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    result = build(
        [load_recipe("videossr-30k").scaled(spec["n"])],
        [spec["sources"]],
        BuildConfig(out_dir=Path(spec["out"]), seed=0, workers=spec["workers"], progress=False),
        on_progress=lambda msg: stamps.append((time.perf_counter() - t0, msg)),
    )
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    cached = 0
    for _, msg in stamps:
        if "probed by an earlier run" in msg:
            cached = int(msg.split("(")[1].split()[0])
    return {
        "wall": wall,
        "rows": result.datasets[0].built,
        "requested": result.datasets[0].requested,
        "driver_peak": max(driver_maxrss(), sampler.driver_peak),
        "worker_peak": sampler.worker_peak,
        "probe_cached": cached,
        **phases(stamps, wall),
    }


def parse_args(argv: list[str] | None) -> ScaleOptions:
    p = DataclassArgumentParser(
        ScaleOptions,
        prog="python -m benchmarks.bench_scale",
        description="How the build's time per unit and its memory behave as the number of sources grows "
        "(tiny generated sources, one sample each, the VideoSSR-30K recipe).",
        epilog="example: python -m benchmarks.bench_scale --sizes 3000,12000",
    )
    (args,) = p.parse_into_dataclasses(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if child_entry(argv, child_build):
        return 0
    args = parse_args(argv)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="videossr-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, work)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: ScaleOptions, work: Path) -> int:
    files = make_tiny_corpus(max(args.sizes), Path(args.cache_dir))
    result = work / ".scale-result.json"
    print(f"[scale] sizes {args.sizes}; {args.workers} workers; tiny sources {TINY}", flush=True)
    results = []
    for n in args.sizes:
        listing = work / f"sources-{n}.txt"
        listing.write_text("".join(f"{p.resolve()}\n" for p in files[:n]))
        out = work / f"out-{n}"
        shutil.rmtree(out, ignore_errors=True)
        spec = {"n": n, "sources": str(listing.resolve()), "out": str(out.resolve()), "workers": args.workers}
        fig = {"n": n, "build": run_child(MODULE, spec, result)}
        print(f"[scale] N={n}: build {fig['build']['wall']:.1f} s ({fig['build']['rows']} rows)", flush=True)
        if args.rerun:
            fig["rerun"] = run_child(MODULE, spec, result)
            print(f"[scale] N={n}: re-run {fig['rerun']['wall']:.1f} s", flush=True)
        results.append(fig)
        shutil.rmtree(out, ignore_errors=True)
    report(results)
    if args.json:
        args.json.write_text(json.dumps({"sizes": results, "workers": args.workers, "tiny": TINY}, indent=1))
    return 0


def report(results: list[dict[str, Any]]) -> None:
    mb = 2**20
    print(
        "\nsources  rows    wall s  ms/unit  probe s  units s  write s  driver MB  worker MB  "
        "re-run s (cached)"
    )
    for fig in results:
        b, n = fig["build"], fig["n"]
        rerun = fig.get("rerun")
        again = f"{rerun['wall']:8.1f} ({rerun['probe_cached']})" if rerun else "       -"
        print(
            f"{n:7d} {b['rows']:5d} {b['wall']:9.1f} {1000 * b['wall'] / n:8.1f} {b['t_start_probe']:8.1f} "
            f"{b['t_units']:8.1f} {b['t_finalize']:8.1f} {b['driver_peak'] / mb:10.0f} "
            f"{b['worker_peak'] / mb:10.0f}  {again}"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]

        def per_unit(fig: dict[str, Any], key: str) -> float:
            return fig["build"][key] / fig["n"]

        time_x = per_unit(large, "wall") / per_unit(small, "wall")
        units_x = per_unit(large, "t_units") / per_unit(small, "t_units")
        driver_x = large["build"]["driver_peak"] / small["build"]["driver_peak"]
        worker_x = large["build"]["worker_peak"] / small["build"]["worker_peak"]
        print(
            f"\n{large['n']} vs {small['n']} sources ({large['n'] / small['n']:g}x): "
            f"time per unit x{time_x:.2f}"
            f" (units phase x{units_x:.2f}), driver peak x{driver_x:.2f}, worker peak x{worker_x:.2f}"
        )


if __name__ == "__main__":
    sys.exit(main())
