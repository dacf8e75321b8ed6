"""Finding a benchmark's videos: under the dataset's own folder, its extracted archives, and ``--video-root``.

Every path handed out is a real path inside one of those places: a name with ``..``, an absolute path or a
symlink that leads elsewhere is not found (with the reason), so a row can never point a backend at an
arbitrary local file. A name that matches several files (``clip.mp4`` in two sub-folders) is ambiguous, not
the first match.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path, PurePosixPath

from .archives import Extraction, extract_videos, is_video_name
from .sources import DataSource, RowError, inside


class VideoNotFound(RowError):
    """A video a row names is not available; the message says where it was looked for."""


class VideoFinder:
    """Looks videos up by relative path or by name under a fixed set of roots (real paths only)."""

    def __init__(
        self,
        roots: list[Path],
        allowed: tuple[Path, ...],
        archives: tuple[Path, Path, int] | None = None,
    ) -> None:
        self.roots = [r for r in roots if r.is_dir()]
        self.allowed = allowed
        self._archives = archives  # (dataset folder, extraction folder, byte cap), extracted on first use
        self._extraction: Extraction | None = None
        self._by_key: dict[str, dict[Path, Path]] | None = None

    @classmethod
    def for_source(
        cls, source: DataSource, video_root: str | None, extract_dir: Path | None, max_extract_bytes: int
    ) -> VideoFinder:
        roots = [source.folder]
        allowed = list(source.allowed)
        if video_root:
            root = Path(video_root).expanduser()
            roots.append(root)
            allowed.append(root.resolve())
        archives = None
        if extract_dir is not None and not source.is_file:  # archives only from the dataset's own folder
            archives = (source.folder, extract_dir, max_extract_bytes)
            allowed.append(extract_dir.resolve())
        return cls(roots, tuple(allowed), archives)

    @property
    def notes(self) -> list[str]:
        return list(self._extraction.notes) if self._extraction else []

    def _all_roots(self) -> list[Path]:
        if self._archives is not None and self._extraction is None:
            folder, dest, cap = self._archives
            self._extraction = extract_videos(folder, dest, self.allowed, cap)
        extracted = self._extraction.roots if self._extraction else []
        return [*self.roots, *extracted]

    def where(self) -> str:
        return ", ".join(str(r) for r in self.roots) or "nowhere (pass --video-root)"

    def contained(self, path: str | os.PathLike) -> Path | None:
        """``path``'s real path if it lies inside the allowed places, else None."""
        return inside(path, self.allowed)

    def exact(self, relpath: str, *, folder: bool = False) -> Path | None:
        """The file (or folder) at ``relpath`` under the first root that has it, if its real path is allowed.

        The path is returned as found (a Hub snapshot's link keeps its file name), not resolved."""
        rel = PurePosixPath(relpath)
        if rel.is_absolute() or ".." in rel.parts:
            return None
        for root in self._all_roots():
            candidate = (root / rel).absolute()
            found = candidate.is_dir() if folder else candidate.is_file()
            if found and self.contained(candidate) is not None:
                return candidate
        return None

    def listdir(self, relpath: str) -> list[Path]:
        """Files directly inside ``relpath`` under every root whose real paths are allowed."""
        out = []
        for root in self._all_roots():
            base = (root / relpath).absolute()
            if base.is_dir():
                out += [p for p in sorted(base.iterdir()) if p.is_file() and self.contained(p) is not None]
        return out

    def _index(self) -> dict[str, dict[Path, Path]]:
        """Lookup keys (relative path, file name, each without extension) -> {real path: path as found}."""
        if self._by_key is None:
            self._by_key = defaultdict(dict)
            for root in self._all_roots():
                for dirpath, _dirs, files in os.walk(root):
                    for f in files:
                        path = Path(dirpath, f).absolute()
                        real = self.contained(path) if is_video_name(f) else None
                        if real is None:  # not a video, or a symlink leading out of the allowed places
                            continue
                        rel = os.path.relpath(path, root).replace(os.sep, "/")
                        for key in {rel, os.path.splitext(rel)[0], f, os.path.splitext(f)[0]}:
                            self._by_key[key].setdefault(real, path)
        return self._by_key

    def find(self, name: str, folders: tuple[str, ...] = ()) -> Path:
        """The one video ``name`` refers to: by relative path (also under ``folders``), then by file name."""
        clean = name.strip().replace("\\", "/")
        rel = PurePosixPath(clean)
        if rel.is_absolute() or ".." in rel.parts:
            raise VideoNotFound(f"video name {name!r} leaves the dataset folder; not looked up")
        index = self._index()
        stem = os.path.splitext(clean)[0]
        for cand in (clean, *(f"{d}/{clean}" for d in folders)):
            for key in (cand, os.path.splitext(cand)[0]):
                if len(index.get(key, {})) == 1:
                    return next(iter(index[key].values()))
        for key in (rel.name, os.path.splitext(rel.name)[0], stem):
            hits = index.get(key, {})
            if len(hits) == 1:
                return next(iter(hits.values()))
            if len(hits) > 1:
                shown = ", ".join(sorted(str(p) for p in hits.values())[:2])
                raise VideoNotFound(f"video {name!r} is ambiguous: {len(hits)} files match ({shown})")
        raise VideoNotFound(f"video not found: {name} (looked in {self.where()})")
