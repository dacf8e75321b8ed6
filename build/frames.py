"""The one frame sampler: libavcodec (through PyAV) in a guarded child process, exactly the frames a plan
asks for, and only the work they need.

Per group of wanted frames the child seeks to the keyframe before them and decodes forward until they are
out, skipping frames that nothing references (non-reference B frames) unless they are wanted. On web-style
H.264 (B frames, 2 s keyframe interval) that costs about 40 % less CPU than decord's ``get_batch``, which
decodes and converts every frame it passes.

Some decoders do not honour frame skipping (libdav1d on SVT-AV1 streams loses frames it was told it could
skip, and keeps losing them on that decoder instance): when the fast path misses a wanted frame, the file is
opened again and decoded without skipping, then, if frames are still missing, plainly in sequence from its
start; only a frame that the sequential decode cannot deliver either fails the request. A file whose decoder
lost frames once is never decoded with skipping again while the child keeps it open.

Decoders can hang or leak on malformed files, so decoding never runs in the builder's own process: a
long-lived child (one per builder worker) serves decode requests over pipes. A request that takes longer
than its timeout, or a child that dies, is reported as a :class:`DecodeError` and the child is restarted;
the build goes on. The child is also recycled every ``RECYCLE_AFTER`` requests to bound leaks. It parses
untrusted media, so it runs without the credentials in the builder's environment (:func:`decoder_env`).

Frames come out upright (turned by the rotation metadata; checked against ffmpeg's autorotate in the
tests), downscaled with the aspect kept to even sizes of at most ``max_pixels`` pixels.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

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


# ---------------------------------------------------------------------------------------------------------
# Child side


def _open_stream(path: str) -> tuple[Any, Any]:
    """Open ``path`` and its first video stream, decoded on one thread (the build parallelises across
    sources, one worker per core)."""
    import av

    container = av.open(path)
    if not container.streams.video:
        container.close()
        raise RuntimeError("no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "NONE"
    stream.codec_context.thread_count = 1
    return container, stream


class _Video:
    """An open video in the decode child: its first video stream and a frame index in presentation order.

    The index comes from one demux pass (no decoding): frame ``i`` is the ``i``-th smallest packet timestamp,
    as decord and ``datasets.Video`` number frames. Streams whose packets lack timestamps are decoded
    linearly and numbered in output order.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.skip_nonref = True  # cleared once the decoder lost frames it was allowed to skip
        self.container, self.stream = _open_stream(path)
        stamps, keys = [], []
        for packet in self.container.demux(self.stream):
            if packet.size == 0:
                continue  # the demuxer's end-of-stream marker
            stamps.append(packet.pts if packet.pts is not None else None)
            if packet.is_keyframe and packet.pts is not None:
                keys.append(packet.pts)
        self.linear = any(t is None for t in stamps) or len(set(stamps)) != len(stamps) or not keys
        self.count = len(stamps)
        self.pts = np.sort(np.asarray([t for t in stamps if t is not None], dtype=np.int64))
        self.keys = np.unique(np.asarray(keys, dtype=np.int64))
        self.time_base = float(self.stream.time_base or 0)
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else 0.0

    def close(self) -> None:
        self.container.close()

    def _reopen(self) -> None:
        """A fresh demuxer and decoder (a decoder's state can outlive a flush; the frame index is kept)."""
        self.container.close()
        self.container, self.stream = _open_stream(self.path)

    def _frames_by_pts(self, wanted: dict[int, int], convert: Any, skip: bool) -> dict[int, np.ndarray]:
        """Decode the frames whose timestamps ``wanted`` maps to indices, GOP by GOP: seek to the keyframe
        before each group of targets and stop once the group is out. With ``skip``, frames no target needs
        and no other frame references (non-reference B frames) are not decoded at all."""
        ctx = self.stream.codec_context
        groups: dict[int, set[int]] = {}
        for t in wanted:
            k = int(np.searchsorted(self.keys, t, side="right")) - 1
            groups.setdefault(int(self.keys[max(k, 0)]), set()).add(t)
        out: dict[int, np.ndarray] = {}
        for key in sorted(groups):
            todo = groups[key]
            self.container.seek(key, stream=self.stream, backward=True, any_frame=False)
            ctx.flush_buffers()
            for packet in self.container.demux(self.stream):
                if skip:
                    ctx.skip_frame = "DEFAULT" if packet.pts in todo or packet.size == 0 else "NONREF"
                for frame in ctx.decode(packet):
                    if frame.pts in todo:
                        out[wanted[frame.pts]] = convert(frame)
                        todo.discard(frame.pts)
                if not todo:
                    break
            ctx.skip_frame = "DEFAULT"
        return out

    def _frames_linear(
        self, wanted: set[int], convert: Any
    ) -> tuple[dict[int, np.ndarray], dict[int, float]]:
        """Decode from the start, numbering frames in output order (streams without timestamps)."""
        self.container.seek(0)
        self.stream.codec_context.flush_buffers()
        out: dict[int, np.ndarray] = {}
        times: dict[int, float] = {}
        last = max(wanted)
        for n, frame in enumerate(self.container.decode(self.stream)):
            if n in wanted:
                out[n] = convert(frame)
                times[n] = float(frame.time) if frame.time is not None else n / (self.fps or 1.0)
            if n >= last:
                break
        return out, times

    def _frames_sequential(self, wanted: dict[int, int], convert: Any) -> dict[int, np.ndarray]:
        """Decode from the start, every frame, until the frames ``wanted`` maps to indices are out: the plain
        decode every other path is checked against."""
        todo = dict(wanted)
        out: dict[int, np.ndarray] = {}
        for frame in self.container.decode(self.stream):
            if frame.pts in todo:
                out[todo.pop(frame.pts)] = convert(frame)
                if not todo:
                    break
        return out

    def frames(self, unique: np.ndarray, convert: Any) -> tuple[dict[int, np.ndarray], list[float]]:
        """Frames ``unique`` (sorted, distinct indices) and their presentation times in seconds from frame 0."""
        if self.linear:
            out, times = self._frames_linear(set(unique.tolist()), convert)
            return out, [times.get(int(i), 0.0) for i in unique]
        stamps = self.pts[unique]
        wanted = {int(t): int(i) for t, i in zip(stamps, unique)}
        out = self._frames_by_pts(wanted, convert, skip=self.skip_nonref)
        if len(out) < len(wanted):  # lost: a decoder that ignores skipping, a keyframe it cannot start from
            self.skip_nonref = False
            self._reopen()
            out.update(self._frames_by_pts(self._missing(wanted, out), convert, skip=False))
        if len(out) < len(wanted):  # still lost: the plain decode, from the start
            self._reopen()
            out.update(self._frames_sequential(self._missing(wanted, out), convert))
        return out, [float((t - self.pts[0]) * self.time_base) for t in stamps]

    @staticmethod
    def _missing(wanted: dict[int, int], out: dict[int, np.ndarray]) -> dict[int, int]:
        return {t: i for t, i in wanted.items() if i not in out}


def _converter(out_w: int, out_h: int, rotation: int) -> Any:
    """Frame -> upright uint8 RGB ``(out_h, out_w, 3)``: scaled by swscale (bilinear, as decord scaled; one thread) to the
    stored size, then turned by the rotation metadata the way ffmpeg's autorotate turns it."""
    from av.video.reformatter import Interpolation

    turns = (rotation // 90) % 4  # counter-clockwise quarter turns
    w, h = (out_h, out_w) if turns % 2 else (out_w, out_h)

    def convert(frame: Any) -> np.ndarray:
        rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation=Interpolation.BILINEAR,
                             src_color_range=frame.color_range or None, threads=1).to_ndarray()  # fmt: skip
        return np.rot90(rgb, turns) if turns else rgb

    return convert


def _forget(cache: dict[str, Any]) -> None:
    video = cache.pop("video", None)
    cache.clear()
    if video is not None:
        with contextlib.suppress(Exception):
            video.close()


def _open(path: str, cache: dict[str, Any]) -> _Video:
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if cache.get("key") != key:
        _forget(cache)
        cache["video"] = _Video(path)
        cache["key"] = key
    return cache["video"]


def _decode(req: dict[str, Any], cache: dict[str, Any]) -> tuple[np.ndarray, list[float]]:
    rotation = int(req.get("rotation", 0)) % 360
    out_w, out_h = int(req["width"]), int(req["height"])
    video = _open(req["path"], cache)
    n = video.count
    if n <= 0:
        raise RuntimeError("the decoder found no frames")
    indices = np.asarray(req["indices"], dtype=np.int64)
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise RuntimeError(f"asked for frame {int(indices.max())} but the decoder has only {n} frames")
    unique, inverse = np.unique(indices, return_inverse=True)
    decoded, times = video.frames(unique, _converter(out_w, out_h, rotation))
    lost = [int(i) for i in unique if int(i) not in decoded]
    if lost:
        raise RuntimeError(f"frame {lost[0]} of {n} could not be decoded ({len(lost)} frames lost)")
    frames = np.stack([decoded[int(i)] for i in unique])[inverse] if len(unique) else np.zeros(
        (0, out_h, out_w, 3), np.uint8)  # fmt: skip
    pts = np.asarray(times, dtype=np.float64)[inverse] if len(unique) else np.zeros(0)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise RuntimeError(f"the decoder returned frames of shape {frames.shape}, not RGB")
    return np.ascontiguousarray(frames, dtype=np.uint8), [float(t) for t in pts]


def _count(req: dict[str, Any], cache: dict[str, Any]) -> dict[str, Any]:
    video = _open(req["path"], cache)
    span = 0.0
    if not video.linear and len(video.pts) > 1:
        span = float(video.pts[-1] - video.pts[0]) * video.time_base
    return {"count": video.count, "span": span}


def _probe(req: dict[str, Any]) -> dict[str, Any]:
    """Container facts of the first video stream as this decoder reads them (ffprobe's fields and
    conventions). The rotation is the display matrix of the first decoded frame, the one the frames are
    later turned by, so a source that cannot decode even one frame fails here."""
    import av

    container, stream = _open_stream(req["path"])
    with container:
        ctx = stream.codec_context
        rate = stream.average_rate or stream.base_rate
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / av.time_base
        first = next(container.decode(stream), None)
        if first is None:
            raise RuntimeError("no frame could be decoded")
        return {
            "duration": duration,
            "fps": float(rate) if rate else 0.0,
            "width": int(ctx.width or 0),
            "height": int(ctx.height or 0),
            "frames": int(stream.frames or 0),
            "codec": ctx.codec.canonical_name,
            "rotation": int(round(first.rotation or 0)) % 360,
            "pix_fmt": str(ctx.pix_fmt or ""),
        }


def serve() -> None:
    """Child main loop: one JSON request per line on stdin; a JSON header line then raw bytes on stdout."""
    out = sys.stdout.buffer
    cache: dict[str, Any] = {}
    for line in sys.stdin.buffer:
        req = json.loads(line)
        try:
            if req.get("op") == "count":
                header: dict[str, Any] = {"ok": True, **_count(req, cache)}
                payload = b""
            elif req.get("op") == "probe":
                header, payload = {"ok": True, "probe": _probe(req)}, b""
            else:
                frames, pts = _decode(req, cache)
                header = {"ok": True, "shape": list(frames.shape), "pts": pts}
                payload = frames.tobytes()
        except Exception as exc:  # report, never die: the parent decides what to do
            _forget(cache)
            header, payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, b""
        out.write(json.dumps(header).encode() + b"\n")
        out.write(payload)
        out.flush()


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
        self.last_pts: np.ndarray | None = None  # presentation times of the last frames_at call

    def _start(self) -> subprocess.Popen:
        env = dict(decoder_env(os.environ), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
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

    def probe(self, path: str, timeout: float | None = None) -> ProbeResult:
        """Facts of the first video stream as this decoder reads them, in ffprobe's conventions: how sources
        are probed before planning and published clips before publishing. ``num_frames`` is the container's
        count, or duration x fps when it has none."""
        header, _ = self._request({"op": "probe", "path": str(path)}, timeout)
        facts = header["probe"]
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
    if path:
        message = message.replace(path, "<source>")
    message = re.sub(r"\[\d{1,2}:\d{2}:\d{2}\]\s*", "", message)
    return re.sub(r"(/[^\s:'\"]+)+", "<path>", message)


_SAMPLER: FrameSampler | None = None


def worker_sampler(timeout: float | None = None) -> FrameSampler:
    """The decode child of this process (created on first use); ``timeout`` sets its default timeout.
    One per process and not thread-safe: builder workers run one task at a time."""
    global _SAMPLER
    if _SAMPLER is None:
        _SAMPLER = FrameSampler(DEFAULT_TIMEOUT)
    if timeout is not None:
        _SAMPLER.timeout = timeout
    return _SAMPLER
