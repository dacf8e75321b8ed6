"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, SGLang, hosted APIs).

Standard library only. Videos go either as sampled frames (``video_mode="frames"``, default: fps 2 capped at
``--frames``, each frame <= ``--max-pixels``, JPEG ``image_url`` parts each preceded by a ``<t seconds>`` text
part, so the protocol does not depend on the server) or as the whole mp4 (``video_mode="video_url"``: a
base64 ``video_url`` part, vLLM's video input; the server then samples frames itself).
Greedy: ``temperature=0``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from .backends import Backend, Settings, content_parts
from .items import Item
from .media import decode_frames, jpeg_data_url, materialize, video_data_url


class OpenAIError(RuntimeError):
    pass


class OpenAIBackend(Backend):
    name = "openai"
    needs_video = True

    def __init__(
        self,
        model: str,
        api_base: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        video_mode: str = "frames",
        timeout: float = 600.0,
        retries: int = 3,
    ) -> None:
        if video_mode not in ("frames", "video_url"):
            raise ValueError(f"unknown --openai-video {video_mode!r}; expected frames or video_url")
        self.model = model
        self.url = api_base.rstrip("/") + "/chat/completions"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.video_mode, self.timeout, self.retries = video_mode, timeout, retries

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "model": self.model,
            "model_revision": None,
            "decoder": "greedy (temperature=0)",
            "api_base": self.url.rsplit("/chat/completions", 1)[0],
            "video_mode": self.video_mode,
        }

    def _video_parts(self, path: str, settings: Settings) -> list[dict]:
        if self.video_mode == "video_url":
            return [{"type": "video_url", "video_url": {"url": video_data_url(path)}}]
        frames, times = decode_frames(
            path,
            fps=settings.fps,
            max_frames=settings.frames,
            max_pixels=settings.max_pixels,
            every_frame=settings.sampling == "all",
        )
        parts: list[dict] = []
        for frame, t in zip(frames, times):
            # each frame is preceded by its timestamp (as train/data.py's frames mode), so temporal grounding
            # stays answerable when a video travels as images
            parts.append({"type": "text", "text": f"<{t:.1f} seconds>"})
            parts.append({"type": "image_url", "image_url": {"url": jpeg_data_url(frame)}})
        return parts

    def payload(self, item: Item, settings: Settings) -> dict:
        content: list[dict] = []
        for kind, value in content_parts(item):
            if kind == "video":
                content.extend(self._video_parts(materialize(value, settings.cache_dir), settings))
            else:
                content.append({"type": "text", "text": value})
        messages: list[dict] = []
        if item.system:
            messages.append({"role": "system", "content": item.system})
        messages.append({"role": "user", "content": content})
        return {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": settings.max_new_tokens,
        }

    def _post(self, body: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: Exception | None = None
        for attempt in range(self.retries):
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:200]
                last = OpenAIError(f"HTTP {exc.code} from {self.url}: {detail}")
                if exc.code < 500 and exc.code != 429:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last = OpenAIError(f"cannot reach {self.url}: {getattr(exc, 'reason', exc)}")
            if attempt + 1 < self.retries:
                time.sleep(min(2**attempt, 8) * 0.5)
        raise last or OpenAIError("request failed")

    def generate(self, item: Item, settings: Settings) -> str:
        data = self._post(json.dumps(self.payload(item, settings)).encode("utf-8"))
        try:
            return str(data["choices"][0]["message"]["content"] or "").strip()
        except (KeyError, IndexError, TypeError):
            raise OpenAIError(f"unexpected response: {json.dumps(data)[:200]}") from None
