"""Helpers for the output-safety tests: whole-tree snapshots, a re-write of a dataset in a separate process,
load_dataset checks and waiting for a stopped process."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (hidden ones too, links not followed): file hashes, link targets and
    folders."""
    out: dict[str, str] = {}
    if not root.exists() and not root.is_symlink():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# Writes the dataset at argv[1] again, as the dataset folder argv[2] (argv[3] == "1": the atomic exchange),
# through finalize_repo: the same rows and manifest give the same bytes.
REWRITE = """
import json, sys
from pathlib import Path
from videossr.build.repo import finalize_repo
from videossr.build.shards import iter_repo_rows
ref, target, atomic = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
rows = sorted(iter_repo_rows(ref), key=lambda r: r["id"])
manifest = json.loads((ref / "build_manifest.json").read_text())
finalize_repo(iter(rows), target, dataset_name=manifest["dataset"], manifest=manifest, atomic_swap=atomic)
"""


def rewrite_in_child(ref: Path, target: Path, *, atomic: bool = True, fault: str | None = None):
    env = dict(os.environ)
    env.pop("VIDEOSSR_FAULT_AT", None)
    if fault:
        env["VIDEOSSR_FAULT_AT"] = fault
    return subprocess.run(
        [sys.executable, "-c", REWRITE, str(ref), str(target), "1" if atomic else "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def loaded_ids(folder: Path, cache: Path) -> list[str]:
    """Every row id ``load_dataset`` finds in ``folder`` (all configs of its card)."""
    from datasets import load_dataset

    return sorted(load_dataset(str(folder), split="train", cache_dir=str(cache))["id"])


def wait_until_stopped(pid: int, timeout: float = 300) -> None:
    """Wait until process ``pid`` is stopped (SIGSTOP): state T in /proc."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("T", "t"):
            return
        if state == "Z":
            raise RuntimeError(f"process {pid} ended before it stopped")
        time.sleep(0.1)
    raise TimeoutError(f"process {pid} did not stop")
