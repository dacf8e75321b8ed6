"""One writer per dataset folder: an OS file lock held for the whole build of that dataset.

The lock is ``fcntl.flock`` on ``<out>/.videossr-work/<name>.lock``. The kernel releases it when the
process that holds it ends, however it ends (a kill, a crash, a power loss), so a lock is never left
stale and there is nothing to clean up. Within one process the lock is re-entrant: the build holds it
and the dataset writer, running in another thread of the same process, takes it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from .output import WORK_DIR

LOCK_SUFFIX = ".lock"


class BuildLocked(RuntimeError):
    """Another process is writing the dataset folder (the message names it)."""


_HELD: dict[Path, tuple[int, int]] = {}  # lock file -> (its open descriptor, how many holders here)
_GUARD = threading.Lock()


def lock_path(folder: Path) -> Path:
    """The lock file of dataset folder ``folder`` (beside its work files, never inside the dataset)."""
    return folder.parent / WORK_DIR / f"{folder.name}{LOCK_SUFFIX}"


def _acquire(path: Path, folder: Path) -> None:
    with _GUARD:
        if path in _HELD:
            fd, count = _HELD[path]
            _HELD[path] = (fd, count + 1)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BuildLocked(
                f"another build is writing {folder} (it holds {path}); wait for it to finish, or build into "
                "another --out-dir"
            ) from None
        _HELD[path] = (fd, 1)


def _release(path: Path) -> None:
    with _GUARD:
        fd, count = _HELD[path]
        if count > 1:
            _HELD[path] = (fd, count - 1)
            return
        del _HELD[path]
        os.close(fd)  # closing the only descriptor drops the lock; the file stays (deleting it would race)


@contextlib.contextmanager
def dataset_locks(folders: Iterable[Path]) -> Iterator[None]:
    """Hold the locks of ``folders`` (all or none: raises :class:`BuildLocked` when one is taken)."""
    taken: list[Path] = []
    try:
        for folder in sorted(set(folders)):
            path = lock_path(folder)
            _acquire(path, folder)
            taken.append(path)
        yield
    finally:
        for path in reversed(taken):
            _release(path)
