"""Published clips as model-ready frames: frame selection, the pixel budget, and decoding.

A clip is decoded once per dataset row into a uint8 tensor ``(T, 3, H, W)`` plus the metadata the Qwen
processors need for the clip's own timeline (fps and frame indices). The frame size is chosen here, not by the
processor: both sides are multiples of the model's patch group (``patch_size * merge_size``: 28 for
Qwen2.5-VL, 32 for Qwen3-VL) and ``H * W`` never exceeds ``max_pixels``. The processor is then told to keep
that size (:func:`videossr.train.processor.processor_kwargs`), so one resize happens and the budget holds for
every family, where the processors' own rounding can go above it (a 192x340 frame becomes 192x352 on
Qwen3-VL).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

MAX_ASPECT_RATIO = 200  # the Qwen processors refuse frames more elongated than this


def fit_frame_size(height: int, width: int, max_pixels: int, multiple: int = 2) -> tuple[int, int]:
    """``(h, w)``: multiples of ``multiple`` near ``height x width``, aspect kept, ``h * w <= max_pixels``.

    Rounds each side to the nearest multiple and, when that exceeds the budget, scales down and floors, as
    qwen-vl-utils' ``smart_resize`` does; a side already at one multiple (very elongated frames) makes the
    other side shorter instead. The result is never above ``max_pixels``.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size {height}x{width} is empty")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f"frame size {height}x{width} is more elongated than {MAX_ASPECT_RATIO}:1")
    if max_pixels < multiple * multiple:
        raise ValueError(f"--max-pixels {max_pixels} is below one {multiple}x{multiple} patch group")
    h = max(multiple, round(height / multiple) * multiple)
    w = max(multiple, round(width / multiple) * multiple)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(multiple, math.floor(height / beta / multiple) * multiple)
        w = max(multiple, math.floor(width / beta / multiple) * multiple)
    if (
        h * w > max_pixels
    ):  # one side was clamped up to `multiple` (a very elongated frame): shorten the other
        if h == multiple:
            w = max_pixels // h // multiple * multiple
        else:
            h = max_pixels // w // multiple * multiple
    return h, w


def frame_indices(total: int, max_frames: int) -> list[int]:
    """All frames, or ``max_frames`` evenly spread ones (both ends included) when there are more."""
    if total <= max_frames:
        return list(range(total))
    step = (total - 1) / (max_frames - 1)
    return sorted({round(i * step) for i in range(max_frames)})


def _open_decoder(video: Any):
    """A torchcodec decoder for an undecoded ``{"bytes", "path"}`` dict, a path, bytes or a decoder."""
    from torchcodec.decoders import VideoDecoder

    if isinstance(video, dict):
        source = video.get("bytes") or video.get("path")
        if source is None:
            raise ValueError("the clip has neither bytes nor a path")
        return VideoDecoder(source, seek_mode="exact")
    if isinstance(video, (str, bytes)):
        return VideoDecoder(video, seek_mode="exact")
    return video


def clip_name(video: Any) -> str:
    if isinstance(video, dict) and video.get("path"):
        return str(video["path"])
    return video if isinstance(video, str) else "<bytes>"


def decode_clip(
    video: Any, *, fps: float | None, max_frames: int, max_pixels: int, size_multiple: int = 2
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Decode one clip to ``(frames uint8 (T, 3, H, W), metadata)``; ``ValueError`` says what is wrong.

    ``fps`` is the clip's frame rate from the dataset (the container's average rate when missing); the
    metadata (``fps``, ``total_num_frames``, ``frames_indices``, ``duration``) is what the processor needs to
    place the frames on the clip's timeline. A one-frame clip is repeated to two frames (the models group
    frame pairs).
    """
    decoder = _open_decoder(video)
    meta = decoder.metadata
    total = int(meta.num_frames or 0)
    if total <= 0:
        raise ValueError("the clip has no frames")
    idx = frame_indices(total, max_frames)
    frames = decoder.get_frames_at(indices=idx).data
    clip_fps = float(fps) if fps else float(meta.average_fps or 0.0)
    return model_clip(frames, idx, total, clip_fps, max_pixels=max_pixels, size_multiple=size_multiple)


def frames_clip(
    frames: np.ndarray, *, fps: float, max_frames: int, max_pixels: int, size_multiple: int = 2
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The same as :func:`decode_clip` for a clip given as decoded uint8 frames ``(T, H, W, 3)`` (a stream
    row's): the same frames selected and sized, the same metadata."""
    import torch

    total = int(frames.shape[0]) if frames.ndim == 4 else 0
    if total <= 0 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    idx = frame_indices(total, max_frames)
    picked = torch.from_numpy(np.ascontiguousarray(frames[idx])).permute(0, 3, 1, 2)
    return model_clip(picked, idx, total, fps, max_pixels=max_pixels, size_multiple=size_multiple)


def model_clip(
    frames: torch.Tensor, idx: list[int], total: int, fps: float, *, max_pixels: int, size_multiple: int
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The selected frames ``(T, 3, H, W)`` (clip frames ``idx`` of ``total``) sized for the model, with the
    processor's metadata."""
    import torch

    if fps <= 0:
        raise ValueError("the clip has no frame rate (fps column empty, container says none)")
    if len(idx) == 1:
        frames = frames.repeat(2, 1, 1, 1)
        idx = [idx[0], idx[0]]
    h, w = int(frames.shape[-2]), int(frames.shape[-1])
    th, tw = fit_frame_size(h, w, max_pixels, size_multiple)
    if (th, tw) != (h, w):
        frames = torch.nn.functional.interpolate(
            frames.float(), size=(th, tw), mode="bilinear", antialias=True, align_corners=False
        )
        frames = frames.round().clamp(0, 255).to(torch.uint8)
    metadata = {
        "fps": float(fps),
        "total_num_frames": max(total, len(idx)),
        "frames_indices": list(idx),
        "duration": total / fps,
    }
    return frames, metadata
