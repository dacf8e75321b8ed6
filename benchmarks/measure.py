"""How the benchmark measures: CPU time, memory of a process tree, one build in a fresh process, the phases
of a build from its progress messages, the size of its output, and medians and paired ratios of repeats."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]  # the repository: ``benchmarks`` imports from here
CHILD_FLAG = "--_child-build"


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def pid_after(delay: float) -> int:
    time.sleep(delay)
    return os.getpid()


def all_up(pool: Any, workers: int) -> None:
    """Return once every pool process has run its initializer (so one-time imports stay off the clock)."""
    for _ in range(50):
        if len(set(pool.map(pid_after, [0.2] * (2 * workers), chunksize=1))) >= workers:
            return


class TreeSampler(threading.Thread):
    """Samples the RSS of a process (``root``, default this one: the driver) and its descendants. A "worker"
    is one child process of the root plus everything under it (its decode child), summed at each sample.

    The sampler runs beside the build it measures, on the same cores, so it must cost next to nothing: the
    process tree is listed once per ``rescan`` seconds (listing children scans all of /proc), and each tick
    only reads the RSS of the processes already known."""

    def __init__(self, interval: float = 0.05, rescan: float = 1.0, root: int | None = None) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.rescan = rescan
        self.root = root
        self.stop = threading.Event()
        self.driver_peak = 0
        self.worker_peak = 0
        self.worker_process_peak = 0
        self.ticks = 0

    def _workers(self, me: psutil.Process) -> list[list[psutil.Process]]:
        """Per worker process: the worker, then every process under it."""
        trees = []
        for worker in me.children():  # Dask's nannies live in the driver; workers are its children
            try:
                if "resource_tracker" in " ".join(worker.cmdline()):
                    continue
                trees.append([worker, *worker.children(recursive=True)])
            except psutil.Error:
                continue
        return trees

    def run(self) -> None:
        try:
            me = psutil.Process(self.root)
        except psutil.Error:
            return
        trees: list[list[psutil.Process]] = []
        next_scan = 0.0
        while not self.stop.is_set():
            try:
                if time.monotonic() >= next_scan:
                    trees = self._workers(me)
                    next_scan = time.monotonic() + self.rescan
                self.driver_peak = max(self.driver_peak, me.memory_info().rss)
            except psutil.Error:
                return  # the measured process has ended
            for tree in trees:
                sizes = []
                for proc in tree:
                    try:
                        sizes.append(proc.memory_info().rss)
                    except psutil.Error:
                        sizes.append(0)  # a process that ended since the last scan
                self.worker_process_peak = max(self.worker_process_peak, sizes[0])
                self.worker_peak = max(self.worker_peak, sum(sizes))
            self.ticks += 1
            self.stop.wait(self.interval)


def run_command(cmd: list[str], cwd: Path = ROOT) -> dict[str, Any]:
    """Run a command (``python build/run.py ...``) in a fresh process, as a user does: its wall time, the CPU
    of every process it ran (it and its descendants, each reaped when it ended), each output line with its
    time, and the memory peaks of its process tree. Raises when it fails."""
    c0 = cpu_children()
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    sampler = TreeSampler(root=proc.pid)
    sampler.start()
    assert proc.stdout is not None
    stamps = [(time.perf_counter() - t0, line.rstrip("\n")) for line in proc.stdout]
    code = proc.wait()
    wall = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    if code != 0:
        tail = "\n".join(line for _, line in stamps[-30:])
        raise RuntimeError(f"{' '.join(cmd[:3])} ... exited with {code}:\n{tail}")
    return {
        "wall": wall,
        "cpu": cpu_children() - c0,
        "stamps": stamps,
        "driver_peak": sampler.driver_peak,
        "worker_peak": sampler.worker_peak,
        "worker_process_peak": sampler.worker_process_peak,
    }


def driver_maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_entry(argv: list[str], run: Any) -> bool:
    """``CHILD_FLAG SPEC RESULT``: a build measured in a fresh process (``run(spec)`` -> figures, written to
    RESULT). True when ``argv`` was such a call."""
    if argv[:1] != [CHILD_FLAG]:
        return False
    Path(argv[2]).write_text(json.dumps(run(json.loads(argv[1]))))
    return True


def run_child(module: str, spec: dict[str, Any], res_file: Path) -> dict[str, Any]:
    """Run ``python -m module CHILD_FLAG SPEC RESULT`` (see :func:`child_entry`) in a fresh process; its
    figures."""
    cmd = [sys.executable, "-m", module, CHILD_FLAG, json.dumps(spec), str(res_file.resolve())]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": path})
    res = json.loads(res_file.read_text())
    res_file.unlink()
    return res


def phases(stamps: list, wall: float) -> dict[str, float]:
    """Split a build's wall time by its progress messages: start-up and probing, the units (until the last
    one is done), the shards and the dataset folder, the final checks (``build/run.py``'s) and what is left
    (closing down)."""
    at: dict[str, float] = {}
    for t, msg in stamps:
        if "usable sources" in msg:
            at.setdefault("probed", t)
        elif ": writing " in msg:
            at["rendered"] = t
        elif " rows written" in msg:
            at["written"] = t
        elif msg.startswith("[verify]"):
            at["verified"] = t
    probed, rendered = at.get("probed", 0.0), at.get("rendered", wall)
    written = at.get("written", rendered)
    verified = at.get("verified", written)
    # Samples whose source could not give them (undecodable, or every draw rejected) are made from other
    # sources: extra decoding that the floor (first accepted plans only) does not count.
    redrawn = sum(int(msg.split(": ", 1)[1].split()[0]) for _, msg in stamps if "re-drawn" in msg)
    return {
        "t_start_probe": probed,
        "t_units": rendered - probed,
        "t_finalize": written - rendered,
        "t_verify": verified - written,
        "t_exit": wall - verified,
        "redrawn": redrawn,
    }


def repo_sizes(repo: Path) -> dict[str, float]:
    """Rows and bytes of a built dataset folder: its shards, everything published, a sample's clips."""
    import pyarrow.parquet as pq

    shards = sorted(repo.glob("data/**/*.parquet"))
    published = [
        p
        for p in repo.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(repo).parts)
    ]
    rows, video_bytes = 0, []
    for shard in shards:
        for row in pq.read_table(shard, columns=["videos"]).column("videos").to_pylist():
            rows += 1
            video_bytes.append(sum(len(v["bytes"]) for v in row))
    return {
        "repo_rows": rows,
        "shard_bytes": sum(p.stat().st_size for p in shards),
        "repo_bytes": sum(p.stat().st_size for p in published),
        "median_sample_video_bytes": statistics.median(video_bytes) if video_bytes else 0.0,
        "shard_files": len(shards),
    }


def median(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def paired_ratio(numerators: list[dict], denominators: list[dict], key: str, den_key: str = "") -> float:
    """Median over repeats of one repeat's ``numerator[key] / denominator[den_key or key]``: each repeat runs
    the two measurements back to back, so a host whose speed drifts between repeats moves both, not the
    ratio."""
    den_key = den_key or key
    values = [n[key] / d[den_key] for n, d in zip(numerators, denominators) if key in n and den_key in d]
    return statistics.median(values) if values else float("nan")
