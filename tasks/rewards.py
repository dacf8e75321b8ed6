"""Verifiable rewards and VIUBench scoring. Pure functions of (completion, answer).

Smooth rewards are the paper's: grounding IoU; counting mean of ``max(0, 1 - |p - g| / g)`` over the
three shapes; jigsaw ``1 - displacement / floor(n^2 / 2)``. ``strict=True`` gives 1.0 only for an exactly
correct answer. Unparseable completions score 0.0 (see :mod:`videossr.tasks.parsing`).
"""

from __future__ import annotations

from collections.abc import Callable

from .parsing import parse_counts, parse_interval, parse_permutation

EPS = 1e-9


def _ground_truth_interval(answer: str) -> tuple[float, float]:
    gt = parse_interval(answer)
    if gt is None:
        raise ValueError(f"malformed grounding answer {answer!r}; expected 'start-end' in seconds")
    return gt


def _ground_truth_counts(answer: str) -> tuple[int, ...]:
    gt = parse_counts(answer)
    if gt is None:
        raise ValueError(f"malformed counting answer {answer!r}; expected 'circles,squares,triangles'")
    return gt


def _ground_truth_permutation(answer: str) -> tuple[int, ...]:
    digits = answer.strip()
    gt = parse_permutation(digits, len(digits) if digits.isdigit() else len(digits.replace(",", " ").split()))
    if gt is None:
        raise ValueError(
            f"malformed jigsaw answer {answer!r}; expected a permutation of 1..n such as '341562'"
        )
    return gt


def interval_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """1-D intersection over union of two ``(start, end)`` intervals.

    The reference's ``1e-9`` guard only protects against an empty union, which is handled explicitly
    here; adding it to a positive union would score an exact short interval below 1 (0.1 s: 0.99999999)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return float(inter / union) if union > 0 else (1.0 if a == b else 0.0)


def grounding_reward(completion: str, answer: str, strict: bool = False) -> float:
    gt = _ground_truth_interval(answer)
    pred = parse_interval(completion)
    if pred is None:
        return 0.0
    if strict:
        return 1.0 if abs(pred[0] - gt[0]) < 1e-6 and abs(pred[1] - gt[1]) < 1e-6 else 0.0
    return min(1.0, max(0.0, interval_iou(pred, gt)))


def counting_reward(completion: str, answer: str, strict: bool = False) -> float:
    gt = _ground_truth_counts(answer)
    pred = parse_counts(completion)
    if pred is None:
        return 0.0
    if strict:
        return 1.0 if pred == gt else 0.0
    per_shape = [max(0.0, 1.0 - abs(p - g) / (g + EPS)) if p != g else 1.0 for p, g in zip(pred, gt)]
    return float(sum(per_shape) / len(per_shape))


def jigsaw_displacement(pred: tuple[int, ...], gt: tuple[int, ...]) -> int:
    """Sum over clips of |position in the prediction - position in the ground truth|."""
    pos_pred = {v: i for i, v in enumerate(pred)}
    return sum(abs(pos_pred[v] - i) for i, v in enumerate(gt))


def jigsaw_reward(completion: str, answer: str, strict: bool = False) -> float:
    gt = _ground_truth_permutation(answer)
    pred = parse_permutation(completion, len(gt))
    if pred is None:
        return 0.0
    if strict:
        return 1.0 if pred == gt else 0.0
    n = len(gt)
    max_error = n * n // 2
    if max_error == 0:
        return 1.0
    return float(max(0.0, 1.0 - jigsaw_displacement(pred, gt) / max_error))


REWARDS: dict[str, Callable[..., float]] = {
    "grounding": grounding_reward,
    "counting": counting_reward,
    "jigsaw": jigsaw_reward,
}


def reward(task: str, completion: str, answer: str, strict: bool = False) -> float:
    """Dispatch to the task's reward by name (``grounding`` | ``counting`` | ``jigsaw``)."""
    try:
        fn = REWARDS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(REWARDS)}") from None
    return fn(completion, answer, strict=strict)


def viubench_score(task: str, completion: str, answer: str) -> float:
    """VIUBench per-item score: grounding IoU; counting per-shape exact match averaged over the
    three shapes; jigsaw 1 only for the exact permutation."""
    if task == "grounding":
        return grounding_reward(completion, answer)
    if task == "counting":
        gt = _ground_truth_counts(answer)
        pred = parse_counts(completion)
        if pred is None:
            return 0.0
        return float(sum(p == g for p, g in zip(pred, gt)) / len(gt))
    if task == "jigsaw":
        return jigsaw_reward(completion, answer, strict=True)
    raise ValueError(f"unknown task {task!r}; expected one of {sorted(REWARDS)}")
