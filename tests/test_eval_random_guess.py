"""Table 1's Random Guess row: ``eval/run.py --model random`` on a generated 2,700-item VIUBench (9 subtypes
x 300, as the paper's) lands within sampling error of all nine published cells.

The VIUBench here is generated fast: every sample is made by videossr.tasks (plan + make on small frames) and
written in the published layout by build/repo.py, but all rows share one placeholder clip, because the random
backend never looks at the videos (it answers from the row: subtype, params, clip duration).

Sampling error, per cell: the paper's cells are means over its 300 items per subtype (the grounding cells
vary from 25.2 to 25.9 around the 25.0 expectation), so the difference between our cell and theirs has the
variance of two such means: ``se^2 * (1 + n / 300)`` with ``se`` from our per-item score variance. A cell is
consistent when the difference is within 3 of these standard errors plus 0.05 (the published rounding). A
cell of 0/1 scores that are all 0 (jigsaw) has no sample variance, so its per-item variance is the binomial
``p (1 - p)`` at the Agresti-Coull estimate ``p = (k + 4.5) / (n + 9)`` (z = 3). The task averages and
Overall combine the errors of their cells.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from videossr.eval.backends import RandomBackend
from videossr.eval.evaluator import evaluate
from videossr.eval.items import Item
from videossr.eval.paper import VIUBENCH_TABLE1
from videossr.eval.registry import VIUBENCH_SUBTYPES
from videossr.tasks.parsing import parse_interval

REPO = Path(__file__).resolve().parent.parent
PER_SUBTYPE = 300
PAPER_ITEMS = 300
Z = 3.0


def _frames(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Smooth moving gradients with noise: every perturbation and shape is visible on them."""
    yy, xx = np.mgrid[0:size, 0:size]
    base = rng.integers(0, 255, size=3)
    steps = np.arange(n)[:, None, None]
    planes = [(xx * 3 + steps * 5 + base[0]), (yy * 2 + steps * 3 + base[1]), (xx + yy + steps * 7 + base[2])]
    frames = np.stack([p % 256 for p in planes], axis=-1) + rng.integers(0, 20, size=(n, size, size, 3))
    return np.clip(frames, 0, 255).astype(np.uint8)


def generate_viubench(out_dir: Path, per_subtype: int, seed: int = 0, size: int = 32) -> Path:
    """A VIUBench folder in the published layout whose rows all point at one placeholder clip."""
    from videossr.build.render import encode_clip
    from videossr.build.repo import finalize_repo
    from videossr.build.schema import clip_filename
    from videossr.tasks import SampleRejected, TaskSpec, VideoInfo, make_sample, plan_sample

    rng = np.random.default_rng(seed)
    info = VideoInfo(duration=60.0, fps=24.0, num_frames=1440, width=size, height=size)
    placeholder = encode_clip(_frames(rng, 4, 16), 1.0)
    rows = []
    for subtype in VIUBENCH_SUBTYPES:
        task, name = subtype.split("/")
        made = 0
        while made < per_subtype:
            plan = plan_sample(TaskSpec(task, name), info, rng)
            try:
                sample = make_sample(plan, _frames(rng, len(plan.times), size))
            except SampleRejected:
                continue
            sid = f"{task}-{name}-{made:06d}"
            rows.append(
                {
                    "id": sid,
                    "task": sample.task,
                    "subtype": sample.subtype,
                    "difficulty": sample.difficulty,
                    "system": sample.system,
                    "question": sample.question,
                    "answer": sample.answer,
                    "videos": [
                        {"bytes": placeholder, "path": clip_filename(sid, i)}
                        for i in range(len(sample.clips))
                    ],
                    "fps": [float(f) for f in sample.fps],
                    "num_frames": sample.num_frames,
                    "frame_times": [[float(t) for t in times] for times in sample.frame_times],
                    "source": f"src{made % 7}",
                    "params": sample.params_json(),
                }
            )
            made += 1
    finalize_repo(sorted(rows, key=lambda r: r["id"]), out_dir, dataset_name="viubench", manifest={})
    return out_dir


def cell_stderr(scores: list[float]) -> float:
    """The standard error of a cell's mean from its per-item variance (see the module docstring)."""
    n = len(scores)
    mean = sum(scores) / n
    variance = sum((s - mean) ** 2 for s in scores) / (n - 1)
    if variance == 0.0 and set(scores) <= {0.0, 1.0}:
        p = (sum(scores) + Z * Z / 2) / (n + Z * Z)
        variance = p * (1 - p)
    return math.sqrt(variance / n)


@pytest.fixture(scope="module")
def viubench_2700(tmp_path_factory) -> Path:
    return generate_viubench(tmp_path_factory.mktemp("viu2700") / "viubench", PER_SUBTYPE, seed=0)


@pytest.fixture(scope="module")
def random_run(viubench_2700, tmp_path_factory) -> Path:
    """``python eval/run.py --model random --benchmarks viubench`` where ./viubench is the generated one."""
    work = tmp_path_factory.mktemp("work")
    (work / "viubench").symlink_to(viubench_2700)
    command = [sys.executable, str(REPO / "eval" / "run.py"), "--model", "random", "--benchmarks", "viubench"]
    proc = subprocess.run(
        [*command, "--out", "o", "--no-progress", "--no-chart"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return work / "o"


def _by_subtype(samples_file: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for line in samples_file.read_text().splitlines():
        sample = json.loads(line)
        out[sample["subtype"]].append(sample)
    return out


@pytest.mark.slow
def test_random_guess_is_within_sampling_error_of_table1(random_run):
    """The nine subtype cells, and the task averages and Overall built from them (Table 1's last four)."""
    results = json.loads((random_run / "results.json").read_text())
    entry = results["results"]["viubench"]
    assert results["item_counts"]["viubench"]["n_items"] == 9 * PER_SUBTYPE
    cells = _by_subtype(random_run / "samples_viubench.jsonl")
    ours: dict[str, tuple[float, float]] = {}  # column -> (percent, standard error of the difference)
    for subtype in VIUBENCH_SUBTYPES:
        scores = [s["score"] for s in cells[subtype]]
        assert len(scores) == PER_SUBTYPE, subtype
        mean = 100 * sum(scores) / len(scores)
        assert entry[f"{subtype},none"] == pytest.approx(mean, abs=1e-3), subtype
        ours[subtype] = (mean, 100 * cell_stderr(scores) * math.sqrt(1 + len(scores) / PAPER_ITEMS))
    groups = {
        task: [s for s in VIUBENCH_SUBTYPES if s.startswith(task)]
        for task in ("counting", "grounding", "jigsaw")
    }
    groups["overall"] = list(VIUBENCH_SUBTYPES)
    for column, members in groups.items():
        mean = sum(ours[m][0] for m in members) / len(members)
        ours[column] = (mean, math.sqrt(sum(ours[m][1] ** 2 for m in members)) / len(members))
    paper = VIUBENCH_TABLE1["Random Guess"]
    report = [f"{c}: {v:.2f} (se {se:.2f}) vs {paper[c]}" for c, (v, se) in ours.items()]
    for column, (value, se) in ours.items():
        assert abs(value - paper[column]) <= Z * se + 0.05, "; ".join(report)


@pytest.mark.slow
def test_results_record_the_scheme_and_per_item_standard_errors(random_run):
    results = json.loads((random_run / "results.json").read_text())
    entry = results["results"]["viubench"]
    cells = _by_subtype(random_run / "samples_viubench.jsonl")
    for subtype in VIUBENCH_SUBTYPES:
        scores = [s["score"] for s in cells[subtype]]
        mean = sum(scores) / len(scores)
        sample_se = math.sqrt(sum((s - mean) ** 2 for s in scores) / (len(scores) - 1) / len(scores))
        assert entry[f"{subtype}_stderr,none"] == pytest.approx(100 * sample_se, abs=1e-3), subtype
    for where in (results["config"], results["configs"]["viubench"]):
        assert "grounding answers the whole clip" in where["random_guess"]


@pytest.mark.slow
def test_grounding_answers_the_whole_clip(random_run):
    """Every grounding answer spans the clip, so its IoU is the segment's share of the clip."""
    cells = _by_subtype(random_run / "samples_viubench.jsonl")
    for subtype in VIUBENCH_SUBTYPES[2:7]:
        for sample in cells[subtype]:
            start, end = parse_interval(sample["resps"])
            gt_start, gt_end = parse_interval(sample["target"])
            assert start == 0.0 and gt_end <= end
            assert sample["score"] == pytest.approx((gt_end - gt_start) / end, abs=1e-9)


@pytest.mark.slow
def test_counting_and_jigsaw_draw_uniformly_from_their_ranges(random_run):
    cells = _by_subtype(random_run / "samples_viubench.jsonl")
    for subtype, top in (("counting/easy", 9), ("counting/hard", 16)):
        values = [int(v) for s in cells[subtype] for v in s["resps"].split(",")]
        assert set(values) == set(range(1, top + 1)), subtype  # 900 draws: every value of the range appears
        expected = len(values) / top
        chi2 = sum((values.count(v) - expected) ** 2 / expected for v in range(1, top + 1))
        assert chi2 < 3 * top, (subtype, chi2)  # far below: a skewed draw would give hundreds
    for subtype, n in (("jigsaw/easy", 6), ("jigsaw/hard", 8)):
        orders = [s["resps"] for s in cells[subtype]]
        assert all(sorted(o) == [str(i) for i in range(1, n + 1)] for o in orders), subtype
        perms = math.factorial(n)
        distinct = perms * (1 - (1 - 1 / perms) ** len(orders))  # expected distinct orders of uniform draws
        assert abs(len(set(orders)) - distinct) < 0.1 * distinct, (subtype, len(set(orders)), distinct)


@pytest.mark.slow
def test_uniform_intervals_stay_behind_an_explicit_option(viubench_2700, tmp_path):
    res = evaluate(
        ["viubench"],
        RandomBackend(seed=0, viubench_grounding="uniform"),
        tmp_path,
        data={"viubench": str(viubench_2700)},
        progress=False,
        chart=False,
    )
    entry = res["results"]["viubench"]
    # two uniform points score about 20 on 8-16 frame segments of 48: far below Table 1's 25.2-25.9
    assert entry["grounding,none"] + 3 * entry["grounding_stderr,none"] < 24.0
    assert "two uniform points of the clip" in res["config"]["random_guess"]


def test_downstream_grounding_keeps_uniform_intervals():
    item = Item(
        bench="charades",
        id="v0",
        kind="grounding",
        question="q",
        prompt="<video>q",
        answer=[[1.0, 3.0]],
        meta={"duration": 30.0},
    )
    answers = {RandomBackend(seed=s).generate(item, None) for s in range(20)}  # type: ignore[arg-type]
    assert len(answers) == 20 and not any(a.startswith("The event happens in 0.0 - 30.0") for a in answers)
    with pytest.raises(ValueError, match="viubench_grounding"):
        RandomBackend(viubench_grounding="everything")
