"""The one frame sampler: a client of the guarded decode child (:mod:`.decode_child`), which decodes exactly
the frames a plan asks for.

Decoders can hang or leak on malformed files, so decoding never runs in the builder's own process: a
long-lived child (one per builder worker) serves decode requests over pipes. A request that takes longer
than its timeout, or a child that dies, is reported as a :class:`DecodeError` and the child is restarted;
the build goes on. The child is also recycled every ``RECYCLE_AFTER`` requests to bound leaks. It parses
untrusted media, so it runs without the credentials in the builder's environment (:func:`decoder_env`).

Frames come out upright (turned by the rotation metadata; checked against ffmpeg's autorotate in the
tests), downscaled with the aspect kept to even sizes of at most ``max_pixels`` pixels (:func:`fit_size`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import select
import subprocess
import sys
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .remote import RemoteError, is_url, local_source
from .render import ProbeResult

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


@dataclass(frozen=True)
class DecodedFrames:
    """Frames as uint8 ``(n, height, width, 3)`` and each one's presentation time in seconds from the
    source's first frame (the decoder's timestamps: they differ from ``index / fps`` for variable rates)."""

    frames: np.ndarray
    pts: np.ndarray


# ---------------------------------------------------------------------------------------------------------
# Parent side


# Environment variables a process that parses untrusted media does not get: Hub, API and cloud credentials,
# and the SSH agent.
SECRET_NAME = re.compile(
    r"TOKEN|API_?KEY|SECRET|PASSW|CREDENTIAL|ACCESS_KEY|KEY_ID|PRIVATE_KEY|AUTH|_KEY$", re.I
)


def decoder_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables whose names say they hold a credential (``HF_TOKEN``,
    ``OPENAI_API_KEY``, ``AWS_SECRET_ACCESS_KEY``, ``SSH_AUTH_SOCK``...)."""
    return {k: v for k, v in environ.items() if not SECRET_NAME.search(k)}


class FrameSampler:
    """Client of one decode child. Not thread-safe; each builder worker process holds its own."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.served = 0
        self.pending = bytearray()  # what the child sent and no reply has taken yet

    def _start(self) -> subprocess.Popen:
        env = dict(decoder_env(os.environ), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from videossr.build.decode_child import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _WITH_CHILD.add(self)
        return proc

    def close(self) -> None:
        if self.proc is not None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except Exception:
                pass
            self.proc = None
        self.pending.clear()

    def disown(self) -> None:
        """In a forked copy of the process that started the child: close this copy's ends of its pipes and
        forget it, without signalling it (it is the parent's; the parent's ends stay open)."""
        if self.proc is not None:
            for pipe in (self.proc.stdin, self.proc.stdout):  # stdin is flushed after every request
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            self.proc = None
        self.pending.clear()

    def __del__(self) -> None:
        self.close()

    def _readable(self, deadline: float) -> int:
        """The child's output, once it has bytes to read (raises TimeoutError at ``deadline``)."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        return fd

    def _fill(self, deadline: float) -> None:
        """Add the child's next bytes to the buffer (raises EOFError when it is gone)."""
        block = os.read(self._readable(deadline), 1 << 16)
        if not block:
            raise EOFError
        self.pending += block

    def _read_exact(self, n: int, deadline: float) -> bytearray:
        """The child's next ``n`` bytes, read straight into the buffer returned."""
        out = bytearray(n)
        got = min(n, len(self.pending))
        out[:got] = self.pending[:got]
        del self.pending[:got]
        view = memoryview(out)
        while got < n:
            read = os.readv(self._readable(deadline), [view[got:]])
            if not read:
                raise EOFError
            got += read
        return out

    def _read_line(self, deadline: float) -> bytes:
        while (end := self.pending.find(b"\n")) < 0:
            self._fill(deadline)
        line = bytes(self.pending[: end + 1])
        del self.pending[: end + 1]
        return line

    def _request(self, req: dict[str, Any], timeout: float | None) -> tuple[dict[str, Any], bytearray]:
        """One request to the child; a URL source is given to it as this process's local copy (the child
        reads local files only, and has no credentials to fetch one)."""
        if is_url(req["path"]):
            try:
                req = {**req, "path": local_source(req["path"])}
            except RemoteError as exc:
                raise DecodeError(str(exc)) from None
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
            payload = bytearray()
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
                scrub_paths(str(header.get("error", "unknown decode error")), req.get("path", ""))
            )
        return header, payload

    def probe(self, path: str, timeout: float | None = None) -> ProbeResult:
        """Facts of the first video stream as this decoder reads them, in ffprobe's conventions: how sources
        are probed before planning and published clips before publishing. ``num_frames`` is the container's
        count, or duration x fps when it has none."""
        header, _ = self._request({"op": "probe", "path": str(path)}, timeout)
        return probe_result(header["probe"])

    def count_frames(self, path: str, timeout: float | None = None) -> int:
        """The number of frames the decoder can actually deliver (containers often over-report)."""
        return self.timeline(path, timeout)[0]

    def timeline(self, path: str, timeout: float | None = None) -> tuple[int, float]:
        """The frames the decoder can deliver and the seconds from the first one's timestamp to the last's
        (0 when the stream has no usable timestamps)."""
        header, _ = self._request({"op": "count", "path": str(path)}, timeout)
        return int(header["count"]), float(header.get("span", 0.0))

    def frames_at(
        self,
        path: str,
        indices: np.ndarray | list[int],
        width: int,
        height: int,
        rotation: int = 0,
        timeout: float | None = None,
    ) -> DecodedFrames:
        """Decode source frames ``indices`` as uint8 ``(n, height, width, 3)``, upright, with their
        presentation times."""
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
        frames.flags.writeable = False  # shared by every sample the frames serve
        if frames.shape[1:3] != (height, width):
            raise DecodeError(
                f"decoder delivered {frames.shape[2]}x{frames.shape[1]} frames, not {width}x{height}"
            )
        return DecodedFrames(frames, np.asarray(header.get("pts", []), dtype=np.float64))


def probe_result(facts: dict[str, Any]) -> ProbeResult:
    """The decode child's stream facts (:func:`.decode_child.stream_facts`) as a :class:`ProbeResult`."""
    frames = int(facts["frames"])
    return ProbeResult(
        duration=float(facts["duration"]),
        fps=float(facts["fps"]),
        width=int(facts["width"]),
        height=int(facts["height"]),
        num_frames=frames if frames > 0 else int(round(facts["duration"] * facts["fps"])),
        codec=str(facts["codec"]),
        rotation=int(facts["rotation"]) % 360,
        pix_fmt=str(facts["pix_fmt"]),
    )


def scrub_paths(message: str, path: str) -> str:
    """Decoder errors go into manifests: drop paths and the decoder's wall-clock stamps ([21:24:29])."""
    if path:
        message = message.replace(path, "<source>")
    message = re.sub(r"\[\d{1,2}:\d{2}:\d{2}\]\s*", "", message)
    return re.sub(r"(/[^\s:'\"]+)+", "<path>", message)


_SAMPLER: FrameSampler | None = None  # this process's decode child
_WITH_CHILD: weakref.WeakSet[FrameSampler] = weakref.WeakSet()  # samplers that started a child here


def worker_sampler(timeout: float | None = None) -> FrameSampler:
    """The decode child of this process (created on first use); ``timeout`` sets its default timeout.
    One per process and not thread-safe: builder workers run one task at a time."""
    global _SAMPLER
    if _SAMPLER is None:
        _SAMPLER = FrameSampler(DEFAULT_TIMEOUT)
        atexit.register(close_worker_sampler)  # the child is ended and reaped with its worker
    if timeout is not None:
        _SAMPLER.timeout = timeout
    return _SAMPLER


def close_worker_sampler() -> None:
    """Stop this process's decode child (a later :func:`worker_sampler` starts a new one)."""
    global _SAMPLER
    sampler, _SAMPLER = _SAMPLER, None
    if sampler is not None:
        sampler.close()


def _disown_inherited_children() -> None:
    """In a forked copy of this process (a build worker forked from the driver): the decode children belong
    to the parent. The copy lets go of them and starts its own on first use."""
    global _SAMPLER
    for sampler in list(_WITH_CHILD):
        sampler.disown()
    _WITH_CHILD.clear()
    _SAMPLER = None


os.register_at_fork(after_in_child=_disown_inherited_children)
