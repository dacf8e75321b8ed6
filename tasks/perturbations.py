"""The anomaly-grounding perturbation catalogue: 17 entries in a registry a user can extend.

Four kinds of perturbation exist:

* ``pixels`` - a function ``(frame, rng) -> frame`` or ``(frame, rng) -> (frame, params)`` applied to every
  frame of the segment (Grayscale, Noise, ZoomIn, ...). Per-frame random parameters (noise sigma, zoom
  scale) are drawn again for each frame, as in the reference code.
* ``reorder`` - a function ``(length, rng) -> (order, params)`` that says which segment frame is shown at each
  segment position (Shuffle, StutterHold). The frames stay clean source frames; their source times change.
* ``speed`` - the segment is sampled ``factor`` times denser (Slow) or sparser (Fast) in source time, while
  timestamps stay evenly spaced. Handled when the frame plan is made.
* ``swap`` - the segment is replaced by the same-position frames of a second video.

Add your own with one decorated function::

    @register_perturbation("Sepia", group="fine-grained", description="the video takes on a brown sepia tone")
    def sepia(frame, rng):
        ...
        return new_frame
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

GROUPS = ("fine-grained", "spatial", "temporal")
KINDS = ("pixels", "reorder", "speed", "swap")

SPEED_NOTE = (
    " Note: the timestamps of the frames were deliberately kept evenly spaced, so you must judge the speed "
    "only from the visual motion between frames"
)


@dataclass(frozen=True)
class Perturbation:
    """One perturbation: its prompt description, ability group, kind and implementation."""

    name: str
    group: str
    description: str
    kind: str = "pixels"
    fn: Callable[..., Any] | None = None
    speed_factor: float | None = None  # >1: Fast (sparser source times); <1: Slow (denser)
    ranges: dict[str, Any] = field(default_factory=dict)  # documented parameter ranges

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"perturbation {self.name!r}: group must be one of {GROUPS}, got {self.group!r}")
        if self.kind not in KINDS:
            raise ValueError(f"perturbation {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("pixels", "reorder") and self.fn is None:
            raise ValueError(f"perturbation {self.name!r} of kind {self.kind!r} needs a function")


PERTURBATIONS: dict[str, Perturbation] = {}


def register_perturbation(
    name: str,
    *,
    group: str,
    description: str,
    kind: str = "pixels",
    ranges: dict[str, Any] | None = None,
    replace: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that adds a perturbation to :data:`PERTURBATIONS` (its subtype name is ``name``)."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in PERTURBATIONS and not replace:
            raise ValueError(f"perturbation {name!r} is already registered; pass replace=True to override it")
        PERTURBATIONS[name] = Perturbation(
            name=name, group=group, description=description, kind=kind, fn=fn, ranges=dict(ranges or {})
        )
        return fn

    return decorator


def get_perturbation(name: str) -> Perturbation:
    try:
        return PERTURBATIONS[name]
    except KeyError:
        raise KeyError(f"unknown perturbation {name!r}; known: {', '.join(sorted(PERTURBATIONS))}") from None


# ----------------------------------------------------------------------------------------------------------
# Helpers


def _to_pil(frame: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(frame), mode="RGB")


def _resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(_to_pil(frame).resize((max(1, width), max(1, height)), Image.LANCZOS))


def _paste_centered(canvas_h: int, canvas_w: int, picture: np.ndarray) -> np.ndarray:
    out = np.zeros((canvas_h, canvas_w, 3), dtype=np.uint8)
    h, w = picture.shape[:2]
    y, x = (canvas_h - h) // 2, (canvas_w - w) // 2
    out[y : y + h, x : x + w] = picture
    return out


def _letterbox(picture: np.ndarray, canvas_h: int, canvas_w: int) -> np.ndarray:
    """Fit ``picture`` inside the canvas keeping its aspect ratio, centred on black."""
    h, w = picture.shape[:2]
    if (h, w) == (canvas_h, canvas_w):
        return picture.copy()
    scale = min(canvas_h / h, canvas_w / w)
    new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    return _paste_centered(canvas_h, canvas_w, _resize(picture, new_w, new_h))


def fit_cover(picture: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize and centre-crop ``picture`` to exactly ``height x width`` without distorting it (for Swap)."""
    h, w = picture.shape[:2]
    if (h, w) == (height, width):
        return picture.copy()
    scale = max(height / h, width / w)
    new_w, new_h = max(width, int(np.ceil(w * scale))), max(height, int(np.ceil(h * scale)))
    resized = _resize(picture, new_w, new_h)
    y, x = (new_h - height) // 2, (new_w - width) // 2
    return resized[y : y + height, x : x + width].copy()


# ----------------------------------------------------------------------------------------------------------
# Fine-grained (pixel) perturbations


@register_perturbation("Grayscale", group="fine-grained", description="the video becomes black and white")
def grayscale(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # ITU-R 601-2 luma, the transform of PIL's ImageOps.grayscale, copied to all three channels.
    luma = np.asarray(_to_pil(frame).convert("L"))
    return np.repeat(luma[..., None], 3, axis=-1)


@register_perturbation("Invert", group="fine-grained", description="the colors in the video are inverted")
def invert(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 255 - frame


@register_perturbation(
    "ChannelSwap",
    group="fine-grained",
    description="the red and blue color channels in the video are swapped",
)
def channel_swap(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.ascontiguousarray(frame[..., ::-1])


@register_perturbation(
    "Noise",
    group="fine-grained",
    description="Gaussian noise is added to the video",
    ranges={"sigma": (35.0, 70.0)},
)
def noise(frame: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    sigma = float(rng.uniform(35.0, 70.0))
    noisy = frame.astype(np.float32) + rng.normal(0.0, sigma, frame.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8), {"sigma": sigma}


@register_perturbation(
    "Blur", group="fine-grained", description="the video becomes blurry or out of focus", ranges={"radius": 2}
)
def blur(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(_to_pil(frame).filter(ImageFilter.GaussianBlur(radius=2)))


@register_perturbation(
    "Saturation",
    group="fine-grained",
    description="the colors in the video become oversaturated and unnaturally vibrant",
    ranges={"factor": 2.0},
)
def saturation(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(ImageEnhance.Color(_to_pil(frame)).enhance(2.0))


# ----------------------------------------------------------------------------------------------------------
# Spatial perturbations


@register_perturbation("Rotate180", group="spatial", description="the video is rotated 180 degrees")
def rotate180(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.ascontiguousarray(frame[::-1, ::-1])


@register_perturbation("Rotate90", group="spatial", description="the video is rotated 90 degrees clockwise")
def rotate90(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Keep the frame size: the rotated picture is letterboxed on black.
    return _letterbox(np.rot90(frame, k=-1), frame.shape[0], frame.shape[1])


@register_perturbation("Rotate270", group="spatial", description="the video is rotated 270 degrees clockwise")
def rotate270(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _letterbox(np.rot90(frame, k=1), frame.shape[0], frame.shape[1])


@register_perturbation("Mirror", group="spatial", description="The video is mirrored horizontally")
def mirror(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


@register_perturbation(
    "ZoomIn", group="spatial", description="the video is zoomed in", ranges={"scale": (1.3, 1.5)}
)
def zoom_in(frame: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    scale = float(rng.uniform(1.3, 1.5))
    h, w = frame.shape[:2]
    crop_w, crop_h = w / scale, h / scale
    left, top = (w - crop_w) / 2, (h - crop_h) / 2
    box = (left, top, left + crop_w, top + crop_h)
    zoomed = _to_pil(frame).resize((w, h), Image.LANCZOS, box=box)
    return np.asarray(zoomed), {"scale": scale}


@register_perturbation(
    "ZoomOut", group="spatial", description="the video is zoomed out", ranges={"scale": (1.2, 1.4)}
)
def zoom_out(frame: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    scale = float(rng.uniform(1.2, 1.4))
    h, w = frame.shape[:2]
    shrunk = _resize(frame, int(w / scale), int(h / scale))
    return _paste_centered(h, w, shrunk), {"scale": scale}


# ----------------------------------------------------------------------------------------------------------
# Temporal perturbations


@register_perturbation(
    "Shuffle",
    group="temporal",
    kind="reorder",
    description=(
        "the frames are shuffled, this means the order of events is scrambled, making the action appear "
        "illogical and chaotic"
    ),
)
def shuffle(length: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A derangement of the segment: every segment position shows another frame, so the anomaly's
    boundaries are exactly the segment's (a fixed first or last frame would shrink the visible interval)."""
    if length < 2:
        raise ValueError("Shuffle needs a segment of at least 2 frames")
    while True:
        order = rng.permutation(length)
        if not np.any(order == np.arange(length)):
            return order, {"order": order.tolist()}


@register_perturbation(
    "StutterHold",
    group="temporal",
    kind="reorder",
    description=(
        "the video appears to freeze and stutter on a few frames, this means instead of playing smoothly, "
        "the video repeatedly freezes on a single frame before jumping to the next."
    ),
    ranges={"holds": (2, 5)},
)
def stutter_hold(length: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Split the segment into ``n`` runs (sizes differ by at most one) and hold one frame for each run.

    As in the reference, ``n`` is drawn from {2, 3, 4, 5} and the held frames are evenly spaced; they are
    taken strictly inside the segment (``linspace`` without its end points) so that the first and last
    segment positions never show their own frame and the anomaly spans the whole segment.
    """
    n = int(rng.choice([2, 3, 4, 5]))
    n = min(n, max(1, length // 2))
    held = np.rint(np.linspace(0, length - 1, n + 2)[1:-1]).astype(np.int64)
    base, extra = divmod(length, n)
    runs = [base + (1 if i < extra else 0) for i in range(n)]
    order = np.repeat(held, runs)
    return order, {"holds": n, "held_positions": held.tolist(), "run_lengths": runs}


PERTURBATIONS["Slow"] = Perturbation(
    name="Slow",
    group="temporal",
    kind="speed",
    speed_factor=0.5,
    description=(
        "the video slows down, this means the motion in this segment plays noticeably slower than in the "
        "rest of the video." + SPEED_NOTE
    ),
    ranges={"factor": 2.0},
)
PERTURBATIONS["Fast"] = Perturbation(
    name="Fast",
    group="temporal",
    kind="speed",
    speed_factor=2.0,
    description=(
        "the video speeds up, this means the motion in this segment appears jerky and rushed compared with "
        "the rest of the video." + SPEED_NOTE
    ),
    ranges={"factor": 2.0},
)
PERTURBATIONS["Swap"] = Perturbation(
    name="Swap",
    group="temporal",
    kind="swap",
    description="the clip is replaced by a clip from another video",
)

# The paper's 14 subtypes plus the reference code's Rotate90, Rotate270 and Swap.
BUILTIN_PERTURBATIONS: tuple[str, ...] = (
    "Grayscale", "Invert", "ChannelSwap", "Rotate90", "Rotate180", "Rotate270", "Noise", "Shuffle", "Swap",
    "ZoomIn", "ZoomOut", "Mirror", "Blur", "Saturation", "StutterHold", "Slow", "Fast",
)  # fmt: skip


def apply_pixels(
    perturbation: Perturbation, frame: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """Run a ``pixels`` perturbation on one frame and normalise its result to ``(uint8 frame, params)``."""
    assert perturbation.fn is not None
    result = perturbation.fn(frame, rng)
    out, params = result if isinstance(result, tuple) else (result, {})
    out = np.asarray(out)
    if out.shape != frame.shape or out.dtype != np.uint8:
        raise ValueError(
            f"perturbation {perturbation.name!r} must return a uint8 frame of shape {frame.shape}, "
            f"got {out.dtype} {out.shape}"
        )
    return out, dict(params)
