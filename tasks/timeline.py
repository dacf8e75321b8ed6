"""Which source frames a sample uses: the paper's 48-frame sampling grid and its variants.

Everything is computed in integer source-frame indices (then ``time = index / fps``) so that a
decoder asked for those timestamps returns exactly those frames. The paper's grid: the middle 90 % of the
video, ``start = int(0.05 N)``, ``end = int(0.95 N)``, ``interval = (end - start) // 48`` and indices
``start + i * interval``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sample import VideoInfo, VideoTooShort

DEFAULT_NUM_FRAMES = 48
DEFAULT_SPAN = (0.05, 0.95)


@dataclass(frozen=True)
class Grid:
    """An evenly spaced grid of source-frame indices: ``start + interval * k``."""

    start: int
    interval: int
    fps: float

    @property
    def step_seconds(self) -> float:
        return self.interval / self.fps

    def indices(self, n: int) -> np.ndarray:
        return self.start + self.interval * np.arange(n, dtype=np.int64)


def usable_range(info: VideoInfo, span: tuple[float, float] = DEFAULT_SPAN) -> tuple[int, int]:
    """First and one-past-last source frame index of the sampled part of the video."""
    lo, hi = span
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"span must satisfy 0 <= start < end <= 1, got {span}")
    return int(lo * info.num_frames), int(hi * info.num_frames)


def grid_for_units(info: VideoInfo, units: float, span: tuple[float, float] = DEFAULT_SPAN) -> Grid:
    """The widest integer grid such that ``units`` steps fit in the usable range.

    ``units`` is the number of nominal frame steps a plan consumes: 48 for a plain plan, more for a
    Fast segment (which skips source frames) and fewer for a Slow one.
    """
    start, end = usable_range(info, span)
    interval = int((end - start) // units)
    if interval < 1:
        raise VideoTooShort(
            f"needs at least {int(np.ceil(units))} source frames in the sampled {span[0]:.0%}-{span[1]:.0%} "
            f"of the video, has {end - start} (of {info.num_frames})"
        )
    return Grid(start=start, interval=interval, fps=info.fps)


def base_indices(
    info: VideoInfo, n: int = DEFAULT_NUM_FRAMES, span: tuple[float, float] = DEFAULT_SPAN
) -> np.ndarray:
    """The paper's evenly spaced sampling grid as source-frame indices."""
    return grid_for_units(info, n, span).indices(n)


def indices_to_times(indices: np.ndarray, fps: float) -> np.ndarray:
    """Source timestamps (seconds) of source-frame indices."""
    return np.asarray(indices, dtype=np.float64) / float(fps)


def times_to_indices(times: np.ndarray, fps: float) -> np.ndarray:
    """Nearest source-frame index of each timestamp (inverse of :func:`indices_to_times`)."""
    return np.rint(np.asarray(times, dtype=np.float64) * float(fps)).astype(np.int64)
