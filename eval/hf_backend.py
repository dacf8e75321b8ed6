"""The ``transformers`` backend: Qwen2.5-VL, Qwen3-VL and any AutoModelForImageTextToText with a video
processor.

How each model family is told the frame cap and the pixel budget (transformers 5.x video processors):

* Qwen3-VL: ``video_processor.max_frames = frames`` and ``video_processor.max_video_tokens =
  max_pixels / (patch * merge)^2`` on the instance (per-call values are ignored), then
  ``processor_kwargs={"fps": 2, "cap_pixels_per_frame": True}``;
* Qwen2.5-VL: ``processor_kwargs={"fps": 2, "max_frames": frames, "size": {"shortest_edge": 3136,
  "longest_edge": max_pixels}, "cap_pixels_per_frame": False}`` (a per-frame pixel range);
* other models: ``{"fps": 2}`` with ``max_frames`` set on the video processor when it has one.

VIUBench (``sampling="all"``) keeps every frame of each clip: ``do_sample_frames=False`` with the same pixel
limits. Decoding is greedy (``do_sample=False``), ``max_new_tokens`` per benchmark.
"""

from __future__ import annotations

from typing import Any

from .backends import Backend, Settings, content_parts
from .items import Item
from .media import materialize


class TransformersBackend(Backend):
    name = "transformers"
    needs_video = True

    def __init__(
        self,
        model: str,
        revision: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        attn_implementation: str | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.model_id = model
        self.processor = AutoProcessor.from_pretrained(model, revision=revision)
        self.video_processor = getattr(self.processor, "video_processor", None)
        if self.video_processor is None:
            raise ValueError(f"{model}: its processor has no video processor, so it cannot take video input")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        kwargs: dict[str, Any] = {"revision": revision}
        if dtype != "auto":
            kwargs["dtype"] = getattr(torch, dtype)
        else:
            kwargs["dtype"] = "auto"
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        if device != "cpu":
            kwargs["device_map"] = device  # load straight onto the accelerator (no full copy in host memory)
        self.model = AutoModelForImageTextToText.from_pretrained(model, **kwargs)
        if device == "cpu":
            self.model = self.model.to(device)
        self.model.eval()
        self.revision = revision or getattr(self.model.config, "_commit_hash", None)
        vp_name = type(self.video_processor).__name__
        self.family = (
            "qwen3_vl" if "Qwen3VL" in vp_name else "qwen2_vl" if "Qwen2VL" in vp_name else "generic"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "transformers",
            "model": self.model_id,
            "model_revision": self.revision,
            "decoder": "greedy (do_sample=False)",
            "model_family": self.family,
            "video_processor": type(self.video_processor).__name__,
            "dtype": str(self.model.dtype),
        }

    def processor_kwargs(self, settings: Settings) -> dict[str, Any]:
        """The exact video kwargs for one call (also sets the Qwen3-VL instance attributes)."""
        vp = self.video_processor
        sample = {"fps": settings.fps} if settings.sampling == "fps" else {"do_sample_frames": False}
        if self.family == "qwen3_vl":
            patch = int(getattr(vp, "patch_size", 16)) * int(getattr(vp, "merge_size", 2))
            vp.max_frames = settings.frames
            vp.max_video_tokens = max(1, settings.max_pixels // (patch * patch))
            return {**sample, "cap_pixels_per_frame": True}
        if self.family == "qwen2_vl":
            extra = {"max_frames": settings.frames} if settings.sampling == "fps" else {}
            return {
                **sample,
                **extra,
                "size": {"shortest_edge": 3136, "longest_edge": settings.max_pixels},
                "cap_pixels_per_frame": False,
            }
        if hasattr(vp, "max_frames"):
            vp.max_frames = settings.frames
        return sample

    def messages(self, item: Item, settings: Settings) -> list[dict]:
        content = []
        for kind, value in content_parts(item):
            if kind == "video":
                content.append({"type": "video", "path": materialize(value, settings.cache_dir)})
            else:
                content.append({"type": "text", "text": value})
        msgs = []
        if item.system:
            msgs.append({"role": "system", "content": [{"type": "text", "text": item.system}]})
        msgs.append({"role": "user", "content": content})
        return msgs

    def generate(self, item: Item, settings: Settings) -> str:
        import torch

        inputs = self.processor.apply_chat_template(
            self.messages(item, settings),
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            processor_kwargs=self.processor_kwargs(settings),
        ).to(self.model.device)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=settings.max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
            )
        new = out[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new, skip_special_tokens=True)[0].strip()
