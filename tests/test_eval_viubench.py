"""VIUBench end to end: a small VIUBench built with videossr.tasks and build/repo.py; the ground truth scores
100 on every subtype; `random` matches its expectation; `python eval/run.py --model random` uses
./viubench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _eval_helpers import make_viubench
from videossr.eval.backends import CallableBackend, RandomBackend
from videossr.eval.evaluator import evaluate
from videossr.eval.registry import VIUBENCH_SUBTYPES

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def viubench(tmp_path_factory) -> Path:
    return make_viubench(tmp_path_factory.mktemp("viu") / "viubench", per_subtype=2, seed=0)


def test_ground_truth_scores_100_on_every_subtype(viubench, tmp_path):
    res = evaluate(
        ["viubench"],
        CallableBackend(lambda item, s: item.answer),
        tmp_path,
        data={"viubench": str(viubench)},
        progress=False,
    )
    entry, counts = res["results"]["viubench"], res["item_counts"]["viubench"]
    assert counts["n_items"] == 18 and counts["n_failed"] == 0 and counts["n_unparsed"] == 0
    for key in (*VIUBENCH_SUBTYPES, "counting", "grounding", "jigsaw", "overall"):
        assert entry[f"{key},none"] == pytest.approx(100.0), key
    config = res["configs"]["viubench"]
    assert (
        config["frames"] == 48 and config["max_pixels"] == 512 * 512 and "every frame" in config["sampling"]
    )


def test_items_carry_clips_system_prompt_and_timeline(viubench, tmp_path):
    seen = {}

    def script(item, settings):
        seen[item.meta["subtype"]] = item
        return "0"

    evaluate(
        ["viubench"],
        CallableBackend(script, needs_video=True),
        tmp_path,
        data={"viubench": str(viubench)},
        progress=False,
    )
    jig = seen["jigsaw/hard"]
    assert (
        len(jig.videos) == 8 and jig.prompt.count("<video>") == 8 and jig.prompt.startswith("Clip 1: <video>")
    )
    # embedded clips are spilled to disk as they stream in (bounded memory)
    assert all(v.data is None and Path(v.path).read_bytes()[4:8] == b"ftyp" for v in jig.videos)
    g = seen["grounding/Mirror"]
    assert (
        g.system
        and len(g.videos) == 1
        and g.meta["duration"] == pytest.approx(48 * 60 * 0.9 / 48 / 1.0, rel=0.1)
    )


def test_wrong_formats_score_zero(viubench, tmp_path):
    def script(item, settings):  # right answers in the wrong format: the strict task parsers give 0
        return f"The answer is '{item.answer}' seconds"

    res = evaluate(
        ["viubench"], CallableBackend(script), tmp_path, data={"viubench": str(viubench)}, progress=False
    )
    assert res["results"]["viubench"]["overall,none"] == 0.0
    assert res["item_counts"]["viubench"]["n_unparsed"] == 18


def test_random_matches_expectation(viubench, tmp_path):
    """Over many seeds, random counting gives 1/9 (easy) and 1/16 (hard) per shape, jigsaw ~0."""
    totals: dict[str, list[float]] = {}
    for seed in range(60):
        res = evaluate(
            ["viubench"],
            RandomBackend(seed=seed),
            tmp_path / str(seed),
            data={"viubench": str(viubench)},
            progress=False,
            chart=False,
        )
        for key in ("counting/easy", "counting/hard", "jigsaw/easy", "jigsaw/hard", "grounding"):
            totals.setdefault(key, []).append(res["results"]["viubench"][f"{key},none"])
    mean = {k: sum(v) / len(v) for k, v in totals.items()}
    assert mean["counting/easy"] == pytest.approx(100 / 9, abs=2.5)
    assert mean["counting/hard"] == pytest.approx(100 / 16, abs=1.8)
    assert mean["jigsaw/easy"] < 2.0 and mean["jigsaw/hard"] < 1.0
    assert 10.0 < mean["grounding"] < 35.0


def test_cli_random_uses_local_viubench(viubench, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "viubench").symlink_to(viubench)
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "eval" / "run.py"),
            "--model",
            "random",
            "--benchmarks",
            "viubench",
            "--out",
            "o",
            "--no-progress",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "VIUBench (48 frames" in proc.stdout and "Random Guess (pa" in proc.stdout
    results = json.loads((work / "o" / "results.json").read_text())
    assert "overall,none" in results["results"]["viubench"]
    assert results["configs"]["viubench"]["backend"] == "random"
    assert (work / "o" / "chart.png").exists()
    lines = (work / "o" / "samples_viubench.jsonl").read_text().splitlines()
    assert len(lines) == 18 and {"id", "resps", "parsed", "score", "target"} <= set(json.loads(lines[0]))
