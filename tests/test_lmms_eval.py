"""VIUBench as an lmms-eval task, checked in lmms-eval 0.7.3's own environment (scripts/lmms_eval_env.sh,
cached outside the clone): its TaskManager loads the task from a built VIUBench, its process_results scores
the ground truth at 100 and the project's random answers at the project's own figures, and its table printer
renders the project's results.json files. Skipped only when the package index cannot be reached."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _eval_helpers import make_viubench
from _results_helpers import write_results
from videossr.eval.backends import RandomBackend
from videossr.eval.evaluator import evaluate

REPO = Path(__file__).resolve().parent.parent
UNREACHABLE = 75


@pytest.fixture(scope="module")
def lmms_python() -> str:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "lmms_eval_env.sh")], capture_output=True, text=True, timeout=1200
    )
    if proc.returncode == UNREACHABLE:
        pytest.skip(f"lmms-eval's environment cannot be built: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_viubench_task_in_lmms_eval_scores_as_the_project(lmms_python, tmp_path):
    viubench = make_viubench(tmp_path / "viubench", per_subtype=2, seed=3)
    evaluate(
        ["viubench"],
        RandomBackend(seed=0),
        tmp_path / "random",
        data={"viubench": str(viubench)},
        progress=False,
    )
    site = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    command = [
        lmms_python,
        str(REPO / "integrations" / "lmms_eval" / "check.py"),
        "--viubench",
        str(viubench),
    ]
    command += ["--results", str(tmp_path / "random"), "--project-site", site]
    mixed = write_results(tmp_path / "mixed", 32, ("videomme", "charades", "vcrbench"), value=12.5)
    command += ["--render", str(mixed)]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert report["lmms_eval"] == "0.7.3" and report["av"].split(".")[0] == "15"  # lmms-eval's own PyAV pin
    assert report["documents"] == 18 and report["problems"] == []
    assert set(report["oracle"].values()) == {100.0}
    project = json.loads((tmp_path / "random" / "results.json").read_text())["results"]["viubench"]
    for metric, value in report["random"].items():
        assert value == pytest.approx(project[f"{metric},none"], abs=1e-3), metric
    ours, mixed = (report["tables"][str(p)] for p in (tmp_path / "random" / "results.json", mixed))
    assert "VIUBench" in ours and "overall" in ours and "grounding/ChannelSwap" in ours
    assert all(title in mixed for title in ("Video-MME", "Charades-STA", "VCRBench")) and "N/A" in mixed
