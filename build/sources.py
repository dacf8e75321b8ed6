"""Source discovery: folders (recursive), list files, stable ids, one probe per source, counted skips.

A source id is its path relative to its root without the extension (``cooking/clip01``); it never holds an
absolute path or anything above the root. A list file's root is the folder that holds the list.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from .frames import DecodeError, worker_sampler

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi")


@dataclass(frozen=True)
class Source:
    """One usable source video: where it is, its id and what the probe found."""

    id: str
    path: str
    duration: float
    fps: float
    num_frames: int
    width: int  # display width (after rotation metadata)
    height: int
    rotation: int
    codec: str
    content_hash: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    """A source that was not used, and why (reported in the summary and build_manifest.json)."""

    source: str  # the source id (or a safe relative name), never an absolute path
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def _safe_id(relative: PurePosixPath) -> str:
    parts = [p for p in relative.with_suffix("").parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or relative.is_absolute():
        raise ValueError(f"source id {relative} escapes its root")
    return "/".join(parts)


def source_id(path: Path, root: Path) -> str:
    """The stable id of ``path`` under ``root``: relative path without extension, '/'-separated."""
    rel = os.path.relpath(path, root)
    return _safe_id(PurePosixPath(Path(rel).as_posix()))


def _walk(folder: Path, skipped: list[Skipped]) -> Iterable[Path]:
    """Recursive listing that follows symlinked folders once and never loops."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            dirnames[:] = []
            rel = os.path.relpath(dirpath, folder)
            skipped.append(Skipped(rel, "symlink loop: folder already visited"))
            continue
        seen.add(key)
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def discover(inputs: Iterable[str | os.PathLike]) -> tuple[list[tuple[str, Path]], list[Skipped]]:
    """Expand ``--sources`` (folders, list files, single videos) into ``(id, path)`` pairs.

    Files with other extensions are not sources (and not reported); missing inputs raise.
    """
    found: dict[str, Path] = {}
    skipped: list[Skipped] = []
    for raw in inputs:
        entry = Path(raw)
        if entry.is_dir():
            pairs = [
                (source_id(p, entry), p)
                for p in _walk(entry, skipped)
                if p.suffix.lower() in VIDEO_EXTENSIONS
            ]
        elif entry.is_file() and entry.suffix.lower() in VIDEO_EXTENSIONS:
            pairs = [(source_id(entry, entry.parent), entry)]
        elif entry.is_file():
            pairs = []
            root = entry.parent
            for line_no, line in enumerate(entry.read_text(encoding="utf-8").splitlines(), 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                path = Path(line) if Path(line).is_absolute() else root / line
                try:
                    sid = source_id(path, root)
                except ValueError:
                    sid = (
                        _safe_id(PurePosixPath(path.parent.name) / path.name)
                        if path.parent.name
                        else path.stem
                    )
                if not path.exists():
                    skipped.append(Skipped(sid, f"listed in {entry.name}:{line_no} but does not exist"))
                    continue
                pairs.append((sid, path))
        else:
            raise FileNotFoundError(f"--sources entry {raw} is neither a folder, a video nor a list file")
        for sid, path in pairs:
            if sid in found:
                skipped.append(Skipped(sid, "duplicate source id (same relative path under two roots)"))
                continue
            found[sid] = path
    return sorted(found.items()), skipped


def content_hash(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def probe_source(
    sid: str, path: str | os.PathLike, *, min_frames: int = 54, timeout: float = 60
) -> Source | Skipped:
    """Probe one file; a :class:`Skipped` with a specific reason when it cannot be used."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return Skipped(sid, "empty file (0 bytes)")
        if not os.access(path, os.R_OK):
            return Skipped(sid, "file is not readable (permissions)")
        digest = content_hash(path)
    except OSError as exc:
        return Skipped(sid, f"cannot read file: {exc.strerror or exc}")
    try:
        # Probed by the decoder that will decode it, in its guarded child: a malformed file can hang or crash
        # a demuxer (never this process), and the facts plans use (frame rate, duration, rotation) are its own.
        info = worker_sampler().probe(str(path), timeout)
    except DecodeError as exc:
        return Skipped(sid, f"not a readable video: {_scrub(str(exc), path)}")
    if info.codec in ("png", "mjpeg", "bmp", "gif", "webp") and info.num_frames <= 1:
        return Skipped(sid, f"a still image ({info.codec}), not a video")
    if info.width < 2 or info.height < 2:
        return Skipped(sid, f"no picture size ({info.width}x{info.height})")
    if info.fps <= 0 or info.duration <= 0:
        return Skipped(sid, "no frame rate or duration in the container")
    if info.num_frames < min_frames:
        return Skipped(sid, f"too short: {info.num_frames} frames, needs at least {min_frames}")
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


PROBE_CACHE_VERSION = 1  # bump when probe_source's result for the same file changes


def _decoder_version() -> str:
    """The PyAV release that probes (its wheels carry their FFmpeg): probe facts may change with it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("av")
    except PackageNotFoundError:
        return "none"


class ProbeCache:
    """Usable sources already probed, kept beside the build output (``<out>/.videossr-cache/probe.jsonl``).

    Probing a source hashes the whole file (dedupe and the train/benchmark split go by content) and opens it
    in the decode child: for 30,000 web videos that is reading every byte once more, on every re-run. An entry
    holds while the file's absolute path, size and modification time hold and the cache was written by the
    same probe (``PROBE_CACHE_VERSION`` and PyAV release); anything else is probed again. Only usable sources
    are kept: a skipped file is probed again, so a fixed file or a passing timeout is seen. Lines are appended
    by the driver alone; a torn last line (an interrupted run) is ignored.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.header = {"probe_cache": PROBE_CACHE_VERSION, "av": _decoder_version()}
        self.entries: dict[str, dict] = {}
        self.hits = 0
        self._appending = False  # this run has written the file: append without looking
        if path is None or not path.is_file():
            return
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        try:
            if not lines or json.loads(lines[0]) != self.header:
                return  # another probe wrote it: start over (the file is rewritten on the next add)
        except ValueError:
            return
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                self.entries[entry["key"]] = entry["source"]
            except (ValueError, KeyError, TypeError):
                continue

    @staticmethod
    def _key(path: str | os.PathLike) -> str | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}"

    def get(self, sid: str, path: str | os.PathLike, min_frames: int) -> Source | None:
        """The cached probe of ``path`` as source ``sid``, or None when it must be probed."""
        key = self._key(path)
        fields = self.entries.get(key) if key is not None else None
        if fields is None or fields.get("num_frames", 0) < min_frames:
            return None
        try:
            source = Source(id=sid, path=str(path), **fields)
        except TypeError:  # fields of another layout
            return None
        self.hits += 1
        return source

    def add(self, sources: Iterable[Source]) -> None:
        """Remember freshly probed usable sources (appended at once; the header first in a new file)."""
        if self.path is None:
            return
        lines = []
        for src in sources:
            key = self._key(src.path)
            if key is None or key in self.entries:
                continue
            fields = {k: v for k, v in src.to_dict().items() if k not in ("id", "path")}
            self.entries[key] = fields
            lines.append(json.dumps({"key": key, "source": fields}, sort_keys=True))
        if not lines:
            return
        fresh = False
        if not self._appending:  # the first add of this run looks at the file once
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = self._stale_header()
            if fresh:
                lines = [json.dumps(self.header, sort_keys=True)] + [
                    json.dumps({"key": k, "source": v}, sort_keys=True) for k, v in self.entries.items()
                ]
            elif not self._ends_with_newline():
                lines.insert(0, "")  # end a torn last line first
        with open(self.path, "w" if fresh else "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self._appending = True

    def _stale_header(self) -> bool:
        """No file yet, or one another probe wrote."""
        try:
            with open(self.path, encoding="utf-8") as f:  # type: ignore[arg-type]
                return json.loads(f.readline()) != self.header
        except (OSError, ValueError):
            return True

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:  # type: ignore[arg-type]
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return True
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"


def _scrub(message: str, path: Path) -> str:
    """Remove the file's path (and its folder) from an error message so no absolute path leaks."""
    for text in (str(path), str(path.resolve()), str(path.parent)):
        message = message.replace(text, "<source>")
    return re.sub(r"(/[^\s:]+)+", "<path>", message)


def dedupe(sources: list[Source]) -> tuple[list[Source], list[Skipped]]:
    """Keep the first source (by id) of each distinct content; report the others."""
    kept: dict[str, Source] = {}
    skipped: list[Skipped] = []
    for s in sorted(sources, key=lambda s: s.id):
        if s.content_hash in kept:
            skipped.append(Skipped(s.id, f"duplicate content of {kept[s.content_hash].id}"))
        else:
            kept[s.content_hash] = s
    return sorted(kept.values(), key=lambda s: s.id), skipped
