"""build/verify.py passes a valid repo (library and CLI) and counts what it checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _verify_helpers import MAIN_ROWS, run_cli
from videossr.build.checks import LeakScanner, VerifyReport, verify_repo
from videossr.build.checks.leaks import GENERIC_NAMES


@pytest.fixture
def repos(verify_repos: tuple[Path, Path]) -> tuple[Path, Path]:
    return verify_repos


def test_clean_repo_passes_every_check(repos) -> None:
    main, other = repos
    report = verify_repo(main, other=other, decode=True, load=True, progress=False)
    assert isinstance(report, VerifyReport)
    assert report.ok, report.format()
    n_clips = sum(6 if task == "jigsaw" else 1 for task, _, _ in MAIN_ROWS)
    assert report.checked["rows"] == len(MAIN_ROWS)
    assert report.checked["answers"] == len(MAIN_ROWS)
    assert report.checked["clips_decoded"] == n_clips
    assert report.checked["frames_decoded"] == 48 * len(MAIN_ROWS)
    assert report.checked["load_dataset_rows"] == len(MAIN_ROWS)
    assert report.checked["load_dataset_clips_decoded"] == 1
    assert report.checked["other_sources"] == 1
    assert report.checked["configs"] == 4
    assert report.checked["files_scanned"] >= 2  # README.md, build_manifest.json (and preview.png)
    assert report.skipped == []


def test_other_repo_passes_against_main(repos) -> None:
    main, other = repos
    report = verify_repo(other, other=main, decode=False, load=False, progress=False)
    assert report.ok, report.format()
    assert any("decoding" in s for s in report.skipped) and any("load_dataset" in s for s in report.skipped)


def test_report_json_round_trip(repos) -> None:
    main, _ = repos
    report = verify_repo(main, decode=False, load=False, progress=False)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["num_problems"] == 0 and data["checked"]["rows"] == len(MAIN_ROWS)


def test_missing_folder_is_a_problem(tmp_path) -> None:
    report = verify_repo(tmp_path / "nope", load=False)
    assert not report.ok and report.problems[0].check == "files"


def test_leak_scanner_patterns(tmp_path) -> None:
    scanner = LeakScanner(tmp_path)
    assert scanner.find("clip time = frame index / fps; see data/*/train-*.parquet") == []
    assert scanner.find("https://huggingface.co/datasets/videossr/VideoSSR-30K and cooking/a") == []
    assert scanner.find("made from /home/alice/videos/a.mp4")
    assert scanner.find(r"C:\Users\alice\a.mp4")
    assert scanner.find("~/videos/a.mp4")
    assert scanner.find(str(tmp_path / "x"))
    hits = scanner.find("token hf_" + "aB3" * 8)
    assert hits and "aB3aB3" not in hits[0]  # tokens are never echoed
    assert scanner.find("hf_short") == []


def test_cli_clean_exit_zero(repos) -> None:
    main, other = repos
    proc = run_cli(str(main), "--other", str(other), "--no-load")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: no problems" in proc.stdout


def test_cli_json_and_help(repos) -> None:
    main, _ = repos
    proc = run_cli(str(main), "--no-decode", "--no-load", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] and data["checked"]["rows"] == len(MAIN_ROWS)
    help_ = run_cli("--help")
    assert help_.returncode == 0
    for option in ("--other", "--no-decode", "--no-load", "--json"):
        assert option in help_.stdout


def test_cli_bad_arguments(tmp_path) -> None:
    proc = run_cli(str(tmp_path / "missing"))
    assert proc.returncode == 2 and "is not a folder" in proc.stderr
    proc = run_cli(str(tmp_path), "--other", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "--other" in proc.stderr


def test_leak_scanner_user_and_host_names(tmp_path) -> None:
    scanner = LeakScanner(
        tmp_path, allowed=("zelda/videossr-30k",), user="zelda", host="gpu-node-17.lab.example"
    )
    assert any("user name" in f for f in scanner.find("rendered by zelda"))
    assert any("host name" in f for f in scanner.find("on gpu-node-17 last night"))
    assert scanner.find("load_dataset('zelda/videossr-30k')") == []  # the public Hub repo id
    assert scanner.find("zeldas and gpu-node-170") == []  # whole names only
    nobody = LeakScanner(tmp_path, user="root", host="localhost")  # names that identify nobody
    assert nobody.find("relative to the source root") == []
    assert nobody.find("on localhost as root") == []


def test_leak_scanner_defaults_to_this_machines_names(tmp_path) -> None:
    import getpass
    import socket

    names = [n for n in (getpass.getuser(), socket.gethostname().split(".")[0]) if len(n) >= 3]
    for name in names:
        found = LeakScanner(tmp_path).find(f"made by {name}.")
        assert found or name.lower() in GENERIC_NAMES, name
