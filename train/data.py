"""The published dataset as GRPO prompts: one video block per clip, frames decoded from the embedded mp4s.

A row of the published schema (``videossr.build.schema``: id, task, system, question, answer, videos, fps, ...)
becomes a conversational prompt::

    [{"role": "system", "content": [{"type": "text", "text": row["system"]}]},
     {"role": "user", "content": [{"type": "text", "text": "Clip 1: "}, {"type": "video", ...}, ...]}]

where each ``<video>`` marker of the question is replaced by the next clip. A video block carries the decoded
frames (uint8 tensor ``(T, 3, H, W)``) and ``video_metadata`` (the clip's fps and frame indices), which
:class:`~videossr.train.trainer.VideoGRPOTrainer` hands to the processor so that Qwen3-VL timestamps and
Qwen2.5-VL ``second_per_grid_ts`` are those of the clip. With ``video_as="frames"`` the frames go instead into
an ``images`` column (what plain TRL supports), each preceded by its ``<t seconds>`` text.

Decoding happens lazily (``Dataset.with_transform``), per batch, so nothing large is stored in Arrow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

VIDEO_MARKER = "<video>"
REQUIRED_COLUMNS: tuple[str, ...] = ("task", "question", "answer", "videos")
VIDEO_AS = ("video", "frames")


class DataError(ValueError):
    """A dataset problem the user must fix; the message says which row, which file and what to do."""


@dataclass(frozen=True)
class VideoOptions:
    """How clips become model inputs. ``max_pixels`` is per frame; ``max_frames`` per clip."""

    max_pixels: int = 256 * 256
    max_frames: int = 48
    video_as: str = "video"
    default_system: str | None = None

    def __post_init__(self) -> None:
        if self.max_pixels < 28 * 28:
            raise ValueError(f"--max-pixels must be at least 784 (28x28), got {self.max_pixels}")
        if self.max_frames < 2:
            raise ValueError(
                f"--max-frames must be at least 2 (models group frames in pairs), got {self.max_frames}"
            )
        if self.video_as not in VIDEO_AS:
            raise ValueError(f"--video-as must be one of {', '.join(VIDEO_AS)}, got {self.video_as!r}")


def parse_pixels(text: str | int) -> int:
    """``65536``, ``256x256`` or ``256*256`` -> pixels per frame."""
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(?:[x*]\s*(\d+))?\s*", str(text))
        if not m:
            raise ValueError(f"--max-pixels expects an integer or WxH such as 256x256, got {text!r}")
        value = int(m.group(1)) * (int(m.group(2)) if m.group(2) else 1)
    if value < 28 * 28:
        raise ValueError(f"--max-pixels must be at least 784 (28x28), got {text!r}")
    return value


# ---------------------------------------------------------------------------------------------------- loading


def load_train_dataset(name_or_path: str, *, split: str = "train", config: str | None = None):
    """``load_dataset`` of a Hub id or a local folder written by build/, with the clips left undecoded."""
    import datasets

    try:
        ds = datasets.load_dataset(name_or_path, config, split=split)
    except FileNotFoundError as exc:
        raise DataError(
            f"dataset {name_or_path!r} not found ({exc}); pass a local folder written by `make demo` / "
            "`python build/run.py`, or a Hub dataset id (needs network unless cached)"
        ) from None
    except ValueError as exc:
        raise DataError(
            f"cannot load dataset {name_or_path!r} (config {config!r}, split {split!r}): {exc}"
        ) from None
    return check_dataset(ds, name=name_or_path)


def check_dataset(ds, *, name: str = "dataset"):
    """Check columns and every answer up front; cast ``videos`` to undecoded bytes. Returns the dataset."""
    import datasets
    from videossr.tasks.rewards import reward

    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {', '.join(missing)} (has {', '.join(ds.column_names)}); "
            "the dataset must follow the published VideoSSR schema (videossr.build.schema) - rebuild it with "
            "`python build/run.py` or add the columns"
        )
    feat = ds.features["videos"]
    inner = getattr(feat, "feature", None)
    if isinstance(inner, datasets.Video):
        ds = ds.cast_column("videos", datasets.List(datasets.Video(decode=False)))
    small = ds.select_columns(
        [c for c in ("id", "task", "answer", "question", "num_frames") if c in ds.column_names]
    )
    for i, row in enumerate(small):
        rid = row.get("id", i)
        try:
            reward(row["task"], row["answer"], row["answer"])
        except ValueError as exc:
            raise DataError(
                f"{name}: row {i} (id {rid}): {exc}; fix or drop this row (e.g. ds.filter) and rebuild"
            ) from None
    return ds


# ---------------------------------------------------------------------------------------------------- decoding


def target_size(height: int, width: int, max_pixels: int) -> tuple[int, int]:
    """Largest even (h, w) with the same aspect ratio and h*w <= max_pixels (unchanged if already small)."""
    if height * width <= max_pixels:
        return height, width
    scale = math.sqrt(max_pixels / (height * width))
    h = max(2, int(height * scale) // 2 * 2)
    w = max(2, int(width * scale) // 2 * 2)
    return h, w


def frame_indices(total: int, max_frames: int) -> list[int]:
    """All frames, or ``max_frames`` evenly spread ones (both ends included) when there are more."""
    if total <= max_frames:
        return list(range(total))
    step = (total - 1) / (max_frames - 1)
    return sorted({round(i * step) for i in range(max_frames)})


def decode_clip(
    video: Any,
    *,
    fps: float | None,
    options: VideoOptions,
    where: str,
):
    """Decode one published clip to ``(frames uint8 (T,3,H,W), metadata)``.

    ``video`` is the undecoded ``{"bytes", "path"}`` dict (or a path, or a torchcodec decoder). ``where`` names
    the row and clip for error messages.
    """
    import torch
    from torchcodec.decoders import VideoDecoder

    name = None
    try:
        if isinstance(video, dict):
            name = video.get("path")
            source = video.get("bytes") or video.get("path")
            if source is None:
                raise ValueError("the clip has neither bytes nor a path")
            decoder = VideoDecoder(source, seek_mode="exact")
        elif isinstance(video, (str, bytes)):
            name = video if isinstance(video, str) else None
            decoder = VideoDecoder(video, seek_mode="exact")
        else:
            decoder = video
        meta = decoder.metadata
        total = int(meta.num_frames or 0)
        if total <= 0:
            raise ValueError("the clip has no frames")
        idx = frame_indices(total, options.max_frames)
        frames = decoder.get_frames_at(indices=idx).data  # (T, 3, H, W) uint8
        clip_fps = float(fps) if fps else float(meta.average_fps or 0.0)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"{where}: cannot decode clip {name or '<bytes>'}: {type(exc).__name__}: {exc}; "
            "the mp4 is missing or corrupt - rebuild the dataset (python build/run.py) or drop this row"
        ) from None
    if not clip_fps or clip_fps <= 0:
        raise DataError(f"{where}: clip {name} has no frame rate (fps column empty, container says none)")
    if len(idx) == 1:  # models group frames in pairs; a 1-frame clip would break Qwen3-VL
        frames = frames.repeat(2, 1, 1, 1)
        idx = [idx[0], idx[0]]
    h, w = int(frames.shape[-2]), int(frames.shape[-1])
    th, tw = target_size(h, w, options.max_pixels)
    if (th, tw) != (h, w):
        frames = torch.nn.functional.interpolate(
            frames.float(), size=(th, tw), mode="bilinear", antialias=True, align_corners=False
        )
        frames = frames.round().clamp(0, 255).to(torch.uint8)
    metadata = {
        "fps": clip_fps,
        "total_num_frames": max(total, len(idx)),
        "frames_indices": list(idx),
        "duration": total / clip_fps,
    }
    return frames, metadata


# ---------------------------------------------------------------------------------------------------- prompts


def split_question(question: str, num_clips: int, where: str) -> list[str]:
    """Text around the ``<video>`` markers: ``num_clips + 1`` pieces. A question without markers gets the clips
    first (the single-video convention)."""
    parts = question.split(VIDEO_MARKER)
    if len(parts) == 1:
        return ["" for _ in range(num_clips)] + [question]
    if len(parts) - 1 != num_clips:
        raise DataError(
            f"{where}: the question has {len(parts) - 1} {VIDEO_MARKER} marker(s) but the row has {num_clips} "
            "clip(s); each clip needs exactly one marker - fix the question or the videos column"
        )
    return parts


def build_prompt(row: dict, clips: Sequence[tuple[Any, dict]], options: VideoOptions, where: str):
    """Conversational prompt (and, for ``video_as="frames"``, the images list) for one row."""
    from PIL import Image

    parts = split_question(row["question"], len(clips), where)
    content: list[dict] = []
    images: list = []

    def text(t: str) -> None:
        if t:
            content.append({"type": "text", "text": t})

    for k, (frames, meta) in enumerate(clips):
        text(parts[k])
        if options.video_as == "video":
            content.append({"type": "video", "video": frames, "video_metadata": meta})
        else:
            for j, fi in enumerate(meta["frames_indices"]):
                text(f"<{fi / meta['fps']:.1f} seconds>")
                content.append({"type": "image"})
                images.append(Image.fromarray(frames[j].permute(1, 2, 0).numpy()))
    text(parts[-1])
    messages = []
    system = row.get("system") or options.default_system
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": content})
    return messages, images


def make_transform(options: VideoOptions, *, keep: Sequence[str] = ("id", "task", "subtype", "answer")):
    """A ``Dataset.with_transform`` function: decode the clips of each row of the batch and build its prompt.

    Rows repeated in one batch (TRL repeats each prompt ``num_generations`` times) are decoded once.
    """

    def transform(batch: dict[str, list]) -> dict[str, list]:
        n = len(batch["question"])
        out: dict[str, list] = {"prompt": []}
        if options.video_as == "frames":
            out["images"] = []
        for col in keep:
            if col in batch:
                out[col] = list(batch[col])
        cache: dict[Any, tuple] = {}
        for i in range(n):
            row = {k: v[i] for k, v in batch.items()}
            rid = row.get("id") or f"#{i}"
            key = (rid, row["question"])
            if key not in cache:
                videos = row["videos"] or []
                if not videos:
                    raise DataError(
                        f"row id {rid}: the videos column is empty; every row needs at least one clip"
                    )
                fps_list = row.get("fps") or [None] * len(videos)
                clips = [
                    decode_clip(v, fps=f, options=options, where=f"row id {rid}, clip {k}")
                    for k, (v, f) in enumerate(zip(videos, fps_list))
                ]
                cache[key] = build_prompt(row, clips, options, where=f"row id {rid}")
            prompt, images = cache[key]
            out["prompt"].append(prompt)
            if options.video_as == "frames":
                out["images"].append(images)
        return out

    return transform


def prepare_dataset(ds, options: VideoOptions):
    """The checked dataset with lazy prompt building (columns: prompt, id, task, subtype, answer[, images])."""
    return ds.with_transform(make_transform(options))


# ---------------------------------------------------------------------------------------------------- processor


def is_qwen3_video(processor) -> bool:
    vp = getattr(processor, "video_processor", None)
    return vp is not None and "Qwen3" in type(vp).__name__


def processor_kwargs(processor, options: VideoOptions) -> dict[str, Any]:
    """Processor kwargs that keep every decoded frame and cap the pixels per frame (NOTES-qwen-video 1-2).

    The frames are already downscaled to ``max_pixels`` and sampled to ``max_frames`` by :func:`decode_clip`; these
    kwargs stop the processor from resampling (Qwen3-VL defaults to fps=2 sampling) and keep its resize within the
    same budget (Qwen2.5-VL: per frame; Qwen3-VL: over the whole clip, t*h*w).
    """
    kwargs: dict[str, Any] = {"do_sample_frames": False, "cap_pixels_per_frame": False}
    vp = getattr(processor, "video_processor", None)
    if vp is None:
        return {}
    shortest = (getattr(vp, "size", None) or {}).get("shortest_edge") or 3136
    if is_qwen3_video(processor):
        longest = options.max_frames * options.max_pixels * 2  # budget over the clip; frames already capped
    else:
        longest = options.max_pixels
    kwargs["size"] = {"shortest_edge": min(shortest, longest), "longest_edge": longest}
    if options.video_as == "frames":
        return {}
    return kwargs


def configure_processor(processor, options: VideoOptions) -> None:
    """Instance settings that must hold for every processor call, including TRL's own image-path call in the loss
    (which gets no per-call kwargs): in ``frames`` mode, the image pixel range per frame."""
    ip = getattr(processor, "image_processor", None)
    if options.video_as != "frames" or ip is None:
        return
    size = dict(getattr(ip, "size", None) or {})
    if "longest_edge" in size:
        size["longest_edge"] = options.max_pixels
        size["shortest_edge"] = min(size.get("shortest_edge") or 3136, options.max_pixels)
        ip.size = size
    for attr, value in (("max_pixels", options.max_pixels), ("min_pixels", size.get("shortest_edge"))):
        if value and getattr(ip, attr, None) is not None:
            setattr(ip, attr, value)
