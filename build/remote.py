"""Sources by URL: ``--sources s3://bucket/videos/``, ``gs://...``, ``hf://datasets/...``, ``https://...``,
any protocol fsspec reads (a list file may hold URLs too). The workers read them directly, so no worker
needs a shared filesystem for its inputs.

A URL is a folder (every video under the prefix, found recursively), a video or a list file, as a local
path is. A source's id is its path under the URL given, without the extension (``s3://b/videos/`` +
``cooking/a.mp4`` -> ``cooking/a``): never the host, the bucket, credentials or a query. A list entry that is
not under the list's own folder gets ``external/<16 hex digits>``, a hash of its URL without credentials or
query, as a local list's outside entries do.

The decode child never gets credentials, and parses local, seekable files only: a worker downloads a URL
source to a local copy first (a source larger than ``MAX_REMOTE_BYTES`` is skipped, never downloaded) and
keeps its last few copies, since a unit decodes its source, a Swap partner and its fallbacks, and a probed
source is often the next one a unit decodes. Each filesystem's own retries and timeouts apply to downloads.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from .sources import Skipped

URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
MAX_REMOTE_BYTES = 16 << 30  # a remote source larger than this is skipped without being downloaded
LOCAL_COPIES = 8  # downloaded sources a worker keeps
PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "http": "aiohttp", "https": "aiohttp"}


class RemoteError(OSError):
    """A URL that cannot be read; the message names it without credentials."""


def is_url(text: str | os.PathLike) -> bool:
    """A URL of a remote filesystem (``file://`` is a local path)."""
    m = URL.match(str(text))
    return m is not None and m["scheme"].lower() not in ("file", "local")


def public_url(url: str) -> str:
    """``url`` without credentials, query or fragment: what messages and ids may show of it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def open_url(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of ``url`` and the path on it; ``RemoteError`` (one line, naming the package
    to install) when the protocol is unknown or its package is missing."""
    import fsspec

    scheme = URL.match(url)["scheme"].lower()  # type: ignore[index]
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError:
        package = PACKAGES.get(scheme, f"the fsspec filesystem for {scheme}://")
        need = f"reading {scheme}:// needs {package} (pip install {package})"
        raise RemoteError(f"{public_url(url)}: {need}") from None
    except ValueError as exc:
        raise RemoteError(f"{public_url(url)}: {scheme}:// is not a protocol fsspec knows ({exc})") from None


def full_url(fs: AbstractFileSystem, path: str) -> str:
    return fs.unstrip_protocol(path)


def relative_id(path: str, root: str) -> PurePosixPath | None:
    """``path`` relative to the folder ``root`` on the same filesystem, or None when it is not under it."""
    root = root.rstrip("/")
    if not path.startswith(root + "/"):
        return None
    return PurePosixPath(path[len(root) + 1 :])


def external_url_id(url: str) -> str:
    """The id of a listed URL outside the list's folder: a hash of the URL without credentials or query."""
    return "external/" + hashlib.sha256(public_url(url).encode()).hexdigest()[:16]


def expand_url(raw: str, skipped: list[Skipped]) -> list[tuple[str, str]]:
    """``(id, URL)`` of the videos a ``--sources`` URL names: a folder (recursively), a video, or a list file.
    ``RemoteError`` when it names nothing that exists."""
    from .sources import Skipped, id_or_reason, is_list_file, is_video_name

    fs, root = open_url(raw)
    try:
        if is_list_file(Path(root)) and fs.isfile(root):
            return read_url_list(fs, root, skipped)
        if is_video_name(Path(root)) and fs.isfile(root):
            sid, reason = id_or_reason(PurePosixPath(PurePosixPath(root).name))
            if reason:
                skipped.append(Skipped(PurePosixPath(root).name, reason))
                return []
            return [(sid, raw)]
        if not fs.isdir(root):
            raise RemoteError(f"{public_url(raw)} does not exist (or is no folder, video or list file)")
        pairs = []
        for path in sorted(fs.find(root)):
            rel = relative_id(path, root)
            if rel is None or not is_video_name(Path(rel.name)):
                continue
            sid, reason = id_or_reason(rel)
            if reason:
                skipped.append(Skipped(rel.as_posix(), reason))
            else:
                pairs.append((sid, full_url(fs, path)))
        return pairs
    except RemoteError:
        raise
    except (OSError, ValueError) as exc:
        raise RemoteError(
            f"{public_url(raw)}: cannot be listed ({type(exc).__name__}: {_scrub(str(exc), raw)})"
        ) from None


def read_url_list(fs: AbstractFileSystem, listing: str, skipped: list[Skipped]) -> list[tuple[str, str]]:
    """The videos of a list file read by URL: relative entries are under the list's folder on the same
    filesystem, absolute ones are URLs (a local path in a remote list is skipped with a reason)."""
    from .sources import Skipped, id_or_reason, is_video_name

    folder = listing.rsplit("/", 1)[0]
    name = PurePosixPath(listing).name
    try:
        lines = fs.cat_file(listing).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise RemoteError(f"{public_url(full_url(fs, listing))}: a list file must be UTF-8 text") from None
    pairs = []
    for line_no, line in enumerate(lines, 1):
        line, where = line.strip(), f"{name}:{line_no}"
        if not line or line.startswith("#"):
            continue
        if not is_url(line):
            if line.startswith("/"):
                skipped.append(Skipped(where, f"listed in {where}: a local path in a list read by URL"))
                continue
            line = full_url(fs, f"{folder}/{line}")
        if not is_video_name(Path(urlsplit(line).path)):
            skipped.append(Skipped(where, f"listed in {where} but not a video file name"))
            continue
        entry_fs, path = open_url(line)
        rel = relative_id(path, folder) if type(entry_fs) is type(fs) else None
        if rel is None or ".." in rel.parts:
            pairs.append((external_url_id(line), line))
            continue
        sid, reason = id_or_reason(rel)
        if reason:
            skipped.append(Skipped(where, f"listed in {where}: {reason}"))
        else:
            pairs.append((sid, line))
    return pairs


def version(url: str) -> str | None:
    """What identifies the content at ``url`` now (size and ETag or modification time), for the probe
    cache; None when it cannot be read."""
    try:
        fs, path = open_url(url)
        info = fs.info(path)
    except (OSError, ValueError):
        return None
    stamp = info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("Last-Modified")
    stamp = stamp or info.get("mtime") or info.get("last_modified") or ""
    return f"{public_url(url)}\0{info.get('size')}\0{stamp}"


def remote_size(url: str) -> int | None:
    """The size of the file at ``url`` (None when the server does not say); ``RemoteError`` when it cannot be
    read."""
    fs, path = open_url(url)
    try:
        size = fs.info(path).get("size")
    except FileNotFoundError:
        raise RemoteError("cannot read it: not found at its URL") from None
    except (OSError, ValueError) as exc:
        raise RemoteError(f"cannot read it ({type(exc).__name__}: {_scrub(str(exc), url)})") from None
    return int(size) if size is not None else None


class LocalCopies:
    """A worker's downloaded sources, the last ``LOCAL_COPIES`` kept, in a temporary folder (removed at
    exit). A copy is used again only while the URL's size and ETag (or modification time) are unchanged, so
    a long-lived worker never decodes an old copy of a replaced file."""

    def __init__(self, keep: int = LOCAL_COPIES) -> None:
        self.keep = keep
        self.folder: Path | None = None
        self.copies: OrderedDict[str, tuple[Path, str | None]] = OrderedDict()

    def get(self, url: str) -> Path:
        """The local copy of ``url``, downloaded if this worker has none of its current content;
        ``RemoteError`` when it cannot be read or is larger than ``MAX_REMOTE_BYTES``."""
        now = version(url)
        if url in self.copies:
            path, then = self.copies[url]
            if now is not None and now == then and path.is_file():
                self.copies.move_to_end(url)
                return path
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="videossr-sources-"))
            atexit.register(self.drop)
        size = remote_size(url)
        if size is not None and size > MAX_REMOTE_BYTES:
            raise RemoteError(f"too large to download: {size / 2**30:.1f} GiB > {MAX_REMOTE_BYTES >> 30} GiB")
        suffix = Path(urlsplit(url).path).suffix.lower()
        target = self.folder / (hashlib.sha256(url.encode()).hexdigest()[:24] + suffix)
        tmp = target.with_name(f".{target.name}.part")
        fs, path = open_url(url)
        try:
            fs.get_file(path, str(tmp))
            os.replace(tmp, target)
        except (OSError, ValueError) as exc:
            tmp.unlink(missing_ok=True)
            raise RemoteError(f"cannot read it ({type(exc).__name__}: {_scrub(str(exc), url)})") from None
        self.copies[url] = (target, now)
        self.copies.move_to_end(url)
        while len(self.copies) > self.keep:
            self.copies.popitem(last=False)[1][0].unlink(missing_ok=True)
        return target

    def drop(self) -> None:
        """Remove every local copy (at exit)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
            self.copies.clear()


def _scrub(message: str, url: str) -> str:
    """A filesystem's error message without the URL, its path or its credentials."""
    for text in (url, public_url(url), urlsplit(url).path):
        if text.strip("/"):  # never "/" alone: that would scramble the whole message
            message = message.replace(text, "<source>")
    return message.splitlines()[0][:300] if message else message


_COPIES = LocalCopies()  # this worker's downloads


def local_source(path: str) -> str:
    """``path`` itself for a local file; for a URL, this worker's local copy of it."""
    return str(_COPIES.get(path)) if is_url(path) else path


def drop_local_copies() -> None:
    """Remove this worker's local copies of URL sources."""
    _COPIES.drop()
