"""How a build runs (:class:`BuildConfig`), each setting declared once with its command-line help, and the
parsers that turn the command line's text into checked values (one-line errors that say what is wrong)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videossr.arguments import option

from .probe import MAX_SOURCE_PIXELS, describe_pixels
from .recipes import MAX_FRAME_PIXELS, MIN_FRAME_PIXELS
from .render import DEFAULT_CRF, DEFAULT_PRESET, MAX_CRF
from .shards import DEFAULT_MAX_SHARD_BYTES

MAX_SOURCE_PIXELS_LIMIT = 16384 * 16384  # the largest --max-source-pixels (decoders' own frame-size limit)


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise ValueError(f"must be >= 1, got {value}")
    return value


def retries_value(text: str) -> int:
    value = whole_number(text)
    if value < 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise ValueError(f"must be positive, got {value}")
    return value


def crf_value(text: str) -> int:
    value = whole_number(text)
    if not 0 <= value <= MAX_CRF:
        raise ValueError(f"must be in 0..{MAX_CRF} so perturbations stay visible, got {value}")
    return value


def parse_pixels(text: str, low: int, high: int) -> int:
    """``65536`` or ``256x256``, within ``low..high``."""
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x", 1)
            value = int(w) * int(h)
        else:
            value = int(text)
    except ValueError:
        raise ValueError(f"expected a pixel count like 65536 or 256x256, got {text!r}") from None
    if not low <= value <= high:
        raise ValueError(
            f"must be between {describe_pixels(low)} and {describe_pixels(high)} ({low}..{high}), got {text}"
        )
    return value


def frame_pixels(text: str) -> int:
    """Pixels per sampled frame."""
    return parse_pixels(text, MIN_FRAME_PIXELS, MAX_FRAME_PIXELS)


def source_pixels(text: str) -> int:
    """Pixels per source frame."""
    return parse_pixels(text, MIN_FRAME_PIXELS, MAX_SOURCE_PIXELS_LIMIT)


BUILD = "how the build runs"


@dataclass
class BuildConfig:
    """Where and how the datasets are built; the same sources, recipes and settings give the same bytes
    (``workers``, ``scheduler``, ``worker_start``, ``retries`` and ``progress`` never change what is
    built)."""

    out_dir: Path = option(
        Path("."),
        help="where the dataset folders are written; not a sources folder, and an existing <out>/<dataset> "
        "is replaced only if this tool made it",
        metavar="FOLDER",
        group=BUILD,
    )
    seed: int = option(
        0, help="global seed; same sources + seed -> same rows and bytes", metavar="N", group=BUILD
    )
    crf: int = option(
        DEFAULT_CRF,
        help=f"x264 CRF of the clips, 0..{MAX_CRF} (each +3: about 25 % fewer bytes, 1 dB lower PSNR)",
        parse=crf_value,
        metavar="N",
        group=BUILD,
    )
    preset: str = option(DEFAULT_PRESET, help="x264 preset of the clips", cli=False)
    decode_timeout: float = option(
        120.0,
        help="seconds before a decode call is abandoned",
        parse=positive_seconds,
        metavar="SECONDS",
        group=BUILD,
    )
    workers: int | None = option(
        None,
        help="local worker processes (default: one per core)",
        parse=positive_int,
        metavar="N",
        group=BUILD,
    )
    scheduler: str | None = option(
        None,
        help="run on an existing Dask cluster (tcp://host:8786); its workers need the project's environment "
        "and --out-dir on a filesystem they share with this machine (sources may be URLs)",
        metavar="ADDRESS",
        group=BUILD,
    )
    worker_start: str = option(
        "auto",
        help="how the build's own worker processes start: 'auto' (forked from a driver that runs one thread, "
        "on Linux; else spawned) or 'spawn'",
        choices=("auto", "spawn"),
        cli=False,
    )
    retries: int = option(
        2, help="retries of a failed work unit", parse=retries_value, metavar="N", group=BUILD
    )
    max_shard_bytes: int = option(DEFAULT_MAX_SHARD_BYTES, help="video bytes per parquet shard", cli=False)
    progress: bool = option(True, help="progress bars", group=BUILD)
    max_source_pixels: int = option(
        MAX_SOURCE_PIXELS,
        help=f"skip sources with more pixels per frame ({MAX_SOURCE_PIXELS} is "
        f"{describe_pixels(MAX_SOURCE_PIXELS)}; 65536 or 256x256 forms)",
        parse=source_pixels,
        metavar="PIXELS",
        group=BUILD,
    )

    def __post_init__(self) -> None:
        if self.worker_start not in ("auto", "spawn"):
            raise ValueError(f"worker_start must be 'auto' or 'spawn', got {self.worker_start!r}")
