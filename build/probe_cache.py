"""The probe cache: usable sources probed by earlier runs, so a re-run neither opens nor hashes them again."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path

from .probe import MAX_SOURCE_PIXELS
from .remote import is_url, version
from .sources import Source

PROBE_CACHE_VERSION = 2  # bump when probe_source's result for the same file changes


def _decoder_version() -> str:
    """The PyAV release that probes (its wheels carry their FFmpeg): probe facts may change with it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("av")
    except PackageNotFoundError:
        return "none"


class ProbeCache:
    """Usable sources already probed, kept beside the build output (``<out>/.videossr-cache/probe.jsonl``).

    Probing a source opens it in the decode child and hashes it (dedupe and resumable work go by content):
    for 30,000 web videos that is reading most of their bytes once more, on every re-run. An entry holds
    while the file's absolute path, size and modification time hold (a URL's: its size and ETag or
    modification time) and the cache was written by the same probe (``PROBE_CACHE_VERSION`` and PyAV
    release); anything else is probed again. Only usable sources are kept: a skipped file is probed again,
    so a fixed file or a passing timeout is seen. Lines are appended by the driver alone; a torn last line
    (an interrupted run) is ignored.
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
        """A file's absolute path, size and modification time; a URL's public part, size and ETag (or
        modification time), as its filesystem reports them."""
        if is_url(path):
            return version(str(path))
        try:
            st = os.stat(path)
        except OSError:
            return None
        return f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}"

    def get(
        self, sid: str, path: str | os.PathLike, min_frames: int, max_pixels: int = MAX_SOURCE_PIXELS
    ) -> Source | None:
        """The cached probe of ``path`` as source ``sid``, or None when it must be probed (also when it is
        too short or too large for this run: the probe says why)."""
        key = self._key(path)
        fields = self.entries.get(key) if key is not None else None
        if fields is None or fields.get("num_frames", 0) < min_frames:
            return None
        if fields.get("width", 0) * fields.get("height", 0) > max_pixels:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)  # builds of other datasets in the same --out-dir append too
            fresh = False
            if not self._appending:  # the first add of this run looks at the file once
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
