"""The one ffmpeg wrapper: find the binaries, probe a file, encode frames to an H.264 mp4.

Every call is an argv list (no shell), ``-nostdin``, with a timeout. Raw RGB frames are piped to ffmpeg's
stdin (no temporary image files). ``-threads 1`` per call because the builder runs one process per core.
Output is bit-exact for the same frames, fps and ffmpeg build (``-fflags +bitexact``, no metadata).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DEFAULT_CRF = 23  # <= 23 keeps perturbations (noise, colour swaps, borders) clearly visible
DEFAULT_PRESET = "veryfast"
# No B-frames: a quarter less x264 CPU for 2 % more bytes on 48-frame clips whose frames are ~1 s apart.
X264_PARAMS = "threads=1:lookahead-threads=1:bframes=0"


class FFmpegError(RuntimeError):
    """ffmpeg or ffprobe failed; the message names the command's input and ffmpeg's own error."""


@cache
def ffmpeg_exe() -> str:
    exe = os.environ.get("VIDEOSSR_FFMPEG") or shutil.which("ffmpeg")
    if not exe:
        raise FFmpegError("ffmpeg was not found on PATH; install it (e.g. `sudo apt-get install -y ffmpeg`)")
    return exe


@cache
def ffprobe_exe() -> str:
    exe = os.environ.get("VIDEOSSR_FFPROBE") or shutil.which("ffprobe")
    if not exe:
        raise FFmpegError("ffprobe was not found on PATH; install it (e.g. `sudo apt-get install -y ffmpeg`)")
    return exe


@cache
def ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, timeout=30).stdout
    return out.splitlines()[0] if out else "unknown"


def run_ffmpeg(
    args: list[str], *, input_bytes: bytes | None = None, timeout: float = 300, what: str = ""
) -> bytes:
    """Run ffmpeg with ``args`` (after the common flags); return stdout, raise FFmpegError on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    if input_bytes is None:
        cmd.insert(1, "-nostdin")
    try:
        proc = subprocess.run(cmd, input=input_bytes, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"ffmpeg timed out after {timeout:.0f}s {what}".strip()) from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FFmpegError(
            f"ffmpeg failed {what}: {err[-1] if err else 'exit ' + str(proc.returncode)}".strip()
        )
    return proc.stdout


@dataclass(frozen=True)
class ProbeResult:
    """Container-level facts from ffprobe (the decoder's own frame count is checked separately)."""

    duration: float
    fps: float
    width: int
    height: int
    num_frames: int  # reported or estimated; 0 when unknown
    codec: str
    rotation: int
    pix_fmt: str


def _rate(text: str | None) -> float:
    if not text or text in ("0/0", "0"):
        return 0.0
    if "/" in text:
        num, den = text.split("/", 1)
        return float(num) / float(den) if float(den) else 0.0
    return float(text)


def probe(path: str | os.PathLike, timeout: float = 60) -> ProbeResult:
    """Probe the first video stream of ``path`` with ffprobe."""
    cmd = [
        ffprobe_exe(), "-v", "error", "-select_streams", "v:0", "-show_entries",
        "stream=codec_name,width,height,avg_frame_rate,r_frame_rate,nb_frames,duration,pix_fmt"
        ":stream_side_data=rotation:stream_tags=rotate:format=duration",
        "-of", "json", os.path.abspath(path),  # absolute: a name starting with '-' is not an option
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FFmpegError(f"ffprobe timed out after {timeout:.0f}s") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FFmpegError(f"ffprobe could not read the file: {err[-1] if err else 'unknown error'}")
    info = json.loads(proc.stdout or b"{}")
    streams = info.get("streams") or []
    if not streams:
        raise FFmpegError("no video stream")
    s = streams[0]
    fps = _rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate"))
    duration = float(s.get("duration") or (info.get("format") or {}).get("duration") or 0.0)
    rotation = 0
    for side in s.get("side_data_list") or []:
        if "rotation" in side:
            rotation = int(float(side["rotation"]))
    if not rotation and (s.get("tags") or {}).get("rotate"):
        rotation = -int(float(s["tags"]["rotate"]))
    nb = s.get("nb_frames")
    num_frames = int(nb) if nb and str(nb).isdigit() else int(round(duration * fps))
    return ProbeResult(
        duration=duration,
        fps=fps,
        width=int(s.get("width") or 0),
        height=int(s.get("height") or 0),
        num_frames=num_frames,
        codec=str(s.get("codec_name") or ""),
        rotation=rotation % 360,
        pix_fmt=str(s.get("pix_fmt") or ""),
    )


def fps_fraction(fps: float, max_den: int = 1_000_000) -> str:
    """A rational string for ffmpeg's ``-r`` that keeps an arbitrary clip rate (e.g. 48/53.7 s)."""
    from fractions import Fraction

    frac = Fraction(fps).limit_denominator(max_den)
    return f"{frac.numerator}/{frac.denominator}"


def _x264_output(n: int, rate: str, crf: int, preset: str, out: Path) -> list[str]:
    """The output options of every clip: one definition, so encode_clip and encode_clips stay byte-identical."""
    return [
        "-frames:v", str(n), "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-threads", "1", "-x264-params", X264_PARAMS,
        "-color_range", "tv", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-r", rate, "-fps_mode", "passthrough",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def encode_clip(
    frames: np.ndarray,
    fps: float,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    timeout: float = 300,
) -> bytes:
    """Encode uint8 RGB frames ``(n, H, W, 3)`` (H, W even) to H.264 yuv420p mp4 bytes with exactly n frames.

    Each frame is one output frame at a constant ``fps``; the first frame has timestamp 0.
    """
    frames = np.ascontiguousarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"encode_clip needs uint8 (n, H, W, 3) frames, got {frames.dtype} {frames.shape}")
    n, h, w = frames.shape[:3]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    if not 0 <= crf <= 23:
        raise ValueError(f"crf must be in 0..23 so that perturbations stay visible, got {crf}")
    rate = fps_fraction(fps)
    with tempfile.TemporaryDirectory(prefix="videossr-enc-") as tmp:
        out = Path(tmp) / "clip.mp4"
        args = [
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", rate, "-i", "pipe:0",
            *_x264_output(n, rate, crf, preset, out),
        ]  # fmt: skip
        run_ffmpeg(
            args, input_bytes=frames.tobytes(), timeout=timeout, what=f"encoding {n} frames of {w}x{h}"
        )
        return out.read_bytes()


def encode_clips(
    clips: list[tuple[np.ndarray, float]],
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    timeout: float = 600,
) -> list[bytes]:
    """Encode several clips ``(frames, fps)`` of one frame size in one ffmpeg process (one x264 encoder
    per clip, fed by trimming one raw input); same bytes as :func:`encode_clip` on each, without paying
    ffmpeg's start-up once per clip (it costs as much as encoding a 48-frame clip)."""
    if len(clips) == 1:
        return [encode_clip(clips[0][0], clips[0][1], crf=crf, preset=preset, timeout=timeout)]
    if not clips:
        return []
    frames = [np.ascontiguousarray(c) for c, _ in clips]
    shape = frames[0].shape[1:]
    for f in frames:
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3 or f.shape[1:] != shape or not len(f):
            raise ValueError(
                f"encode_clips needs non-empty uint8 (n, H, W, 3) clips of one size, got {f.shape}"
            )
    h, w = shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    if not 0 <= crf <= 23:
        raise ValueError(f"crf must be in 0..23 so that perturbations stay visible, got {crf}")
    from fractions import Fraction

    graph, start = [f"[0:v]split={len(frames)}" + "".join(f"[s{k}]" for k in range(len(frames)))], 0
    for k, f in enumerate(frames):
        rate = Fraction(fps_fraction(clips[k][1]))
        # Each clip gets its own time base 1/fps and timestamps 0, 1, 2...: what encode_clip's input has.
        graph.append(f"[s{k}]trim=start_frame={start}:end_frame={start + len(f)},"
                     f"settb=expr={rate.denominator}/{rate.numerator},setpts=N[o{k}]")  # fmt: skip
        start += len(f)
    with tempfile.TemporaryDirectory(prefix="videossr-enc-") as tmp:
        outs = [Path(tmp) / f"clip{k}.mp4" for k in range(len(frames))]
        args = [
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", "1", "-i", "pipe:0",
            "-filter_complex_threads", "1", "-filter_complex", ";".join(graph),
        ]  # fmt: skip
        for k, out in enumerate(outs):
            rate = fps_fraction(clips[k][1])
            args += [
                "-map", f"[o{k}]", *_x264_output(len(frames[k]), rate, crf, preset, out),
            ]  # fmt: skip
        run_ffmpeg(
            args,
            input_bytes=b"".join(f.tobytes() for f in frames),
            timeout=timeout,
            what=f"encoding {len(frames)} clips of {w}x{h}",
        )
        return [out.read_bytes() for out in outs]


def _parse_ppm_stream(data: bytes) -> np.ndarray:
    """Frames of a stream of binary PPM images (``P6 <w> <h> 255`` + RGB bytes each) as ``(n, h, w, 3)``."""
    if not data:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; separated by one whitespace byte each
        end = pos
        while data[end : end + 1] not in (b" ", b"\n", b"\t", b"\r"):
            end += 1
        fields.append(data[pos:end])
        pos = end + 1
    if fields[0] != b"P6" or fields[3] != b"255":
        raise FFmpegError(f"unexpected frame header from ffmpeg: {b' '.join(fields)!r}")
    w, h = int(fields[1]), int(fields[2])
    frame = pos + w * h * 3
    if len(data) % frame:
        raise FFmpegError("ffmpeg returned a truncated frame stream")
    frames = np.frombuffer(data, dtype=np.uint8).reshape(-1, frame)[:, pos:]
    return frames.reshape(-1, h, w, 3)


def decode_clips(datas: list[bytes], timeout: float = 300) -> list[np.ndarray]:
    """Decode every frame of several mp4s (bytes) to uint8 RGB ``(n, H, W, 3)`` in one ffmpeg process
    (no probe: each frame carries its size). For the preview sheet; checks use :func:`decode_all_frames`."""
    if not datas:
        return []
    with tempfile.TemporaryDirectory(prefix="videossr-dec-") as tmp:
        args: list[str] = []
        for k, data in enumerate(datas):
            (Path(tmp) / f"in{k}.mp4").write_bytes(data)
            args += ["-i", str(Path(tmp) / f"in{k}.mp4")]
        for k in range(len(datas)):
            args += ["-map", f"{k}:v:0", "-fps_mode", "passthrough", "-c:v", "ppm", "-f", "image2pipe",
                     str(Path(tmp) / f"out{k}.ppm")]  # fmt: skip
        run_ffmpeg(args, timeout=timeout, what=f"decoding {len(datas)} clips")
        return [_parse_ppm_stream((Path(tmp) / f"out{k}.ppm").read_bytes()) for k in range(len(datas))]


def decode_all_frames(data: bytes, timeout: float = 120) -> np.ndarray:
    """Decode every frame of an mp4 (bytes) to uint8 RGB ``(n, H, W, 3)`` with ffmpeg (for checks)."""
    with tempfile.TemporaryDirectory(prefix="videossr-dec-") as tmp:
        src = Path(tmp) / "in.mp4"
        src.write_bytes(data)
        info = probe(src)
        raw = run_ffmpeg(
            ["-i", str(src), "-f", "rawvideo", "-pix_fmt", "rgb24", "-fps_mode", "passthrough", "pipe:1"],
            timeout=timeout,
            what="decoding a clip",
        )
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, info.height, info.width, 3)
