"""One answer parser per format, shared by rewards (train), scoring (eval) and verification (build).

The rules are the same everywhere (the strict task formats):

* a ``<think>...</think>`` block is ignored; ``<answer>...</answer>`` is unwrapped;
* surrounding whitespace, quotes, backticks and one trailing period are ignored;
* anything else around the answer makes it unparseable (``None``), which scores 0.

Formats: grounding ``a-b`` / ``a - b`` / ``a to b`` with optional ``s``/``seconds`` (start > end is
unparseable); counting exactly three non-negative integers ``c,s,t``; jigsaw exactly a permutation of
1..n (digits, optionally separated by commas or spaces).
"""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_WRAPPERS = " \t\r\n'\"`‘’“”"

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_UNIT = r"(?:\s*(?:s|sec|secs|second|seconds))?"
_INTERVAL = re.compile(rf"^{_NUMBER}{_UNIT}\s*(?:-|–|—|to)\s*{_NUMBER}{_UNIT}$", re.IGNORECASE)
_COUNTS = re.compile(r"^(\d+)\s*,\s*(\d+)\s*,\s*(\d+)$")
_PERM_SEPARATED = re.compile(r"^\d+(?:\s*[,\s]\s*\d+)+$")


def clean_answer(text: object) -> str | None:
    """Apply the shared unwrapping rules; ``None`` when there is nothing left to parse."""
    if not isinstance(text, str):
        return None
    text = _THINK.sub("", text)
    if re.search(r"<think>", text, re.IGNORECASE):  # an unterminated reasoning block hides the answer
        return None
    match = _ANSWER.search(text)
    if match:
        text = match.group(1)
    text = text.strip(_WRAPPERS)
    if text.endswith("."):
        text = text[:-1].strip(_WRAPPERS)
    return text or None


def parse_interval(text: object) -> tuple[float, float] | None:
    """``"5.1-11.7"`` -> ``(5.1, 11.7)``; ``None`` if unparseable or start > end."""
    cleaned = clean_answer(text)
    if cleaned is None:
        return None
    match = _INTERVAL.match(cleaned)
    if not match:
        return None
    start, end = float(match.group(1)), float(match.group(2))
    if start > end:
        return None
    return start, end


def parse_counts(text: object, k: int = 3) -> tuple[int, ...] | None:
    """``"3,1,4"`` -> ``(3, 1, 4)``: exactly three non-negative integers."""
    cleaned = clean_answer(text)
    if cleaned is None:
        return None
    match = _COUNTS.match(cleaned)
    if not match or k != 3:
        return None
    return tuple(int(g) for g in match.groups())


def parse_permutation(text: object, n: int) -> tuple[int, ...] | None:
    """``"341562"`` (or ``"3,4,1,5,6,2"``) -> ``(3, 4, 1, 5, 6, 2)``: exactly a permutation of 1..n."""
    cleaned = clean_answer(text)
    if cleaned is None or n < 1:
        return None
    if cleaned.isdecimal() and n <= 9:
        values = [int(ch) for ch in cleaned]
    elif _PERM_SEPARATED.match(cleaned):
        values = [int(v) for v in re.split(r"[,\s]+", cleaned) if v]
    else:
        return None
    if sorted(values) != list(range(1, n + 1)):
        return None
    return tuple(values)
