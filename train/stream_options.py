"""The stream options of ``videossr-train`` (``--dataset stream:SOURCES``): their group, parsers and checks.
Kept apart from :mod:`.config` and free of the stream's own imports (which need the build stage)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig

CLIP_FORMS: tuple[str, ...] = ("frames", "mp4")  # videossr.stream.CLIP_FORMS
STREAM_PREFIX = "stream:"
STREAM = "stream (--dataset stream:SOURCES)"


def parse_band(text: str) -> tuple[float, float]:
    """``LOW,HIGH`` -> ``(LOW, HIGH)`` with ``0 <= LOW < HIGH <= 1``."""
    try:
        low, high = (float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"expected LOW,HIGH such as 0.1,0.5, got {text!r}") from None
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"the band must satisfy 0 <= LOW < HIGH <= 1, got {text!r}")
    return low, high


def is_stream(dataset: str) -> bool:
    return dataset.startswith(STREAM_PREFIX)


def validate_stream(cfg: TrainConfig) -> None:
    """The stream options: only with ``--dataset stream:SOURCES``, and sane."""
    if not is_stream(cfg.dataset):
        given = [f for f in ("export_seen", "adaptive") if getattr(cfg, f)]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise ValueError(f"{flag} needs a stream: --dataset stream:SOURCES (a folder or list of videos)")
        return
    if not cfg.dataset[len(STREAM_PREFIX) :].strip():
        raise ValueError(
            "--dataset stream: needs the videos to draw from, e.g. --dataset stream:/data/videos"
        )
    if cfg.dataset_config:
        raise ValueError("--dataset-config selects a config of a stored dataset; a stream draws --recipe")
    if cfg.stream_clips not in CLIP_FORMS:
        raise ValueError(f"--stream-clips must be one of {', '.join(CLIP_FORMS)}, got {cfg.stream_clips!r}")
    if cfg.adaptive_window < 1:
        raise ValueError(f"--adaptive-window must be at least 1 group, got {cfg.adaptive_window}")
    parse_band(",".join(str(v) for v in cfg.adaptive_band))
