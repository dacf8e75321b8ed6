"""Object counting: paint circles, squares and triangles on some frames; answer ``"c,s,t"``.

Faithful to the reference code's layout rules - each shape type gets 1..F frames, more than 8 indices
apart, frames not shared between shape types, 1..I instances per frame, size 0.2-0.4 of the short side,
colour channels in 50..255, squares and triangles rotated, centres in the central 70 % box - with the
overlap bug fixed: shapes never overlap (their circumscribed circles keep a gap) and never
cross the frame edge. A layout that cannot be placed is re-drawn, never emitted ambiguous.

Shapes are rasterised with exact (aliased) masks so that the painted pixels are exactly the shape, which
is what lets a test count them independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .prompts import COUNTING_QUESTION, SYSTEM_PROMPT, single_video_question
from .sample import AmbiguousSample, FramePlan, Sample, SampleRejected, VideoInfo
from .timeline import DEFAULT_NUM_FRAMES, DEFAULT_SPAN, grid_for_units, indices_to_times

TASK = "counting"
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# Radius of the circumscribed circle as a fraction of ``size`` (circle: diameter; square: side;
# triangle: equilateral side, as the reference's base = size, height = size * sqrt(3) / 2).
_CIRCUMRADIUS = {"circle": 0.5, "square": math.sqrt(2) / 2, "triangle": 1 / math.sqrt(3)}
GAP_PX = 2.0  # minimum empty pixels between the circumscribed circles of two shapes on a frame
# A shape must stand out from the picture it is painted on: mean |colour - pixels under it| over its area
# and channels (0-255). A yellow disc on a yellow wall would make the count unverifiable.
MIN_CONTRAST = 30.0


@dataclass(frozen=True)
class CountingConfig:
    """Counting parameters; :data:`PRESETS` holds the paper's easy (3/3) and hard (4/4) settings."""

    max_frames_per_shape: int = 3
    max_instances_per_frame: int = 3
    min_frame_gap: int = 8  # frames of one shape are more than this many indices apart
    size_range: tuple[float, float] = (0.2, 0.4)  # of the short side
    central_box: float = 0.7
    num_frames: int = DEFAULT_NUM_FRAMES
    span: tuple[float, float] = DEFAULT_SPAN
    max_attempts: int = 200

    def __post_init__(self) -> None:
        if self.max_frames_per_shape < 1 or self.max_instances_per_frame < 1:
            raise ValueError("counting needs at least one frame and one instance per shape")
        slots = (self.num_frames - 1) // (self.min_frame_gap + 1) + 1
        if self.max_frames_per_shape > slots:
            raise ValueError(
                f"{self.max_frames_per_shape} frames per shape cannot be more than {self.min_frame_gap} "
                f"apart within {self.num_frames} frames"
            )
        lo, hi = self.size_range
        if not 0 < lo <= hi < 1:
            raise ValueError(f"size_range must satisfy 0 < lo <= hi < 1, got {self.size_range}")

    @property
    def difficulty(self) -> str:
        for name, preset in PRESETS.items():
            if (preset.max_frames_per_shape, preset.max_instances_per_frame) == (
                self.max_frames_per_shape,
                self.max_instances_per_frame,
            ):
                return name
        return "custom"


PRESETS: dict[str, CountingConfig] = {
    "easy": CountingConfig(max_frames_per_shape=3, max_instances_per_frame=3),
    "hard": CountingConfig(max_frames_per_shape=4, max_instances_per_frame=4),
}


def _pick_frames(rng: np.random.Generator, count: int, free: set[int], gap: int) -> list[int] | None:
    chosen: list[int] = []
    candidates = sorted(free)
    for _ in range(count):
        options = [f for f in candidates if all(abs(f - c) > gap for c in chosen)]
        if not options:
            return None
        chosen.append(int(rng.choice(options)))
    return sorted(chosen)


def _place_frame(
    rng: np.random.Generator, shape: str, instances: int, width: int, height: int, config: CountingConfig
) -> list[dict] | None:
    """Sizes, centres, angles and colours of ``instances`` non-overlapping shapes fully inside the frame."""
    short = min(width, height)
    lo, hi = int(config.size_range[0] * short), int(config.size_range[1] * short)
    placed: list[dict] = []
    box_w, box_h = config.central_box * width, config.central_box * height
    box_x0, box_y0 = (width - box_w) / 2, (height - box_h) / 2
    for _ in range(instances):
        for _attempt in range(50):
            size = int(rng.integers(lo, hi + 1)) if hi > lo else lo
            radius = _CIRCUMRADIUS[shape] * size
            # The centre lies in the central box and far enough from the edges that nothing is cut.
            x_min, x_max = max(box_x0, radius + 1), min(box_x0 + box_w, width - radius - 1)
            y_min, y_max = max(box_y0, radius + 1), min(box_y0 + box_h, height - radius - 1)
            if x_min > x_max or y_min > y_max:
                continue
            cx, cy = float(rng.uniform(x_min, x_max)), float(rng.uniform(y_min, y_max))
            if all(
                math.hypot(cx - p["center"][0], cy - p["center"][1]) > radius + p["radius"] + GAP_PX
                for p in placed
            ):
                angle = 0.0 if shape == "circle" else float(rng.uniform(0.0, 360.0))
                color = [int(c) for c in rng.integers(50, 256, size=3)]
                placed.append(
                    {
                        "type": shape,
                        "center": [cx, cy],
                        "size": size,
                        "angle": angle,
                        "color": color,
                        "radius": radius,
                    }
                )
                break
        else:
            return None
    return placed


def draw_layout(rng: np.random.Generator, width: int, height: int, config: CountingConfig) -> list[dict]:
    """Draw a complete, valid layout: one entry per painted shape instance (with its frame index)."""
    for _ in range(config.max_attempts):
        free = set(range(config.num_frames))
        shapes: list[dict] = []
        ok = True
        for shape in SHAPES:
            n_frames = int(rng.integers(1, config.max_frames_per_shape + 1))
            frames = _pick_frames(rng, n_frames, free, config.min_frame_gap)
            if frames is None:
                ok = False
                break
            free -= set(frames)
            for f in frames:
                instances = int(rng.integers(1, config.max_instances_per_frame + 1))
                placed = _place_frame(rng, shape, instances, width, height, config)
                if placed is None:
                    ok = False
                    break
                for p in placed:
                    p["frame"] = f
                shapes.extend(placed)
            if not ok:
                break
        if ok:
            return shapes
    raise SampleRejected(
        f"could not place a non-overlapping counting layout on {width}x{height} frames in "
        f"{config.max_attempts} attempts"
    )


def shape_vertices(shape: dict) -> np.ndarray:
    """Polygon vertices (x, y) of a square or triangle, rotated by its angle around its centre."""
    cx, cy = shape["center"]
    size, theta = shape["size"], math.radians(shape["angle"])
    if shape["type"] == "square":
        half = size / 2
        pts = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], dtype=np.float64)
    elif shape["type"] == "triangle":
        h = size * math.sqrt(3) / 2
        # centroid at the origin: apex at -2h/3, base at +h/3
        pts = np.array([[0.0, -2 * h / 3], [size / 2, h / 3], [-size / 2, h / 3]], dtype=np.float64)
    else:
        raise ValueError(f"{shape['type']} has no vertices")
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return pts @ rot.T + np.array([cx, cy])


def _shape_box(shape: dict, height: int, width: int) -> tuple[int, int, int, int]:
    """Pixel rows ``y0:y1`` and columns ``x0:x1`` (clipped to the frame) holding every pixel of the shape."""
    if shape["type"] == "circle":
        cx, cy = shape["center"]
        r = shape["size"] / 2
        lo_x, hi_x, lo_y, hi_y = cx - r, cx + r, cy - r, cy + r
    else:
        verts = shape_vertices(shape)
        lo_x, lo_y = verts.min(axis=0)
        hi_x, hi_y = verts.max(axis=0)
    # A pixel is covered when its centre (index + 0.5) is inside; one pixel of slack on each side.
    x0, x1 = max(0, math.floor(lo_x) - 1), min(width, math.ceil(hi_x) + 1)
    y0, y1 = max(0, math.floor(lo_y) - 1), min(height, math.ceil(hi_y) + 1)
    return y0, max(y0, y1), x0, max(x0, x1)


def _mask_in_box(shape: dict, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """The shape's coverage of the pixels ``[y0:y1, x0:x1]`` (tested at pixel centres)."""
    px = np.arange(x0, x1)[None, :] + 0.5
    py = np.arange(y0, y1)[:, None] + 0.5
    cx, cy = shape["center"]
    if shape["type"] == "circle":
        r = shape["size"] / 2
        return (px - cx) ** 2 + (py - cy) ** 2 <= r * r
    verts = shape_vertices(shape)
    n = len(verts)
    # Vertices are in a consistent winding; a point is inside if it is on the same side of every edge.
    pos = np.ones((y1 - y0, x1 - x0), dtype=bool)
    neg = pos.copy()
    for i in range(n):
        (vx0, vy0), (vx1, vy1) = verts[i], verts[(i + 1) % n]
        side = (vx1 - vx0) * (py - vy0) - (vy1 - vy0) * (px - vx0)
        pos &= side >= 0
        neg &= side <= 0
    return pos | neg


def shape_mask(shape: dict, height: int, width: int) -> np.ndarray:
    """Boolean mask of the pixels (tested at pixel centres) that the shape covers."""
    mask = np.zeros((height, width), dtype=bool)
    y0, y1, x0, x1 = _shape_box(shape, height, width)
    mask[y0:y1, x0:x1] = _mask_in_box(shape, y0, y1, x0, x1)
    return mask


def paint(frame: np.ndarray, shapes: list[dict]) -> np.ndarray:
    """Paint filled shapes on a copy of one frame (each shape evaluated on its bounding box only)."""
    out = frame.copy()
    h, w = frame.shape[:2]
    for shape in shapes:
        y0, y1, x0, x1 = _shape_box(shape, h, w)
        out[y0:y1, x0:x1][_mask_in_box(shape, y0, y1, x0, x1)] = np.asarray(shape["color"], dtype=np.uint8)
    return out


def _ensure_contrast(shape: dict, frame: np.ndarray) -> None:
    """Make the shape stand out from the picture under it, or reject the sample.

    The drawn colour ``c`` is kept when it differs enough from the pixels it covers; otherwise its mirror in
    the allowed range, ``305 - c`` (still 50..255 per channel), is used when that differs more. If neither
    stands out the count could not be verified from the pixels, so the sample is rejected (and re-drawn).
    """
    h, w = frame.shape[:2]
    y0, y1, x0, x1 = _shape_box(shape, h, w)
    under = frame[y0:y1, x0:x1][_mask_in_box(shape, y0, y1, x0, x1)].astype(np.int16)
    if not under.size:
        raise AmbiguousSample(f"counting: a {shape['type']} on frame {shape['frame']} covers no pixel")
    best, best_contrast = None, -1.0
    for color in (
        np.asarray(shape["color"], dtype=np.int16),
        305 - np.asarray(shape["color"], dtype=np.int16),
    ):
        contrast = float(np.abs(under - color).mean())
        if contrast > best_contrast:
            best, best_contrast = color, contrast
        if contrast >= MIN_CONTRAST:
            break
    if best_contrast < MIN_CONTRAST:
        raise AmbiguousSample(
            f"counting: a {shape['type']} on frame {shape['frame']} cannot stand out from the picture under "
            f"it (mean colour difference {best_contrast:.1f} < {MIN_CONTRAST:.0f})"
        )
    shape["color"] = [int(c) for c in best]


def counts(shapes: list[dict]) -> tuple[int, int, int]:
    return tuple(sum(1 for s in shapes if s["type"] == name) for name in SHAPES)  # type: ignore[return-value]


def format_counts(values: tuple[int, int, int] | list[int]) -> str:
    return ",".join(str(int(v)) for v in values)


def plan(info: VideoInfo, rng: np.random.Generator, config: CountingConfig | None = None) -> FramePlan:
    """Draw the shape layout (in the delivered frame size) and say which source frames to decode."""
    config = config or PRESETS["easy"]
    grid = grid_for_units(info, config.num_frames, config.span)
    indices = grid.indices(config.num_frames)
    shapes = draw_layout(rng, info.width, info.height, config)
    for s in shapes:
        s.pop("radius", None)
    params = {
        "shapes": shapes,
        "counts": list(counts(shapes)),
        "frames_per_shape": {
            name: sorted({s["frame"] for s in shapes if s["type"] == name}) for name in SHAPES
        },
        "max_frames_per_shape": config.max_frames_per_shape,
        "max_instances_per_frame": config.max_instances_per_frame,
        "num_frames": config.num_frames,
        "frame_size": [info.width, info.height],
        "source_indices": indices.tolist(),
        "source_fps": float(info.fps),
    }
    return FramePlan(
        task=TASK,
        subtype=config.difficulty,
        difficulty=config.difficulty,
        times=indices_to_times(indices, info.fps),
        frame_step=grid.step_seconds,
        params=params,
    )


def make(frame_plan: FramePlan, frames: np.ndarray, secondary: np.ndarray | None = None) -> Sample:
    """Paint the planned shapes on the decoded frames and emit the sample."""
    params = dict(frame_plan.params)
    frames = np.asarray(frames)
    n = params["num_frames"]
    w, h = params["frame_size"]
    if frames.shape != (n, h, w, 3) or frames.dtype != np.uint8:
        raise ValueError(
            f"counting planned {n} frames of {w}x{h}; got {frames.dtype} {frames.shape} "
            "(the sampler must deliver the size given in VideoInfo)"
        )
    out = frames.copy()
    shapes = [dict(s) for s in params["shapes"]]  # colours may be adjusted below; the plan stays untouched
    by_frame: dict[int, list[dict]] = {}
    for s in shapes:
        by_frame.setdefault(int(s["frame"]), []).append(s)
    for f, on_frame in by_frame.items():
        for shape in on_frame:
            _ensure_contrast(shape, frames[f])
        out[f] = paint(frames[f], on_frame)
    params["shapes"] = shapes
    return Sample(
        task=TASK,
        subtype=frame_plan.subtype,
        difficulty=frame_plan.difficulty,
        system=SYSTEM_PROMPT,
        question=single_video_question(COUNTING_QUESTION),
        answer=format_counts(params["counts"]),
        clips=[out],
        frame_times=[frame_plan.times.copy()],
        fps=[1.0 / frame_plan.frame_step],
        params={**params, "frame_step": frame_plan.frame_step},
    )
