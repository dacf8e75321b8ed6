"""Metric unit tests: VIUBench Overall, grounding mIoU / R@k, VinoGround text score, VCRBench step accuracy,
CVBench multi-video prompts, and the random backend's expectation on VIUBench counting."""

from __future__ import annotations

import pytest
from videossr.eval.backends import RandomBackend, Settings, content_parts
from videossr.eval.benchmarks.common import format_options, letter_of
from videossr.eval.items import Item, VideoRef
from videossr.eval.registry import BENCHMARKS, VIUBENCH_SUBTYPES, adapter_for, resolve
from videossr.eval.scoring import (
    benchmark_metrics,
    grounding_metrics,
    score_item,
    text_score,
    viubench_metrics,
)
from videossr.eval.sources import Row


def _viu(subtype: str, score: float) -> tuple[Item, dict]:
    task = subtype.split("/")[0]
    item = Item(
        "viubench", f"{subtype}-{score}", "viubench", "", "", "", meta={"task": task, "subtype": subtype}
    )
    return item, {"score": score}


def test_viubench_overall_is_mean_of_nine_subtypes_not_items():
    scored = [_viu(s, 1.0) for s in VIUBENCH_SUBTYPES]
    scored += [_viu("counting/easy", 0.0)] * 3  # counting/easy: 1 of 4 right -> 25
    m = viubench_metrics(scored)
    assert m["counting/easy"] == pytest.approx(25.0)
    assert m["counting"] == pytest.approx((25.0 + 100.0) / 2)
    assert m["grounding"] == pytest.approx(100.0)
    assert m["overall"] == pytest.approx((25.0 + 8 * 100.0) / 9)


def test_viubench_paper_random_row_is_consistent():
    from videossr.eval.paper import VIUBENCH_TABLE1

    for model, row in VIUBENCH_TABLE1.items():
        subs = [row[s] for s in VIUBENCH_SUBTYPES]
        assert sum(subs) / 9 == pytest.approx(row["overall"], abs=0.06), model


def test_grounding_metrics_recall_and_miou():
    m = grounding_metrics([0.0, 0.29, 0.3, 0.5, 0.71])
    assert m["mIoU"] == pytest.approx(100 * (0.0 + 0.29 + 0.3 + 0.5 + 0.71) / 5)
    assert m["R@0.3"] == pytest.approx(60.0)
    assert m["R@0.5"] == pytest.approx(40.0)
    assert m["R@0.7"] == pytest.approx(20.0)


def test_grounding_item_best_window_and_unparsed_counts_zero():
    item = Item("qvhighlights", "q", "grounding", "", "", [[0.0, 2.0], [10.0, 20.0]])
    res = score_item(item, "The event happens in 10 - 20 seconds.")
    assert res["iou"] == pytest.approx(1.0)
    assert score_item(item, "no idea")["status"] == "unparsed"
    failed = score_item(item, None, "VideoError: cannot decode")
    assert failed["status"] == "failed" and failed["score"] == 0.0


def test_vinoground_text_score_needs_both_videos():
    def pair(group, pos_ok, neg_ok):
        a = Item("vinoground", f"{group}_pos", "mc", "", "", "A", meta={"group": group})
        b = Item("vinoground", f"{group}_neg", "mc", "", "", "B", meta={"group": group})
        return [(a, {"score": float(pos_ok)}), (b, {"score": float(neg_ok)})]

    scored = pair("0", True, True) + pair("1", True, False) + pair("2", False, False) + pair("3", True, True)
    assert text_score(scored) == pytest.approx(50.0)
    m = benchmark_metrics(BENCHMARKS["vinoground"], scored)
    assert m["text_score"] == pytest.approx(50.0)
    assert m["accuracy"] == pytest.approx(62.5)


def test_vcrbench_accuracy_and_pooled_step_accuracy():
    spec = BENCHMARKS["vcrbench"]
    a = Item("vcrbench", "a", "order", "", "", [1, 2, 3])
    b = Item("vcrbench", "b", "order", "", "", [2, 1, 3, 4, 5])
    scored = [
        (a, score_item(a, "Correct order: 1, 2, 3")),
        (b, score_item(b, "Correct order: 2, 1, 4, 3, 5")),
    ]
    m = benchmark_metrics(spec, scored)
    assert m["accuracy"] == pytest.approx(50.0)
    assert m["step_accuracy"] == pytest.approx(100 * (3 + 3) / 8)
    wrong_len = score_item(b, "Correct order: 2, 1")
    assert wrong_len["step_hits"] == 0 and wrong_len["n_steps"] == 5


def test_cvbench_multi_video_prompt():
    spec = BENCHMARKS["cvbench"]
    row = {
        "id": 3,
        "task_type": "Joint-video Counting",
        "video_1": "a.mp4",
        "video_2": "b.mp4",
        "video_3": "c.mp4",
        "video_4": "",
        "question": "How many dogs in total?",
        "options": ["1", "2", "3", "4"],
        "answer": "C",
    }
    (item,) = adapter_for(spec.name).items(Row(row, 0))
    assert [ref.name for ref in item.videos] == ["a.mp4", "b.mp4", "c.mp4"]
    assert item.prompt.startswith(
        "Video 1: <video>\nVideo 2: <video>\nVideo 3: <video>\nHow many dogs in total?\nA. 1\n"
    )
    assert item.prompt.endswith("D. 4\nAnswer with the option letter directly.")
    item.videos = [VideoRef(ref.name, data=b"x") for ref in item.videos]
    parts = content_parts(item)
    assert [k for k, _ in parts] == ["text", "video", "text", "video", "text", "video", "text"]
    assert parts[0] == ("text", "Video 1: ") and parts[2] == ("text", "\nVideo 2: ")


def test_option_helpers():
    assert format_options(["A. x", "y"]) == "A. x\nB. y"
    assert letter_of("B. text", ["a", "text"]) == "B"
    assert letter_of(2, ["a", "b", "c"]) == "C"
    assert letter_of("b", ["a", "b"]) == "B"
    assert letter_of("A man sits.", ["He stands.", "He runs.", "A man sits."]) == "C"
    assert letter_of("yes", ["Yes.", "No."]) == "A" and letter_of("NO", ["Yes.", "No."]) == "B"
    assert letter_of("(C)", ["x", "y", "z"]) == "C"
    with pytest.raises(ValueError):
        letter_of("zzz", ["a", "b"])
    with pytest.raises(ValueError):
        letter_of("D", ["a", "b", "c"])


def test_resolve_errors_name_the_value():
    assert [s.name for s in resolve("viubench, Video-MME")] == ["viubench", "videomme"]
    assert len(resolve("all")) == 17
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        resolve("viubench,nope")


@pytest.mark.parametrize(("subtype", "top"), [("counting/easy", 9), ("counting/hard", 16)])
def test_random_counting_is_exactly_uniform(subtype, top):
    """Each count is uniform on 1..top, so a per-shape exact match has expectation exactly 1/top."""
    backend = RandomBackend(seed=1)
    seen = {}
    n = 4000
    hits = 0.0
    for i in range(n):
        item = Item(
            "viubench",
            f"{subtype}-{i}",
            "viubench",
            "",
            "",
            "3,1,2",
            meta={"task": "counting", "subtype": subtype},
        )
        out = backend.generate(item, Settings())
        for v in out.split(","):
            seen[int(v)] = seen.get(int(v), 0) + 1
        hits += score_item(item, out)["score"]
    assert sorted(seen) == list(range(1, top + 1))
    assert hits / n == pytest.approx(1 / top, abs=0.012)  # about 4 standard errors


def test_random_is_deterministic_per_item_and_valid():
    backend = RandomBackend(seed=0)
    item = Item("mvbench", "x", "mc", "", "", "A", options=["a", "b", "c"])
    assert backend.generate(item, Settings()) == backend.generate(item, Settings())
    assert backend.generate(item, Settings()) in "ABC"
    jig = Item(
        "viubench", "j", "viubench", "", "", "51827463", meta={"task": "jigsaw", "subtype": "jigsaw/hard"}
    )
    assert sorted(backend.generate(jig, Settings())) == list("12345678")
