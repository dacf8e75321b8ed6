"""Lenient answer extraction for free-form benchmark outputs (eval only).

:mod:`videossr.tasks.parsing` holds the strict task formats (rewards and VIUBench). Downstream benchmarks
are answered in free text, so eval needs lenient extractors - one per format:

* :func:`extract_choice` - a multiple-choice letter, ranked by how explicit its format is
  (``Answer: (B)`` > ``(B)`` > ``B.`` / ``B)`` / ``B:`` > a bare letter at the start or the end > a lone
  letter anywhere); the highest-ranked format wins, its *last* occurrence for answer phrases and its
  first otherwise. When nothing matches, an option's text quoted in full selects that option.
* :func:`extract_interval` - a ``(start, end)`` pair in seconds from ``a - b``, ``a to b``,
  ``hh:mm:ss - hh:mm:ss``, "The event happens in 24.3 - 30.4 seconds", ``[24.3, 30.4]``; reversed pairs
  are swapped (as lmms-eval); the first interval wins.
* :func:`extract_order` - a sequence of positive integers (``Correct order: 3, 1, 2``; ``312``).

Every extractor returns ``None`` when it finds nothing; the caller scores that as 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .parsing import clean_answer

_THINK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def _unwrap(text: object) -> str | None:
    """Drop reasoning blocks; prefer an ``<answer>`` tag or a ``\\boxed{}`` if there is one."""
    if not isinstance(text, str):
        return None
    text = _THINK.sub("", text)
    if re.search(r"<think>", text, re.IGNORECASE):
        text = text.split("</think>")[-1] if "</think>" in text.lower() else ""
    match = _ANSWER_TAG.search(text)
    if match:
        text = match.group(1)
    boxed = _BOXED.findall(text)
    if boxed:
        text = boxed[-1]
    text = text.strip()
    return text or None


def letters_for(n: int) -> list[str]:
    """``["A", "B", ...]`` for ``n`` options."""
    if not 1 <= n <= 26:
        raise ValueError(f"multiple choice needs 1..26 options, got {n}")
    return [chr(ord("A") + i) for i in range(n)]


_ANSWER_WORDS = r"(?:final\s+answer|answer|option|choice)"


def extract_choice(
    text: object, letters: Sequence[str] = ("A", "B", "C", "D"), options: Sequence[str] | None = None
) -> str | None:
    """The chosen option letter (upper case) or ``None``. ``letters`` are the valid letters."""
    body = _unwrap(text)
    if body is None:
        return None
    valid = "".join(sorted({ch.upper() for ch in letters}))
    if not valid:
        return None
    cls = f"[{valid}{valid.lower()}]"
    upper_cls = f"[{valid}]"
    ranked: list[tuple[re.Pattern[str], bool]] = [
        # 1. an answer phrase: "Answer: (B)", "The answer is B", "Option C", "final answer: b."
        (
            re.compile(
                rf"(?i:{_ANSWER_WORDS})\s*(?i:is)?\s*[:：]?\s*[\(\[\*]*\s*({cls})(?![A-Za-z0-9'])",
            ),
            True,
        ),
        (re.compile(rf"\b(?i:is)\s+[\(\[\*]*({upper_cls})(?![A-Za-z0-9'])"), True),
        # 2. parenthesised / bracketed letter "(B)" "[B]"
        (re.compile(rf"[\(\[]\s*({cls})\s*[\)\]]"), False),
        # 3. a letter introducing an option "B." "B)" "B:" at the start of a line or after a space
        (re.compile(rf"(?:^|\s|\*)({upper_cls})\s*[.):：](?!\d)", re.MULTILINE), False),
        # 4. the whole answer is a bare letter (possibly with punctuation)
        (re.compile(rf"^\W*({cls})\W*$"), False),
        # 5. a capital letter alone at the start or the end
        (re.compile(rf"^\W*({upper_cls})\b"), False),
        (re.compile(rf"\b({upper_cls})\W*$"), False),
    ]
    for pattern, take_last in ranked:
        found = pattern.findall(body)
        if found:
            return (found[-1] if take_last else found[0]).upper()
    if options:
        norm = _norm(body)
        hits = [letters[i] for i, opt in enumerate(options) if opt and _norm(_strip_letter(opt)) in norm]
        if len(hits) == 1:
            return hits[0].upper()
    # 6. a single distinct standalone capital letter anywhere ("I think B fits best")
    lone = {
        m for m in re.findall(rf"(?<![A-Za-z'])({upper_cls})(?![A-Za-z'])", body) if m != "I" or "I" in valid
    }
    if len(lone) == 1:
        return lone.pop()
    return None


def _strip_letter(option: str) -> str:
    return re.sub(r"^\s*\(?[A-Za-z][.)]\s+", "", option)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


_NUM = r"\d+(?:\.\d+)?"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_SEP = r"\s*(?:-|–|—|~|to|and|until|till|,)\s*"
_UNIT = r"\s*(?:s|sec|secs|second|seconds|seonds)?\b\.?"


def _clock_to_seconds(value: str) -> float:
    parts = [float(p) for p in value.split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def extract_interval(text: object) -> tuple[float, float] | None:
    """The first ``(start, end)`` interval in seconds (ordered), or ``None``."""
    body = _unwrap(text)
    if body is None:
        return None
    body = body.replace("−", "-")
    patterns = [
        re.compile(rf"({_CLOCK}){_SEP}({_CLOCK})", re.IGNORECASE),
        re.compile(
            rf"start\w*(?:\s+time)?\s*(?:is|at|[:=])?\s*({_NUM})\D{{0,40}}?end\w*(?:\s+time)?\s*(?:is|at|[:=])?\s*({_NUM})",
            re.IGNORECASE,
        ),
        re.compile(rf"(?<![\d.])({_NUM}){_UNIT}{_SEP}({_NUM})(?![\d.:])", re.IGNORECASE),
    ]
    best: tuple[int, float, float] | None = None
    for i, pattern in enumerate(patterns):
        match = pattern.search(body)
        if match is None:
            continue
        if i == 0:
            start, end = _clock_to_seconds(match.group(1)), _clock_to_seconds(match.group(2))
        else:
            start, end = float(match.group(1)), float(match.group(2))
        if best is None or match.start() < best[0]:
            best = (match.start(), start, end)
    if best is None:
        return None
    _, start, end = best
    return (start, end) if start <= end else (end, start)


def extract_order(text: object, n: int | None = None) -> list[int] | None:
    """A sequence of positive integers: after ``order:`` if present, else the last run of numbers.

    With ``n`` given, a run of ``n`` single digits written together (``"312"``) is split into digits.
    """
    body = _unwrap(text)
    if body is None:
        return None
    match = re.search(r"order\s*(?:is)?\s*[:：]?\s*(.*)", body, re.IGNORECASE | re.DOTALL)
    segment = match.group(1) if match else body
    runs = re.findall(r"\d+(?:\s*(?:,|->|→|>|\s)\s*\d+)*", segment)
    if not runs:
        return None
    run = runs[0] if match else runs[-1]
    values = [int(v) for v in re.findall(r"\d+", run)]
    if n is not None and len(values) == 1 and len(run.strip()) == n and n <= 9:
        values = [int(ch) for ch in run.strip()]
    if not values or any(v < 1 for v in values):
        return None
    return values


__all__ = ["clean_answer", "extract_choice", "extract_interval", "extract_order", "letters_for"]
