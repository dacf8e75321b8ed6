"""The item every backend answers, and the loader that turns a benchmark's release into items.

An :class:`Item` carries ``videos`` (embedded bytes or a file path), a ``prompt`` whose ``<video>`` marks say
where each video goes, ``options`` (multiple choice), ``answer`` and ``kind``. A row that cannot become a
usable item (missing column, bad answer, video not found) still becomes an item, with ``error`` set: it
scores 0 and stays in the denominator. Rows outside the evaluated subset are counted by reason, not dropped
silently. The benchmark modules (:mod:`videossr.eval.benchmarks`) do the per-release work.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videossr.tasks.extract import letters_for

from .archives import DEFAULT_MAX_EXTRACT_BYTES
from .sources import DatasetUnavailable, Row, RowError, RowExcluded, locate_data
from .videos import VideoFinder

if TYPE_CHECKING:
    from .registry import BenchmarkSpec

log = logging.getLogger("videossr.eval")

VIDEO = "<video>"

__all__ = [
    "VIDEO",
    "DatasetUnavailable",
    "Item",
    "LoadedBenchmark",
    "RowError",
    "VideoRef",
    "hash_int",
    "load_benchmark",
    "load_items",
    "spill",
]


@dataclass
class VideoRef:
    """A video input: embedded ``data`` or a file ``path``; ``name`` is what the dataset calls it.

    ``start``/``end`` (seconds) ask for a cut of the file, ``frame_fps`` says ``path`` is a folder of numbered
    frames at that rate (:func:`videossr.eval.media.materialize` makes either one clip file).
    """

    name: str
    data: bytes | None = None
    path: str | None = None
    sha: str | None = None
    start: float | None = None
    end: float | None = None
    frame_fps: float | None = None

    @property
    def resolved(self) -> bool:
        return self.data is not None or self.path is not None

    def digest(self) -> str:
        """Content hash of embedded bytes (kept after they are spilled to disk), else of the reference."""
        if self.sha is None:
            if self.data is not None:
                self.sha = hashlib.sha256(self.data).hexdigest()[:16]
            else:
                key = str(self.path)
                if self.start is not None or self.frame_fps is not None:
                    key += f"|{self.start}|{self.end}|{self.frame_fps}"
                self.sha = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.sha


def spill(ref: VideoRef, cache_dir: str | os.PathLike) -> str:
    """Write a video's embedded bytes once under ``cache_dir/clips`` and point the ref at that file."""
    if ref.path is not None and ref.data is None:
        return ref.path
    if ref.data is None:
        raise ValueError(f"video {ref.name!r} has neither bytes nor a path")
    suffix = Path(ref.name).suffix or ".mp4"
    target = Path(cache_dir) / "clips" / f"{ref.digest()}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_bytes(ref.data)
        os.replace(tmp, target)
    ref.path, ref.data = str(target), None
    return ref.path


@dataclass
class Item:
    bench: str
    id: str
    kind: str  # mc | grounding | viubench | order
    question: str
    prompt: str  # full user text with one <video> marker per video
    answer: Any
    videos: list[VideoRef] = field(default_factory=list)
    video_names: list[str] = field(default_factory=list)
    options: list[str] | None = None
    system: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def letters(self) -> list[str]:
        return letters_for(len(self.options)) if self.options else []


def hash_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


@dataclass
class LoadedBenchmark:
    """A benchmark's items (sorted by id), the rows left out of the evaluated subset, and loader notes."""

    items: list[Item]
    excluded: dict[str, int]
    notes: list[str]
    source: str


def _failed(bench: str, kind: str, row: Row, reason: str, meta: dict[str, Any]) -> Item:
    """The item a row that cannot be used becomes: it scores 0 and counts in its group (``meta``)."""
    rid = next(
        (row.fields[k] for k in ("id", "qid", "question_id", "idx") if row.fields.get(k) is not None), None
    )
    prefix = f"{row.config}-" if row.config else ""
    item_id = f"{prefix}{rid if rid is not None else row.index}"
    return Item(
        bench=bench, id=item_id, kind=kind, question="", prompt="", answer=None, meta=meta, error=reason
    )


def _resolve(item: Item, locate: Callable[[str, Item, VideoFinder], VideoRef], finder: VideoFinder) -> None:
    """Point every unresolved video of ``item`` at a file, or record why it cannot be found."""
    for i, ref in enumerate(item.videos):
        if ref.resolved:
            continue
        try:
            item.videos[i] = locate(ref.name, item, finder)
        except RowError as exc:
            item.error = str(exc)
            return


def _store(item: Item, spill_dir: str | os.PathLike | None, keep_bytes: bool) -> None:
    for ref in item.videos:
        if ref.data is not None:
            ref.digest()
            if spill_dir is not None:
                spill(ref, spill_dir)
            elif not keep_bytes:
                ref.data = None


def load_benchmark(
    spec: BenchmarkSpec,
    data: str | None = None,
    video_root: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    spill_dir: str | os.PathLike | None = None,
    keep_bytes: bool = True,
    max_extract_bytes: int = DEFAULT_MAX_EXTRACT_BYTES,
) -> LoadedBenchmark:
    """All items of a benchmark with their videos resolved (or ``error`` set), and what was left out.

    Archives in the dataset's folder are extracted under ``cache_dir/videos/<bench>`` (video members only,
    at most ``max_extract_bytes`` in all). Embedded clips are written to ``spill_dir`` as they stream in;
    with ``keep_bytes=False`` and no ``spill_dir`` only their content hash is kept.
    """
    from .registry import adapter_for

    adapter = adapter_for(spec.name)
    source = locate_data(spec, data)
    extract_dir = Path(cache_dir) / "videos" / spec.name if cache_dir is not None else None
    finder = VideoFinder.for_source(source, video_root, extract_dir, max_extract_bytes)
    items: list[Item] = []
    excluded: Counter[str] = Counter()
    seen: set[str] = set()
    for row in adapter.read(source):
        try:
            if row.error is not None:
                raise RowError(row.error)
            produced = adapter.items(row)
        except RowExcluded as exc:
            excluded[str(exc)] += 1
            continue
        except (RowError, TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            reason = str(exc) if isinstance(exc, RowError) else f"bad row ({type(exc).__name__}: {exc})"
            produced = [_failed(spec.name, spec.kind, row, reason, adapter.failed_meta(row))]
        for item in produced:
            if item.error is None:
                _resolve(item, adapter.locate, finder)
            _store(item, spill_dir, keep_bytes)
            item.video_names = [ref.name for ref in item.videos] or item.video_names
            if item.id in seen:
                item.id = f"{item.id}-{row.index}"
            seen.add(item.id)
            items.append(item)
    items.sort(key=lambda it: it.id)
    return LoadedBenchmark(items, dict(sorted(excluded.items())), finder.notes, source.origin)


def load_items(
    spec: BenchmarkSpec,
    data: str | None = None,
    video_root: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    spill_dir: str | os.PathLike | None = None,
    keep_bytes: bool = True,
    max_extract_bytes: int = DEFAULT_MAX_EXTRACT_BYTES,
) -> list[Item]:
    """The items of :func:`load_benchmark`; excluded rows and loader notes are logged (``videossr.eval``)."""
    loaded = load_benchmark(spec, data, video_root, cache_dir, spill_dir, keep_bytes, max_extract_bytes)
    for reason, count in loaded.excluded.items():
        log.warning("[%s] %d row(s) outside the evaluated subset: %s", spec.name, count, reason)
    for note in loaded.notes:
        log.warning("[%s] %s", spec.name, note)
    return loaded.items
