"""Probing one source: whether the file can be read, what its decoder says of it (in the guarded child) and
whether that makes a usable source, then the content hash that dedupe and resumable work go by. Every
reason a file is not used is a :class:`~.sources.Skipped` with a specific reason, never an exception."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from .frames import DecodeError, worker_sampler
from .remote import RemoteError, is_url, local_source, remote_size
from .render import ProbeResult
from .sources import Skipped, Source

MAX_SOURCE_PIXELS = 7680 * 4320  # 8K UHD: a larger source is skipped (one frame of it is ~100 MB of RGB)
WHOLE_HASH_BYTES = 64 << 20  # files up to this size are hashed whole, larger ones by samples
HASH_BLOCKS = 64  # ... of this many blocks
HASH_BLOCK_BYTES = 1 << 20


def content_hash(path: Path | str, chunk: int = 1 << 20) -> str:
    """What dedupe and resumable work go by: a hash of the whole file up to ``WHOLE_HASH_BYTES``; of a larger
    file, its size and ``HASH_BLOCKS`` blocks spread evenly over it (first and last included), so hashing
    reads at most 64 MB however large the file is. A URL's content is hashed from its local copy."""
    path = local_source(str(path))
    size = os.path.getsize(path)
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        if size <= WHOLE_HASH_BYTES:
            while block := f.read(chunk):
                h.update(block)
            return h.hexdigest()
        h.update(f"sampled:{size}:{HASH_BLOCKS}x{HASH_BLOCK_BYTES}".encode())
        step = (size - HASH_BLOCK_BYTES) / (HASH_BLOCKS - 1)
        for k in range(HASH_BLOCKS):
            f.seek(int(k * step))
            h.update(f.read(HASH_BLOCK_BYTES))
    return h.hexdigest()


def describe_pixels(pixels: int) -> str:
    """``7680x4320`` for the usual limits, else the pixel count."""
    for w, h in (
        (7680, 4320),
        (3840, 2160),
        (4096, 4096),
        (2048, 2048),
        (1920, 1080),
        (512, 512),
        (256, 256),
    ):
        if w * h == pixels:
            return f"{w}x{h}"
    return f"{pixels} pixels"


def probe_source(
    sid: str,
    path: str | os.PathLike,
    *,
    min_frames: int = 54,
    timeout: float = 60,
    max_source_pixels: int = MAX_SOURCE_PIXELS,
) -> Source | Skipped:
    """Probe one file; a :class:`Skipped` with a specific reason when it cannot be used. The file is opened
    by the decoder (in its guarded child, with ``timeout``) before it is hashed, so a file that is no video
    costs no read of its bytes. A URL is downloaded (by this worker) before it is opened; its size is read
    first (an empty or too large file is not downloaded)."""
    path = path if is_url(path) else Path(path)
    reason = _unreadable(path)
    if reason:
        return Skipped(sid, reason)
    try:
        # Probed by the decoder that will decode it, in its guarded child: a malformed file can hang or crash
        # a demuxer (never this process), and the facts plans use (frame rate, duration, rotation) are its
        # own.
        info = worker_sampler().probe(str(path), timeout)
    except DecodeError as exc:
        return Skipped(sid, f"not a readable video: {_scrub(str(exc), Path(local_source(str(path))))}")
    reason = _unusable(info, min_frames, max_source_pixels)
    if reason:
        return Skipped(sid, reason)
    try:
        digest = content_hash(path)
    except RemoteError as exc:
        return Skipped(sid, str(exc))
    except OSError as exc:
        return Skipped(sid, f"cannot read file: {exc.strerror or exc}")
    width, height = (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)
    return Source(
        id=sid,
        path=str(path),
        duration=info.duration,
        fps=info.fps,
        num_frames=info.num_frames,
        width=width,
        height=height,
        rotation=info.rotation,
        codec=info.codec,
        content_hash=digest,
    )


def _unreadable(path: Path | str) -> str:
    """Why the file at ``path`` (a local path, or a URL this worker then downloads) cannot be read; ""
    when it can."""
    if isinstance(path, str):
        try:
            if remote_size(path) == 0:
                return "empty file (0 bytes)"
            local_source(path)
        except RemoteError as exc:
            return str(exc)
        return ""
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        if not os.access(path, os.R_OK):
            return "file is not readable (permissions)"
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"
    return ""


def _unusable(info: ProbeResult, min_frames: int, max_source_pixels: int) -> str:
    """Why a probed video cannot be a source (a still image, no size, too large, no timing, too short); ""
    when it can."""
    if info.codec in ("png", "mjpeg", "bmp", "gif", "webp") and info.num_frames <= 1:
        return f"a still image ({info.codec}), not a video"
    if info.width < 2 or info.height < 2:
        return f"no picture size ({info.width}x{info.height})"
    if info.width * info.height > max_source_pixels:
        return f"too large: {info.width}x{info.height} > limit {describe_pixels(max_source_pixels)}"
    if info.fps <= 0 or info.duration <= 0:
        return "no frame rate or duration in the container"
    if info.num_frames < min_frames:
        return f"too short: {info.num_frames} frames, needs at least {min_frames}"
    return ""


def _scrub(message: str, path: Path) -> str:
    """Remove the file's path (and its folder) from an error message so no absolute path leaks."""
    for text in (str(path), str(path.resolve()), str(path.parent)):
        message = message.replace(text, "<source>")
    return re.sub(r"(/[^\s:]+)+", "<path>", message)
