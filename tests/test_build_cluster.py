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
def dask_cluster(tmp_path: Path, request):
    """A scheduler on a free port and two workers (single-threaded unless the test is parametrized with
    another thread count), each a process of its own in a folder of its own (nothing shared with the driver
    but the output folder the build names)."""
    from distributed import Client

    threads = str(getattr(request, "param", 1))

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
            args = ["worker", "--scheduler-file", str(info), "--nworkers", "1", "--nthreads", threads]
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
    # --sources relative to the driver's folder: the workers run in folders of their own.
    relative = os.path.relpath(mini_corpus, tmp_path)
    what = ["--sources", relative, "--datasets", MINI_BUILD, "--num-samples", str(MINI_SAMPLES)]
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
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"[verify] {MINI_BUILD}: OK" in done.stdout
    assert tree_digest(out / MINI_BUILD) == tree_digest(mini_builds["new"])
    # The work ran in the worker processes: probes, a unit per source, a shard per config, the preview.
    executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    configs = len(list((out / MINI_BUILD / "data").iterdir()))
    assert sum(executed.values()) >= 2 + 2 + configs + 1, executed


@pytest.mark.parametrize("dask_cluster", [2], indirect=True)
def test_a_scheduler_whose_workers_run_two_threads_is_refused(dask_cluster, mini_corpus, tmp_path):
    out = tmp_path / "out"
    what = ["--sources", str(mini_corpus), "--datasets", MINI_BUILD, "--num-samples", str(MINI_SAMPLES)]
    args = [*what, "--out-dir", str(out), "--scheduler", dask_cluster.scheduler.address, "--no-progress"]
    done = subprocess.run(cli(*args), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "run more than one thread" in done.stderr and "--nthreads 1" in done.stderr
    assert not (out / MINI_BUILD).exists()


def test_an_unreachable_scheduler_is_named_in_one_line(mini_corpus, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    env = dict(os.environ, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s")
    args = ["--sources", str(mini_corpus), "--out-dir", str(out), "--scheduler", f"tcp://127.0.0.1:{port}"]
    done = subprocess.run(cli(*args, "--no-progress"), capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot reach the Dask scheduler at --scheduler tcp://127.0.0.1:"), last
    assert "Traceback" not in done.stderr and not (out / "videossr-30k").exists()


def test_a_build_on_one_worker_gives_the_same_bytes_and_checks_them(mini_corpus, mini_builds, tmp_path):
    """One worker: its units, shards, preview and whole-dataset checks all queue on it, and the dataset is
    the two-worker build's, byte for byte."""
    out = tmp_path / "out"
    what = ["--sources", str(mini_corpus), "--datasets", MINI_BUILD, "--num-samples", str(MINI_SAMPLES)]
    args = [*what, "--out-dir", str(out), "--seed", "2", "--workers", "1", "--no-progress"]
    done = subprocess.run(cli(*args), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"[verify] {MINI_BUILD}: OK" in done.stdout
    assert tree_digest(out / MINI_BUILD) == tree_digest(mini_builds["new"])
