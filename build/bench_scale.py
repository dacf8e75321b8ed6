"""``python build/bench_scale.py``: does the build stay linear in time and flat in memory as the number of
source videos grows to VideoSSR-30K's 30,000? No network.

``build/bench.py`` measures the cost of each sample on realistic sources (24 videos of 60 s). This measures
what only shows with many sources: the driver's own work per unit (planning, Dask bookkeeping, progress,
writing shards) and its memory. The sources are tiny (128x72, 10 fps, 6 s, made once by two ffmpeg processes
and cached), so a unit costs ~50 ms and the driver's share is as large as it can get. For each ``--sizes`` N
it builds the VideoSSR-30K recipe scaled to N samples from N sources (one unit each), exactly as
``python build/run.py --no-verify`` does, in a fresh process, then runs it again on the finished output (the
resume path: probe cache, markers, shards rewritten). Printed per N: wall time and ms per unit, the probe,
units and writing phases, driver and worker peak memory, and the re-run's time; then the largest N against
the smallest: time per unit and peak memory should stay about the same.

Measured on 2026-11-30 (2-core VM): a quadratic plan step (94 s for 30,000 sources) and a driver growing by
~20 KB per unit (Dask tasks submitted all at once) were found this way and fixed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Run as ``python build/bench_scale.py``: keep build/ itself off sys.path (see bench.py).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TINY = {"width": 128, "height": 72, "fps": 10, "seconds": 6}
# Two generator processes (one per core on this machine kind); each source is one 6 s segment of a long
# test-pattern video, so every file differs (the pattern's clock) and none is a duplicate.
STREAMS = ("testsrc2", "testsrc2,negate")


def make_tiny_corpus(n: int, cache_dir: Path) -> list[Path]:
    """At least ``n`` tiny distinct H.264 sources under ``cache_dir`` (made once, reused while enough)."""
    from concurrent.futures import ThreadPoolExecutor

    from videossr.build.render import run_ffmpeg

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
        gop = TINY["fps"] * TINY["seconds"]
        run_ffmpeg(
            ["-f", "lavfi", "-i", graph, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
             "-threads", "1", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
             "-f", "segment", "-segment_time", str(TINY["seconds"]), "-reset_timestamps", "1",
             str(out / "v%06d.mp4")],
            timeout=max(600, seconds), what=f"generating tiny sources ({STREAMS[k]})",
        )  # fmt: skip

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
    import logging
    import resource

    logging.getLogger("distributed").setLevel(logging.ERROR)
    from videossr.build.bench import _TreeSampler, phases
    from videossr.build.pipeline import BuildConfig, build
    from videossr.build.recipes import load_recipe

    sampler = _TreeSampler(interval=0.2)
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
        "driver_peak": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, sampler.driver_peak),
        "worker_peak": sampler.worker_peak,
        "probe_cached": cached,
        **phases(stamps, wall),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python build/bench_scale.py",
        description="How the build's time per unit and its memory behave as the number of sources grows "
        "(tiny generated sources, one sample each, the VideoSSR-30K recipe).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python build/bench_scale.py --sizes 3000,12000   # about 15 minutes on 2 cores",
    )
    p.add_argument("--sizes", default="3000,12000",
                   help="comma-separated source counts N to build (default 3000,12000: 4x)")  # fmt: skip
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)"
    )
    p.add_argument("--cache-dir", default=".cache/bench", help="where the tiny sources are kept")
    p.add_argument("--work-dir", default=None, help="scratch folder for outputs (default: a temp folder)")
    p.add_argument("--no-rerun", action="store_true", help="skip the re-run of each finished build")
    p.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = p.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        p.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not args.sizes or args.sizes[0] < 1:
        p.error("--sizes must be positive")
    if args.workers < 1:
        p.error("--workers must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    from videossr.build.bench import child_entry

    argv = sys.argv[1:] if argv is None else argv
    if child_entry(argv, child_build):
        return 0
    args = parse_args(argv)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="videossr-bench-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(args, work)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    from videossr.build.bench import run_child

    files = make_tiny_corpus(max(args.sizes), Path(args.cache_dir))
    result = work / ".scale-result.json"
    print(f"[scale] sizes {args.sizes}; {args.workers} workers; tiny sources {TINY}", flush=True)
    results = []
    for n in args.sizes:
        listing = work / f"sources-{n}.txt"
        listing.write_text("".join(f"{p.resolve()}\n" for p in files[:n]))
        out = work / f"out-{n}"
        shutil.rmtree(out, ignore_errors=True)
        spec = {"n": n, "sources": str(listing), "out": str(out), "workers": args.workers}
        fig = {"n": n, "build": run_child(Path(__file__), spec, result)}
        print(f"[scale] N={n}: build {fig['build']['wall']:.1f} s ({fig['build']['rows']} rows)", flush=True)
        if not args.no_rerun:
            fig["rerun"] = run_child(Path(__file__), spec, result)
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
        "\nsources  rows    wall s  ms/unit  probe s  units s  write s  driver MB  worker MB  re-run s (cached)"
    )
    for fig in results:
        b, n = fig["build"], fig["n"]
        rerun = fig.get("rerun")
        again = f"{rerun['wall']:8.1f} ({rerun['probe_cached']})" if rerun else "       -"
        print(f"{n:7d} {b['rows']:5d} {b['wall']:9.1f} {1000 * b['wall'] / n:8.1f} {b['t_start_probe']:8.1f} "
              f"{b['t_units']:8.1f} {b['t_finalize']:8.1f} {b['driver_peak'] / mb:10.0f} {b['worker_peak'] / mb:10.0f}"
              f"  {again}")  # fmt: skip
    if len(results) > 1:
        small, large = results[0], results[-1]
        k = large["n"] / small["n"]

        def per_unit(fig: dict[str, Any], key: str) -> float:
            return fig["build"][key] / fig["n"]

        print(f"\n{large['n']} vs {small['n']} sources ({k:g}x): time per unit x{per_unit(large, 'wall') / per_unit(small, 'wall'):.2f}"
              f" (units phase x{per_unit(large, 't_units') / per_unit(small, 't_units'):.2f}), driver peak"
              f" x{large['build']['driver_peak'] / small['build']['driver_peak']:.2f}, worker peak"
              f" x{large['build']['worker_peak'] / small['build']['worker_peak']:.2f}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
