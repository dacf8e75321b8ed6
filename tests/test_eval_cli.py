"""The eval command lines: generated from EvalConfig / SubmitConfig, every documented flag parses as before,
errors are one line naming the bad value, and the scripts and console entry points are thin wrappers."""

from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from videossr.eval.backends import RANDOM_GROUNDING, Settings
from videossr.eval.cli import EvalConfig, SubmitConfig, eval_parser, submit_parser

REPO = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "eval" / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_documented_flag_parses_into_the_config():
    command_line = (
        "--model Qwen/Qwen3-VL-8B-Instruct --benchmarks viubench,charades --backend openai --frames 48 "
        "--fps 1.5 --max-pixels 65536 --max-new-tokens 32 --out o --data charades=/d/charades "
        "--data tacos=/d/test.json "
        "--video-root /v --limit 5 --shard 1/4 --seed 7 --revision abc --dtype bfloat16 --device cpu "
        "--api-base http://h:1/v1 --api-key k --openai-video video_url --no-progress --no-chart "
        "--random-grounding uniform"
    )
    argv = command_line.split()
    (cfg,) = eval_parser().parse_into_dataclasses(argv)
    assert cfg == EvalConfig(
        model="Qwen/Qwen3-VL-8B-Instruct",
        benchmarks="viubench,charades",
        backend="openai",
        frames=48,
        fps=1.5,
        max_pixels=65536,
        max_new_tokens=32,
        out="o",
        data=["charades=/d/charades", "tacos=/d/test.json"],
        video_root="/v",
        limit=5,
        shard=(1, 4),
        seed=7,
        revision="abc",
        dtype="bfloat16",
        device="cpu",
        api_base="http://h:1/v1",
        api_key="k",
        openai_video="video_url",
        progress=False,
        chart=False,
        random_grounding="uniform",
    )
    (listing,) = eval_parser().parse_into_dataclasses(["--list"])
    assert listing.list_benchmarks and listing.model is None


def test_defaults_come_from_one_place():
    (cfg,) = eval_parser().parse_into_dataclasses([])
    assert (cfg.fps, cfg.max_pixels) == (Settings.fps, Settings.max_pixels)
    assert cfg.random_grounding == "whole-clip" and cfg.data == [] and cfg.shard is None
    hints = typing.get_type_hints(EvalConfig)
    assert typing.get_args(hints["random_grounding"]) == RANDOM_GROUNDING
    for cls in (EvalConfig, SubmitConfig):  # every field is an option with its help: declared once
        assert all(f.metadata.get("help") for f in dataclasses.fields(cls)), cls


def test_help_says_what_random_reproduces():
    text = _run("run.py", "--help").stdout
    for needle in (
        "Random Guess row (Table 1)",
        "grounding answers the whole clip",
        "--random-grounding",
        "1-16",
    ):
        assert needle in text, needle
    assert "--frames N" in text and "--shard I/N" in text and "oracle" in text
    assert "--dry-run" in _run("submit.py", "--help").stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "random", "--benchmarks", "viubench,foo"], "unknown benchmark 'foo'"),
        (["--model", "random", "--shard", "3/2"], "bad --shard '3/2'"),
        (["--model", "random", "--frames", "0"], "bad --frames 0"),
        (["--model", "random", "--frames", "abc"], "bad --frames 'abc'"),
        (["--model", "random", "--fps", "-1"], "bad --fps '-1'"),
        (["--model", "random", "--max-pixels", "100"], "bad --max-pixels 100"),
        (["--model", "random", "--data", "nope"], "bad --data 'nope'"),
        (["--model", "random", "--data", "foo=/x"], "unknown benchmark 'foo'"),
        (["--model", "m", "--backend", "vllm"], "invalid choice: 'vllm'"),
        (["--model", "random", "--random-grounding", "all"], "invalid choice: 'all'"),
        (["--benchmarks", "viubench"], "--model is required"),
    ],
)
def test_errors_are_one_line_and_name_the_value(tmp_path, args, needle):
    proc = _run("run.py", *args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "o").exists()


def test_video_root_must_exist(tmp_path):
    proc = _run(
        "run.py", "--model", "random", "--video-root", str(tmp_path / "missing"), "--out", str(tmp_path)
    )
    assert proc.returncode == 2 and "bad --video-root" in proc.stderr


def test_submit_errors(tmp_path):
    proc = _run("submit.py", str(tmp_path / "none.json"), "--repo", "me/model")
    assert proc.returncode == 2 and "bad RESULTS" in proc.stderr
    proc = _run("submit.py", str(tmp_path), "--repo", "nomodel")
    assert proc.returncode == 2 and "bad --repo 'nomodel'" in proc.stderr
    proc = _run("submit.py", "--repo", "me/model")
    assert proc.returncode == 2 and "RESULTS" in proc.stderr
    (cfg,) = submit_parser().parse_into_dataclasses(["out", "--repo", "me/m", "--dry-run"])
    assert cfg == SubmitConfig(results="out", repo="me/m", dry_run=True)


def test_list_needs_no_model():
    proc = _run("run.py", "--list")
    assert proc.returncode == 0 and "viubench" in proc.stdout and "charades" in proc.stdout


def test_scripts_are_thin_wrappers_of_the_console_entry_points():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["videossr-eval"] == "videossr.eval.cli:main"
    assert scripts["videossr-submit"] == "videossr.eval.cli:submit_main"
    for name, target in (("run.py", "main"), ("submit.py", "submit_main")):
        tree = ast.parse((REPO / "eval" / name).read_text())
        defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "videossr.eval.cli"]
        assert not defs and [a.name for a in imports[0].names] == [target], name
    console = Path(sys.executable).parent / "videossr-eval"
    if console.exists():  # the editable install's entry point
        proc = subprocess.run([str(console), "--list"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and "viubench" in proc.stdout
