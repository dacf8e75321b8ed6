"""The build never touches what it did not make, one build writes a dataset at a time, and a crash or a full
disk at any write step leaves a complete, loadable dataset (issue 17, build side)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from _build_helpers import MINI_BUILD, MINI_SAMPLES, build_mini, cli, tree_digest
from _output_helpers import loaded_ids, rewrite_in_child, snapshot, wait_until_stopped
from videossr.build import cli as build_cli
from videossr.build.config import BuildConfig
from videossr.build.faults import DRIVER_POINTS, FAULT_AT_ENV
from videossr.build.output import OWNER_MARKER, OutputRefused, recover
from videossr.build.parts import finished_summary
from videossr.build.pipeline import build
from videossr.build.plan import plan_units
from videossr.build.probe import probe_source
from videossr.build.recipes import load_recipe
from videossr.build.repo import finalize_repo
from videossr.build.shards import iter_repo_rows
from videossr.build.sources import discover
from videossr.build.unit import run_unit

NAME = MINI_BUILD
SAMPLES = MINI_SAMPLES


def _config(out: Path, seed: int) -> BuildConfig:
    return BuildConfig(out_dir=out, seed=seed, workers=2, progress=False)


def _build(corpus: Path, out: Path, seed: int):
    return build_mini(corpus, out, seed)


def _cli_args(corpus: Path, out: Path, seed: int) -> list[str]:
    what = [
        "--sources",
        str(corpus),
        "--datasets",
        NAME,
        "--num-samples",
        str(SAMPLES),
        "--out-dir",
        str(out),
    ]
    return [*what, "--seed", str(seed), "--workers", "2", "--no-progress", "--no-verify"]


@pytest.fixture
def corpus(mini_corpus: Path) -> Path:
    return mini_corpus


@pytest.fixture
def versions(mini_builds: dict[str, Path]) -> dict[str, Path]:
    """Two builds of the same dataset: "old" (seed 1, the one on disk) and "new" (seed 2, the next one)."""
    return mini_builds


def _place(dataset: Path, out: Path) -> Path:
    """A copy of a built dataset folder as ``out/<name>`` (with its marker)."""
    target = out / dataset.name
    shutil.copytree(dataset, target, symlinks=True)
    return target


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        build_cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    lines = [line for line in err.splitlines() if line.startswith("python build/run.py: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "name", ["../victim", "/ABSOLUTE/victim", ".", "..", "a/b", ".hidden", "-x", "x" * 97]
)
def test_a_dataset_name_that_leaves_the_out_dir_is_refused_and_nothing_is_touched(
    name, corpus, tmp_path, capsys
):
    out = tmp_path / "out"
    victim = tmp_path / "victim"
    (victim / "data").mkdir(parents=True)
    (victim / "README.md").write_text("someone else's")
    (victim / "data" / "keep.parquet").write_bytes(b"precious")
    recipe = tmp_path / "r.yaml"
    name = name.replace("/ABSOLUTE", str(tmp_path))
    recipe.write_text(
        json.dumps({"name": name, "mix": [{"task": "counting", "subtype": "easy", "count": 2}]})
    )
    before = snapshot(tmp_path)
    line = _refused(["--sources", str(corpus), "--recipe", str(recipe), "--out-dir", str(out)], capsys)
    assert "dataset name" in line and "is not allowed" in line
    assert snapshot(tmp_path) == before
    with pytest.raises(ValueError, match="is not allowed"):
        load_recipe(str(recipe))


def test_an_out_dir_that_is_a_sources_folder_or_inside_one_is_refused(corpus, versions, tmp_path, capsys):
    """``--out-dir`` equal to the sources folder would replace ``<out>/viubench`` holding source videos."""
    sources = tmp_path / "sources"
    shutil.copytree(corpus, sources / "viubench" / "data")
    shutil.copytree(corpus, sources / "more")
    before = snapshot(tmp_path)
    for out in (sources, sources / "more", sources / "new" / "sub"):
        line = _refused(["--sources", str(sources), "--datasets", "viubench", "--out-dir", str(out)], capsys)
        assert "--out-dir" in line or "was not made by this build" in line
        assert snapshot(tmp_path) == before
    # A list file naming a video inside a dataset folder the build replaces, or inside its work folder.
    out = tmp_path / "out"
    owned = _place(versions["old"], out)
    shutil.copy(corpus / "a.mp4", owned / "data" / "a.mp4")
    (out / ".videossr-work").mkdir()
    shutil.copy(corpus / "b.mp4", out / ".videossr-work" / "b.mp4")
    before = snapshot(tmp_path)
    for entry in (f"out/{NAME}/data/a.mp4", "out/.videossr-work/b.mp4"):
        listing = tmp_path / "list.txt"
        listing.write_text(entry + "\n")
        with pytest.raises(OutputRefused, match="lies inside"):
            build([load_recipe(NAME).scaled(2)], [listing], _config(out, 0), on_progress=lambda m: None)
        listing.unlink()
        assert snapshot(tmp_path) == before


def test_a_folder_the_build_did_not_make_is_never_replaced(corpus, versions, tmp_path, capsys):
    out = tmp_path / "out"
    # A cloned Hub dataset named like the dataset: README, data/, git files, no ownership marker.
    clone = out / NAME
    shutil.copytree(versions["old"] / "data", clone / "data")
    shutil.copy(versions["old"] / "README.md", clone / "README.md")
    (clone / ".gitattributes").write_text("*.parquet filter=lfs\n")
    (clone / ".git").mkdir()
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = snapshot(tmp_path)
    line = _refused(_cli_args(corpus, out, seed=2), capsys)
    assert str(clone) in line and OWNER_MARKER in line and "another --out-dir" in line
    assert snapshot(tmp_path) == before
    assert not (out / ".videossr-work").exists()  # nothing at all was created
    # A folder the build made, with a file the user added: the whole-folder swap would lose it.
    shutil.rmtree(clone)
    ours = _place(versions["old"], out)
    (ours / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    line = _refused(_cli_args(corpus, out, seed=2), capsys)
    assert "notes.txt" in line
    assert snapshot(tmp_path) == before
    # A plain file, and a link to a folder elsewhere, where the dataset folder goes.
    shutil.rmtree(ours)
    (out / NAME).write_text("a file")
    before = snapshot(tmp_path)
    _refused(_cli_args(corpus, out, seed=2), capsys)
    (out / NAME).unlink()
    elsewhere = _place(versions["old"], tmp_path / "elsewhere")
    (out / NAME).symlink_to(elsewhere)
    before = snapshot(tmp_path)
    assert "symbolic link" in _refused(_cli_args(corpus, out, seed=2), capsys)
    assert snapshot(tmp_path) == before


def test_a_folder_written_by_an_earlier_version_is_adopted(corpus, versions, tmp_path):
    """Earlier versions wrote no marker and kept their work files inside the dataset folder: a folder with
    only those names and a manifest with the tool's keys is replaced like one with the marker."""
    out = tmp_path / "out"
    legacy = _place(versions["old"], out)
    (legacy / OWNER_MARKER).unlink()
    (legacy / ".work" / "parts").mkdir(parents=True)
    (legacy / ".work" / "parts" / "abc.json").write_text("{}")
    (legacy / ".staging-123").mkdir()
    _build(corpus, out, seed=2)
    assert tree_digest(out / NAME) == tree_digest(versions["new"])
    assert sorted(p.name for p in (out / NAME).iterdir() if p.name.startswith(".")) == [OWNER_MARKER]


def test_a_second_build_into_the_same_folder_exits_1_and_deletes_nothing(corpus, versions, tmp_path):
    """Two real builds: the first is stopped with its new dataset staged and about to be swapped in; the
    second finds the lock, says so and exits 1, deleting nothing; the first then completes."""
    out = tmp_path / "out"
    _place(versions["old"], out)
    first = subprocess.Popen(
        cli(*_cli_args(corpus, out, seed=2)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, FAULT_AT_ENV: "swap:pause"},
    )
    try:
        wait_until_stopped(first.pid)
        staged = out / ".videossr-work" / NAME / "staging"
        before = snapshot(tmp_path)
        assert (staged / OWNER_MARKER).is_file()
        second = subprocess.run(
            cli(*_cli_args(corpus, out, seed=2)), capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 1, second.stderr
        (line,) = [line for line in second.stderr.splitlines() if line.strip()]
        assert "another build is writing" in line and str(out / NAME) in line and "Traceback" not in line
        assert snapshot(tmp_path) == before
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert tree_digest(out / NAME) == tree_digest(versions["new"])


def test_a_kill_or_full_disk_at_every_write_step_leaves_a_complete_loadable_dataset(
    versions, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    target = _place(versions["old"], out)
    state = {name: snapshot(folder) for name, folder in versions.items()}
    ids = {name: sorted(r["id"] for r in iter_repo_rows(folder, ["id"])) for name, folder in versions.items()}
    cache = tmp_path / "hf-cache"
    manifest = json.loads((versions["new"] / "build_manifest.json").read_text())
    rows = sorted(iter_repo_rows(versions["new"]), key=lambda r: r["id"])
    points = [(p, True) for p in DRIVER_POINTS if p not in ("locked", "swap-gap")]
    points += [(p, False) for p in ("swap", "swap-gap", "cleanup")]  # filesystems without an exchange
    for point, atomic in points:
        for action in ("kill", "enospc"):
            if action == "kill":
                done = rewrite_in_child(versions["new"], target, atomic=atomic, fault=f"{point}:kill")
                assert done.returncode == -signal.SIGKILL, (point, done.stderr[-2000:])
            else:
                monkeypatch.setenv(FAULT_AT_ENV, f"{point}:enospc")
                with pytest.raises(OSError) as info:
                    finalize_repo(
                        iter(rows), target, dataset_name=NAME, manifest=manifest, atomic_swap=atomic
                    )
                monkeypatch.delenv(FAULT_AT_ENV)
                assert info.value.errno == errno.ENOSPC
            if point == "swap-gap" and action == "kill":
                # Between the two renames: the previous dataset waits beside it; the next build puts it back.
                assert not target.exists()
                recover(target)
            expected = "new" if point == "cleanup" else "old"  # the previous one until the swap is done
            assert snapshot(target) == state[expected], (point, atomic, action)
            assert loaded_ids(target, cache) == ids[expected], (point, atomic, action)
            if expected == "new":
                shutil.rmtree(target)
                _place(versions["old"], out)
    done = rewrite_in_child(versions["new"], target)
    assert done.returncode == 0, done.stderr[-2000:]
    assert snapshot(target) == state["new"]
    assert sorted(p.name for p in (out / ".videossr-work" / NAME).iterdir()) == []


def test_a_write_fault_in_a_worker_leaves_the_unit_to_be_redone(corpus, tmp_path, monkeypatch):
    """A full disk while a unit writes its part or its marker: the unit does not count as done, and running
    it again gives the rows an undisturbed run gives."""
    recipe = load_recipe(NAME).scaled(2)
    sources = [probe_source(sid, str(p), min_frames=54) for sid, p in discover([corpus])[0]]
    (unit,) = plan_units(recipe, sources[:1], BuildConfig(seed=0), tmp_path / "parts")
    (reference,) = plan_units(recipe, sources[:1], BuildConfig(seed=0), tmp_path / "reference")
    expected = run_unit(reference)
    for point in ("part", "unit-marker"):
        monkeypatch.setenv(FAULT_AT_ENV, f"{point}:enospc")
        with pytest.raises(OSError):
            run_unit(unit)
        assert finished_summary(unit.key, unit.part_path, unit.marker_path) is None
    monkeypatch.delenv(FAULT_AT_ENV)
    assert run_unit(unit) == expected
    assert unit.part_path.read_bytes() == reference.part_path.read_bytes()


def test_a_shard_cut_short_by_a_full_disk_or_corrupted_later_is_written_again(
    corpus, versions, tmp_path, monkeypatch
):
    """Workers write the shards into the work area: a full disk there fails the build with the previous
    dataset untouched, and a shard file damaged after a finished build is written again, not linked in."""
    out = tmp_path / "out"
    monkeypatch.setenv(FAULT_AT_ENV, "shard:enospc")
    with pytest.raises(OSError):
        _build(corpus, out, seed=2)
    assert not (out / NAME).exists()
    monkeypatch.delenv(FAULT_AT_ENV)
    _build(corpus, out, seed=2)
    assert tree_digest(out / NAME) == tree_digest(versions["new"])
    shards = sorted((out / ".videossr-work" / NAME / "shards").glob("*.parquet"))
    assert shards
    shards[0].unlink()  # the published shard is a link to it: cut the link, then damage the work copy
    shards[0].write_bytes(b"PAR1 not a parquet file")
    _build(corpus, out, seed=2)
    assert tree_digest(out / NAME) == tree_digest(versions["new"])
    assert shards[0].read_bytes()[:4] == b"PAR1" and shards[0].stat().st_size > 100


def test_a_corrupt_or_empty_unit_marker_or_part_means_the_unit_is_redone(corpus, versions, tmp_path):
    out = tmp_path / "out"
    _build(corpus, out, seed=2)
    parts = sorted((out / ".videossr-work" / NAME / "parts").glob("*.parquet"))
    assert len(parts) >= 2
    broken = {parts[0].with_suffix(".json"): b"", parts[1].with_suffix(".json"): b'{"unit": "'}
    broken[parts[0]] = parts[0].read_bytes()[:-20]  # a part without its footer
    broken[parts[1]] = b""
    for path, data in broken.items():
        path.write_bytes(data)
    _build(corpus, out, seed=2)
    assert tree_digest(out / NAME) == tree_digest(versions["new"])
    for part in parts[:2]:
        summary = finished_summary(part.stem, part, part.with_suffix(".json"))
        assert summary is not None and summary.unit == part.stem


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


def test_a_really_full_disk_leaves_the_previous_dataset_loadable(versions, tmp_path):
    """A real filesystem that runs out of space part way through the new dataset, at several fill levels: the
    previous dataset stays whole and loadable, and with space again the new one is written."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "64m"):
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        out = disk / "out"
        target = _place(versions["old"], out)
        old = snapshot(target)
        old_ids = sorted(r["id"] for r in iter_repo_rows(target, ["id"]))
        new_bytes = sum(p.stat().st_size for p in versions["new"].rglob("*") if p.is_file())
        filler = disk / "filler"
        for left in (0, 4096, new_bytes // 3, 2 * new_bytes // 3, new_bytes - 4096):
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            with open(filler, "wb") as f:
                f.truncate(0)
                f.write(b"\0" * max(0, free - left))
            done = rewrite_in_child(versions["new"], target)
            assert done.returncode != 0 and "No space left" in done.stderr, (left, done.stderr[-2000:])
            assert snapshot(target) == old
            assert sorted(loaded_ids(target, tmp_path / "hf")) == old_ids
            filler.unlink()
        done = rewrite_in_child(versions["new"], target)
        assert done.returncode == 0, done.stderr[-2000:]
        assert snapshot(target) == snapshot(versions["new"])
    finally:
        subprocess.run(["umount", str(disk)], check=False)
