"""Rewards, VIUBench scoring and the strict answer parsers.

Expected values are computed here from the paper's formulas, by hand or with small independent
implementations, never with the code under test."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from videossr.tasks import reward, viubench_score
from videossr.tasks.parsing import parse_counts, parse_interval, parse_permutation
from videossr.tasks.rewards import counting_reward, grounding_reward, interval_iou, jigsaw_reward

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------------------------------------------------
# Independent implementations of the paper's formulas


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0]) if inter > 0 else (a[1] - a[0]) + (b[1] - b[0])
    return inter / union if union > 0 else float(a == b)


def counting_formula(pred, gt) -> float:
    return sum(max(0.0, 1 - abs(p - g) / g) for p, g in zip(pred, gt)) / 3


def jigsaw_formula(pred: str, gt: str) -> float:
    n = len(gt)
    error = sum(abs(pred.index(c) - gt.index(c)) for c in gt)
    return 1 - error / (n * n // 2)


# ----------------------------------------------------------------------------------------------------------
# Hand-computed test vectors


@pytest.mark.parametrize(
    ("completion", "answer", "expected"),
    [
        ("2.0-6.0", "2.0-6.0", 1.0),
        ("4.0-8.0", "2.0-6.0", 1 / 3),  # |[4,6]| / |[2,8]| = 2/6
        ("3.0-5.0", "2.0-6.0", 0.5),  # inside: 2/4
        ("0.0-10.0", "2.5-7.5", 0.5),
        ("7.0-9.0", "2.0-6.0", 0.0),  # disjoint
        ("6.0-8.0", "2.0-6.0", 0.0),  # touching
        ("14.5-26.2", "10.0-20.0", 5.5 / 16.2),
        (" 5.1 - 11.7 ", "5.1-11.7", 1.0),
        ("11.7-5.1", "5.1-11.7", 0.0),  # start > end is unparseable
        ("3.0-3.0", "2.0-6.0", 0.0),  # an empty interval overlaps nothing
    ],
)
def test_grounding_vectors(completion, answer, expected):
    assert grounding_reward(completion, answer) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("completion", "answer", "expected"),
    [
        ("3,2,3", "3,2,3", 1.0),
        ("4,2,1", "3,2,3", 2 / 3),  # (1 - 1/3) + 1 + (1 - 2/3) = 2, over 3 shapes
        ("6,2,3", "3,2,3", 2 / 3),  # over-counting by 2x gives 0 for that shape
        ("7,0,3", "3,2,3", 1 / 3),
        ("0,0,0", "1,1,1", 0.0),
        ("10,12,2", "9,16,1", (8 / 9 + 3 / 4 + 0) / 3),
        ("5,5,5", "4,8,2", (3 / 4 + 5 / 8 + 0) / 3),
        ("3,2", "3,2,3", 0.0),
    ],
)
def test_counting_vectors(completion, answer, expected):
    assert counting_reward(completion, answer) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("completion", "answer", "expected"),
    [
        ("452316", "452316", 1.0),
        ("613254", "452316", 0.0),  # reversed
        ("452361", "452316", 8 / 9),  # two neighbours swapped: displacement 2 of 18
        ("213456", "123456", 8 / 9),
        ("612345", "123456", 4 / 9),  # 6 moves 5, five others move 1: 10 of 18
        ("654321", "123456", 0.0),
        ("21436587", "12345678", 1 - 8 / 32),
        ("87654321", "12345678", 0.0),
        ("12345678", "51827463", 1 - (4 + 1 + 5 + 2 + 3 + 2 + 1 + 4) / 32),
        ("12345", "123456", 0.0),  # not a permutation of 1..6
    ],
)
def test_jigsaw_vectors(completion, answer, expected):
    assert jigsaw_reward(completion, answer) == pytest.approx(expected, abs=1e-9)


def test_expected_reward_of_a_random_permutation():
    """A uniformly random 6-permutation scores 0.352 on average; exactly 1 - ((n^2-1)/3) / (n^2//2)."""
    for n, answer in ((6, "452316"), (8, "51827463")):
        values = [jigsaw_reward("".join(p), answer) for p in itertools.permutations(answer)]
        mean = sum(values) / len(values)
        exact = 1 - Fraction(n * n - 1, 3) / (n * n // 2)
        assert mean == pytest.approx(float(exact), abs=1e-12)
        if n == 6:
            assert round(mean, 3) == 0.352
            # Displacements are even: ten reward levels 0, 1/9, ..., 1.
            assert {round(v * 9, 9) for v in values} == set(range(10))


# ----------------------------------------------------------------------------------------------------------
# Property tests

intervals = st.tuples(st.integers(0, 600), st.integers(1, 300)).map(lambda t: (t[0] / 10, (t[0] + t[1]) / 10))
count_triples = st.tuples(st.integers(1, 16), st.integers(1, 16), st.integers(1, 16))
pred_triples = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))
perms = st.integers(2, 9).flatmap(lambda n: st.permutations([str(k) for k in range(1, n + 1)])).map("".join)


def fmt(interval) -> str:
    return f"{interval[0]:.1f}-{interval[1]:.1f}"


def csv(values) -> str:
    return ",".join(map(str, values))


@SETTINGS
@given(text=st.text(max_size=40), gi=intervals, gc=count_triples, gp=perms)
def test_any_completion_scores_in_0_1(text, gi, gc, gp):
    for task, answer in (("grounding", fmt(gi)), ("counting", csv(gc)), ("jigsaw", gp)):
        for strict in (False, True):
            value = reward(task, text, answer, strict=strict)
            assert isinstance(value, float) and 0.0 <= value <= 1.0
        assert 0.0 <= viubench_score(task, text, answer) <= 1.0


@SETTINGS
@given(gi=intervals, gc=count_triples, gp=perms)
def test_the_correct_answer_scores_1(gi, gc, gp):
    for task, answer in (("grounding", fmt(gi)), ("counting", csv(gc)), ("jigsaw", gp)):
        assert reward(task, answer, answer) == 1.0
        assert reward(task, answer, answer, strict=True) == 1.0
        assert viubench_score(task, answer, answer) == 1.0


@SETTINGS
@given(gp=perms)
def test_reversed_jigsaw_order_scores_0(gp):
    assert jigsaw_reward(gp[::-1], gp) == 0.0


@SETTINGS
@given(gp=perms, data=st.data())
def test_jigsaw_reward_is_the_paper_formula(gp, data):
    pred = "".join(data.draw(st.permutations(list(gp))))
    value = jigsaw_reward(pred, gp)
    assert value == pytest.approx(jigsaw_formula(pred, gp), abs=1e-12)
    assert jigsaw_reward(pred, gp, strict=True) == float(pred == gp) <= value
    assert viubench_score("jigsaw", pred, gp) == float(pred == gp)


@SETTINGS
@given(a=intervals, b=intervals)
def test_iou_is_symmetric_and_the_paper_formula(a, b):
    assert grounding_reward(fmt(a), fmt(b)) == pytest.approx(grounding_reward(fmt(b), fmt(a)), abs=1e-12)
    assert interval_iou(a, b) == pytest.approx(interval_iou(b, a), abs=1e-12)
    assert grounding_reward(fmt(a), fmt(b)) == pytest.approx(iou(a, b), abs=1e-6)
    assert viubench_score("grounding", fmt(a), fmt(b)) == pytest.approx(iou(a, b), abs=1e-6)


@SETTINGS
@given(pred=pred_triples, gt=count_triples)
def test_counting_reward_is_the_paper_formula(pred, gt):
    assert counting_reward(csv(pred), csv(gt)) == pytest.approx(counting_formula(pred, gt), abs=1e-6)
    exact = sum(p == g for p, g in zip(pred, gt)) / 3
    assert viubench_score("counting", csv(pred), csv(gt)) == pytest.approx(exact)


@SETTINGS
@given(gi=intervals, pi=intervals, gc=count_triples, pc=pred_triples, gp=perms, data=st.data())
def test_strict_is_never_above_smooth(gi, pi, gc, pc, gp, data):
    pp = "".join(data.draw(st.permutations(list(gp))))
    for task, completion, answer in (
        ("grounding", fmt(pi), fmt(gi)),
        ("counting", csv(pc), csv(gc)),
        ("jigsaw", pp, gp),
    ):
        strict = reward(task, completion, answer, strict=True)
        smooth = reward(task, completion, answer)
        assert strict in (0.0, 1.0) and strict <= smooth
        assert strict == float(completion == answer)


@SETTINGS
@given(gi=intervals, pi=intervals)
def test_answer_formats_score_like_the_bare_answer(gi, pi):
    bare = grounding_reward(fmt(pi), fmt(gi))
    a, b = f"{pi[0]:.1f}", f"{pi[1]:.1f}"
    variants = [
        f"{a} - {b}",
        f"{a} to {b}",
        f"{a}s-{b}s",
        f"{a} - {b} seconds",
        f"<answer>{a}-{b}</answer>",
        f"<think>maybe {b}-{a}, or not</think>{a}-{b}",
        f"'{a}-{b}'",
        f'"{a}-{b}"',
        f"`{a}-{b}`",
        f"{a}-{b}.",
        f"\n {a}-{b} \n",
    ]
    for text in variants:
        assert grounding_reward(text, fmt(gi)) == pytest.approx(bare), text
    for text in (f"The answer is {a}-{b}", f"{a}-{b} because", f"{a}-{b}..", f"[{a}, {b}]"):
        assert grounding_reward(text, fmt(gi)) == 0.0, text


# ----------------------------------------------------------------------------------------------------------
# Parsing rules (issue 2): the same everywhere


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.1-11.7", (5.1, 11.7)),
        ("5.1 - 11.7", (5.1, 11.7)),
        ("5.1 to 11.7", (5.1, 11.7)),
        ("5.1s - 11.7s", (5.1, 11.7)),
        ("5.1 seconds to 11.7 seconds", (5.1, 11.7)),
        ("5-12", (5.0, 12.0)),
        ("<think>it starts at 2.0-3.0</think>5.1-11.7", (5.1, 11.7)),
        ("<answer>5.1-11.7</answer>", (5.1, 11.7)),
        ("<think>hmm</think>\n<answer> '5.1-11.7' </answer>", (5.1, 11.7)),
        ("'5.1-11.7'", (5.1, 11.7)),
        ("`5.1-11.7`", (5.1, 11.7)),
        ("5.1-11.7.", (5.1, 11.7)),
        ("3.0-3.0", (3.0, 3.0)),
        ("11.7-5.1", None),  # start > end
        ("5.1-11.7..", None),  # only one trailing period
        ("The interval is 5.1-11.7", None),
        ("5.1-11.7 (approximately)", None),
        ("5.1", None),
        ("-5.1-11.7", None),
        ("<think>5.1-11.7", None),  # unterminated reasoning hides the answer
        ("", None),
        (None, None),
    ],
)
def test_parse_interval(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3,1,4", (3, 1, 4)),
        ("3, 1, 4", (3, 1, 4)),
        ("0,0,12", (0, 0, 12)),
        ("<answer>3,1,4</answer>", (3, 1, 4)),
        ("<think>I count 2,2,2 at first</think>3,1,4", (3, 1, 4)),
        ("'3,1,4'.", (3, 1, 4)),
        ("3,1", None),
        ("3,1,4,1", None),
        ("-3,1,4", None),
        ("3.0,1,4", None),
        ("circles: 3, squares: 1, triangles: 4", None),
        ("3 1 4", None),
        ("The answer is 3,1,4", None),
    ],
)
def test_parse_counts(text, expected):
    assert parse_counts(text) == expected


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("341562", 6, (3, 4, 1, 5, 6, 2)),
        ("3,4,1,5,6,2", 6, (3, 4, 1, 5, 6, 2)),
        ("3 4 1 5 6 2", 6, (3, 4, 1, 5, 6, 2)),
        ("'341562'", 6, (3, 4, 1, 5, 6, 2)),
        ("<answer>51827463</answer>", 8, (5, 1, 8, 2, 7, 4, 6, 3)),
        ("341562.", 6, (3, 4, 1, 5, 6, 2)),
        ("34156", 6, None),
        ("3415622", 6, None),
        ("341566", 6, None),
        ("341570", 6, None),
        ("341562", 8, None),
        ("Order: 341562", 6, None),
        ("¹", 2, None),  # str.isdigit() but not a decimal: must not reach int() (found by hypothesis)
        ("²¹", 2, None),
    ],
)
def test_parse_permutation(text, n, expected):
    assert parse_permutation(text, n) == expected


def test_unparseable_completions_score_0_in_every_task():
    cases = {
        "grounding": ("5.1-11.7", ["I think 5.1-11.7", "11.7-5.1", "5.1-11.7 seconds long"]),
        "counting": ("3,2,3", ["circles: 3, squares: 2, triangles: 3", "3.0,2,3", "3,2"]),
        "jigsaw": ("452316", ["4523166", "45231", "the order is 452316"]),
    }
    for task, (answer, bad) in cases.items():
        for text in bad:
            assert reward(task, text, answer) == 0.0, (task, text)
            assert viubench_score(task, text, answer) == 0.0, (task, text)


# ----------------------------------------------------------------------------------------------------------
# Dispatch and VIUBench


def test_reward_dispatches_by_task_name():
    assert reward("grounding", "4.0-8.0", "2.0-6.0") == pytest.approx(1 / 3)
    assert reward("counting", "4,2,1", "3,2,3") == pytest.approx(2 / 3)
    assert reward("jigsaw", "452361", "452316") == pytest.approx(8 / 9)
    assert reward("jigsaw", "452361", "452316", strict=True) == 0.0
    with pytest.raises(ValueError, match="ocr"):
        reward("ocr", "a", "b")


def test_viubench_scoring():
    assert viubench_score("grounding", "4.0-8.0", "2.0-6.0") == pytest.approx(1 / 3)  # IoU
    assert viubench_score("counting", "3,2,4", "3,2,3") == pytest.approx(2 / 3)  # per-shape exact match
    assert viubench_score("counting", "4,1,2", "3,2,3") == 0.0  # close is not enough
    assert viubench_score("jigsaw", "452361", "452316") == 0.0  # exact permutation only
    assert viubench_score("jigsaw", "452316", "452316") == 1.0
    with pytest.raises(ValueError, match="mirror"):
        viubench_score("mirror", "1", "1")


def test_malformed_ground_truth_is_an_error_not_a_zero():
    with pytest.raises(ValueError):
        grounding_reward("1.0-2.0", "soon")
    with pytest.raises(ValueError):
        counting_reward("1,2,3", "1,2")
    with pytest.raises(ValueError):
        jigsaw_reward("123", "113")
