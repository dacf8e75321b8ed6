"""The checks of clips in memory (mp4 bytes): each decodes to exactly the frames its row says, of its
stream's size, and its stream (ffprobe's conventions) is H.264 yuv420p without rotation at the row's frame
rate (:func:`clip_problems`, one definition for both ways of reading a clip).

``verify_repo`` reads published clips, which may come from anywhere: the system's ffmpeg (the FFmpeg that
``datasets``/torchcodec decode with) decodes them, many to a process (a clip that stops that process is
found and reported alone), and the build's guarded decoder reads their stream facts (:func:`check_clips`).
A build worker checks the clips it has just encoded, its own bytes, in its own process with PyAV
(:func:`check_clip_in_memory`): no process to start, no file to write.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..frames import DecodeError, FrameSampler, probe_result
from ..render import FFmpegError, ProbeResult, run_ffmpeg
from .answers import close

DECODE_TIMEOUT = 60.0  # seconds per clip
RunFFmpeg = Callable[..., bytes]


@dataclass(frozen=True)
class ClipSpec:
    """One clip and what its row says of it."""

    index: int  # its place in the row
    data: bytes
    num_frames: int | None
    fps: float | None
    frame_size: tuple[int, int] | None  # counting: the params frame size (w, h)


@dataclass(frozen=True)
class ClipResult:
    clip: ClipSpec
    problems: list[str]
    frames: int  # frames decoded


def clips_of_row(row: dict) -> Iterator[ClipSpec]:
    """The row's clips that have bytes (a clip without is a row problem, see ``check_video_bytes``)."""
    nf, fps = row.get("num_frames") or [], row.get("fps") or []
    size = None
    if row.get("task") == "counting":
        try:
            fs = json.loads(row.get("params") or "").get("frame_size")
            size = (int(fs[0]), int(fs[1]))
        except (ValueError, TypeError, AttributeError, IndexError):
            size = None
    for i, v in enumerate(row.get("videos") or []):
        data = (v or {}).get("bytes")
        if not data:
            continue
        yield ClipSpec(
            index=i,
            data=data,
            num_frames=nf[i] if i < len(nf) and isinstance(nf[i], int) else None,
            fps=fps[i] if i < len(fps) and isinstance(fps[i], (int, float)) else None,
            frame_size=size,
        )


def clip_problems(clip: ClipSpec, facts: ProbeResult, sizes: list[int]) -> list[str]:
    """What is wrong with one clip, from its stream facts and the sizes of its decoded frames."""
    problems: list[str] = []
    i, n = clip.index, len(sizes)
    if clip.num_frames is not None and n != clip.num_frames:
        problems.append(f"clip {i} decodes to {n} frames, the row says {clip.num_frames}")
    if clip.fps is not None and not close(facts.fps, clip.fps):
        problems.append(f"clip {i} is encoded at {facts.fps:.6g} fps, the row says {clip.fps:.6g}")
    if facts.codec != "h264" or facts.pix_fmt != "yuv420p":
        problems.append(f"clip {i} is {facts.codec}/{facts.pix_fmt}, expected h264/yuv420p")
    elif any(size != facts.width * facts.height * 3 // 2 for size in sizes):
        problems.append(f"clip {i} has frames of another size than its stream's {facts.width}x{facts.height}")
    if facts.rotation:
        problems.append(f"clip {i} carries rotation metadata ({facts.rotation} degrees)")
    if clip.frame_size is not None and (facts.width, facts.height) != tuple(clip.frame_size):
        w, h = clip.frame_size
        problems.append(f"clip {i} is {facts.width}x{facts.height}, params frame_size is {w}x{h}")
    return problems


def decoded_frame_sizes(
    paths: list[Path], timeout: float, *, ffmpeg: RunFFmpeg = run_ffmpeg
) -> list[list[int]]:
    """Decode every clip in ``paths`` with the system's ffmpeg, one process for them all (one decoder thread
    each), and return per clip the byte size of each decoded frame (ffmpeg's ``framecrc``, no conversion)."""
    args: list[str] = []
    for path in paths:
        args += ["-threads", "1", "-i", str(path)]
    for k, path in enumerate(paths):
        crc = str(path.with_suffix(".crc"))
        args += ["-map", f"{k}:v:0", "-fps_mode", "passthrough", "-f", "framecrc", crc]
    ffmpeg(args, timeout=timeout, what=f"decoding {len(paths)} clips")
    sizes = []
    for path in paths:
        lines = path.with_suffix(".crc").read_text().splitlines()
        sizes.append([int(line.split(",")[4]) for line in lines if line.strip() and not line.startswith("#")])
    return sizes


def check_clips(
    clips: list[ClipSpec],
    sampler: FrameSampler,
    *,
    timeout: float = DECODE_TIMEOUT,
    ffmpeg: RunFFmpeg = run_ffmpeg,
) -> list[ClipResult]:
    """Check clips: each one's stream facts (codec, pixel format, fps, size, rotation) read by ``sampler``,
    and every frame decoded by the system's ffmpeg (``ffmpeg``), in one process for all of them; a clip
    that stops that process is decoded again alone. ``timeout``: seconds per clip."""
    out: dict[int, ClipResult] = {}
    with tempfile.TemporaryDirectory(prefix="videossr-verify-") as tmp:
        paths, facts = {}, {}
        for k, clip in enumerate(clips):
            paths[k] = Path(tmp) / f"clip{k}.mp4"
            paths[k].write_bytes(clip.data)
            try:
                facts[k] = sampler.probe(str(paths[k]), timeout=timeout)
            except DecodeError as exc:
                out[k] = ClipResult(clip, [f"clip {clip.index} does not decode: {exc}"], 0)
        todo = sorted(facts)
        sizes = _frame_sizes_each([paths[k] for k in todo], timeout, ffmpeg)
    for k, got in zip(todo, sizes):
        if isinstance(got, Exception):
            out[k] = ClipResult(clips[k], [f"clip {clips[k].index} does not decode: {got}"], 0)
        else:
            out[k] = ClipResult(clips[k], clip_problems(clips[k], facts[k], got), len(got))
    return [out[k] for k in range(len(clips))]


def _frame_sizes_each(paths: list[Path], timeout: float, ffmpeg: RunFFmpeg) -> list[list[int] | Exception]:
    """Frame sizes of every clip, decoded together; when that fails, each alone (its error, if it fails)."""
    failures = (FFmpegError, OSError, ValueError, IndexError)
    if not paths:
        return []
    try:
        return list(decoded_frame_sizes(paths, timeout * len(paths), ffmpeg=ffmpeg))
    except failures:
        pass
    out: list[list[int] | Exception] = []
    for path in paths:
        try:
            out.append(decoded_frame_sizes([path], timeout, ffmpeg=ffmpeg)[0])
        except failures as exc:
            out.append(exc)
    return out


def check_clip_in_memory(clip: ClipSpec) -> ClipResult:
    """Check one clip by decoding its bytes in this process with PyAV: its stream facts as the guarded
    decoder reads them, and every frame (for the clips a build worker has just encoded, not for untrusted
    files). The same problems :func:`check_clips` finds."""
    import av

    from ..decode_child import stream_facts

    sizes: list[int] = []
    try:
        with av.open(io.BytesIO(clip.data)) as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            stream.codec_context.thread_count = 1
            facts = None
            for frame in container.decode(stream):
                if facts is None:
                    facts = probe_result(stream_facts(container, stream, frame))
                # What ffmpeg's framecrc reports: the bytes of the frame's picture, no padding.
                yuv420p = frame.format.name == "yuv420p"
                sizes.append(frame.width * frame.height * 3 // 2 if yuv420p else -1)
            if facts is None:
                raise ValueError("no frame could be decoded")
    except (av.FFmpegError, ValueError) as exc:
        return ClipResult(clip, [f"clip {clip.index} does not decode: {exc}"], 0)
    return ClipResult(clip, clip_problems(clip, facts, sizes), len(sizes))
