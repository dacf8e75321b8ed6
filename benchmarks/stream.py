"""``python -m benchmarks.stream`` (``make bench-stream``): how many rows a second each data-loader worker of
a stream gives a trainer, beside how fast the dataset the build makes from the same videos loads.

On one cached corpus (:mod:`.corpus`, the one ``make bench`` uses):

1. **Stream** - ``StreamPrompts`` over a ``videossr-30k`` stream (every source drawn from: no held-out
   split), read by a torch ``DataLoader`` with ``W`` workers as the trainer reads it: each row drawn by the
   build's unit code in the worker's decode child, its clips sized for Qwen3-VL at 256x256 (the paper's
   preset). Rows per second are counted from the first row on (the workers' start-up and their first plan are
   left out), per worker and in all, for clips given as decoded frames (the default) and as the build's mp4.
2. **Built dataset** - the build of one sample of each task family per video (what ``make bench`` builds),
   then every clip of it decoded to tensors by ``W`` processes (:func:`.loading.run_load`, ``make bench``'s
   "load rows/s").

A stream row costs what the build spends on a sample (decoding its 48 source frames) instead of decoding a
small clip, so the stream is slower per row; the report says how many workers keep a step of a given size
fed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from videossr.build.config import BuildConfig, positive_int
from videossr.build.pipeline import build
from videossr.build.recipes import load_recipe

from videossr.arguments import DataclassArgumentParser, option

from .corpus import prepare_corpus
from .floor import bench_recipe
from .loading import run_load

QWEN3_PATCH_GROUP = 32  # frame sides of Qwen3-VL's inputs are multiples of this
SMOKE_CACHE = ".cache/bench-smoke"


def worker_counts(text: str) -> tuple[int, ...]:
    """``1,2,4`` -> (1, 2, 4)."""
    try:
        counts = tuple(positive_int(v) for v in text.split(","))
    except ValueError as exc:
        raise ValueError(f"expected worker counts such as 1,2: {exc}") from None
    return counts


@dataclass
class StreamBenchOptions:
    num_videos: int = option(24, help="corpus size N", parse=positive_int, metavar="N")
    workers: tuple[int, ...] = option(
        (1, 2), help="data-loader worker counts to measure", parse=worker_counts, metavar="W,W,..."
    )
    rows: int = option(48, help="stream rows drawn per measurement", parse=positive_int)
    cache_dir: str = option(".cache/bench", help="where the generated corpus is kept")
    work_dir: str | None = option(None, help="scratch folder (default: a temp folder)")
    duration: float = option(60.0, help="source video length in seconds")
    width: int = option(640, help="source video width")
    height: int = option(360, help="source video height")
    fps: int = option(30, help="source video frame rate")
    gop_seconds: float = option(2.0, help="keyframe interval in seconds")
    natural: bool = option(False, help="the natural corpus of make bench --natural")
    sources: Path | None = option(None, help="benchmark on the videos under this folder instead")
    json: Path | None = option(None, help="also write every figure to this JSON file")
    smoke: bool = option(False, help="tiny run for tests: N=2, 4 s 320x180 videos, 6 rows, 1 worker")


def identity(batch: list) -> list:
    return batch


def stream_rate(sources: Path, workers: int, rows: int, clips: str) -> dict[str, float]:
    """Rows per second of a ``videossr-30k`` stream read by a ``DataLoader`` with ``workers`` workers."""
    from torch.utils.data import DataLoader
    from videossr.stream import DrawSettings, SampleStream, open_corpus
    from videossr.train.data import VideoOptions
    from videossr.train.stream_data import StreamPrompts

    recipe = load_recipe("videossr-30k")
    stream = SampleStream(
        open_corpus([sources], recipe, None), DrawSettings(recipe), length=rows, clips=clips
    )
    options = VideoOptions(max_pixels=256 * 256, max_frames=48, size_multiple=QWEN3_PATCH_GROUP)
    loader = DataLoader(
        StreamPrompts(stream, options),
        batch_size=1,
        num_workers=workers,
        collate_fn=identity,
        prefetch_factor=2,
    )
    t0 = time.perf_counter()
    start, counted = 0.0, 0
    for k, _batch in enumerate(loader):
        if k == 0:
            start = time.perf_counter()
        else:
            counted += 1
    wall = time.perf_counter() - start
    rate = counted / wall if wall > 0 else float("nan")
    return {
        "rows": rows,
        "first_row_s": start - t0,
        "rows_per_s": rate,
        "rows_per_s_per_worker": rate / workers,
    }


def built_rate(sources: Path, out: Path, workers: int, num_videos: int) -> dict[str, float]:
    """``make bench``'s build of the same videos, then its load rows/s with ``workers`` processes."""
    shutil.rmtree(out, ignore_errors=True)
    recipe = bench_recipe(num_videos, 1)
    config = BuildConfig(out_dir=out, workers=workers, progress=False)
    build([recipe], [sources], config, on_progress=lambda msg: None)
    return run_load(out / recipe.name, workers)


def parse_args(argv: list[str] | None) -> StreamBenchOptions:
    p = DataclassArgumentParser(
        StreamBenchOptions,
        prog="python -m benchmarks.stream",
        description="Rows per second per data-loader worker of a stream, beside the built dataset's load "
        "speed.",
        epilog="example: python -m benchmarks.stream --num-videos 24 --workers 1,2 --rows 48",
    )
    (args,) = p.parse_into_dataclasses(argv)
    if args.smoke:
        args.num_videos, args.duration, args.width, args.height, args.rows = 2, 4.0, 320, 180, 6
        args.workers = (1,)
        args.cache_dir = args.cache_dir if args.cache_dir != ".cache/bench" else SMOKE_CACHE
    return args


def measure(args: StreamBenchOptions, work: Path) -> dict:
    args.workers = tuple(sorted(set(args.workers)))
    sources, corpus = prepare_corpus(args, work, max(args.workers))
    print(f"[bench-stream] corpus: {corpus}; workers {', '.join(map(str, args.workers))}", flush=True)
    figures: dict = {
        "corpus": corpus,
        "cores": os.cpu_count(),
        "load_avg_1min": os.getloadavg()[0],
        "runs": [],
    }
    for w in args.workers:
        run = {"workers": w}
        for clips in ("frames", "mp4"):
            run[f"stream_{clips}"] = stream_rate(sources, w, args.rows, clips)
            print(
                f"[bench-stream] {w} workers, {clips}: {run[f'stream_{clips}']['rows_per_s']:.2f} rows/s",
                flush=True,
            )
        run["built_load"] = built_rate(sources, work / "built", w, args.num_videos)
        print(
            f"[bench-stream] {w} workers, built dataset load: {run['built_load']['rows_per_s']:.1f} rows/s",
            flush=True,
        )
        figures["runs"].append(run)
    return figures


def report(figures: dict) -> None:
    load = f"{figures['cores']} cores, load average {figures['load_avg_1min']:.1f}"
    print(f"\ncorpus: {figures['corpus']} ({load})")
    print(f"{'workers':>7}  {'stream frames':>22}  {'stream mp4':>22}  {'built dataset load':>18}")
    for r in figures["runs"]:
        f, m, b = r["stream_frames"], r["stream_mp4"], r["built_load"]
        print(
            f"{r['workers']:>7}  {f['rows_per_s']:>6.2f} rows/s ({f['rows_per_s_per_worker']:.2f}/worker)"
            f"  {m['rows_per_s']:>6.2f} rows/s ({m['rows_per_s_per_worker']:.2f}/worker)"
            f"  {b['rows_per_s']:>11.1f} rows/s"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tmp = None
    if args.work_dir is None:
        tmp = tempfile.mkdtemp(prefix="videossr-bench-stream-")
        args.work_dir = tmp
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    try:
        figures = measure(args, work)
        report(figures)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
