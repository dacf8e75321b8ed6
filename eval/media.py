"""Video inputs for the backends: a file path per video, and (for the OpenAI backend) sampled frames.

A reference with bounds or to a folder of frames (MVBench's ``main`` layout) becomes a clip file in the cache
first (:mod:`.clips`), so every backend sees exactly the cut the benchmark asks about.

Sampling follows the paper's protocol and qwen-vl-utils: ``n = int(duration * fps)`` frames at fps 2, clamped
to ``[min(4, total), min(max_frames, total)]``, at ``linspace(0, total - 1, n).round()`` (both ends
included); each frame is downscaled (aspect kept) to at most ``max_pixels``.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np

from .clips import ClipError, cut_video, frames_to_video
from .items import VideoRef, spill


class VideoError(RuntimeError):
    """A video cannot be read (the reason is recorded on the item, which then scores 0)."""


def materialize(ref: VideoRef, cache_dir: str | os.PathLike) -> str:
    """A file path for the video: its own path, its embedded bytes written once under ``cache_dir``, or the
    cut / frame-folder clip it names, made once under ``cache_dir/clips``."""
    try:
        if ref.path is not None and (ref.frame_fps is not None or ref.start is not None):
            target = Path(cache_dir) / "clips" / f"{ref.digest()}.mp4"
            if target.is_file():
                return str(target)
            if ref.frame_fps is not None:
                return frames_to_video(ref.path, ref.frame_fps, ref.start, ref.end, target)
            return cut_video(ref.path, float(ref.start or 0.0), float(ref.end or 0.0), target)
        return spill(ref, cache_dir)
    except (ValueError, ClipError, OSError) as exc:
        raise VideoError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def sample_indices(
    total: int, avg_fps: float, fps: float = 2.0, max_frames: int = 32, min_frames: int = 4
) -> list[int]:
    """Frame indices for fps sampling capped at ``max_frames`` (both ends included)."""
    if total <= 0:
        raise VideoError("the video has no frames")
    duration = total / avg_fps if avg_fps > 0 else total / 24.0
    n = int(duration * fps)
    n = max(min(min_frames, total), min(n, max_frames, total))
    return [int(v) for v in np.linspace(0, total - 1, n).round()]


def fit_pixels(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest size with the same aspect and at most ``max_pixels`` pixels (never upscaled)."""
    if width * height <= max_pixels:
        return width, height
    scale = (max_pixels / (width * height)) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


def decode_frames(
    path: str,
    *,
    fps: float = 2.0,
    max_frames: int = 32,
    max_pixels: int = 512 * 512,
    every_frame: bool = False,
) -> tuple[list, list[float]]:
    """PIL frames and their timestamps (seconds) sampled from ``path``."""
    from PIL import Image

    try:
        from torchcodec.decoders import VideoDecoder

        decoder = VideoDecoder(path, seek_mode="exact")
        meta = decoder.metadata
        total = int(meta.num_frames or 0)
        avg_fps = float(meta.average_fps or 0.0)
        indices = list(range(total)) if every_frame else sample_indices(total, avg_fps, fps, max_frames)
        batch = decoder.get_frames_at(indices=indices)
        data = batch.data.permute(0, 2, 3, 1).cpu().numpy()
        times = [float(t) for t in batch.pts_seconds]
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(
            f"cannot decode {Path(path).name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    frames = []
    for arr in data:
        img = Image.fromarray(arr)
        size = fit_pixels(img.width, img.height, max_pixels)
        if size != img.size:
            img = img.resize(size, Image.Resampling.BICUBIC)
        frames.append(img)
    return frames, times


def jpeg_data_url(image, quality: int = 90) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def video_data_url(path: str) -> str:
    return "data:video/mp4;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
