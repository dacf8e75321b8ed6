"""The guarded decode child: libavcodec (through PyAV) decoding exactly the frames a plan asks for, and
only the work they need. It runs in its own process, served over pipes by :class:`.frames.FrameSampler`;
:func:`decode_frames` is the same decode in the calling process.

Per group of wanted frames the child seeks to the keyframe before them and decodes forward until they are
out, skipping frames that nothing references (non-reference B frames) unless they are wanted: on web-style
H.264 (B frames, keyframes a few seconds apart) that is much less work than decoding and converting every
frame on the way, as decord's ``get_batch`` does.

Some decoders do not honour frame skipping (libdav1d on SVT-AV1 streams loses frames it was told it could
skip, and keeps losing them on that decoder instance): when the fast path misses a wanted frame, the file is
opened again and decoded without skipping, then, if frames are still missing, plainly in sequence from its
start; only a frame that the sequential decode cannot deliver either fails the request. A file whose decoder
lost frames once is never decoded with skipping again while the child keeps it open.

Frames come out upright (turned by the rotation metadata the way ffmpeg's autorotate turns them) and
scaled to the requested size.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

Convert = Callable[["VideoFrame"], np.ndarray]


def _open_stream(path: str) -> tuple[InputContainer, VideoStream]:
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


class Video:
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

    def _frames_by_pts(self, wanted: dict[int, int], convert: Convert, skip: bool) -> dict[int, np.ndarray]:
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
        self, wanted: set[int], convert: Convert
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

    def _frames_sequential(self, wanted: dict[int, int], convert: Convert) -> dict[int, np.ndarray]:
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

    def frames(self, unique: np.ndarray, convert: Convert) -> tuple[dict[int, np.ndarray], list[float]]:
        """Frames ``unique`` (sorted, distinct indices) and their presentation times in seconds from frame
        0."""
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


def converter(out_w: int, out_h: int, rotation: int) -> Convert:
    """Frame -> upright uint8 RGB ``(out_h, out_w, 3)``: scaled by swscale (bilinear, one thread) to the
    stored size, then turned by the rotation metadata the way ffmpeg's autorotate turns it."""
    from av.video.reformatter import Interpolation, VideoReformatter

    turns = (rotation // 90) % 4  # counter-clockwise quarter turns
    w, h = (out_h, out_w) if turns % 2 else (out_w, out_h)
    reformatter = VideoReformatter()  # one scaling context for the request's frames

    def convert(frame: VideoFrame) -> np.ndarray:
        rgb = reformatter.reformat(
            frame,
            width=w,
            height=h,
            format="rgb24",
            interpolation=Interpolation.BILINEAR,
            src_color_range=frame.color_range or None,
            threads=1,
        ).to_ndarray()
        return np.rot90(rgb, turns) if turns else rgb

    return convert


class OpenVideos:
    """The video the child has open (the next request is usually for the same file): reopened when the
    path, size or modification time differs, dropped after an error."""

    def __init__(self) -> None:
        self.key: tuple[str, int, int] | None = None
        self.video: Video | None = None

    def open(self, path: str) -> Video:
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        if self.video is None or self.key != key:
            self.forget()
            self.video, self.key = Video(path), key
        return self.video

    def forget(self) -> None:
        video, self.video, self.key = self.video, None, None
        if video is not None:
            with contextlib.suppress(Exception):
                video.close()


def decode_frames(
    path: str,
    indices: list[int] | np.ndarray,
    width: int,
    height: int,
    rotation: int = 0,
    videos: OpenVideos | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Source frames ``indices`` as uint8 ``(n, height, width, 3)``, upright, and their presentation times
    in seconds from the first frame, decoded in this process (``videos``: files kept open between calls)."""
    video = (videos or OpenVideos()).open(path)
    n = video.count
    if n <= 0:
        raise RuntimeError("the decoder found no frames")
    wanted = np.asarray(indices, dtype=np.int64)
    if wanted.size and (wanted.min() < 0 or wanted.max() >= n):
        raise RuntimeError(f"asked for frame {int(wanted.max())} but the decoder has only {n} frames")
    if not wanted.size:
        return np.zeros((0, height, width, 3), np.uint8), []
    unique, inverse = np.unique(wanted, return_inverse=True)
    decoded, times = video.frames(unique, converter(width, height, int(rotation) % 360))
    lost = [int(i) for i in unique if int(i) not in decoded]
    if lost:
        raise RuntimeError(f"frame {lost[0]} of {n} could not be decoded ({len(lost)} frames lost)")
    frames = np.stack([decoded[int(i)] for i in unique])[inverse]
    pts = np.asarray(times, dtype=np.float64)[inverse]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise RuntimeError(f"the decoder returned frames of shape {frames.shape}, not RGB")
    return np.ascontiguousarray(frames, dtype=np.uint8), [float(t) for t in pts]


def timeline(path: str, videos: OpenVideos) -> dict[str, Any]:
    """The frames the decoder can deliver, and the seconds from the first one's timestamp to the last's."""
    video = videos.open(path)
    span = 0.0
    if not video.linear and len(video.pts) > 1:
        span = float(video.pts[-1] - video.pts[0]) * video.time_base
    return {"count": video.count, "span": span}


def probe_stream(path: str) -> dict[str, Any]:
    """Container facts of the first video stream as this decoder reads them (ffprobe's fields and
    conventions). The rotation is the display matrix of the first decoded frame, the one the frames are
    later turned by, so a source that cannot decode even one frame fails here."""
    container, stream = _open_stream(path)
    with container:
        first = next(container.decode(stream), None)
        if first is None:
            raise RuntimeError("no frame could be decoded")
        return stream_facts(container, stream, first)


def stream_facts(container: InputContainer, stream: VideoStream, first: VideoFrame) -> dict[str, Any]:
    """The facts :func:`probe_stream` reports, of an open container whose first frame is ``first`` (also
    how a build worker reads the clips it just encoded, from memory)."""
    import av

    ctx = stream.codec_context
    rate = stream.average_rate or stream.base_rate
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    else:
        duration = (container.duration or 0) / av.time_base
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


def answer(req: dict[str, Any], videos: OpenVideos) -> tuple[dict[str, Any], bytes]:
    """One request's header and payload (raw frame bytes for a decode)."""
    if req.get("op") == "count":
        return {"ok": True, **timeline(req["path"], videos)}, b""
    if req.get("op") == "probe":
        return {"ok": True, "probe": probe_stream(req["path"])}, b""
    frames, pts = decode_frames(
        req["path"],
        req["indices"],
        int(req["width"]),
        int(req["height"]),
        int(req.get("rotation", 0)),
        videos,
    )
    return {"ok": True, "shape": list(frames.shape), "pts": pts}, frames.tobytes()


def serve() -> None:
    """Child main loop: one JSON request per line on stdin; a JSON header line then raw bytes on stdout."""
    out = sys.stdout.buffer
    videos = OpenVideos()
    for line in sys.stdin.buffer:
        try:
            header, payload = answer(json.loads(line), videos)
        except Exception as exc:  # report, never die: the parent decides what to do
            videos.forget()
            header, payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}, b""
        out.write(json.dumps(header).encode() + b"\n")
        out.write(payload)
        out.flush()
