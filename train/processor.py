"""What the Qwen-VL processors are told, so that they keep the frames :mod:`videossr.train.clips` prepared.

The frames arrive already sampled (``max_frames`` per clip) and sized (multiples of the model's patch group,
within ``max_pixels``). The processor kwargs stop the processor from sampling again (Qwen3-VL defaults to
fps=2) and give its resize a range that the prepared size already satisfies: per frame for Qwen2.5-VL, over
the whole clip (frames x height x width) for Qwen3-VL, whose ``size`` bounds the clip, not the frame.
"""

from __future__ import annotations

from typing import Any

from .data import VideoOptions

TEMPORAL_PATCH = 2  # frames per temporal patch in every supported family

# Tokens a policy must never emit (a completion holding one breaks the loss forward).
VISION_TOKENS: tuple[str, ...] = (
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def is_qwen3_video(processor) -> bool:
    vp = getattr(processor, "video_processor", None)
    return vp is not None and "Qwen3" in type(vp).__name__


def size_multiple(processor) -> int:
    """Side length of one patch group (``patch_size * merge_size``): 28 for Qwen2.5-VL, 32 for Qwen3-VL."""
    for name in ("video_processor", "image_processor"):
        sub = getattr(processor, name, None)
        if sub is not None and getattr(sub, "patch_size", None):
            return int(sub.patch_size) * int(getattr(sub, "merge_size", 1) or 1)
    return 2


def video_options(processor, *, max_pixels: int, max_frames: int, video_as: str = "video") -> VideoOptions:
    """The :class:`VideoOptions` that size frames for ``processor``'s model."""
    return VideoOptions(
        max_pixels=max_pixels,
        max_frames=max_frames,
        video_as=video_as,
        size_multiple=size_multiple(processor),
    )


def processor_kwargs(processor, options: VideoOptions) -> dict[str, Any]:
    """Processor kwargs that keep every prepared frame at its prepared size (empty in ``frames`` mode)."""
    vp = getattr(processor, "video_processor", None)
    if vp is None or options.video_as == "frames":
        return {}
    group = options.size_multiple**2
    if is_qwen3_video(processor):
        # the budget covers the clip: frames rounded up to whole temporal patches, each within max_pixels
        frames = options.max_frames + options.max_frames % TEMPORAL_PATCH
        size = {"shortest_edge": TEMPORAL_PATCH * group, "longest_edge": frames * options.max_pixels}
    else:
        size = {"shortest_edge": group, "longest_edge": options.max_pixels}
    return {"do_sample_frames": False, "cap_pixels_per_frame": False, "size": size}


def configure_processor(processor, options: VideoOptions) -> None:
    """Instance settings that must hold for every processor call, including TRL's own image-path call in the
    loss (which gets no per-call kwargs): in ``frames`` mode, the image pixel range per frame."""
    ip = getattr(processor, "image_processor", None)
    if options.video_as != "frames" or ip is None:
        return
    group = options.size_multiple**2
    size = dict(getattr(ip, "size", None) or {})
    if "longest_edge" in size:
        size["longest_edge"] = options.max_pixels
        size["shortest_edge"] = group
        ip.size = size
    for attr, value in (("max_pixels", options.max_pixels), ("min_pixels", group)):
        if getattr(ip, attr, None) is not None:
            setattr(ip, attr, value)


def chat_inputs(processor, prompt: list[dict], processor_kw: dict, images=None) -> dict:
    """Processor inputs for one prompt of :mod:`videossr.train.data` (video metadata passed per clip)."""
    metas, messages = [], []
    for message in prompt:
        content = message["content"]
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.get("type") == "video":
                    part = dict(part)
                    metas.append(part.pop("video_metadata", None))
                parts.append(part)
            message = {**message, "content": parts}
        messages.append(message)
    if images:  # fill image placeholders in order across messages
        it = iter(images)
        messages = [
            {
                **m,
                "content": [
                    ({**p, "image": next(it)} if p.get("type") == "image" else p) for p in m["content"]
                ],
            }
            if isinstance(m["content"], list)
            else m
            for m in messages
        ]
    kw = dict(processor_kw)
    if metas and all(m is not None for m in metas):
        kw["video_metadata"] = [metas]
    return processor.apply_chat_template(
        [messages],
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        add_generation_prompt=True,
        processor_kwargs=kw,
    )


def suppress_vision_tokens(tokenizer) -> list[int]:
    """Ids of the vision special tokens (for ``generation_kwargs={"suppress_tokens": ...}``)."""
    ids = []
    for t in VISION_TOKENS:
        i = tokenizer.convert_tokens_to_ids(t)
        if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id:
            ids.append(i)
    return ids
