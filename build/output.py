"""Where a build writes, what it may replace, and how a new dataset becomes visible in one step.

Under ``--out-dir``::

    <name>/                          the dataset: README.md, build_manifest.json, preview.png, data/,
                                     and .videossr-build.json (the ownership marker)
    .videossr-work/<name>.lock       the dataset's lock (see lock.py)
    .videossr-work/<name>/parts/     finished work units: what a re-run resumes from
    .videossr-work/<name>/staging/   the next dataset folder while it is written
    .videossr-cache/probe.jsonl      sources probed by earlier runs

A dataset folder is written whole under ``staging/``, synced to disk, then exchanged with ``<name>`` in one
atomic rename (``renameat2(RENAME_EXCHANGE)`` on Linux, ``renamex_np(RENAME_SWAP)`` on macOS): a reader sees
the complete previous dataset or the complete new one, never a mix, and a crash at any point leaves one of
them. Where the filesystem cannot exchange (e.g. NFS) the swap is two renames, the previous dataset moved to
``.videossr-work/<name>/previous`` first; a crash between them is repaired by the next build, which puts the
previous dataset back before anything else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from .faults import fault_point

WORK_DIR = ".videossr-work"
CACHE_DIR = ".videossr-cache"
OWNER_MARKER = ".videossr-build.json"
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_NAME_LENGTH = 96  # the Hub's limit on a repo name
# What a dataset folder of this tool holds: the published files, the marker, and the Hub client's
# metadata folder (.cache/huggingface) that an upload or download may leave in it.
OWN_ENTRIES = frozenset({"README.md", "build_manifest.json", "preview.png", "data", OWNER_MARKER, ".cache"})
# What folders written by earlier versions (no marker) held: work files lived inside the dataset folder.
LEGACY_ENTRIES = frozenset({"README.md", "build_manifest.json", "preview.png", "data", ".work", ".cache"})
LEGACY_PREFIXES = (".staging-", ".old-data-")
LEGACY_MANIFEST_KEYS = frozenset({"fingerprint", "num_rows", "configs"})


class OutputRefused(ValueError):
    """The build will not write there; nothing was touched (the message says why and what to do)."""


def check_dataset_name(name: str) -> None:
    """A dataset name is one folder name: letters, digits, ``.``, ``_``, ``-``, starting with a letter or
    digit."""
    if not DATASET_NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"dataset name {name!r} is not allowed: use letters, digits, '.', '_' and '-', starting with a "
            f"letter or digit, at most {MAX_NAME_LENGTH} characters"
        )


def dataset_folder(out_dir: str | os.PathLike, name: str) -> Path:
    """``<out>/<name>`` with ``<out>`` resolved; refuses a name or a link that would leave ``<out>``."""
    check_dataset_name(name)
    out = Path(out_dir).resolve()
    folder = out / name
    if folder.is_symlink() or folder.resolve().parent != out:
        raise OutputRefused(f"{folder} is a symbolic link; the build writes only real folders inside {out}")
    return folder


def work_area(folder: Path) -> Path:
    """Where the build keeps ``folder``'s resumable work and staged output (beside it, never inside)."""
    return folder.parent / WORK_DIR / folder.name


def _is_our_marker(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("tool") == "videossr"


def _is_legacy_build(folder: Path, entries: list[str]) -> bool:
    """A folder an earlier version of this tool wrote: only its names, and its manifest's keys."""
    if any(e not in LEGACY_ENTRIES and not e.startswith(LEGACY_PREFIXES) for e in entries):
        return False
    try:
        manifest = json.loads((folder / "build_manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and set(manifest) >= LEGACY_MANIFEST_KEYS


def check_replaceable(folder: Path) -> None:
    """Raise :class:`OutputRefused` unless ``folder`` is absent, empty, or a dataset folder this tool wrote
    (its ownership marker, or an earlier version's layout) holding nothing else."""
    if folder.is_symlink():
        raise OutputRefused(f"{folder} is a symbolic link; the build replaces only folders it made")
    if not folder.exists():
        return
    if not folder.is_dir():
        raise OutputRefused(f"{folder} exists and is not a folder; move it away or choose another --out-dir")
    entries = sorted(os.listdir(folder))
    if not entries or _is_legacy_build(folder, entries):
        return
    if not _is_our_marker(folder / OWNER_MARKER):
        raise OutputRefused(
            f"{folder} exists and was not made by this build (no {OWNER_MARKER} in it), so it is left as it "
            "is: choose another --out-dir, or move that folder away"
        )
    foreign = [e for e in entries if e not in OWN_ENTRIES]
    if foreign:
        raise OutputRefused(
            f"{folder} holds files this build did not write ({', '.join(foreign[:5])}); rebuilding replaces "
            "the whole folder: move them out first, or choose another --out-dir"
        )


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_sources_apart(
    out_dir: Path, folders: Iterable[Path], source_inputs: Iterable[str | os.PathLike], paths: Iterable[Path]
) -> None:
    """Refuse an ``--out-dir`` that is a sources folder or inside one, and sources inside anything the build
    writes (a dataset folder it replaces, its work and cache folders)."""
    out = Path(out_dir).resolve()
    for raw in source_inputs:
        root = Path(raw).resolve()
        if root.is_dir() and _inside(out, root):
            raise OutputRefused(
                f"--out-dir {out} is inside the sources folder {raw}: the build would write among the source "
                "videos; choose an --out-dir outside it"
            )
    written = [*folders, out / WORK_DIR, out / CACHE_DIR]
    for path in paths:
        real = Path(os.path.realpath(path))
        hit = next((w for w in written if _inside(real, w)), None)
        if hit is not None:
            raise OutputRefused(
                f"the source video {path} lies inside {hit}, which the build writes; move it, or choose "
                "another --out-dir"
            )


def fsync_dir(path: Path) -> None:
    """Make the names in folder ``path`` durable (a rename is on disk once its folder is synced)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write ``path`` under a temporary name, sync it, rename it into place (the folder is synced by the
    caller, once for all the names it changed)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sync_tree(root: Path) -> None:
    """Sync every file and folder under ``root`` (folders after what they hold)."""
    for dirpath, _, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fsync_file(Path(dirpath) / name)
        fsync_dir(Path(dirpath))


def recover(folder: Path) -> None:
    """Undo what a killed build left in ``folder``'s work area: a swap cut between its two renames (the
    previous dataset goes back in place) and a half-written staging folder (removed)."""
    work = work_area(folder)
    previous = work / "previous"
    if previous.is_dir():
        if not folder.exists() and not folder.is_symlink():
            os.rename(previous, folder)
            fsync_dir(folder.parent)
        else:
            shutil.rmtree(previous)
    shutil.rmtree(work / "staging", ignore_errors=True)


def start_staging(folder: Path) -> Path:
    """An empty staging folder for the next version of ``folder`` (after :func:`recover`)."""
    fault_point("staging")
    recover(folder)
    staging = work_area(folder) / "staging"
    staging.mkdir(parents=True)
    return staging


def seal(staging: Path, dataset_name: str, fingerprint: str) -> None:
    """Write the ownership marker and sync the whole staged folder: after this it may become visible."""
    fault_point("owner-marker")
    marker = {"tool": "videossr", "layout": 1, "dataset": dataset_name, "fingerprint": fingerprint}
    write_durable(staging / OWNER_MARKER, (json.dumps(marker, sort_keys=True) + "\n").encode())
    fault_point("sync")
    sync_tree(staging)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` (both exist) in one atomic step. False where the system or the
    filesystem cannot; other errors raise."""
    libc = _libc()
    if libc is None:
        return False
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        at_fdcwd, rename_exchange = -100, 2
        fn = libc.renameat2
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        result = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        rename_swap = 2
        fn = libc.renamex_np
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        result = fn(os.fsencode(a), os.fsencode(b), rename_swap)
    else:
        return False
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(staging: Path, folder: Path, *, atomic: bool = True) -> None:
    """Make the sealed ``staging`` folder visible as ``folder`` and remove the previous one. ``atomic=False``
    takes the two-rename path that filesystems without an exchange get."""
    fault_point("swap")
    if not folder.exists():
        os.rename(staging, folder)
        fsync_dir(folder.parent)
        return
    if atomic and exchange(staging, folder):
        old = staging  # the exchange left the previous dataset under the staging name
        fsync_dir(folder.parent)
        fsync_dir(staging.parent)
    else:
        old = work_area(folder) / "previous"
        os.rename(folder, old)
        try:
            fault_point("swap-gap")
            os.rename(staging, folder)
        except BaseException:
            os.rename(old, folder)  # the previous dataset back in place; the staged one is dropped
            raise
        fsync_dir(folder.parent)
        fsync_dir(old.parent)
    fault_point("cleanup")
    shutil.rmtree(old)
