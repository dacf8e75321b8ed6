"""The one ffmpeg wrapper: find the binaries, probe a file, encode frames to an H.264 mp4.

ffmpeg/ffprobe calls are argv lists (no shell), ``-nostdin``, with a timeout. Clips are encoded in-process
with PyAV's libx264 (no ffmpeg start-up per clip, no temporary image files), one thread because the builder
runs one process per core. Output is bit-exact for the same frames, fps and PyAV build (bit-exact colour
conversion and muxing, no metadata).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

# x264's own default CRF: the clips stay close to the sampled frames.
DEFAULT_CRF = 23
# The highest CRF a build accepts: up to it, every built-in pixel perturbation keeps about as much of its
# pixel change after encoding as at the default CRF, so an anomaly stays as visible as the build's own check
# saw it (tests/test_build_perf.py holds every perturbation to that at this CRF).
MAX_CRF = 28
DEFAULT_PRESET = "veryfast"
# A clip's frames are about a second apart, and every training epoch decodes every clip again, so x264 is set
# for such clips and for decoding speed over the last bytes: no B-frames (cheaper to encode); diamond motion
# search and no scene-cut detection (motion search finds little between frames a second apart, and cuts are
# everywhere); no deblocking and CAVLC instead of CABAC (faster to decode); 4x4 transforms only and no
# weighted prediction (no fades between such frames). The clips are then Constrained Baseline, a profile
# every H.264 decoder plays (browsers, phones, hardware decoders).
# Rate control sees every clip at 1 fps (force-cfr, fps=1; the container keeps the clip's real timing):
# x264's CRF lowers the quality as frames get shorter, which would give a short video's clips (frames closer
# together) a lower quality than a long one's. A model sees every frame, so every clip gets the quality x264
# gives frames a second or more apart, whatever its length.
X264_PARAMS = (
    "threads=1:lookahead-threads=1:bframes=0:me=dia:scenecut=0:no-deblock=1:cabac=0:8x8dct=0:weightp=0"
    ":force-cfr=1:fps=1"
)


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
    """Container-level facts of a video stream (the decoder's own frame count is checked separately)."""

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
    """Probe the first video stream of ``path`` with the system's ffprobe (an independent reader for checks
    and tests; sources and published clips are probed by the build's decoder, see ``frames.FrameSampler``)."""
    entries = (
        "stream=codec_name,width,height,avg_frame_rate,r_frame_rate,nb_frames,duration,pix_fmt"
        ":stream_side_data=rotation:stream_tags=rotate:format=duration"
    )
    cmd = [ffprobe_exe(), "-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of", "json"]
    cmd.append(os.path.abspath(path))  # absolute: a name starting with '-' is not an option
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


def _check_clip(frames: np.ndarray, crf: int) -> np.ndarray:
    frames = np.ascontiguousarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(
            f"clips must be non-empty uint8 (n, H, W, 3) frames, got {frames.dtype} {frames.shape}"
        )
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    if not 0 <= crf <= MAX_CRF:
        raise ValueError(f"crf must be in 0..{MAX_CRF} so that perturbations stay visible, got {crf}")
    return frames


@cache
def x264_params() -> str:
    """``X264_PARAMS`` for this machine. On CPUs with AVX-512, x264 is held to its AVX2 code: its AVX-512
    code (in PyAV's bundled libx264) does not always give the same bytes for the same frames, and clips
    must be reproducible. Every AVX-512 CPU has all that x264's ``AVX2`` level uses (AVX2, FMA3, BMI1/2,
    LZCNT)."""
    import platform

    if platform.machine().lower() in ("x86_64", "amd64"):
        try:
            flags = Path("/proc/cpuinfo").read_text().split()
        except OSError:
            flags = []
        if "avx512f" in flags:
            return X264_PARAMS + ":asm=AVX2"
    return X264_PARAMS


def encoder_version() -> str:
    """The libav/x264 the clips are encoded with (PyAV's bundled FFmpeg; recorded in build manifests)."""
    import av

    libs = ", ".join(f"{k} {'.'.join(map(str, v))}" for k, v in sorted(av.library_versions.items()))
    return f"PyAV {av.__version__} ({libs}); x264 {x264_params()}"


def encode_clip(
    frames: np.ndarray,
    fps: float,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    timeout: float = 300,
) -> bytes:
    """Encode uint8 RGB frames ``(n, H, W, 3)`` (H, W even) to H.264 yuv420p mp4 bytes with exactly n frames.

    Each frame is one output frame at a constant ``fps``; the first frame has timestamp 0. Encoded in this
    process with PyAV's libx264 (an ffmpeg process costs more CPU to start than a 48-frame clip costs to
    encode), one thread, BT.709 limited range converted bit-exactly and tagged as such, ``+faststart``.
    ``timeout`` is kept for API compatibility; nothing here can hang on our own frames.
    """
    from fractions import Fraction

    import av
    from av.video.reformatter import ColorRange, Colorspace, Interpolation, VideoReformatter

    del timeout
    frames = _check_clip(frames, crf)
    h, w = frames.shape[1:3]
    rate = Fraction(fps_fraction(fps))
    convert = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT
    with tempfile.TemporaryDirectory(prefix="videossr-enc-") as tmp:
        out = Path(tmp) / "clip.mp4"
        with av.open(
            str(out), "w", format="mp4", container_options={"movflags": "+faststart", "fflags": "+bitexact"}
        ) as container:
            stream = container.add_stream("libx264", rate=rate)
            ctx = stream.codec_context
            ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
            ctx.time_base = 1 / rate
            ctx.thread_count = 1
            ctx.color_range, ctx.colorspace, ctx.color_primaries, ctx.color_trc = 1, 1, 1, 1  # tv, bt709
            ctx.options = {
                "preset": preset,
                "crf": str(crf),
                "x264-params": x264_params(),
                "flags": "+bitexact",
            }
            reformatter = VideoReformatter()  # one conversion context for the clip's frames
            for i, rgb in enumerate(frames):
                frame = reformatter.reformat(
                    av.VideoFrame.from_ndarray(rgb, format="rgb24"),
                    format="yuv420p",
                    dst_colorspace=Colorspace.ITU709,
                    dst_color_range=ColorRange.MPEG,
                    interpolation=convert,
                    threads=1,
                )
                frame.pts, frame.time_base = i, ctx.time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        data = out.read_bytes()
    return data


def encode_clips(
    clips: list[tuple[np.ndarray, float]],
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
    timeout: float = 600,
) -> list[bytes]:
    """Encode several clips ``(frames, fps)``: the same bytes as :func:`encode_clip` on each (validated
    first, so a bad clip fails the batch before any work)."""
    for frames, _ in clips:
        _check_clip(frames, crf)
    return [encode_clip(f, fps, crf=crf, preset=preset, timeout=timeout) for f, fps in clips]


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
    (no probe: each frame carries its size). For the preview sheet."""
    if not datas:
        return []
    with tempfile.TemporaryDirectory(prefix="videossr-dec-") as tmp:
        args: list[str] = []
        for k, data in enumerate(datas):
            (Path(tmp) / f"in{k}.mp4").write_bytes(data)
            args += ["-i", str(Path(tmp) / f"in{k}.mp4")]
        for k in range(len(datas)):
            out = str(Path(tmp) / f"out{k}.ppm")
            args += ["-map", f"{k}:v:0", "-fps_mode", "passthrough", "-c:v", "ppm", "-f", "image2pipe", out]
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


def decode_clip_in_memory(data: bytes, pick: Callable[[int], list[int]] | None = None) -> np.ndarray:
    """The frames of an mp4 (bytes) as uint8 RGB ``(n, H, W, 3)``, decoded in this process with PyAV (for
    clips this tool encoded: the preview's). ``pick``: which frame positions, given the clip's frame count
    (default: every frame); only those are converted to RGB."""
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        stream.codec_context.thread_count = 1
        frames = list(container.decode(stream))  # as decoded (YUV): small, and converted only if picked
    picked = range(len(frames)) if pick is None else pick(len(frames))
    return np.stack([frames[k].to_ndarray(format="rgb24") for k in picked])
