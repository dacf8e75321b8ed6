"""Source discovery: folders (recursive), list files, stable ids, duplicates, counted skips (probing one
source is :mod:`.probe`).

A source id is its path relative to its root without the extension (``cooking/clip01``); it never holds an
absolute path or anything above the root. A folder's root is the folder; a list file's root is the folder
that holds the list. A list entry outside that folder gets an id made from a hash of where it lies
(``external/<16 hex digits>``), so no user or folder name leaks into the dataset. Whatever cannot be a
source (a name that gives no id, a link leaving its folder, an entry that is no video) is skipped with a
reason; only an unusable ``--sources`` argument itself is an error (:class:`SourcesError`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from .remote import RemoteError, expand_url, external_url_id, is_url, open_url

VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".wmv",
    ".flv", ".3gp", ".ogv",
)  # fmt: skip
LIST_EXTENSIONS = (".txt", ".list", ".lst")  # a --sources file with one of these is a list of videos
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class SourcesError(ValueError):
    """A ``--sources`` argument that cannot be read as a folder, a video or a list file (one line)."""


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
    """The '/'-joined parts of ``relative`` without the file's extension; a part that is empty, ``.`` or
    ``..`` after that (``../x.mp4``, ``..mp4``) has no id."""
    parts = [p for p in relative.parts if p not in ("", ".")]
    if parts and relative.suffix:
        parts[-1] = parts[-1][: -len(relative.suffix)]
    if not parts or any(p in ("", ".", "..") for p in parts) or relative.is_absolute():
        raise ValueError(f"source id {relative} escapes its root")
    return "/".join(parts)


def source_id(path: Path, root: Path) -> str:
    """The stable id of ``path`` under ``root``: relative path without extension, '/'-separated."""
    rel = os.path.relpath(path, root)
    return _safe_id(PurePosixPath(Path(rel).as_posix()))


def _id_or_reason(path: Path, root: Path) -> tuple[str, str]:
    """``(id, "")`` for ``path`` under ``root``, or ``("", why it gives no id)``."""
    return id_or_reason(PurePosixPath(Path(os.path.relpath(path, root)).as_posix()))


def id_or_reason(relative: PurePosixPath) -> tuple[str, str]:
    """``(id, "")`` for the path ``relative`` to its root (a folder, a list's folder, a URL given), or
    ``("", why it gives no id)``."""
    try:
        sid = _safe_id(relative)
    except ValueError:
        return "", f"its name {relative.name!r} gives no source id (a name like '..mp4'): rename it"
    if CONTROL_CHARACTERS.search(sid):
        return "", "its name holds control characters: rename it"
    return sid, ""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def is_video_name(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def is_list_file(path: Path) -> bool:
    """A list of videos: a file named ``*.txt``, ``*.list`` or ``*.lst``."""
    return path.suffix.lower() in LIST_EXTENSIONS


def _walk(folder: Path, skipped: list[Skipped]) -> Iterable[Path]:
    """Recursive listing that follows symlinked folders once, never loops and never leaves ``folder``."""
    seen: set[tuple[int, int]] = set()
    real_root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        rel = os.path.relpath(dirpath, folder)
        try:
            st = os.stat(dirpath)
        except OSError:
            continue
        if not _inside(Path(os.path.realpath(dirpath)), real_root):
            dirnames[:] = []
            skipped.append(Skipped(rel, "a symbolic link to a folder outside the source folder"))
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            dirnames[:] = []
            skipped.append(Skipped(rel, "symlink loop: folder already visited"))
            continue
        seen.add(key)
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _scan_folder(root: Path, skipped: list[Skipped]) -> list[tuple[str, Path]]:
    """The videos under folder ``root`` (by extension); links that lead out of it are skipped."""
    real_root = root.resolve()
    pairs = []
    for path in _walk(root, skipped):
        if not is_video_name(path):
            continue  # not a source (thumbnails, subtitles, notes)
        sid, reason = _id_or_reason(path, root)
        if reason:
            skipped.append(Skipped(PurePosixPath(os.path.relpath(path, root)).as_posix(), reason))
        elif path.is_symlink() and not _inside(Path(os.path.realpath(path)), real_root):
            skipped.append(Skipped(sid, "a symbolic link to a file outside the source folder"))
        else:
            pairs.append((sid, path))
    return pairs


def external_id(path: Path, root: Path) -> str:
    """The id of a list entry outside the list's folder: a hash of its path relative to that folder (stable
    while the list and the videos keep their places; never the path itself)."""
    rel = os.path.relpath(path, root)
    return "external/" + hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _read_lines(listing: Path) -> list[str]:
    try:
        return listing.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise SourcesError(
            f"--sources {listing}: a list file must be UTF-8 text, byte {exc.start} is not (is it a video? "
            f"videos end in {', '.join(VIDEO_EXTENSIONS)})"
        ) from None
    except OSError as exc:
        raise SourcesError(f"--sources {listing}: cannot read it ({exc.strerror or exc})") from None


def _list_entry(line: str, where: str, root: Path) -> tuple[str, Path | str | None, str]:
    """``(id, path or URL, "")`` for one line of a list file, or ``(label, None, reason)`` when it is
    skipped. A URL is read by the workers (:mod:`.remote`); its id is a hash of it."""
    if "\0" in line:
        return where, None, f"listed in {where}: not a path (it holds a NUL byte)"
    if is_url(line):
        if not is_video_name(Path(urlsplit(line).path)):
            return where, None, f"listed in {where} but not a video file name ({', '.join(VIDEO_EXTENSIONS)})"
        return external_url_id(line), line, ""
    entry = Path(line)
    path = Path(os.path.normpath(entry if entry.is_absolute() else root / entry))
    if _inside(path, root):
        sid, reason = _id_or_reason(path, root)
        if reason:
            return where, None, f"listed in {where}: {reason}"
    else:
        sid = external_id(path, root)
    if not is_video_name(path):
        return sid, None, f"listed in {where} but not a video file name ({', '.join(VIDEO_EXTENSIONS)})"
    if not path.exists():
        return sid, None, f"listed in {where} but does not exist"
    if not path.is_file():
        return sid, None, f"listed in {where} but is not a file"
    return sid, path, ""


def _read_list(listing: Path, skipped: list[Skipped]) -> list[tuple[str, Path | str]]:
    root = Path(os.path.abspath(listing.parent))
    pairs = []
    for line_no, line in enumerate(_read_lines(listing), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sid, path, reason = _list_entry(line, f"{listing.name}:{line_no}", root)
        if path is None:
            skipped.append(Skipped(sid, reason))
        else:
            pairs.append((sid, path))
    return pairs


def source_argument_error(raw: str | os.PathLike) -> str:
    """Why ``raw`` cannot be a ``--sources`` argument ("" when it is a folder, a video or a list file, or a
    URL of a filesystem that can be read: whether it exists is found out when it is listed)."""
    if is_url(raw):
        try:
            open_url(str(raw))
        except RemoteError as exc:
            return f"--sources {exc}"
        return ""
    entry = Path(raw)
    if entry.is_dir() or (entry.is_file() and (is_video_name(entry) or is_list_file(entry))):
        return ""
    if entry.exists():
        return (
            f"--sources {raw} is neither a folder, a video ({', '.join(VIDEO_EXTENSIONS)}) nor a list file "
            f"({', '.join(LIST_EXTENSIONS)}): rename it or name it in a list file"
        )
    return f"--sources {raw} does not exist"


def _expand(raw: str | os.PathLike, skipped: list[Skipped]) -> list[tuple[str, Path | str]]:
    error = source_argument_error(raw)
    if error:
        raise SourcesError(error)
    if is_url(raw):
        try:
            return list(expand_url(str(raw), skipped))
        except RemoteError as exc:
            raise SourcesError(f"--sources {exc}") from None
    entry = Path(os.path.abspath(raw))  # workers (maybe on other machines) resolve no relative path the same
    if entry.is_dir():
        return _scan_folder(entry, skipped)
    if is_list_file(entry):
        return _read_list(entry, skipped)
    sid, reason = _id_or_reason(entry, entry.parent)
    if reason:
        skipped.append(Skipped("?" if CONTROL_CHARACTERS.search(entry.name) else entry.name, reason))
        return []
    return [(sid, entry)]


def discover(inputs: Iterable[str | os.PathLike]) -> tuple[list[tuple[str, Path | str]], list[Skipped]]:
    """Expand ``--sources`` (folders, list files, single videos; each a local path or a URL) into
    ``(id, path)`` pairs (a URL stays a ``str``) and skips.

    Files with other extensions inside a folder are not sources (and not reported); an argument that is
    none of the three raises :class:`SourcesError`.
    """
    found: dict[str, Path | str] = {}
    skipped: list[Skipped] = []
    for raw in inputs:
        for sid, path in _expand(raw, skipped):
            if sid in found:
                skipped.append(Skipped(sid, "duplicate source id (same relative path under two roots)"))
                continue
            found[sid] = path
    return sorted(found.items()), skipped


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
