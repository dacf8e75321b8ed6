"""A build on a real Dask cluster: a ``dask scheduler`` process and two ``dask worker`` processes started from
the project's environment, reached through ``--scheduler``, give the same bytes as the build's own
LocalCluster."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _build_helpers import MINI_BUILD, MINI_SAMPLES, cli, tree_digest


def _start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        cwd=cwd,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture
def dask_cluster(tmp_path: Path):
    """A scheduler on a free port and two single-threaded workers, each a process of its own in a folder of
    its own (nothing shared with the driver but the output folder the build names)."""
    from distributed import Client

    info = tmp_path / "scheduler.json"
    procs = [
        _start(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(info),
            ],
            tmp_path,
            tmp_path / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        for k in range(2):
            home = tmp_path / f"worker{k}"
            home.mkdir()
            args = ["worker", "--scheduler-file", str(info), "--nworkers", "1", "--nthreads", "1"]
            procs.append(_start([*args, "--no-dashboard", "--name", f"w{k}"], home, tmp_path / f"w{k}.log"))
        with Client(scheduler_file=str(info), timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield client
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_build_through_a_scheduler_and_two_worker_processes_gives_the_local_clusters_bytes(
    dask_cluster, mini_corpus, mini_builds, tmp_path
):
    client = dask_cluster
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2 and all(w["nthreads"] == 1 for w in workers.values())
    out = tmp_path / "out"
    what = ["--sources", str(mini_corpus), "--datasets", MINI_BUILD, "--num-samples", str(MINI_SAMPLES)]
    done = subprocess.run(
        cli(
            *what,
            "--out-dir",
            str(out),
            "--seed",
            "2",
            "--scheduler",
            client.scheduler.address,
            "--no-progress",
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"[verify] {MINI_BUILD}: OK" in done.stdout
    assert tree_digest(out / MINI_BUILD) == tree_digest(mini_builds["new"])
    # The work ran in the worker processes: probes, a unit per source, a shard per config, the preview.
    executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    configs = len(list((out / MINI_BUILD / "data").iterdir()))
    assert sum(executed.values()) >= 2 + 2 + configs + 1, executed
