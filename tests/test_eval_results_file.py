"""results.json carries the keys lmms-eval writes, holds only metrics in its metric dicts, and gives each
metric its standard error from the per-item scores. (lmms-eval's own table printer renders it in
tests/test_lmms_eval.py, which runs in lmms-eval's environment.)"""

from __future__ import annotations

import json
import math
import statistics

import pytest
from _eval_helpers import make_viubench
from videossr.eval.backends import CallableBackend, RandomBackend
from videossr.eval.evaluator import evaluate
from videossr.eval.registry import BENCHMARKS
from videossr.eval.results import LMMS_EVAL_KEYS, load_results
from videossr.eval.sampling_error import average_stderr, mean_stderr, ratio_stderr


@pytest.fixture(scope="module")
def viubench(tmp_path_factory):
    return make_viubench(tmp_path_factory.mktemp("viu") / "viubench", per_subtype=2, seed=1)


@pytest.fixture(scope="module")
def random_results(viubench, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    evaluate(
        ["viubench"],
        RandomBackend(seed=5),
        out,
        data={"viubench": str(viubench)},
        progress=False,
        chart=False,
    )
    return out


def assert_lmms_eval_shape(results: dict) -> None:
    """What lmms-eval's readers rely on (its evaluator's keys; make_table's per-task lookups and parsing)."""
    for key in (*LMMS_EVAL_KEYS, "git_hash", "date"):
        assert key in results, key
    for task, entry in results["results"].items():
        assert results["n-shot"][task] == 0 and results["group_subtasks"][task] == []
        assert set(results["n-samples"][task]) == {"original", "effective"} and results["versions"][task]
        assert isinstance(entry["alias"], str)
        for key, value in sorted(entry.items()):
            if key == "alias":
                continue
            metric, sep, filter_name = key.partition(",")
            assert sep and filter_name == "none", key
            if metric.endswith("_stderr"):
                assert value == "N/A" or isinstance(value, float), key
                assert f"{metric[: -len('_stderr')]},none" in entry, key
            else:
                assert isinstance(value, float), key  # "%.4f" % value in make_table
                assert results["higher_is_better"][task][metric] is True
                assert f"{metric}_stderr,none" in entry


def test_results_have_lmms_eval_keys_and_only_metrics(random_results):
    results = json.loads((random_results / "results.json").read_text())
    assert_lmms_eval_shape(results)
    entry = results["results"]["viubench"]
    assert not {"n_items", "n_failed", "n_unparsed", "failure_reasons"} & set(entry)
    assert results["item_counts"]["viubench"] == {
        "n_items": 18,
        "n_failed": 0,
        "n_unparsed": 0,
        "failure_reasons": {},
        "excluded": {},
        "notes": [],
    }
    assert results["n-samples"]["viubench"] == {"original": 18, "effective": 18}
    assert results["configs"]["viubench"]["dataset_path"] == BENCHMARKS["viubench"].hub_id
    assert load_results(random_results)["results"] == results["results"]


def test_stderr_is_the_per_item_standard_error(random_results):
    results = json.loads((random_results / "results.json").read_text())
    entry = results["results"]["viubench"]
    samples = [
        json.loads(line) for line in (random_results / "samples_viubench.jsonl").read_text().splitlines()
    ]
    by_subtype: dict[str, list[float]] = {}
    for s in samples:
        by_subtype.setdefault(s["subtype"], []).append(100 * s["score"])
    for subtype, scores in by_subtype.items():
        assert entry[f"{subtype},none"] == pytest.approx(statistics.fmean(scores), abs=1e-3)
        assert entry[f"{subtype}_stderr,none"] == pytest.approx(
            statistics.stdev(scores) / math.sqrt(2), abs=1e-3
        )
    ses = [entry[f"{s}_stderr,none"] for s in by_subtype]
    assert entry["overall_stderr,none"] == pytest.approx(math.sqrt(sum(se * se for se in ses)) / 9, abs=1e-3)


def test_failed_items_are_counted_outside_the_metrics(viubench, tmp_path):
    def broken(item, settings):
        raise RuntimeError("model crashed")

    res = evaluate(
        ["viubench"], CallableBackend(broken), tmp_path, data={"viubench": str(viubench)}, progress=False
    )
    assert_lmms_eval_shape(res)
    assert res["item_counts"]["viubench"]["n_failed"] == 18
    assert res["item_counts"]["viubench"]["failure_reasons"] == {"RuntimeError": 18}
    assert res["results"]["viubench"]["overall,none"] == 0.0


def test_shards_and_unavailable_benchmarks_keep_the_shape(viubench, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./viubench, and qvhighlights has no Hub copy
    res = evaluate(
        ["viubench", "qvhighlights"],
        RandomBackend(),
        tmp_path / "o",
        data={"viubench": str(viubench)},
        shard=(1, 3),
        progress=False,
    )
    on_disk = json.loads((tmp_path / "o" / "results.shard-1-of-3.json").read_text())
    assert_lmms_eval_shape(on_disk)
    assert on_disk["item_counts"]["viubench"]["n_items"] == 6 and "qvhighlights" in on_disk["unavailable"]
    assert "qvhighlights" not in on_disk["results"] and on_disk["config"]["shard"] == "1/3"
    assert res["results"] == on_disk["results"]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("not json", "not JSON"),
        ('{"results": {}}', "no 'results'"),
        ('{"results": {"viubench": {"alias": "VIUBench"}}}', "holds no metric"),
    ],
)
def test_load_results_rejects_what_is_not_a_results_file(tmp_path, bad, needle):
    (tmp_path / "results.json").write_text(bad)
    with pytest.raises(ValueError, match=needle):
        load_results(tmp_path)


def test_standard_error_formulas():
    assert mean_stderr([1.0]) is None
    assert mean_stderr([0.0, 1.0, 0.0, 1.0]) == pytest.approx(statistics.stdev([0, 1, 0, 1]) / 2)
    assert average_stderr([3.0, 4.0]) == pytest.approx(2.5) and average_stderr([1.0, None]) is None
    # pooled step accuracy: 2 items with 4 steps each, 4 and 0 hits -> 0.5, residuals +2 / -2
    assert ratio_stderr([4, 0], [4, 4]) == pytest.approx(math.sqrt(8 / 2) / 4)
    assert ratio_stderr([1], [4]) is None


def test_rows_outside_the_evaluated_subset_are_counted(tmp_path):
    """VideoMMMU's open-ended questions are not scored (the paper scores multiple choice): counted by
    reason."""
    from _eval_helpers import make_benchmark_fixture

    path, n_items = make_benchmark_fixture("videommmu", tmp_path / "fx")
    res = evaluate(
        ["videommmu"], RandomBackend(), tmp_path / "o", data={"videommmu": str(path)}, progress=False
    )
    assert_lmms_eval_shape(res)
    counts = res["item_counts"]["videommmu"]
    assert counts["n_items"] == n_items and sum(counts["excluded"].values()) == 1
    assert res["configs"]["videommmu"]["data"] == f"--data {path}"
    assert res["configs"]["videommmu"]["dataset_revision"] is None  # a local copy: its revision is unknown
