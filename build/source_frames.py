"""A source's frames inside a work unit: what plans are drawn on (:func:`decodable_info`), the frames
decoded so far with their presentation times (:class:`SourceFrames`, so a frame is decoded once however many
draws want it), and the decoded-frame files a unit leaves for later units' fallbacks (:class:`FrameFiles`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from videossr.tasks import FramePlan, Sample, VideoInfo, decisive_positions, make_sample

from .frames import DecodeError, FrameSampler, fit_size
from .sources import Source

FRAME_FILES_KEPT = 8  # decoded-frame files each worker keeps for later units' fallbacks
MakeSample = Callable[[FramePlan, np.ndarray, "np.ndarray | None"], Sample]


def video_info(source: Source, max_pixels: int, num_frames: int | None = None) -> VideoInfo:
    w, h = fit_size(source.width, source.height, max_pixels)
    return VideoInfo(
        duration=source.duration,
        fps=source.fps,
        num_frames=num_frames or source.num_frames,
        width=w,
        height=h,
    )


def decodable_info(sampler: FrameSampler, source: Source, max_pixels: int) -> VideoInfo:
    """What plans are drawn on: the source's facts with the frame count the decoder actually delivers
    (containers over-report). Where the frames that decode are spread over the whole video, as with an
    AVI's null frames (frames dropped at capture), they are planned at their real rate, so that clips play
    in real time; a truncated file keeps its rate (its frames are the first ones). Raises
    :class:`DecodeError` below 2 frames."""
    decodable, span = sampler.timeline(source.path)
    if decodable < 2:
        raise DecodeError(f"the decoder found {decodable} frames")
    info = video_info(source, max_pixels, min(decodable, source.num_frames))
    if span > 0 and decodable < 0.9 * source.num_frames and (decodable - 1) / span < 0.9 * info.fps:
        info = replace(info, fps=(decodable - 1) / span)
    return info


def frame_indices(times: np.ndarray, info: VideoInfo) -> np.ndarray:
    """Source-frame indices of planned timestamps (clipped to the frames the decoder can deliver)."""
    return np.clip(np.rint(np.asarray(times) * info.fps).astype(np.int64), 0, info.num_frames - 1)


def use_presentation_times(sample: Sample, indices: np.ndarray, pts: np.ndarray, fps: float) -> None:
    """Replace the nominal ``index / fps`` frame times by the decoder's presentation times (they differ
    for variable-frame-rate sources). Frames outside ``indices`` keep nominal times."""
    lookup = dict(zip(indices.tolist(), pts.tolist()))
    planned = [int(i) for i in sample.params.get("source_indices", [])]
    source_pts = [lookup.get(i, i / fps) for i in planned]
    if any(abs(t - i / fps) > 1e-12 + 1e-10 * abs(t) for t, i in zip(source_pts, planned)):
        # e.g. variable frame rate: record the real times of the planned frames so rows can be re-checked
        sample.params["source_pts"] = source_pts
    sample.frame_times = [
        np.asarray([lookup.get(int(i), t) for i, t in zip(np.rint(times * fps).astype(np.int64), times)])
        for times in sample.frame_times
    ]


class FrameFiles:
    """The decoded-frame files one worker process wrote, oldest first: it keeps the last ``keep`` (frames
    are the same however often decoded, so rows do not depend on whether a later unit finds them)."""

    def __init__(self, keep: int = FRAME_FILES_KEPT) -> None:
        self.keep = keep
        self.paths: list[Path] = []

    def add(self, path: Path) -> None:
        if path not in self.paths:
            self.paths.append(path)
        while len(self.paths) > self.keep:
            with contextlib.suppress(OSError):
                self.paths.pop(0).unlink()


WORKER_FRAME_FILES = FrameFiles()  # this worker process's


class SourceFrames:
    """The frames of one source a unit has decoded so far, with their presentation times: every draw gets its
    frames from here, so a frame is decoded once however many draws (first tries, re-draws) want it."""

    def __init__(self, sampler: FrameSampler, source: Source, info: VideoInfo) -> None:
        self.sampler, self.source, self.info = sampler, source, info
        self.frames: dict[int, np.ndarray] = {}
        self.pts: dict[int, float] = {}

    def fetch(self, idx: np.ndarray) -> None:
        """Decode, in one pass over the file, those of ``idx`` not decoded yet."""
        missing = np.unique(np.asarray(idx, dtype=np.int64))
        missing = missing[[int(i) not in self.frames for i in missing]]
        if not len(missing):
            return
        src = self.source
        decoded = self.sampler.frames_at(src.path, missing, self.info.width, self.info.height, src.rotation)
        self.frames.update(zip(missing.tolist(), decoded.frames))
        if len(decoded.pts) == len(missing):
            self.pts.update(zip(missing.tolist(), decoded.pts.tolist()))

    def get(self, idx: np.ndarray) -> np.ndarray:
        self.fetch(idx)
        return np.stack([self.frames[int(i)] for i in idx])

    def recall(self, path: Path) -> None:
        """Take the frames an earlier unit decoded of this source, if it left them (see :meth:`remember`)."""
        try:
            with open(path, "rb") as f:
                indices, pts, frames = np.load(f), np.load(f), np.load(f)
        except (OSError, ValueError, EOFError):
            return
        if frames.shape[1:] != (self.info.height, self.info.width, 3) or len(frames) != len(indices):
            return
        self.frames.update(zip(indices.tolist(), frames))
        self.pts.update((i, t) for i, t in zip(indices.tolist(), pts.tolist()) if t == t)  # NaN: unknown

    def remember(self, path: Path, files: FrameFiles = WORKER_FRAME_FILES) -> None:
        """Leave this source's decoded frames on disk for later units' fallbacks, in ``files``: three ``.npy``
        arrays one after the other (indices, times, frames), the frames written one by one as decoded."""
        if not self.frames:
            return
        indices = sorted(self.frames)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(indices, dtype=np.int64))
            np.save(f, np.asarray([self.pts.get(i, np.nan) for i in indices], dtype=np.float64))
            shape = (len(indices), *self.frames[indices[0]].shape)
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
            for i in indices:
                f.write(np.ascontiguousarray(self.frames[i], dtype=np.uint8).data)
        os.replace(tmp, path)
        files.add(path)

    def sample(
        self,
        plan: FramePlan,
        secondary: np.ndarray | None,
        *,
        prescreen: bool = False,
        make: MakeSample = make_sample,
    ) -> Sample:
        """Make the sample of ``plan`` with ``make`` (raises SampleRejected), with the decoder's frame times.
        With ``prescreen``, the frames that decide a rejection are decoded first and the draw is tried on them
        alone (the others blank): at a source where the draw is invisible, that costs a few frames."""
        idx = frame_indices(plan.times, self.info)
        positions = decisive_positions(plan) if prescreen else None
        if positions is not None and len(positions) < len(idx):
            partial = np.zeros((len(idx), self.info.height, self.info.width, 3), np.uint8)
            partial[positions] = self.get(idx[positions])
            make(plan, partial, secondary)  # raises SampleRejected where the full draw would
        sample = make(plan, self.get(idx), secondary)
        if self.pts:
            known = np.asarray(sorted(self.pts), dtype=np.int64)
            use_presentation_times(
                sample, known, np.asarray([self.pts[i] for i in known.tolist()]), self.info.fps
            )
        return sample
