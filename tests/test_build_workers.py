"""The build's own worker processes: forked from a driver that runs one thread (spawned otherwise), they
give the same bytes either way, let go of what they inherit, and end with the driver however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import videossr.build.pipeline as pipeline
from _build_helpers import MINI_BUILD, MINI_SAMPLES, cli, tree_digest
from videossr.build.config import BuildConfig
from videossr.build.frames import worker_sampler
from videossr.build.heap import apply_heap_settings
from videossr.build.recipes import load_recipe

LINUX = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@LINUX
def test_workers_are_forked_only_from_a_driver_that_runs_one_thread():
    check = "from videossr.build.driver import worker_start_method as m; "
    assert _python(check + "print(m(), m('spawn'))") == "fork None"
    busy = "import threading; e = threading.Event(); threading.Thread(target=e.wait).start(); "
    assert _python(busy + check + "print(m()); e.set()") == "None"
    with pytest.raises(ValueError, match="worker_start must be"):
        BuildConfig(worker_start="fork")


@LINUX
def test_a_forked_copy_lets_go_of_the_parents_decode_child(mini_corpus):
    """The copy neither uses nor ends the parent's decode child; the parent's goes on serving it."""
    video = str(mini_corpus / "a.mp4")
    sampler = worker_sampler()
    before = sampler.probe(video)
    child = sampler.proc.pid
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: reports whether it holds the parent's decoder, then decodes with its own
        os.close(read)
        from videossr.build import frames

        holds = frames._SAMPLER is not None or sampler.proc is not None
        own = frames.worker_sampler()
        ok = own.probe(video) == before and own.proc.pid != child
        own.close()
        os.write(write, b"%d%d" % (holds, ok))
        os._exit(0)
    os.close(write)
    assert os.waitpid(pid, 0)[1] == 0
    assert os.read(read, 2) == b"01"
    os.close(read)
    assert sampler.proc is not None and sampler.proc.pid == child and sampler.proc.poll() is None
    assert sampler.probe(video) == before


def test_heap_settings_are_applied_in_a_running_process():
    wanted = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}
    applied = apply_heap_settings(wanted)
    if sys.platform == "linux" and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
        assert applied == {k: int(v) for k, v in wanted.items()}
    else:
        assert applied == {}
    assert apply_heap_settings({"MALLOC_MMAP_THRESHOLD_": "a lot"}) == {}


@LINUX
def test_forked_and_spawned_workers_give_the_same_bytes(mini_corpus, tmp_path):
    """The command line forks its workers; ``worker_start="spawn"`` spawns them."""
    what = ["--sources", str(mini_corpus), "--datasets", MINI_BUILD, "--num-samples", str(MINI_SAMPLES)]
    args = [*what, "--out-dir", str(tmp_path / "forked"), "--seed", "2", "--workers", "2", "--no-progress"]
    done = subprocess.run(cli(*args), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"[verify] {MINI_BUILD}: OK" in done.stdout
    config = BuildConfig(
        out_dir=tmp_path / "spawned", seed=2, workers=2, progress=False, worker_start="spawn"
    )
    pipeline.build([load_recipe(MINI_BUILD).scaled(MINI_SAMPLES)], [mini_corpus], config, on_progress=print)
    assert tree_digest(tmp_path / "spawned" / MINI_BUILD) == tree_digest(tmp_path / "forked" / MINI_BUILD)


def _session(sid: int) -> list[int]:
    """The processes of session ``sid``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@LINUX
def test_workers_end_when_the_driver_is_killed_and_a_rerun_finishes_the_build(
    mini_corpus, mini_builds, tmp_path
):
    """SIGKILL to the driver alone: its forked workers and their decode children end too (none holds the
    dataset's lock or a pipe), and the same command then resumes to the uninterrupted build's bytes."""
    out = tmp_path / "out"
    what = ["--sources", str(mini_corpus), "--datasets", MINI_BUILD, "--num-samples", str(MINI_SAMPLES)]
    args = cli(*what, "--out-dir", str(out), "--seed", "2", "--workers", "2", "--no-progress")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen(args, **quiet, start_new_session=True)
    parts = out / ".videossr-work" / MINI_BUILD / "parts"
    deadline = time.monotonic() + 120
    while proc.poll() is None and not list(parts.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the build ended before a unit finished: nothing to interrupt"
    assert len(_session(proc.pid)) >= 3  # the driver and its two workers at least
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _session(proc.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived the killed driver: {left}"
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert tree_digest(out / MINI_BUILD) == tree_digest(mini_builds["new"])
