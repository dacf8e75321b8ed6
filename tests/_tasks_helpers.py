"""Shared helpers for the tasks/ tests: a synthetic 'decoder', sample builders and an independent shape
counter.

Nothing here uses the code under test to compute an expected value: frames are rendered from their source
frame index, the sampling grid is recomputed from its definition, and counting samples are measured with a
connected-component labelling written from scratch.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from videossr.tasks import TaskSpec, VideoInfo, make_sample, plan_sample, resolve_secondary

# A 40 s video at 24 fps: 960 frames, the sampled 90 % spans frames 48..912, interval 18.
DEFAULT_INFO = VideoInfo(duration=40.0, fps=24.0, num_frames=960, width=96, height=64)


def spec_grid(info: VideoInfo, n: int = 48) -> tuple[int, int]:
    """The paper's grid, written out: ``start = int(0.05 N)``, ``interval = (int(0.95 N) - start) // n``."""
    start = int(0.05 * info.num_frames)
    end = int(0.95 * info.num_frames)
    return start, (end - start) // n


def spec_times(info: VideoInfo, n: int = 48) -> np.ndarray:
    start, interval = spec_grid(info, n)
    return np.array([(start + i * interval) / info.fps for i in range(n)])


@lru_cache(maxsize=16)
def gradient(height: int, width: int) -> np.ndarray:
    """A smooth colour picture: red grows to the right, blue downwards, green in a coarse checker."""
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.empty((height, width, 3), dtype=np.int16)
    base[..., 0] = 60 + (100 * xs) // max(1, width - 1)
    base[..., 1] = 90 + 30 * ((xs // 16 + ys // 16) % 2)
    base[..., 2] = 150 - (90 * ys) // max(1, height - 1)
    base.flags.writeable = False
    return base


@lru_cache(maxsize=16)
def _texture(seed: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(10_000 + seed)
    tex = rng.integers(-40, 41, size=(height, width, 3)).astype(np.int16)
    # A few larger blocks so that the picture has structure at more than one scale.
    blocks = rng.integers(-30, 31, size=(height // 8 + 1, width // 8 + 1, 3)).astype(np.int16)
    tex += np.repeat(np.repeat(blocks, 8, axis=0), 8, axis=1)[:height, :width]
    tex.flags.writeable = False
    return tex


def render_frame(index: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A deterministic, colourful, textured and moving frame for source frame ``index`` of video ``seed``.

    Red grows to the right and blue grows downwards (so R != B and the picture is not symmetric); a
    texture moves 3 px per source frame; a per-index speckle makes every source frame unique. Values stay
    in 30..225.
    """
    tex = np.roll(_texture(seed, height, width), shift=(index, 3 * index), axis=(0, 1))
    speckle = np.random.default_rng((seed, index)).integers(-6, 7, size=(height, width, 3))
    return np.clip(gradient(height, width) + tex + speckle, 30, 225).astype(np.uint8)


def decode(info: VideoInfo, times: np.ndarray, seed: int = 0, frame=render_frame) -> np.ndarray:
    """What the builder does: decode the source frames at ``times`` (nearest source frame)."""
    indices = np.rint(np.asarray(times, dtype=np.float64) * info.fps).astype(np.int64)
    return np.stack([frame(int(i), info.height, info.width, seed) for i in indices])


@dataclass
class GroundingCase:
    plan: object
    frames: np.ndarray
    secondary: np.ndarray | None
    sample: object

    @property
    def start(self) -> int:
        return self.sample.params["segment_start"]

    @property
    def length(self) -> int:
        return self.sample.params["segment_length"]

    @property
    def segment(self) -> slice:
        return slice(self.start, self.start + self.length)

    @property
    def clip(self) -> np.ndarray:
        return self.sample.clips[0]

    @property
    def times(self) -> np.ndarray:
        return self.sample.frame_times[0]

    def outside(self) -> np.ndarray:
        keep = np.ones(len(self.frames), dtype=bool)
        keep[self.segment] = False
        return keep


OTHER_INFO = VideoInfo(duration=30.0, fps=30.0, num_frames=900, width=96, height=64)


def grounding_case(
    name: str,
    seed: int,
    info: VideoInfo = DEFAULT_INFO,
    frame=render_frame,
    other: VideoInfo = OTHER_INFO,
    params: dict | None = None,
) -> GroundingCase:
    """Plan, 'decode' and make one grounding sample (Swap: the second video is video seed 1 of ``other``)."""
    plan = plan_sample(TaskSpec("grounding", name, params or {}), info, np.random.default_rng(seed))
    frames = decode(info, plan.times, seed=0, frame=frame)
    secondary = None
    if plan.needs_secondary:
        times = resolve_secondary(plan, other)
        secondary = decode(other, times, seed=1, frame=frame)
    sample = make_sample(plan, frames, secondary)
    return GroundingCase(plan, frames, secondary, sample)


# ----------------------------------------------------------------------------------------------------------
# Independent shape counting: 8-connected components of the painted pixels, found on pixel runs.


@dataclass
class Component:
    frame: int
    color: tuple[int, int, int]
    area: int
    centroid: tuple[float, float]
    rmax: float  # largest distance from the centroid to a pixel centre
    opposite: float  # extent from the centroid away from the farthest pixel
    touches_border: bool
    single_color: bool

    @property
    def fill_ratio(self) -> float:
        """Area relative to the circle through the farthest pixel centre: 1 for a circle, 2/pi = 0.64 for a
        square, 3*sqrt(3)/(4*pi) = 0.41 for an equilateral triangle (pixelisation adds up to ~0.1)."""
        return self.area / (math.pi * max(self.rmax, 0.5) ** 2)

    @property
    def kind(self) -> str:
        """Classify by geometry alone: round shapes fill their circumscribed circle; a square reaches as far
        behind its centre as ahead of it (vertex opposite vertex), a triangle only half as far (an edge)."""
        if self.fill_ratio > 0.915:
            return "circle"
        if self.opposite / max(self.rmax, 0.5) > 0.77:
            return "square"
        return "triangle"


def components(clip: np.ndarray) -> list[Component]:
    """All 8-connected components of the non-black pixels of every frame of ``clip``."""
    clip = np.asarray(clip)
    n, h, w, _ = clip.shape
    painted = np.flatnonzero(clip.reshape(n, -1).max(axis=1))
    if len(painted) == 0:
        return []
    # Stack the painted frames vertically with one black row between them: one labelling per clip.
    stride = h + 1
    sub = clip[painted].astype(np.int32)
    packed = np.zeros((len(painted), stride, w), dtype=np.int32)
    packed[:, :h] = (sub[..., 0] << 16) | (sub[..., 1] << 8) | sub[..., 2]
    packed = packed.reshape(-1, w)
    mask = packed != 0
    padded = np.zeros((mask.shape[0], w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    s_row, s_col = np.nonzero(edges == 1)  # run starts (inclusive), row-major order
    e_row, e_col = np.nonzero(edges == -1)  # run ends (exclusive)
    assert np.array_equal(s_row, e_row)
    rows, starts, ends = s_row, s_col, e_col
    nruns = len(rows)
    key = w + 2
    start_keys = rows * key + starts
    end_keys = rows * key + ends
    # 8-connected runs in the next row: start_j <= end_i and start_i <= end_j (ends exclusive).
    lo = np.searchsorted(end_keys, (rows + 1) * key + starts, side="left")
    hi = np.searchsorted(start_keys, (rows + 1) * key + ends, side="right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(nruns), count)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    b = np.repeat(lo, count) + offsets
    labels = np.arange(nruns)
    while True:
        low = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, labels):
            break
        labels = new
    roots, comp = np.unique(labels, return_inverse=True)
    ncomp = len(roots)
    lengths = ends - starts
    area = np.bincount(comp, lengths, ncomp)
    sum_x = np.bincount(comp, lengths * (starts + ends - 1) / 2.0, ncomp)
    sum_y = np.bincount(comp, lengths * rows, ncomp)
    cx, cy = sum_x / area, sum_y / area
    far = np.maximum(
        np.hypot(starts - cx[comp], rows - cy[comp]), np.hypot(ends - 1 - cx[comp], rows - cy[comp])
    )
    rmax = np.zeros(ncomp)
    np.maximum.at(rmax, comp, far)
    # Direction u from the centroid to the farthest pixel (a vertex of a polygon), and the extent of the
    # component in the opposite direction: about rmax for a circle or a square (the opposite vertex),
    # about rmax / 2 for an equilateral triangle (the opposite edge).
    order = np.lexsort((far, comp))
    last = order[np.r_[np.flatnonzero(np.diff(comp[order])), len(order) - 1]]
    far_x = np.where(
        np.hypot(starts - cx[comp], rows - cy[comp]) >= np.hypot(ends - 1 - cx[comp], rows - cy[comp]),
        starts,
        ends - 1,
    )
    ux = (far_x[last] - cx) / np.maximum(rmax, 1e-9)
    uy = (rows[last] - cy) / np.maximum(rmax, 1e-9)
    back = np.maximum(
        -((starts - cx[comp]) * ux[comp] + (rows - cy[comp]) * uy[comp]),
        -((ends - 1 - cx[comp]) * ux[comp] + (rows - cy[comp]) * uy[comp]),
    )
    opposite = np.full(ncomp, -np.inf)
    np.maximum.at(opposite, comp, back)
    # Colour of every painted pixel, in row-major order: runs are contiguous slices of it.
    colors = packed[mask]
    run_offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    run_min = np.minimum.reduceat(colors, run_offsets)
    run_max = np.maximum.reduceat(colors, run_offsets)
    comp_min = np.full(ncomp, np.iinfo(np.int32).max, dtype=np.int32)
    comp_max = np.zeros(ncomp, dtype=np.int32)
    np.minimum.at(comp_min, comp, run_min)
    np.maximum.at(comp_max, comp, run_max)
    local_row = rows % stride
    border_run = (local_row == 0) | (local_row == h - 1) | (starts == 0) | (ends == w)
    touches = np.zeros(ncomp, dtype=bool)
    np.logical_or.at(touches, comp, border_run)
    slot = np.zeros(ncomp, dtype=np.int64)
    slot[comp] = rows // stride
    frame_of = painted[slot]
    cy_local = cy - slot * stride
    out = []
    for c in range(ncomp):
        color = int(comp_min[c])
        out.append(
            Component(
                frame=int(frame_of[c]),
                color=((color >> 16) & 255, (color >> 8) & 255, color & 255),
                area=int(area[c]),
                centroid=(float(cx[c] + 0.5), float(cy_local[c] + 0.5)),
                rmax=float(rmax[c]),
                opposite=float(opposite[c]),
                touches_border=bool(touches[c]),
                single_color=bool(comp_min[c] == comp_max[c]),
            )
        )
    return out


SHAPE_ORDER = ("circle", "square", "triangle")


def count_by_kind(comps: list[Component]) -> tuple[int, int, int]:
    return tuple(sum(1 for c in comps if c.kind == k) for k in SHAPE_ORDER)  # type: ignore[return-value]


def smooth_frame(index: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """The gradient alone, brightened a little with the index (no fine texture): for resampling checks."""
    speckle = np.random.default_rng((seed, index)).integers(-1, 2, size=(height, width, 3))
    return np.clip(gradient(height, width) + (index % 20) + speckle, 0, 255).astype(np.uint8)


def gray_frame(index: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Mid-grey with a small per-index speckle (118..138): noise on it is never clipped near the median."""
    return (128 + np.random.default_rng((seed, index)).integers(-10, 11, size=(height, width, 3))).astype(
        np.uint8
    )


def flat_frame(index: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A uniform mid-grey frame: no colour, no structure, no motion."""
    return np.full((height, width, 3), 128, dtype=np.uint8)


def static_frame(index: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A textured colourful frame that never changes (a still video), the same for every video seed."""
    return render_frame(0, height, width, 0)


def rect_frame(index: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Dark frame with a bright rectangle, a third of the frame, centred on the frame centre."""
    frame = np.full((height, width, 3), 40, dtype=np.uint8)
    rw, rh = width // 3, height // 3
    x0, y0 = (width - rw) // 2, (height - rh) // 2
    frame[y0 : y0 + rh, x0 : x0 + rw] = 210
    frame[0, 0, 0] = index % 256  # unique per index without touching the rectangle
    return frame


# ----------------------------------------------------------------------------------------------------------
# Counting samples drawn on black frames, checked against the independent count


def counting_frame_size(seed: int) -> tuple[int, int]:
    """Small frames of varied size and aspect (landscape and portrait): 64x48 .. 128x96."""
    rng = np.random.default_rng((77, seed))
    w, h = int(rng.integers(64, 129)), int(rng.integers(48, 97))
    return (h, w) if seed % 3 == 0 else (w, h)


_BLACK: dict[tuple[int, int], np.ndarray] = {}


def black_counting_sample(seed: int, preset: str, size: tuple[int, int] | None = None):
    """Plan and make one counting sample on black frames; returns (plan, sample)."""
    w, h = size or counting_frame_size(seed)
    info = VideoInfo(duration=20.0, fps=10.0, num_frames=200, width=w, height=h)
    plan = plan_sample(TaskSpec("counting", preset), info, np.random.default_rng(seed))
    if (h, w) not in _BLACK:
        _BLACK[(h, w)] = np.zeros((48, h, w, 3), dtype=np.uint8)
    return plan, make_sample(plan, _BLACK[(h, w)])


LIMITS = {"easy": (3, 3), "hard": (4, 4)}


def counting_problems(sample, preset: str) -> list[str]:
    """Everything that is wrong with a counting sample drawn on black frames (empty when all is right)."""
    problems = []
    clip = sample.clips[0]
    _, h, w, _ = clip.shape
    comps = components(clip)
    counted = count_by_kind(comps)
    answer = tuple(int(v) for v in sample.answer.split(","))
    if counted != answer:
        problems.append(f"counted {counted} but the answer is {answer}")
    shapes = sample.params["shapes"]
    if len(comps) != len(shapes):
        problems.append(f"{len(comps)} connected components for {len(shapes)} shapes (overlap or split)")
    max_frames, max_instances = LIMITS.get(preset, (None, None))
    for c in comps:
        if not c.single_color:
            problems.append(f"frame {c.frame}: two shapes of different colours touch")
        if c.touches_border:
            problems.append(f"frame {c.frame}: a shape is cut by the frame edge")
        if min(c.color) < 50:
            problems.append(f"frame {c.frame}: colour {c.color} has a channel below 50")
    by_frame: dict[int, list[Component]] = {}
    for c in comps:
        by_frame.setdefault(c.frame, []).append(c)
    frames_of: dict[str, list[int]] = {k: [] for k in SHAPE_ORDER}
    for f, cs in by_frame.items():
        kinds = {c.kind for c in cs}
        if len(kinds) != 1:
            problems.append(f"frame {f} carries several shape types {sorted(kinds)}")
        frames_of[cs[0].kind].append(f)
        if max_instances is not None and len(cs) > max_instances:
            problems.append(f"frame {f} has {len(cs)} shapes > {max_instances}")
    for kind, fs in frames_of.items():
        fs.sort()
        if any(b - a <= 8 for a, b in itertools.pairwise(fs)):
            problems.append(f"{kind} frames {fs} are not more than 8 apart")
        if not fs or (max_frames is not None and len(fs) > max_frames):
            problems.append(f"{kind} is on {len(fs)} frames")
    if max_frames is not None and not all(1 <= a <= max_frames * max_instances for a in answer):
        problems.append(f"counts {answer} outside [1, {max_frames * max_instances}]")
    short = min(w, h)
    for s in shapes:
        if not int(0.2 * short) <= s["size"] <= int(0.4 * short):
            problems.append(f"size {s['size']} outside 0.2-0.4 of {short}")
        cx, cy = s["center"]
        if not (0.15 * w <= cx <= 0.85 * w and 0.15 * h <= cy <= 0.85 * h):
            problems.append(f"centre {s['center']} outside the central 70 % box of {w}x{h}")
    return problems


def check_counting_seeds(seeds: list[int]) -> tuple[list[str], dict]:
    """Worker for the many-seed tests: the problems found and a few statistics."""
    problems: list[str] = []
    stats = {"samples": 0, "max_easy": 0, "max_hard": 0, "shapes": 0}
    for seed in seeds:
        preset = "hard" if seed % 2 else "easy"
        _, sample = black_counting_sample(seed, preset)
        problems += [f"seed {seed} ({preset}): {p}" for p in counting_problems(sample, preset)]
        values = [int(v) for v in sample.answer.split(",")]
        stats["samples"] += 1
        stats["shapes"] += sum(values)
        stats[f"max_{preset}"] = max(stats[f"max_{preset}"], *values)
    return problems, stats
