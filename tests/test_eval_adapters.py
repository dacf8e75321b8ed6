"""Every benchmark on a fixture laid out as its real release (tests/fixtures/benchmarks/<bench>/): the
oracle scores the metric's maximum, the random backend its analytic chance level, and a malformed row is a
failed item that stays in the denominator. Adding a benchmark = a module + a fixture; these tests pick it up.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from _benchmark_fixtures import BuiltFixture, build_fixture, fixture_names
from videossr.eval.backends import OracleBackend, RandomBackend, Settings
from videossr.eval.items import Item, load_benchmark
from videossr.eval.registry import BENCHMARKS
from videossr.eval.scoring import benchmark_metrics, score_item

REPO = Path(__file__).resolve().parent.parent
BENCHES = fixture_names()
# VIUBench's Random Guess scheme (Table 1) is tested with the results stage, not here.
CHANCE_BENCHES = [b for b in BENCHES if b != "viubench"]
POOLED = {"mc": "accuracy", "order": "accuracy", "grounding": "mIoU", "viubench": "overall"}


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    cache: dict[tuple[str, bool], BuiltFixture] = {}

    def get(bench: str, malformed: bool = False) -> BuiltFixture:
        if (bench, malformed) not in cache:
            root = tmp_path_factory.mktemp(f"{bench}-{'bad' if malformed else 'ok'}")
            cache[bench, malformed] = build_fixture(bench, root, malformed=malformed)
        return cache[bench, malformed]

    return get


def load(fx: BuiltFixture, tmp_path):
    spec = BENCHMARKS[fx.bench]
    root = str(fx.video_root) if fx.video_root else None
    return load_benchmark(spec, data=str(fx.data), video_root=root, cache_dir=tmp_path / "cache")


def run(bench: str, items: list[Item], backend) -> dict[str, float]:
    scored = [(it, score_item(it, None if it.error else backend.generate(it, Settings()))) for it in items]
    return benchmark_metrics(BENCHMARKS[bench], scored)


def test_every_registered_benchmark_has_a_fixture():
    assert set(BENCHES) == set(BENCHMARKS)


@pytest.mark.parametrize("bench", BENCHES)
def test_oracle_scores_the_maximum(bench, built, tmp_path):
    fx = built(bench)
    loaded = load(fx, tmp_path)
    assert len(loaded.items) == fx.items and sum(loaded.excluded.values()) == fx.excluded
    assert [it.error for it in loaded.items] == [None] * fx.items
    for item in loaded.items:
        assert item.videos and all(ref.path or ref.data for ref in item.videos), item.id
        assert item.prompt.count("<video>") == len(item.videos)
    metrics = run(bench, loaded.items, OracleBackend())
    assert metrics[BENCHMARKS[bench].primary] == pytest.approx(100.0)
    assert all(value == pytest.approx(100.0) for value in metrics.values()), metrics


@pytest.mark.parametrize("bench", BENCHES)
def test_malformed_row_is_a_failed_item_in_the_denominator(bench, built, tmp_path):
    fx = built(bench, malformed=True)
    items = load(fx, tmp_path).items
    failed = [it for it in items if it.error]
    assert len(items) == fx.items and len(failed) == fx.failed
    assert all(it.error.strip() for it in failed)
    scores = [score_item(it, "A") for it in failed]
    assert {(s["status"], s["score"]) for s in scores} == {("failed", 0.0)}
    metrics = run(bench, items, OracleBackend())
    pooled = "accuracy" if "accuracy" in metrics else POOLED[BENCHMARKS[bench].kind]
    assert metrics[pooled] == pytest.approx(100.0 * (fx.items - fx.failed) / fx.items)


def expected_iou(
    windows: list[list[float]], duration: float, n: int = 600
) -> tuple[float, dict[float, float]]:
    """E[IoU] and P(IoU >= t) for an interval between two uniform points of [0, duration] (midpoint grid)."""
    x = (np.arange(n) + 0.5) * duration / n
    a, b = np.meshgrid(x, x, indexing="ij")
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    iou = np.zeros_like(lo)
    for s, e in windows:
        inter = np.clip(np.minimum(hi, e) - np.maximum(lo, s), 0, None)
        union = np.maximum(hi, e) - np.minimum(lo, s)
        iou = np.maximum(iou, inter / union)
    return float(iou.mean()), {t: float((iou >= t).mean()) for t in (0.3, 0.5, 0.7)}


def chance(bench: str, items: list[Item]) -> dict[str, float]:
    """The random backend's expected metrics, from the items alone (uniform letter, uniform interval,
    uniform permutation)."""
    spec = BENCHMARKS[bench]
    if spec.kind == "grounding":
        stats = [expected_iou(it.answer, it.meta["duration"] or max(e for _, e in it.answer)) for it in items]
        out = {"mIoU": 100 * np.mean([m for m, _ in stats])}
        out.update({f"R@{t}": 100 * np.mean([p[t] for _, p in stats]) for t in (0.3, 0.5, 0.7)})
        return out
    if spec.kind == "order":
        steps = sum(len(it.answer) for it in items)
        return {
            "accuracy": 100 * np.mean([1 / math.factorial(len(it.answer)) for it in items]),
            "step_accuracy": 100 * len(items) / steps,  # one expected hit per item: n positions x 1/n
        }
    p = {it.id: 1 / len(it.options) for it in items}
    out = {"accuracy": 100 * np.mean(list(p.values()))}
    if spec.group_by:
        for group in {str(it.meta[spec.group_by]).lower() for it in items}:
            members = [p[it.id] for it in items if str(it.meta[spec.group_by]).lower() == group]
            out[f"accuracy_{group}"] = 100 * np.mean(members)
    if "text_score" in spec.metrics:
        pairs: dict[str, float] = {}
        for it in items:
            pairs[it.meta["group"]] = pairs.get(it.meta["group"], 1.0) * p[it.id]
        out["text_score"] = 100 * np.mean(list(pairs.values()))
    return out


@pytest.mark.parametrize("bench", CHANCE_BENCHES)
def test_random_scores_its_analytic_chance_level(bench, built, tmp_path):
    """The mean over 1,000 seeds is within 4 standard errors (+0.6 points for answers rounded to 0.1 s)."""
    items = load(built(bench), tmp_path).items
    expected = chance(bench, items)
    runs = [run(bench, items, RandomBackend(seed=seed)) for seed in range(1000)]
    for metric, want in expected.items():
        values = np.array([r[metric] for r in runs])
        tolerance = 4 * values.std() / math.sqrt(len(values)) + 0.6
        assert abs(values.mean() - want) <= tolerance, (metric, values.mean(), want, tolerance)


def test_docs_list_every_benchmark_with_its_release():
    lines = (REPO / "docs" / "evaluation.md").read_text().splitlines()
    for spec in BENCHMARKS.values():
        row = next((line for line in lines if line.startswith(f"| {spec.title} |")), None)
        assert row is not None, spec.title
        assert (f"`{spec.hub_id}` @ `{spec.revision}`" if spec.hub_id else "| none |") in row, spec.name
        first_file = re.search(r"[\w./-]+\.py", spec.loader)
        assert first_file is None or first_file.group() in row, spec.name
