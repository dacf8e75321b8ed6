"""Test hooks that make a build fail at a chosen point, so tests can prove what survives a crash.

Both are environment variables, inert unless set:

- ``VIDEOSSR_FAULT_KILL_ONCE=<file>``: the first work unit to run SIGKILLs its own worker; creating
  ``<file>`` records that it happened, so the retry runs normally.
- ``VIDEOSSR_FAULT_AT=<point>:<action>``: every process that reaches ``<point>`` (one of :data:`POINTS`)
  does ``<action>``: ``kill`` (SIGKILL itself), ``enospc`` (raise ``OSError(ENOSPC)``, as a full disk
  does) or ``pause`` (SIGSTOP itself until a SIGCONT).
"""

from __future__ import annotations

import errno
import os
import signal

KILL_ONCE_ENV = "VIDEOSSR_FAULT_KILL_ONCE"
FAULT_AT_ENV = "VIDEOSSR_FAULT_AT"

# Where a build writes, in the order it gets there. Workers: a unit's part, then its marker; a shard (with its
# marker). Driver: the
# dataset locks taken, then the staged dataset folder (cleared, shards, preview, card, manifest, ownership
# marker, everything synced to disk), the swap that makes it visible, the gap between the two renames of
# the swap on filesystems without an atomic exchange, and the removal of the previous dataset.
WORKER_POINTS = ("part", "unit-marker", "shard")
DRIVER_POINTS = (
    "locked",
    "staging",
    "shards",
    "preview",
    "card",
    "manifest",
    "owner-marker",
    "sync",
    "swap",
    "swap-gap",
    "cleanup",
)
POINTS = WORKER_POINTS + DRIVER_POINTS
ACTIONS = ("kill", "enospc", "pause")


def fault_point(point: str) -> None:
    """Do what ``VIDEOSSR_FAULT_AT`` asks when it names ``point``; nothing otherwise."""
    spec = os.environ.get(FAULT_AT_ENV)
    if not spec:
        return
    where, _, action = spec.partition(":")
    if where != point:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    else:
        raise ValueError(f"{FAULT_AT_ENV}={spec}: the action must be one of {', '.join(ACTIONS)}")


def kill_once() -> None:
    """With ``VIDEOSSR_FAULT_KILL_ONCE=<file>``, SIGKILL this process the first time any process gets here."""
    marker = os.environ.get(KILL_ONCE_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
