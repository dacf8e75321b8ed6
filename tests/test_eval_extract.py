"""Lenient extractors (tasks/extract.py) on a held-out set of real-looking model outputs."""

from __future__ import annotations

import pytest
from videossr.tasks.extract import extract_choice, extract_interval, extract_order, letters_for

ABCD = ("A", "B", "C", "D")

CHOICES = [
    ("B", "B"),
    ("(C)", "C"),
    ("C.", "C"),
    ("c", "C"),
    ("Answer: D", "D"),
    ("The answer is (A).", "A"),
    ("The correct option is B. The man turns left.", "B"),
    ("B) The cat jumps", "B"),
    ("  **A**  ", "A"),
    ("Option C", "C"),
    ("<think>Maybe A or B... I pick D.</think>\nD", "D"),
    ("<answer>B</answer>", "B"),
    ("\\boxed{C}", "C"),
    ("Based on the video, the person is cooking. A. cooking", "A"),
    ("I think it's B because the car moves right.", "B"),
    ("Final answer: (b)", "B"),
    ("D: four", "D"),
    ("(A) walking\n", "A"),
    ("Answer: C. Then, as noted in A, ...", "C"),
]

UNPARSEABLE = ["", "I cannot tell from the video.", "!!!!!!", None, 42, "E", "The answer is in the video."]


@pytest.mark.parametrize(("text", "expected"), CHOICES)
def test_extract_choice(text, expected):
    assert extract_choice(text, ABCD) == expected


@pytest.mark.parametrize("text", UNPARSEABLE)
def test_extract_choice_unparseable(text):
    assert extract_choice(text, ABCD) is None


def test_extract_choice_by_option_text_and_more_letters():
    options = ["a red ball", "a blue cup", "a green hat"]
    assert extract_choice("The object is a blue cup.", ("A", "B", "C"), options) == "B"
    assert extract_choice("(E)", letters_for(14)) == "E"
    assert extract_choice("I", ("A", "B")) is None


INTERVALS = [
    ("The event happens in 24.3 - 30.4 seconds.", (24.3, 30.4)),
    ("24.3-30.4", (24.3, 30.4)),
    ("from 5 to 12.5 seconds", (5.0, 12.5)),
    ("The event happens in the 3.0s - 7.5s.", (3.0, 7.5)),
    ("00:01:05 - 00:01:10", (65.0, 70.0)),
    ("01:05 to 01:10", (65.0, 70.0)),
    ("[12.0, 18.5]", (12.0, 18.5)),
    ("The event happens in 30.4 - 24.3 seonds", (24.3, 30.4)),
    ("Start time: 4.2, end time: 9.8", (4.2, 9.8)),
    ("<think>between 1 and 2?</think> 10.5 - 15.0", (10.5, 15.0)),
]


@pytest.mark.parametrize(("text", "expected"), INTERVALS)
def test_extract_interval(text, expected):
    got = extract_interval(text)
    assert got is not None and got == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "The person turns on a light.", "at 5 seconds", None])
def test_extract_interval_unparseable(text):
    assert extract_interval(text) is None


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("Correct order: 3, 1, 2, 4", 4, [3, 1, 2, 4]),
        ("First clip 2 shows... Correct order: 2,1,3", 3, [2, 1, 3]),
        ("2 -> 3 -> 1", 3, [2, 3, 1]),
        ("312", 3, [3, 1, 2]),
        ("The clips go 4 1 3 2.", 4, [4, 1, 3, 2]),
    ],
)
def test_extract_order(text, n, expected):
    assert extract_order(text, n) == expected


def test_extract_order_unparseable():
    assert extract_order("I don't know", 3) is None
    assert extract_order(None, 3) is None
