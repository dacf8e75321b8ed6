"""The one frame sampler: decord in a guarded child process, exactly the frames a plan asks for.

decord can hang or leak on malformed files (NOTES-ecosystem E), so it never runs in the builder's own
process: a long-lived child (one per builder worker) serves decode requests over pipes. A request that
takes longer than its timeout, or a child that dies, is reported as a :class:`DecodeError` and the child
is restarted; the build goes on. The child is also recycled every ``RECYCLE_AFTER`` requests to bound leaks.

Frames come out upright (decord applies the rotation metadata; checked against ffmpeg's autorotate in the
tests), downscaled with the aspect kept to even sizes of at
most ``max_pixels`` pixels.
"""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
import time
from typing import Any

import numpy as np

RECYCLE_AFTER = 200
DEFAULT_TIMEOUT = 120.0


class DecodeError(RuntimeError):
    """Decoding failed or timed out; the message is safe to publish (no paths)."""


def fit_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """Largest even ``(w, h)`` with the source's aspect ratio and ``w * h <= max_pixels`` (never upscaled)."""
    if width < 2 or height < 2:
        raise ValueError(f"frame size {width}x{height} is too small")
    scale = min(1.0, math.sqrt(max_pixels / float(width * height)))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    while w * h > max_pixels and (w > 2 or h > 2):  # rounding guard
        if w >= h:
            w -= 2
        else:
            h -= 2
    return w, h


# ---------------------------------------------------------------------------------------------------------
# Child side


def _resize_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image

    if frames.shape[1:3] == (height, width):
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BILINEAR)) for f in frames])


def _decode(req: dict[str, Any], cache: dict[str, Any]) -> tuple[np.ndarray, list[float]]:
    import decord

    rotation = int(req.get("rotation", 0)) % 360
    out_w, out_h = int(req["width"]), int(req["height"])
    # decord applies rotation metadata itself, but its scaler mishandles rotated streams (wrong channel
    # count), so rotated videos are decoded at full size and resized here; others are scaled by decord.
    size = {} if rotation else {"width": out_w, "height": out_h}
    key = (req["path"], out_w, out_h, rotation)
    if cache.get("key") != key:
        cache.clear()
        cache["reader"] = decord.VideoReader(req["path"], ctx=decord.cpu(0), num_threads=1, **size)
        cache["key"] = key
    reader = cache["reader"]
    n = len(reader)
    if n <= 0:
        raise RuntimeError("the decoder found no frames")
    indices = np.asarray(req["indices"], dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise RuntimeError(f"asked for frame {int(indices.max())} but the decoder has only {n} frames")
    # Decode each distinct index once, in increasing order (decord seeks forward efficiently).
    unique, inverse = np.unique(indices, return_inverse=True)
    frames = reader.get_batch(unique.tolist()).asnumpy()[inverse]
    # Presentation times (seconds) of the decoded frames: exact even for variable-frame-rate sources.
    pts = np.asarray(reader.get_frame_timestamp(unique.tolist()), dtype=np.float64).reshape(-1, 2)[:, 0][
        inverse
    ]
    reader.seek(0)  # releases decoder buffers (decord issue 197)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise RuntimeError(f"the decoder returned frames of shape {frames.shape}, not RGB")
    if rotation in (90, 270) and (frames.shape[1] > frames.shape[2]) != (out_h > out_w):
        raise RuntimeError(f"the decoder did not apply the {rotation} degree rotation metadata")
    if not size:
        frames = _resize_frames(np.ascontiguousarray(frames), out_w, out_h)
    return np.ascontiguousarray(frames, dtype=np.uint8), [float(t) for t in pts]


def _count(req: dict[str, Any], cache: dict[str, Any]) -> int:
    import decord

    cache.clear()
    return len(decord.VideoReader(req["path"], ctx=decord.cpu(0), num_threads=1))


def serve() -> None:
    """Child main loop: one JSON request per line on stdin; a JSON header line then raw bytes on stdout."""
    out = sys.stdout.buffer
    cache: dict[str, Any] = {}
    for line in sys.stdin.buffer:
        req = json.loads(line)
        try:
            if req.get("op") == "count":
                header: dict[str, Any] = {"ok": True, "count": _count(req, cache)}
                payload = b""
            else:
                frames, pts = _decode(req, cache)
                header = {"ok": True, "shape": list(frames.shape), "pts": pts}
                payload = frames.tobytes()
        except Exception as exc:  # report, never die: the parent decides what to do
            cache.clear()
            header, payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, b""
        out.write(json.dumps(header).encode() + b"\n")
        out.write(payload)
        out.flush()


# ---------------------------------------------------------------------------------------------------------
# Parent side


class FrameSampler:
    """Client of one decode child. Not thread-safe; each builder worker process holds its own."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.served = 0
        self.last_pts: np.ndarray | None = None  # presentation times of the last frames_at call

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        return subprocess.Popen(
            [sys.executable, "-c", "from videossr.build.frames import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except Exception:
                pass
            self.proc = None

    def __del__(self) -> None:
        self.close()

    def _read_exact(self, n: int, deadline: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
            block = os.read(fd, min(n - got, 1 << 22))
            if not block:
                raise EOFError
            chunks.append(block)
            got += len(block)
        return b"".join(chunks)

    def _read_line(self, deadline: float) -> bytes:
        buf = bytearray()
        while not buf.endswith(b"\n"):
            buf += self._read_exact(1, deadline)
        return bytes(buf)

    def _request(self, req: dict[str, Any], timeout: float | None) -> tuple[dict[str, Any], bytes]:
        if self.proc is None or self.proc.poll() is not None or self.served >= RECYCLE_AFTER:
            self.close()
            self.proc = self._start()
            self.served = 0
        assert self.proc.stdin is not None
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            self.proc.stdin.write(json.dumps(req).encode() + b"\n")
            self.proc.stdin.flush()
            header = json.loads(self._read_line(deadline))
            payload = b""
            if header.get("ok") and "shape" in header:
                payload = self._read_exact(int(np.prod(header["shape"])), deadline)
        except TimeoutError:
            self.close()
            raise DecodeError(f"decoder timed out after {timeout or self.timeout:.0f}s") from None
        except (EOFError, BrokenPipeError, ValueError):
            code = self.proc.poll() if self.proc else None
            self.close()
            raise DecodeError(f"decoder crashed (exit {code})") from None
        self.served += 1
        if not header.get("ok"):
            raise DecodeError(
                _scrub_paths(str(header.get("error", "unknown decode error")), req.get("path", ""))
            )
        return header, payload

    def count_frames(self, path: str, timeout: float | None = None) -> int:
        """The number of frames the decoder can actually deliver (containers often over-report)."""
        header, _ = self._request({"op": "count", "path": str(path)}, timeout)
        return int(header["count"])

    def frames_at(
        self,
        path: str,
        indices: np.ndarray,
        width: int,
        height: int,
        rotation: int = 0,
        timeout: float | None = None,
    ) -> np.ndarray:
        """Decode source frames ``indices`` as uint8 ``(n, height, width, 3)``, upright."""
        req = {
            "op": "decode",
            "path": str(path),
            "indices": [int(i) for i in indices],
            "width": int(width),
            "height": int(height),
            "rotation": int(rotation),
        }
        header, payload = self._request(req, timeout)
        frames = np.frombuffer(payload, dtype=np.uint8).reshape(header["shape"])
        self.last_pts = np.asarray(header.get("pts", []), dtype=np.float64)
        if frames.shape[1:3] != (height, width):
            raise DecodeError(
                f"decoder delivered {frames.shape[2]}x{frames.shape[1]} frames, not {width}x{height}"
            )
        return frames


def _scrub_paths(message: str, path: str) -> str:
    """Decoder errors go into manifests: drop paths and the decoder's wall-clock stamps ([21:24:29])."""
    import re

    if path:
        message = message.replace(path, "<source>")
    message = re.sub(r"\[\d{1,2}:\d{2}:\d{2}\]\s*", "", message)
    return re.sub(r"(/[^\s:'\"]+)+", "<path>", message)


_SAMPLER: FrameSampler | None = None


def worker_sampler(timeout: float = DEFAULT_TIMEOUT) -> FrameSampler:
    """The decode child of this process (created on first use)."""
    global _SAMPLER
    if _SAMPLER is None:
        _SAMPLER = FrameSampler(timeout)
    _SAMPLER.timeout = timeout
    return _SAMPLER
