"""glibc heap settings in a process that is already running.

glibc reads ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` when a process starts. A worker that is
forked from the driver starts with the driver's heap, so the thresholds the build gives its workers
(``driver.QUIET_DASK``) are set again in it with ``mallopt``.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
SETTINGS = {"MALLOC_MMAP_THRESHOLD_": M_MMAP_THRESHOLD, "MALLOC_TRIM_THRESHOLD_": M_TRIM_THRESHOLD}


def apply_heap_settings(environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Set the thresholds named in ``environ`` (default: this process's environment) in this process's heap.
    Returns the settings applied (name -> bytes); none where the C library is not glibc."""
    environ = os.environ if environ is None else environ
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return {}
    libc = ctypes.CDLL(None)
    applied = {}
    for name, param in SETTINGS.items():
        value = environ.get(name, "")
        if value.isdigit() and libc.mallopt(param, int(value)) == 1:
            applied[name] = int(value)
    return applied
