"""The benchmark's source videos: a generated corpus (cached), one of natural content looped from the
demo's clips, or a folder of the user's own videos."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from videossr.build.demo import natural_clip_paths
from videossr.build.render import run_ffmpeg
from videossr.build.sources import discover

T = TypeVar("T")


@dataclass(frozen=True)
class CorpusSpec:
    """The generated corpus: ``num_videos`` videos ``width`` x ``height`` at ``fps`` for ``duration`` s,
    keyframes every ``gop_seconds`` (ignored by the natural corpus, whose videos vary by design)."""

    num_videos: int
    width: int = 640
    height: int = 360
    fps: int = 30
    duration: float = 60.0
    gop_seconds: float = 2.0
    natural: bool = False


def pool_map(
    fn: Callable[[T], object], items: Sequence[T], workers: int, initializer: Callable[[], None] | None = None
) -> list:
    """``fn`` over ``items`` in ``workers`` fresh processes."""
    with mp.get_context("spawn").Pool(workers, initializer=initializer) as pool:
        return pool.map(fn, items, chunksize=1)


def corpus_graph(i: int, w: int, h: int, fps: int) -> str:
    """Web-video-like procedural content (flat regions, edges, text, smooth gradients, blocky cartoons), with
    a moving box so every frame differs. ``i`` picks a kind and varies its parameters, so no two videos are
    equal (the build dedupes by content)."""
    kind = i % 5
    if kind == 0:
        base = f"testsrc2=size={w}x{h}:rate={fps},hue=h={(i * 47) % 360}"
    elif kind == 1:
        base = f"gradients=size={w}x{h}:rate={fps}:speed=0.03:seed={i}"
    elif kind == 2:
        base = (
            f"life=size={w // 5}x{h // 5}:rate={fps}:seed={i}:mold=10:ratio=0.1:death_color=#C83232"
            f":life_color=#00ff00,scale={w}:{h}:flags=neighbor"
        )
    elif kind == 3:
        base = (
            f"cellauto=size={w // 16}x{h // 16}:rate={fps}:rule={(30, 90, 110, 150)[i % 4]}:seed={i}"
            f",scale={w}:{h}:flags=neighbor"
            ",colorchannelmixer=rr=1:rg=0:rb=0:gr=0.5:gg=0.3:gb=0:br=0:bg=0:bb=0.2"
            f",hue=h={(i * 29) % 360}"
        )
    else:
        base = f"testsrc=size={w}x{h}:rate={fps},hue=h={(i * 61) % 360}"
    box = max(4, min(w, h) // 8)
    return (
        f"{base}[bg];color=white:size={box}x{box}:rate={fps}[clock];"
        f"[bg][clock]overlay=x='mod(t*{7 * fps}\\,{w - box})':y='mod(t*{3 * fps}\\,{h - box})':shortest=1"
    )


def make_video(job: tuple[str, int, int, int, int, float, int]) -> str:
    """One generated H.264 video (``path, index, width, height, fps, seconds, keyframe interval``)."""
    path, i, w, h, fps, duration, gop = job
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.mp4")
    encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-threads", "1"]
    keyframes = ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    exact = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact"]
    args = ["-f", "lavfi", "-i", corpus_graph(i, w, h, fps), "-t", f"{duration}", *encode, *keyframes, *exact]
    run_ffmpeg([*args, str(tmp)], timeout=1800, what=f"generating {Path(path).name}")
    os.replace(tmp, path)
    return path


def make_natural_video(job: tuple[str, int, list[str], float]) -> str:
    """One web-style video from the demo's natural clips (Big Buck Bunny's animation, bikes' camera footage):
    the clip looped with a per-video speed, mirror, hue, saturation and crop window, at 1280x720 or 1920x1080,
    25 or 30 fps, x264 with B-frames and a 2 s keyframe interval (scene cuts allowed), AAC audio."""
    path, i, clips, duration = job
    w, h = (1920, 1080) if i % 3 == 2 else (1280, 720)
    fps = 30 if i % 4 == 3 else 25
    speed, zoom = (1.0, 0.8, 1.25, 0.9, 1.1)[i % 5], 0.7 + 0.05 * (i % 6)
    x, y = (i * 37) % 100 / 100, (i * 53) % 100 / 100
    vf = (
        f"setpts={1 / speed:.4f}*PTS,{'hflip,' if i % 3 == 1 else ''}"
        f"hue=h={(i * 41) % 360 - 180}:s={0.8 + 0.05 * (i % 5):.2f},"
        f"crop=iw*{zoom:.2f}:ih*{zoom:.2f}:(iw-ow)*{x:.2f}:(ih-oh)*{y:.2f},scale={w}:{h},fps={fps},format=yuv420p"
    )
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.mp4")
    inputs = ["-stream_loop", "-1", "-i", clips[i % len(clips)], "-f", "lavfi"]
    inputs += ["-i", f"sine=frequency={220 + 40 * i}:sample_rate=44100", "-t", f"{duration}"]
    video = ["-vf", vf, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "veryfast"]
    video += ["-crf", "23", "-g", str(2 * fps)]
    rest = ["-c:a", "aac", "-b:a", "96k", "-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact"]
    rest += ["-flags:v", "+bitexact", "-movflags", "+faststart", str(tmp)]
    run_ffmpeg([*inputs, *video, *rest], timeout=1800, what=f"generating {Path(path).name}")
    os.replace(tmp, path)
    return path


def link(video: Path, target: Path) -> None:
    """``target`` as a hard link to ``video`` (a copy across filesystems): the build does not follow
    symbolic links out of a source folder."""
    try:
        os.link(video, target)
    except OSError:
        shutil.copyfile(video, target)


def link_sources(folder: Path, run_dir: Path) -> int:
    """``--sources``: link the folder's videos (found as the build finds them) into the run's corpus folder,
    named in order, as mp4 files (the paper's frame sampler only lists ``*.mp4``). Returns their number."""
    pairs, skipped = discover([folder])
    if not pairs:
        raise SystemExit(
            f"--sources {folder}: no videos found (mp4, mkv, webm, mov, avi; searched recursively)"
        )
    if skipped:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:3])
        print(f"[bench] --sources: {len(skipped)} entries skipped while listing: {reasons}", flush=True)
    for i, (_, path) in enumerate(pairs):
        link(Path(path).resolve(), run_dir / f"v{i:04d}.mp4")
    return len(pairs)


def make_corpus(spec: CorpusSpec, cache_dir: Path, run_dir: Path, workers: int) -> Path:
    """The run's corpus folder ``run_dir``: the first ``spec.num_videos`` videos of the cached generated
    corpus (made on first use, in ``workers`` processes)."""
    w, h, fps, dur = spec.width, spec.height, spec.fps, spec.duration
    if spec.natural:
        root = cache_dir / f"natural-v1-{dur:g}s"
        clips = [str(p) for p in natural_clip_paths() if p.name in ("bigbuckbunny.mp4", "bikes.mp4")]
        natural = [(str(root / f"v{i:04d}.mp4"), i, clips, dur) for i in range(spec.num_videos)]
        todo = [job for job in natural if not Path(job[0]).exists()]
        make: Callable = make_natural_video
    else:
        root = cache_dir / f"corpus-{w}x{h}-{fps}fps-{dur:g}s-gop{spec.gop_seconds:g}s"
        gop = max(1, round(spec.gop_seconds * fps))
        generated = [(str(root / f"v{i:04d}.mp4"), i, w, h, fps, dur, gop) for i in range(spec.num_videos)]
        todo = [job for job in generated if not Path(job[0]).exists()]
        make = make_video
    root.mkdir(parents=True, exist_ok=True)
    if todo:
        print(f"[bench] generating {len(todo)} source videos under {root} (once; cached)", flush=True)
        pool_map(make, todo, workers)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    for i in range(spec.num_videos):  # a larger cached corpus may hold more
        link((root / f"v{i:04d}.mp4").resolve(), run_dir / f"v{i:04d}.mp4")
    return run_dir


class CorpusOptions(Protocol):
    """The corpus options both benchmarks take (``--num-videos``, ``--sources``, ``--natural``...)."""

    num_videos: int
    width: int
    height: int
    fps: int
    duration: float
    gop_seconds: float
    natural: bool
    sources: Path | None
    cache_dir: str


def corpus_spec(args: CorpusOptions) -> CorpusSpec:
    return CorpusSpec(
        args.num_videos, args.width, args.height, args.fps, args.duration, args.gop_seconds, args.natural
    )


def prepare_corpus(args: CorpusOptions, work: Path, processes: int) -> tuple[Path, str]:
    """The run's corpus folder under ``work`` (the ``--sources`` videos linked in, or the cached generated
    corpus, made in ``processes`` processes on first use) and its description. With ``--sources``,
    ``args.num_videos`` becomes the number of videos found."""
    run_dir = work / "sources"
    if args.sources is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        args.num_videos = link_sources(args.sources, run_dir)
        return run_dir, f"{args.num_videos} videos from {args.sources}"
    make_corpus(corpus_spec(args), Path(args.cache_dir), run_dir, processes)
    if args.natural:
        kinds = "natural videos (720p and 1080p, 25 and 30 fps)"
        return run_dir, f"{args.num_videos} {kinds} {args.duration:g} s"
    size = f"{args.width}x{args.height} {args.fps} fps {args.duration:g} s"
    return run_dir, f"{args.num_videos} videos {size}, GOP {args.gop_seconds:g} s"
