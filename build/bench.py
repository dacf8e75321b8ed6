"""``python build/bench.py``: how fast the build runs beside its decode floor, how small and how fast to load
its output, and how it scales. No network.

One run, on one cached corpus and one worker count:

1. **Decode floor** - decoding exactly the frames the build's frame plans need (the union per source, as
   the build decodes it), nothing else, with the build's decoder (libavcodec through PyAV, one thread, keyframe
   seeks, unreferenced frames skipped, scaled by swscale to the sample size), in ``--workers`` processes. This is the unavoidable cost of the build.
2. **Full build** - ``videossr.build.pipeline.build`` of a recipe with one sample of each task family per
   source video (grounding/ChannelSwap, counting/easy, jigsaw/easy: 3 x N samples of 48 frames, at most
   256x256 pixels) into a Hub-ready folder, exactly as ``python build/run.py`` runs it (a fresh driver
   process, a Dask LocalCluster of ``--workers`` single-threaded workers, probe, render, shards, card,
   manifest, preview). Also run with 1 worker (the speed-up) and with 4x the samples (memory stays flat).
3. **Load** - reading the built rows back with pyarrow and decoding every clip to model-ready uint8
   ``(T, 3, H, W)`` tensors with torchcodec (the decoder ``datasets.Video`` and ``train/`` use), in
   ``--workers`` processes; rows/s counts from when the processes are up (their one-time torch import
   is left out).
   **Verify** - ``build/verify.py`` on the built repo in a fresh process, as ``build/run.py`` runs it after
   the build (every clip decoded, every answer re-derived, ``load_dataset``).
4. **Frame-folder baseline** (the paper's released layout, re-implemented here): decord decodes 48 frames per
   source at native resolution and writes them as JPEG files (quality 95); each grounding sample perturbs its
   segment's JPEGs with PIL and writes them as new JPEGs, each counting sample draws shapes on a few frames
   and writes those as new JPEGs, jigsaw only lists paths; a parquet file lists the frame paths per sample.
   ``--reference-repo PATH`` (a checkout of github.com/lcqysl/VideoSSR) also times the paper's released
   pipeline on the same corpus: ``sample_frames.py`` then ``grounding.py`` (ChannelSwap), ``counting.py`` and
   ``jigsaw.py``, their path constants pointed at the run (needs ``opencv-python-headless``).

Timings are medians over ``--repeats`` runs; ratios of two timings (build / floor, 1 vs N workers, the
baselines vs the build) are medians of each run's ratio, the two measured back to back. The corpus
(``--num-videos`` procedurally generated 640x360 30 fps 60 s H.264 videos with a 2 s keyframe interval) is
made once under ``--cache-dir``; ``--sources DIR`` benchmarks on a folder of your own videos instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# Run as ``python build/bench.py``: keep build/ itself off sys.path (its modules must import as
# videossr.build.*, never shadow installed packages).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

FAMILIES = (("grounding", "ChannelSwap"), ("counting", "easy"), ("jigsaw", "easy"))
MAX_PIXELS = 256 * 256

# ---------------------------------------------------------------------------------------------------------
# Corpus: web-video-like procedural sources (flat regions, edges, text, smooth gradients, blocky cartoons),
# each with a moving box so every frame differs. Index i picks a kind and varies its parameters, so no two
# videos are equal (the build dedupes by content).


def _corpus_graph(i: int, w: int, h: int, fps: int) -> str:
    kind = i % 5
    if kind == 0:
        base = f"testsrc2=size={w}x{h}:rate={fps},hue=h={(i * 47) % 360}"
    elif kind == 1:
        base = f"gradients=size={w}x{h}:rate={fps}:speed=0.03:seed={i}"
    elif kind == 2:
        base = (f"life=size={w // 5}x{h // 5}:rate={fps}:seed={i}:mold=10:ratio=0.1:death_color=#C83232"
                f":life_color=#00ff00,scale={w}:{h}:flags=neighbor")  # fmt: skip
    elif kind == 3:
        base = (f"cellauto=size={w // 16}x{h // 16}:rate={fps}:rule={(30, 90, 110, 150)[i % 4]}:seed={i}"
                f",scale={w}:{h}:flags=neighbor,colorchannelmixer=rr=1:rg=0:rb=0:gr=0.5:gg=0.3:gb=0:br=0:bg=0:bb=0.2"
                f",hue=h={(i * 29) % 360}")  # fmt: skip
    else:
        base = f"testsrc=size={w}x{h}:rate={fps},hue=h={(i * 61) % 360}"
    box = max(4, min(w, h) // 8)
    return (f"{base}[bg];color=white:size={box}x{box}:rate={fps}[clock];"
            f"[bg][clock]overlay=x='mod(t*{7 * fps}\\,{w - box})':y='mod(t*{3 * fps}\\,{h - box})':shortest=1")  # fmt: skip


def _make_video(job: tuple[str, int, int, int, int, float, int]) -> str:
    from videossr.build.render import run_ffmpeg

    path, i, w, h, fps, duration, gop = job
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.mp4")
    run_ffmpeg(
        ["-f", "lavfi", "-i", _corpus_graph(i, w, h, fps), "-t", f"{duration}", "-c:v", "libx264",
         "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-threads", "1",
         "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", str(tmp)],
        timeout=1800, what=f"generating {Path(path).name}",
    )  # fmt: skip
    os.replace(tmp, path)
    return path


def _make_natural_video(job: tuple[str, int, list[str], float]) -> str:
    """One web-style video from the demo's natural clips (Big Buck Bunny's animation, bikes' camera footage):
    the clip looped with a per-video speed, mirror, hue, saturation and crop window, at 1280x720 or 1920x1080,
    25 or 30 fps, x264 with B-frames and a 2 s keyframe interval (scene cuts allowed), AAC audio."""
    from videossr.build.render import run_ffmpeg

    path, i, clips, duration = job
    w, h = (1920, 1080) if i % 3 == 2 else (1280, 720)
    fps = 30 if i % 4 == 3 else 25
    speed, zoom = (1.0, 0.8, 1.25, 0.9, 1.1)[i % 5], 0.7 + 0.05 * (i % 6)
    x, y = (i * 37) % 100 / 100, (i * 53) % 100 / 100
    vf = (f"setpts={1 / speed:.4f}*PTS,{'hflip,' if i % 3 == 1 else ''}"
          f"hue=h={(i * 41) % 360 - 180}:s={0.8 + 0.05 * (i % 5):.2f},"
          f"crop=iw*{zoom:.2f}:ih*{zoom:.2f}:(iw-ow)*{x:.2f}:(ih-oh)*{y:.2f},scale={w}:{h},fps={fps},format=yuv420p")  # fmt: skip
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.mp4")
    run_ffmpeg(
        ["-stream_loop", "-1", "-i", clips[i % len(clips)], "-f", "lavfi",
         "-i", f"sine=frequency={220 + 40 * i}:sample_rate=44100", "-t", f"{duration}", "-vf", vf,
         "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
         "-g", str(2 * fps), "-c:a", "aac", "-b:a", "96k", "-threads", "1", "-map_metadata", "-1",
         "-fflags", "+bitexact", "-flags:v", "+bitexact", "-movflags", "+faststart", str(tmp)],
        timeout=1800, what=f"generating {Path(path).name}",
    )  # fmt: skip
    os.replace(tmp, path)
    return path


def _link(video: Path, target: Path) -> None:
    """``target`` as a hard link to ``video`` (a copy across filesystems): the build does not follow
    symbolic links out of a source folder."""
    try:
        os.link(video, target)
    except OSError:
        shutil.copyfile(video, target)


def link_sources(folder: Path, run_dir: Path) -> int:
    """``--sources``: link the folder's videos (found as the build finds them) into the run's corpus folder,
    named in order, as mp4 files (the paper's frame sampler only lists ``*.mp4``). Returns their number."""
    from videossr.build.sources import discover

    pairs, skipped = discover([folder])
    if not pairs:
        raise SystemExit(
            f"--sources {folder}: no videos found (mp4, mkv, webm, mov, avi; searched recursively)"
        )
    if skipped:
        print(f"[bench] --sources: {len(skipped)} entries skipped while listing: "
              f"{'; '.join(f'{s.source}: {s.reason}' for s in skipped[:3])}", flush=True)  # fmt: skip
    for i, (_, path) in enumerate(pairs):
        _link(Path(path).resolve(), run_dir / f"v{i:04d}.mp4")
    return len(pairs)


def make_corpus(args: argparse.Namespace) -> Path:
    """The run's corpus folder: the ``--sources`` videos, or the cached generated corpus (made on first use,
    in parallel)."""
    run_dir = Path(args.work_dir) / "sources"
    if args.sources is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        args.num_videos = link_sources(args.sources, run_dir)
        return run_dir
    w, h, fps, dur = args.width, args.height, args.fps, args.duration
    if args.natural:
        from videossr.build.demo import natural_clip_paths

        root = Path(args.cache_dir) / f"natural-v1-{dur:g}s"
        clips = [str(p) for p in natural_clip_paths() if p.name in ("bigbuckbunny.mp4", "bikes.mp4")]
        make, jobs = (
            _make_natural_video,
            [(str(root / f"v{i:04d}.mp4"), i, clips, dur) for i in range(args.num_videos)],
        )
    else:
        root = Path(args.cache_dir) / f"corpus-{w}x{h}-{fps}fps-{dur:g}s-gop{args.gop_seconds:g}s"
        gop = max(1, round(args.gop_seconds * fps))
        make, jobs = (
            _make_video,
            [(str(root / f"v{i:04d}.mp4"), i, w, h, fps, dur, gop) for i in range(args.num_videos)],
        )
    root.mkdir(parents=True, exist_ok=True)
    jobs = [job for job in jobs if not Path(job[0]).exists()]
    if jobs:
        print(f"[bench] generating {len(jobs)} source videos under {root} (once; cached)", flush=True)
        _pool_map(make, jobs, args.workers)
    # The corpus of this run: the first N videos (a larger cached corpus may hold more).
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    for i in range(args.num_videos):
        _link((root / f"v{i:04d}.mp4").resolve(), run_dir / f"v{i:04d}.mp4")
    return run_dir


def _pool_map(fn: Any, items: list, workers: int, initializer: Any = None) -> list:
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers, initializer=initializer) as pool:
        return pool.map(fn, items, chunksize=1)


def bench_recipe(n_sources: int, per_family: int) -> Any:
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.tasks import TaskSpec

    mix = tuple(MixEntry(TaskSpec(t, s), n_sources * per_family) for t, s in FAMILIES)
    return Recipe("bench", mix, max_pixels=MAX_PIXELS)


# ---------------------------------------------------------------------------------------------------------
# 1. Decode floor


def floor_plans(sources_dir: Path, per_family: int, seed: int) -> list[tuple[str, list[int], int, int]]:
    """Per source: the union of frame indices the build's plans decode (same planning code, same seeds)."""
    import numpy as np
    from videossr.build.frames import worker_sampler
    from videossr.build.pipeline import (
        MAX_ATTEMPTS,
        BuildConfig,
        _decodable_info,
        _frame_indices,
        min_source_frames,
        plan_units,
        sample_rng,
    )
    from videossr.build.sources import Source, discover, probe_source
    from videossr.tasks import SampleRejected, plan_sample

    pairs, _ = discover([sources_dir])
    min_frames = min_source_frames([bench_recipe(1, per_family)])  # as the build probes
    sources = [
        s
        for s in (probe_source(sid, str(p), min_frames=min_frames) for sid, p in pairs)
        if isinstance(s, Source)
    ]
    recipe = bench_recipe(len(sources), per_family)
    units = plan_units(recipe, sources, BuildConfig(seed=seed), Path("unused"))
    sampler = worker_sampler()
    out = []
    for unit in units:
        info = _decodable_info(sampler, unit.source, unit.max_pixels)  # as run_unit plans
        wanted = []
        for job in unit.jobs:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    plan = plan_sample(job.spec, info, sample_rng(seed, unit.dataset, job.index, attempt))
                except SampleRejected:
                    continue
                wanted.append(_frame_indices(plan.times, info))
                break
        idx = np.unique(np.concatenate(wanted)).tolist() if wanted else []
        out.append((unit.source.path, idx, info.width, info.height))
    return out


def _cpu_self() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_children() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _decode_floor_one(job: tuple[str, list[int], int, int]) -> float:
    """CPU seconds to decode one source's frames with the build's decoder, in this process (no child, no
    pipe: the pure decoding cost)."""
    from videossr.build.frames import _decode

    path, idx, w, h = job
    c0 = _cpu_self()
    _decode({"path": path, "indices": idx, "width": w, "height": h}, {})
    return _cpu_self() - c0


def _import_decoder() -> None:
    import av  # noqa: F401
    import decord  # noqa: F401
    import videossr.build.frames  # noqa: F401


def _pid_after(delay: float) -> int:
    time.sleep(delay)
    return os.getpid()


def _all_up(pool: Any, workers: int) -> None:
    """Return once every pool process has run its initializer (so one-time imports stay off the clock)."""
    for _ in range(50):
        if len(set(pool.map(_pid_after, [0.2] * (2 * workers), chunksize=1))) >= workers:
            return


def run_floor(plans: list, workers: int) -> dict[str, float]:
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers, initializer=_import_decoder) as pool:
        _all_up(pool, workers)
        t0 = time.perf_counter()
        per_source = list(pool.imap_unordered(_decode_floor_one, plans, chunksize=1))
        wall = time.perf_counter() - t0
    return {"wall": wall, "cpu": sum(per_source), "frames": sum(len(p[1]) for p in plans)}


# ---------------------------------------------------------------------------------------------------------
# 2. Full build, in a fresh driver process whose process tree is sampled for memory


class _TreeSampler(threading.Thread):
    """Samples the RSS of this process and its descendants. A "worker" is one Dask worker process plus
    everything under it (its decode child), summed at each sample.

    The sampler runs beside the build it measures, on the same cores, so it must cost next to nothing: the
    process tree is listed once per ``rescan`` seconds (listing children scans all of /proc), and each tick
    only reads the RSS of the processes already known. Listing the tree at every 50 ms tick took 7 % of a
    core, taken from the workers of a 2-worker build on 2 cores (not from a 1-worker build, which leaves a
    core idle) and counted as build time."""

    def __init__(self, interval: float = 0.05, rescan: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.rescan = rescan
        self.stop = threading.Event()
        self.driver_peak = 0
        self.worker_peak = 0
        self.worker_process_peak = 0
        self.ticks = 0

    def _workers(self, me: Any) -> list[list[Any]]:
        """Per worker process: the worker, then every process under it."""
        import psutil

        trees = []
        for worker in me.children():  # Dask's nannies live in this process; workers are its children
            try:
                if "resource_tracker" in " ".join(worker.cmdline()):
                    continue
                trees.append([worker, *worker.children(recursive=True)])
            except psutil.Error:
                continue
        return trees

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        trees: list[list[Any]] = []
        next_scan = 0.0
        while not self.stop.is_set():
            if time.monotonic() >= next_scan:
                trees = self._workers(me)
                next_scan = time.monotonic() + self.rescan
            self.driver_peak = max(self.driver_peak, me.memory_info().rss)
            for tree in trees:
                sizes = []
                for proc in tree:
                    try:
                        sizes.append(proc.memory_info().rss)
                    except psutil.Error:
                        sizes.append(0)  # a process that ended since the last scan
                self.worker_process_peak = max(self.worker_process_peak, sizes[0])
                self.worker_peak = max(self.worker_peak, sum(sizes))
            self.ticks += 1
            self.stop.wait(self.interval)


def child_build(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: one build, its phase times and memory peaks."""
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    from videossr.build.pipeline import BuildConfig, build

    try:
        import psutil  # noqa: F401

        sampler: _TreeSampler | None = _TreeSampler()
        sampler.start()
    except ImportError:
        sampler = None
    recipe = bench_recipe(spec["num_sources"], spec["per_family"])
    stamps: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    result = build(
        [recipe],
        [spec["sources"]],
        BuildConfig(
            out_dir=Path(spec["out"]),
            seed=spec["seed"],
            workers=spec["workers"],
            crf=spec["crf"],
            progress=False,
        ),
        on_progress=lambda msg: stamps.append((time.perf_counter() - t0, msg)),
    )
    wall = time.perf_counter() - t0
    import resource

    driver_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {
        "wall": wall,
        "rows": result.datasets[0].built,
        "requested": result.datasets[0].requested,
        "stamps": stamps,
        "driver_peak": driver_maxrss,
    }
    if sampler is not None:
        sampler.stop.set()
        sampler.join()
        out["driver_peak"] = max(driver_maxrss, sampler.driver_peak)
        out["worker_peak"] = sampler.worker_peak
        out["worker_process_peak"] = sampler.worker_process_peak
    return out


def run_build(args: argparse.Namespace, sources: Path, out: Path, workers: int, per_family: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    spec = {"sources": str(sources), "out": str(out), "workers": workers, "per_family": per_family,
            "num_sources": args.num_videos, "seed": args.seed, "crf": args.crf}  # fmt: skip
    c0 = _cpu_children()
    res = run_child(Path(__file__), spec, out.parent / f".{out.name}-result.json")
    res["cpu"] = _cpu_children() - c0
    res.update(phases(res["stamps"], res["wall"]))
    res.update(repo_sizes(out / "bench"))
    return res


def phases(stamps: list, wall: float) -> dict[str, float]:
    """Split the build's wall time by its progress messages."""
    at = {}
    for t, msg in stamps:
        if "usable sources" in msg:
            at["probed"] = t
        elif "writing" in msg:
            at["rendered"] = t
    probed, rendered = at.get("probed", 0.0), at.get("rendered", wall)
    # Samples whose source could not give them (undecodable, or every draw rejected) are made from other
    # sources: extra decoding that the floor (first accepted plans only) does not count.
    redrawn = sum(int(msg.split(": ", 1)[1].split()[0]) for _, msg in stamps if "re-drawn" in msg)
    return {"t_start_probe": probed, "t_units": rendered - probed, "t_finalize": wall - rendered,
            "redrawn": redrawn}  # fmt: skip


def repo_sizes(repo: Path) -> dict[str, float]:
    import pyarrow.parquet as pq

    shards = sorted(repo.glob("data/**/*.parquet"))
    published = [p for p in repo.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(repo).parts)]  # fmt: skip
    rows, video_bytes = 0, []
    for shard in shards:
        for row in pq.read_table(shard, columns=["videos"]).column("videos").to_pylist():
            rows += 1
            video_bytes.append(sum(len(v["bytes"]) for v in row))
    return {
        "repo_rows": rows,
        "shard_bytes": sum(p.stat().st_size for p in shards),
        "repo_bytes": sum(p.stat().st_size for p in published),
        "median_sample_video_bytes": statistics.median(video_bytes) if video_bytes else 0.0,
        "shard_files": len(shards),
    }


# ---------------------------------------------------------------------------------------------------------
# 3. Load


def _load_init() -> None:
    import torch
    from torchcodec.decoders import VideoDecoder  # noqa: F401

    torch.set_num_threads(1)


def _load_chunk(job: tuple[str, int, int, int]) -> tuple[int, float]:
    """Decode every clip of rows [lo, hi) of one row group to uint8 (T, 3, H, W) tensors."""
    import pyarrow.parquet as pq
    from torchcodec.decoders import VideoDecoder

    shard, group, lo, hi = job
    c0 = _cpu_self()
    table = pq.ParquetFile(shard).read_row_group(group, columns=["videos", "num_frames"]).slice(lo, hi - lo)
    frames = 0
    for videos, counts in zip(table.column("videos").to_pylist(), table.column("num_frames").to_pylist()):
        for video, n in zip(videos, counts):
            dec = VideoDecoder(video["bytes"], seek_mode="exact")
            batch = dec.get_frames_at(indices=list(range(dec.metadata.num_frames or n))).data
            if batch.shape[0] != n:
                raise RuntimeError(f"clip {video['path']} decoded to {batch.shape[0]} frames, not {n}")
            frames += int(batch.shape[0])
    return hi - lo, _cpu_self() - c0


def run_load(repo: Path, workers: int, rows_per_task: int = 4) -> dict[str, float]:
    import multiprocessing as mp

    import pyarrow.parquet as pq

    jobs = []
    for shard in sorted(repo.glob("data/**/*.parquet")):
        meta = pq.ParquetFile(shard).metadata
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            jobs += [(str(shard), g, lo, min(n, lo + rows_per_task)) for lo in range(0, n, rows_per_task)]
    with mp.get_context("spawn").Pool(workers, initializer=_load_init) as pool:
        _all_up(pool, workers)
        t0 = time.perf_counter()
        done = list(pool.imap_unordered(_load_chunk, jobs, chunksize=1))
        wall = time.perf_counter() - t0
    rows = sum(r for r, _ in done)
    cpu = sum(c for _, c in done)
    return {"wall": wall, "rows": rows, "cpu_per_row": cpu / rows, "rows_per_s": rows / wall}


def run_verify(repo: Path, workers: int) -> dict[str, float]:
    """``build/verify.py`` on the built repo, in a fresh process, as ``build/run.py`` runs it after a build
    (every clip decoded, every answer re-derived, ``load_dataset``): the rest of the main job's time."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / "verify.py"), str(repo), "--workers", str(workers)],
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"verify failed on the bench repo:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return {"wall": wall}


# ---------------------------------------------------------------------------------------------------------
# 4. Frame-folder baseline (the paper's layout, re-implemented; see the module docstring)


def _frame_folder_one(job: tuple[str, str, int, int]) -> list[dict[str, Any]]:
    import random

    import decord
    import numpy as np
    from PIL import Image, ImageDraw

    path, out_dir, seed, samples_per_family = job
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    n = len(reader)
    start, end = int(n * 0.05), int(n * 0.95)
    interval = (end - start) // 48
    frames = reader.get_batch([start + i * interval for i in range(48)]).asnumpy()
    names = []
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(out / f"{i}.jpg", quality=95)
        names.append(str(out / f"{i}.jpg"))
    rows = []
    for k in range(samples_per_family):
        # grounding / ChannelSwap: t perturbed frames written as new JPEGs (PIL's default quality, as the paper)
        t = rng.randint(8, 16)
        s = rng.randint(0, 48 - t)
        paths = list(names)
        for i in range(s, s + t):
            with Image.open(names[i]) as img:
                r, g, b = img.convert("RGB").split()
                new = out / f"{i}_channelswap{k}.jpg"
                Image.merge("RGB", (b, g, r)).save(new)
            paths[i] = str(new)
        rows.append({"task": "grounding", "frames": paths, "answer": f"{s}-{s + t}"})
        # counting: shapes drawn on a few frames, written as new JPEGs (quality 95)
        paths = list(names)
        for i in rng.sample(range(48), rng.randint(3, 6)):
            img = np.asarray(Image.open(names[i]).convert("RGB")).copy()
            pil = Image.fromarray(img)
            draw = ImageDraw.Draw(pil)
            w, h = pil.size
            for _ in range(rng.randint(1, 3)):
                size = rng.randint(int(min(w, h) * 0.2), int(min(w, h) * 0.4))
                cx, cy = rng.randint(size, w - size), rng.randint(size, h - size)
                draw.ellipse(
                    (cx - size // 2, cy - size // 2, cx + size // 2, cy + size // 2), fill=(200, 80, 60)
                )
            new = out / f"{i}_shape{k}.jpg"
            pil.save(new, quality=95)
            paths[i] = str(new)
        rows.append({"task": "counting", "frames": paths, "answer": "1,0,0"})
        # jigsaw: 6 clips of 8 frame paths, shuffled
        order = list(range(6))
        rng.shuffle(order)
        rows.append({"task": "jigsaw", "frames": [p for c in order for p in names[c * 8 : (c + 1) * 8]],
                     "answer": "".join(str(order.index(c) + 1) for c in range(6))})  # fmt: skip
    return rows


def run_frame_folder(sources: Path, out: Path, workers: int) -> dict[str, float]:
    import multiprocessing as mp

    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    videos = sorted(sources.glob("*.mp4"))
    jobs = [(str(v), str(out / "frames" / v.stem), i, 1) for i, v in enumerate(videos)]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(workers, initializer=_import_decoder) as pool:
        rows = [r for rs in pool.imap(_frame_folder_one, jobs, chunksize=1) for r in rs]
    pq.write_table(pa.Table.from_pylist(rows), out / "train.parquet")
    wall = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"wall": wall, "rows": len(rows), "bytes": size}


def _patched_script(reference: Path, name: str, out: Path, values: dict[str, Any]) -> Path:
    """A copy of one of the paper's task scripts with its path constants pointed at this run (the scripts
    configure themselves with module-level constants); written under ``out``, never into the project."""
    import re

    text = (reference / "pretext_tasks" / name).read_text()
    for key, value in values.items():
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value!r}", text, count=1, flags=re.M)
        if count != 1:
            raise SystemExit(f"--reference-repo: {name} has no `{key} = ...` line to point at this run")
    path = out / "scripts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_reference(
    reference: Path, sources: Path, out: Path, workers: int, num_videos: int
) -> dict[str, float]:
    """The paper's released pipeline pointed at the corpus: ``pretext_tasks/sample_frames.py`` (48 JPEG frames
    per video, ``workers`` processes), then ``grounding.py`` (ChannelSwap), ``counting.py`` and ``jigsaw.py``
    (perturbed JPEGs next to the frames, a parquet of frame paths each), one sample per video and task as in
    our build. Timed per stage; bytes are everything they write."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    frames, fps_json, parquet_dir = out / "frames", out / "fps.json", out / "parquet"
    sample_frames = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('sf', {str(reference / 'pretext_tasks' / 'sample_frames.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['sf'] = m; spec.loader.exec_module(m)\n"
        f"m.VIDEO_DIRS = [{str(sources)!r}]; m.OUTPUT_BASE_DIR = {str(frames)!r}\n"
        f"m.JSON_OUTPUT_PATH = {str(fps_json)!r}; m.NUM_WORKER = {workers}\n"
        "m.main()\n"
    )
    common = {"VIDEO_BASE_DIR": str(frames), "FPS_JSON_PATH": str(fps_json), "LOCAL_SAVE_DIR": str(parquet_dir),
              "START_INDEX": 0, "END_INDEX": num_videos}  # fmt: skip
    stages = [
        ("sample_frames", [sys.executable, "-c", sample_frames]),
        ("grounding", [sys.executable, str(_patched_script(reference, "grounding.py", out,
                                                           {**common, "PERTURBATION_TYPE": "ChannelSwap"}))]),
        ("counting", [sys.executable, str(_patched_script(reference, "counting.py", out, common))]),
        ("jigsaw", [sys.executable, str(_patched_script(reference, "jigsaw.py", out, common))]),
    ]  # fmt: skip
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    for name, cmd in stages:
        t = time.perf_counter()
        proc = subprocess.run(
            cmd, cwd=out, capture_output=True, text=True, env={**os.environ, "HF_DATASETS_OFFLINE": "1"}
        )
        if proc.returncode != 0:
            raise SystemExit(
                f"--reference-repo: the paper's {name} stage failed: {proc.stderr.strip()[-400:]}"
            )
        times[name] = time.perf_counter() - t
    wall = time.perf_counter() - t0
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_dir.glob("*.parquet"))
    if not rows:
        raise SystemExit(
            "--reference-repo: the paper's scripts wrote no samples (see their output under the work dir)"
        )
    data = [p for p in out.rglob("*") if p.is_file() and "scripts" not in p.relative_to(out).parts]
    frames_bytes = sum(p.stat().st_size for p in frames.rglob("*.jpg") if "_" not in p.name)
    return {"wall": wall, "frames_wall": times["sample_frames"], "rows": rows,
            "bytes": sum(p.stat().st_size for p in data), "frames_bytes": frames_bytes}  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Driver


def _median(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def _paired_ratio(numerators: list[dict], denominators: list[dict], key: str, den_key: str = "") -> float:
    """Median over repeats of one repeat's ``numerator[key] / denominator[den_key or key]``: each repeat runs
    the two measurements back to back, so a host whose speed drifts between repeats (seen: the same build
    12.0 s and 16.4 s minutes apart) moves both, not the ratio."""
    den_key = den_key or key
    values = [n[key] / d[den_key] for n, d in zip(numerators, denominators) if key in n and den_key in d]
    return statistics.median(values) if values else float("nan")


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from videossr.build.render import DEFAULT_CRF, MAX_CRF

    p = argparse.ArgumentParser(
        prog="python build/bench.py",
        description="Benchmark the build against its decode floor, and the load speed and size of its output.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python build/bench.py --num-videos 24 --workers 2 --repeats 3",
    )
    p.add_argument("--num-videos", type=int, default=24, help="corpus size N (default 24)")
    p.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)"
    )
    p.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement; medians are reported (default 3)"
    )
    p.add_argument("--cache-dir", default=".cache/bench", help="where the generated corpus is kept")
    p.add_argument("--work-dir", default=None, help="scratch folder for outputs (default: a temp folder)")
    p.add_argument("--duration", type=float, default=60.0, help="source video length in seconds (default 60)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--gop-seconds", type=float, default=2.0, help="keyframe interval (default 2 s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--crf", type=int, default=DEFAULT_CRF,
                   help=f"x264 CRF of the built clips, 0..{MAX_CRF} (default {DEFAULT_CRF}, the build's)")  # fmt: skip
    p.add_argument("--natural", action="store_true",
                   help="a corpus of natural content instead: the demo's Big Buck Bunny and bikes clips looped into "
                        "--duration s web-style videos (per-video speed, mirror, hue and crop; 1280x720 and 1920x1080, "
                        "25 and 30 fps, B-frames, 2 s keyframes, AAC audio); --width, --height, --fps and "
                        "--gop-seconds are ignored")  # fmt: skip
    p.add_argument("--sources", type=Path, default=None,
                   help="benchmark on the videos under this folder (e.g. your own) instead of the generated "
                        "corpus; --num-videos, --duration, --width, --height, --fps and --gop-seconds are then ignored")  # fmt: skip
    p.add_argument("--no-scaling", action="store_true", help="skip the 1-worker and 4x-samples builds")
    p.add_argument("--no-baseline", action="store_true", help="skip the frame-folder baseline")
    p.add_argument("--reference-repo", type=Path, default=None,
                   help="a checkout of github.com/lcqysl/VideoSSR: also time its released pipeline "
                        "(sample_frames.py, grounding.py, counting.py, jigsaw.py; needs opencv-python-headless)")  # fmt: skip
    p.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    p.add_argument("--smoke", action="store_true",
                   help="tiny run for tests: N=1, 1 repeat, 4 s 320x180 videos")  # fmt: skip
    args = p.parse_args(argv)
    if args.smoke:
        args.num_videos, args.repeats, args.duration, args.width, args.height = 1, 1, 4.0, 320, 180
        args.cache_dir = args.cache_dir if args.cache_dir != ".cache/bench" else ".cache/bench-smoke"
    if not 0 <= args.crf <= MAX_CRF:
        p.error(f"--crf must be in 0..{MAX_CRF}, got {args.crf}")
    for name in ("num_videos", "workers", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def child_entry(argv: list[str], run: Any) -> bool:
    """``--_child-build SPEC RESULT``: a build measured in a fresh process (``run(spec)`` -> figures, written
    to RESULT). True when ``argv`` was such a call."""
    if argv[:1] != ["--_child-build"]:
        return False
    Path(argv[2]).write_text(json.dumps(run(json.loads(argv[1]))))
    return True


def run_child(script: Path, spec: dict[str, Any], res_file: Path) -> dict[str, Any]:
    """Run ``script --_child-build SPEC RESULT`` (see :func:`child_entry`) in a fresh process; its figures."""
    cmd = [sys.executable, str(script.resolve()), "--_child-build", json.dumps(spec), str(res_file)]
    subprocess.run(cmd, check=True)
    res = json.loads(res_file.read_text())
    res_file.unlink()
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
        return _run(args, work)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    import platform

    w = args.workers
    sources = make_corpus(args)
    if args.sources is not None:
        corpus = f"{args.num_videos} videos from {args.sources}"
    elif args.natural:
        corpus = f"{args.num_videos} natural videos (720p and 1080p, 25 and 30 fps) {args.duration:g} s"
    else:
        corpus = (f"{args.num_videos} videos {args.width}x{args.height} {args.fps} fps {args.duration:g} s, "
                  f"GOP {args.gop_seconds:g} s")  # fmt: skip
    print(f"[bench] corpus: {corpus}; {w} workers; {args.repeats} repeats; CRF {args.crf}", flush=True)
    plans = floor_plans(sources, 1, args.seed)
    floors, builds, singles, loads, verifies, folders, refs = [], [], [], [], [], [], []
    big = None
    # Each repeat runs what a ratio compares back to back (the paper's pipeline, the floor, the build, the
    # 1-worker build), and ratios are medians of per-repeat ratios (see _paired_ratio).
    for r in range(args.repeats):
        if args.reference_repo:
            refs.append(run_reference(args.reference_repo, sources, work / "reference", w, args.num_videos))
            print(f"[bench] run {r + 1}: the paper's pipeline {refs[-1]['wall']:.2f} s "
                  f"(sample_frames.py {refs[-1]['frames_wall']:.2f} s, {refs[-1]['rows']} rows)", flush=True)  # fmt: skip
        floors.append(run_floor(plans, w))
        print(f"[bench] run {r + 1}: decode floor {floors[-1]['wall']:.2f} s", flush=True)
        builds.append(run_build(args, sources, work / "out", w, 1))
        print(
            f"[bench] run {r + 1}: build {builds[-1]['wall']:.2f} s ({builds[-1]['rows']} rows)", flush=True
        )
        if not args.no_scaling:
            # With one worker the build above is already the 1-worker build.
            singles.append(builds[-1] if w == 1 else run_build(args, sources, work / "out1", 1, 1))
            print(f"[bench] run {r + 1}: build with 1 worker {singles[-1]['wall']:.2f} s", flush=True)
        if not args.no_baseline:
            folders.append(run_frame_folder(sources, work / "frame-folder", w))
            print(f"[bench] run {r + 1}: frame-folder baseline {folders[-1]['wall']:.2f} s", flush=True)
        loads.append(run_load(work / "out" / "bench", w))
        print(f"[bench] run {r + 1}: load {loads[-1]['rows_per_s']:.1f} rows/s", flush=True)
        verifies.append(run_verify(work / "out" / "bench", w))
        print(f"[bench] run {r + 1}: verify {verifies[-1]['wall']:.2f} s", flush=True)
        if not args.no_scaling and big is None:
            big = run_build(args, sources, work / "out4", w, 4)
            print(f"[bench] 4x samples: build {big['wall']:.2f} s ({big['rows']} rows)", flush=True)

    b0 = builds[0]
    rows = b0["rows"]
    build_s, floor_s = _median(builds, "wall"), _median(floors, "wall")
    figures: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "num_videos": args.num_videos,
        "workers": w,
        "repeats": args.repeats,
        "crf": args.crf,
        "samples": rows,
        "build_s": build_s,
        "build_start_probe_s": _median(builds, "t_start_probe"),
        "build_units_s": _median(builds, "t_units"),
        "build_finalize_s": _median(builds, "t_finalize"),
        "redrawn_samples": b0["redrawn"],
        "floor_s": floor_s,
        "floor_frames": floors[0]["frames"],
        "floor_cpu_s": _median(floors, "cpu"),
        "build_cpu_s": _median(builds, "cpu"),
        "build_over_floor_cpu": _paired_ratio(builds, floors, "cpu"),
        "samples_per_s": rows / build_s,
        "s_per_sample_per_core": build_s * w / rows,
        "build_over_floor": _paired_ratio(builds, floors, "wall"),
        "units_over_floor": _paired_ratio(builds, floors, "t_units", "wall"),
        "shard_bytes_per_sample": b0["shard_bytes"] / rows,
        "repo_bytes_per_sample": b0["repo_bytes"] / rows,
        "median_sample_video_bytes": b0["median_sample_video_bytes"],
        "driver_peak_bytes": b0.get("driver_peak", float("nan")),
        "worker_peak_bytes": b0.get("worker_peak", float("nan")),
        "load_rows_per_s": _median(loads, "rows_per_s"),
        "load_cpu_per_row_s": _median(loads, "cpu_per_row"),
        "verify_s": _median(verifies, "wall"),
        "load_avg_1min": os.getloadavg()[0],
    }
    if singles:
        figures["build_1_worker_s"] = _median(singles, "wall")
        figures["speedup"] = _paired_ratio(singles, builds, "wall")
        figures["units_speedup"] = _paired_ratio(singles, builds, "t_units")
    if big:
        figures["samples_4x"] = big["rows"]
        figures["driver_peak_4x_bytes"] = big.get("driver_peak", float("nan"))
        figures["worker_peak_4x_bytes"] = big.get("worker_peak", float("nan"))
    if folders:
        figures["frame_folder_s"] = _median(folders, "wall")
        figures["frame_folder_bytes_per_sample"] = folders[0]["bytes"] / folders[0]["rows"]
        figures["frame_folder_bytes_per_video"] = folders[0]["bytes"] / args.num_videos
        figures["speed_vs_frame_folder"] = _paired_ratio(folders, builds, "wall")
        figures["storage_vs_frame_folder"] = (
            figures["frame_folder_bytes_per_sample"] / figures["repo_bytes_per_sample"]
        )
    if refs:
        figures["reference_s"] = _median(refs, "wall")
        figures["reference_sample_frames_s"] = _median(refs, "frames_wall")
        figures["reference_rows"] = refs[0]["rows"]
        figures["reference_bytes_per_sample"] = refs[0]["bytes"] / refs[0]["rows"]
        figures["reference_frames_bytes_per_video"] = refs[0]["frames_bytes"] / args.num_videos
        figures["speed_vs_reference"] = _paired_ratio(refs, builds, "wall")
        figures["speed_vs_reference_frames"] = _paired_ratio(refs, builds, "frames_wall", "wall")
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def report(f: dict[str, Any]) -> None:
    def line(name: str, value: str, target: str = "") -> None:
        print(f"  {name:<42} {value:>16}   {target}")

    def ok(cond: bool) -> str:
        return "met" if cond else "NOT met"

    print(
        f"\nVideoSSR build benchmark ({f['machine']}; {f['workers']} workers; medians of {f['repeats']} runs; ratios: "
        "medians of each run's ratio)"
    )
    print(
        f"  corpus: {f['num_videos']} source videos; {f['samples']} samples (one per task family per source); "
        f"load average {f['load_avg_1min']:.1f}"
    )
    line("decode floor", f"{f['floor_s']:.2f} s", f"({f['floor_frames']} frames)")
    line("full build", f"{f['build_s']:.2f} s",
         f"(start+probe {f['build_start_probe_s']:.2f} s, units {f['build_units_s']:.2f} s, "
         f"finalize {f['build_finalize_s']:.2f} s)")  # fmt: skip
    if f.get("redrawn_samples"):
        line("  samples re-drawn on other sources", f"{f['redrawn_samples']}",
             "(every draw rejected at their source, e.g. ChannelSwap on grey content: made from a fallback source)")  # fmt: skip
    line(
        "build / floor",
        f"{f['build_over_floor']:.2f} x",
        f"target <= 1.2 x: {ok(f['build_over_floor'] <= 1.2)}",
    )
    line("  (units phase / floor)", f"{f['units_over_floor']:.2f} x")
    line("  CPU: build / floor", f"{f['build_over_floor_cpu']:.2f} x",
         f"(build {f['build_cpu_s']:.1f} s, floor {f['floor_cpu_s']:.1f} s of CPU, all processes)")  # fmt: skip
    line("samples/s", f"{f['samples_per_s']:.2f}")
    line("seconds per sample per core", f"{f['s_per_sample_per_core']:.3f} s")
    line("median video bytes per 48-frame sample", f"{f['median_sample_video_bytes'] / 1e3:.0f} KB",
         f"target <= 250 KB: {ok(f['median_sample_video_bytes'] <= 250e3)}")  # fmt: skip
    line("bytes per sample (shards only)", f"{f['shard_bytes_per_sample'] / 1e3:.0f} KB")
    line("bytes per sample (whole repo)", f"{f['repo_bytes_per_sample'] / 1e3:.0f} KB")
    line("driver peak memory", _mb(f["driver_peak_bytes"]))
    line("worker peak memory (incl. decoder, ffmpeg)", _mb(f["worker_peak_bytes"]))
    if "samples_4x" in f:
        dr = f["driver_peak_4x_bytes"] / f["driver_peak_bytes"]
        wr = f["worker_peak_4x_bytes"] / f["worker_peak_bytes"]
        line(f"driver peak, {f['samples_4x']} samples (4x)", _mb(f["driver_peak_4x_bytes"]),
             f"x{dr:.2f}: flat (<= 1.25) {ok(dr <= 1.25)}")  # fmt: skip
        line(f"worker peak, {f['samples_4x']} samples (4x)", _mb(f["worker_peak_4x_bytes"]),
             f"x{wr:.2f}: flat (<= 1.25) {ok(wr <= 1.25)}")  # fmt: skip
    line("load rows/s (decode every clip to tensors)", f"{f['load_rows_per_s']:.1f}",
         f"target >= 50: {ok(f['load_rows_per_s'] >= 50)}")  # fmt: skip
    line("  load CPU per row", f"{f['load_cpu_per_row_s'] * 1e3:.1f} ms",
         f"= {f['workers'] / f['load_cpu_per_row_s']:.0f} rows/s on {f['workers']} idle cores")  # fmt: skip
    line("verify (build/run.py runs it after the build)", f"{f['verify_s']:.2f} s",
         f"build + verify {f['build_s'] + f['verify_s']:.2f} s: the main job")  # fmt: skip
    if "speedup" in f:
        line("build with 1 worker", f"{f['build_1_worker_s']:.2f} s")
        line(f"speed-up, {f['workers']} workers vs 1", f"{f['speedup']:.2f} x",
             (f"target >= 1.8 x: {ok(f['speedup'] >= 1.8)}" if f["workers"] > 1 else "n/a with 1 worker")
         + f" (units phase {f['units_speedup']:.2f} x)")  # fmt: skip
    if "frame_folder_s" in f:
        line("frame-folder baseline", f"{f['frame_folder_s']:.2f} s",
             f"build is {f['speed_vs_frame_folder']:.2f} x faster (target >= 1.5 x)")  # fmt: skip
        line("frame-folder bytes per sample", f"{f['frame_folder_bytes_per_sample'] / 1e3:.0f} KB",
             f"{f['storage_vs_frame_folder']:.1f} x our whole repo (target >= 10 x)")  # fmt: skip
        line("frame-folder bytes per source video", f"{f['frame_folder_bytes_per_video'] / 1e3:.0f} KB",
             f"{f['frame_folder_bytes_per_video'] / f['repo_bytes_per_sample']:.1f} x our sample: the ratio at "
             "one sample per video, as in VideoSSR-30K")  # fmt: skip
    if "reference_s" in f:
        line("paper's pipeline (frames + 3 task scripts)", f"{f['reference_s']:.2f} s",
             f"build is {f['speed_vs_reference']:.2f} x faster (target >= 1.5 x): "
             f"{ok(f['speed_vs_reference'] >= 1.5)}; {f['reference_rows']} rows")  # fmt: skip
        line("  its sample_frames.py alone", f"{f['reference_sample_frames_s']:.2f} s",
             f"build is {f['speed_vs_reference_frames']:.2f} x faster")  # fmt: skip
        ratio = f["reference_bytes_per_sample"] / f["repo_bytes_per_sample"]
        line("  its bytes per sample (all it writes)", f"{f['reference_bytes_per_sample'] / 1e3:.0f} KB",
             f"{ratio:.1f} x our whole repo (target >= 10 x): {ok(ratio >= 10)}")  # fmt: skip
        line("  its frame JPEGs per video", f"{f['reference_frames_bytes_per_video'] / 1e3:.0f} KB",
             f"{f['reference_frames_bytes_per_video'] / f['repo_bytes_per_sample']:.1f} x our sample: the ratio "
             "at one sample per video, as in VideoSSR-30K")  # fmt: skip
    print(flush=True)


if __name__ == "__main__":
    from videossr.build.bench import main as _main

    sys.exit(_main())
