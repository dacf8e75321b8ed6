"""Video archives shipped inside a release (zip, tar, tar.gz), extracted once into the eval cache.

Only archives inside the dataset's own folder are opened, and only their video members are written: no
member name may be absolute or climb out with ``..``, links and devices are skipped, and the video members
of all archives together stay under a byte cap (an archive over it is left alone with a reason). Each
archive is extracted into a staging folder renamed into place, with a marker, so a re-run reuses it and two
runs never see half an archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tarfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".gif")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
DEFAULT_MAX_EXTRACT_BYTES = 256 * 2**30  # all video members of one benchmark's archives together
MARKER = ".videossr-extracted.json"
CHUNK = 1 << 20


class ArchiveError(RuntimeError):
    """An archive cannot be extracted safely (the reason becomes a note; its videos stay unavailable)."""


def is_video_name(name: str) -> bool:
    return name.lower().endswith(VIDEO_EXTENSIONS)


def safe_member_name(name: str) -> str | None:
    """The member's relative path, or None when it is absolute, climbs out with ``..`` or names a drive."""
    if not name or "\\" in name or name.startswith("/") or "\x00" in name:
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or ".." in parts or parts[0].endswith(":"):
        return None
    return "/".join(parts)


@dataclass(frozen=True)
class Member:
    name: str  # the safe relative path
    size: int  # declared uncompressed size
    ref: object  # the archive's own handle (ZipInfo or TarInfo)


@dataclass
class Extraction:
    """What extraction made available: one folder per extracted archive, and notes on what was skipped."""

    roots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_archives(folder: Path, allowed: tuple[Path, ...]) -> list[Path]:
    """Archives under ``folder`` whose real path stays inside ``allowed`` (sorted, deterministic)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.name.lower().endswith(ARCHIVE_SUFFIXES) or not path.is_file():
            continue
        real = path.resolve()
        if any(real == root or root in real.parents for root in allowed):
            found.append(path)
    return found


def _members(archive: Path) -> tuple[list[Member], Counter]:
    """Video members that are safe to write, and the count of skipped members by reason."""
    skipped: Counter = Counter()
    members: list[Member] = []
    for name, size, ref, regular in _listing(archive):
        safe = safe_member_name(name)
        if not regular:
            skipped["not a regular file"] += 1
        elif safe is None:
            skipped["unsafe path"] += 1
        elif not is_video_name(safe):
            skipped["not a video"] += 1
        else:
            members.append(Member(safe, size, ref))
    return members, skipped


def _listing(archive: Path) -> Iterator[tuple[str, int, object, bool]]:
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                mode = info.external_attr >> 16
                regular = not (mode and stat.S_ISLNK(mode))
                yield info.filename, info.file_size, info, regular
    else:
        with tarfile.open(archive) as tf:
            for info in tf.getmembers():
                if info.isdir():
                    continue
                yield info.name, info.size, info, info.isreg()


def _copy(src: IO[bytes], dst: Path, declared: int, progress: Callable[[int], object]) -> int:
    """Copy at most ``declared`` bytes; more means the archive lies about the member's size."""
    written = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > declared:
                raise ArchiveError(f"member {dst.name} is larger than its declared {declared} bytes")
            out.write(chunk)
            progress(len(chunk))
    return written


def _write(archive: Path, members: list[Member], staging: Path) -> int:
    from tqdm.auto import tqdm

    total = 0
    bar = tqdm(
        total=sum(m.size for m in members),
        unit="B",
        unit_scale=True,
        leave=False,
        disable=None,
        desc=f"extracting {archive.name}",
    )
    with bar:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for m in members:
                    with zf.open(m.ref) as src:  # type: ignore[arg-type]
                        total += _copy(src, staging / m.name, m.size, bar.update)
        else:
            with tarfile.open(archive) as tf:
                for m in members:
                    src = tf.extractfile(m.ref)  # type: ignore[arg-type]
                    if src is None:
                        raise ArchiveError(f"member {m.name} cannot be read")
                    with src:
                        total += _copy(src, staging / m.name, m.size, bar.update)
    return total


def _target(dest: Path, archive: Path) -> Path:
    st = archive.stat()
    key = f"{archive.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return dest / hashlib.sha256(key.encode()).hexdigest()[:16]


def _install(staging: Path, target: Path, archive: Path, written: int) -> None:
    (staging / MARKER).write_text(json.dumps({"archive": str(archive), "bytes": written}))
    try:
        os.rename(staging, target)
    except OSError:  # another run installed the same archive first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)


def _extract_one(archive: Path, target: Path, budget: int) -> tuple[int, Counter]:
    members, skipped = _members(archive)
    declared = sum(m.size for m in members)
    if declared > budget:
        raise ArchiveError(
            f"its video members hold {declared} bytes, over the {budget} bytes left of the extraction cap"
        )
    staging = target.with_name(f"{target.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        written = _write(archive, members, staging)
        _install(staging, target, archive, written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written, skipped


def extract_videos(folder: Path, dest: Path, allowed: tuple[Path, ...], max_bytes: int) -> Extraction:
    """Extract the video members of the archives under ``folder`` into ``dest`` (within ``max_bytes``)."""
    out = Extraction()
    budget = max_bytes
    for archive in find_archives(folder, allowed):
        target = _target(dest, archive)
        marker = target / MARKER
        if marker.is_file():
            budget -= int(json.loads(marker.read_text()).get("bytes", 0))
            out.roots.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            written, skipped = _extract_one(archive, target, budget)
        except (ArchiveError, zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
            out.notes.append(
                f"{archive.name}: not extracted ({exc}); extract its videos by hand and pass --video-root"
            )
            continue
        budget -= written
        out.roots.append(target)
        for reason, count in sorted(skipped.items()):
            out.notes.append(f"{archive.name}: skipped {count} member(s): {reason}")
    return out
