"""Standard errors of the benchmark metrics, from the per-item scores (lmms-eval's ``<metric>_stderr``).

Every metric is a mean over items (or over VinoGround pairs) or an average of such means, so its standard
error follows from the per-item score variance: ``s / sqrt(n)`` for a mean (``s`` with one degree of
freedom removed, as lmms-eval's ``mean_stderr``), ``sqrt(sum se_k^2) / K`` for the average of K independent
means (VIUBench's task scores and Overall), and the ratio estimator's error for VCRBench's pooled step
accuracy. Values are in percent, like the metrics. A metric with fewer than two items has none.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from .items import Item
from .registry import VIUBENCH_SUBTYPES, VIUBENCH_TASKS, BenchmarkSpec
from .scoring import THRESHOLDS

Scored = Sequence[tuple[Item, dict[str, Any]]]


def mean_stderr(values: Sequence[float]) -> float | None:
    """Standard error of the mean of ``values`` (sample standard deviation / sqrt(n)); None below 2 values."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return math.sqrt(variance / n)


def average_stderr(stderrs: Sequence[float | None]) -> float | None:
    """Standard error of the plain average of independent means with these standard errors."""
    if not stderrs or any(se is None for se in stderrs):
        return None
    return math.sqrt(sum(se * se for se in stderrs if se is not None)) / len(stderrs)


def ratio_stderr(hits: Sequence[float], totals: Sequence[float]) -> float | None:
    """Standard error of ``sum(hits) / sum(totals)`` over items (the ratio estimator's linearisation)."""
    n = len(hits)
    total = sum(totals)
    if n < 2 or total <= 0:
        return None
    ratio = sum(hits) / total
    residuals = [h - ratio * t for h, t in zip(hits, totals)]
    return math.sqrt(sum(r * r for r in residuals) / (n * (n - 1))) / (total / n)


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _viubench(scored: Scored) -> dict[str, float | None]:
    by_subtype: dict[str, list[float]] = defaultdict(list)
    for item, res in scored:
        by_subtype[str(item.meta.get("subtype", "?"))].append(res["score"])
    out = {sub: _pct(mean_stderr(values)) for sub, values in by_subtype.items()}
    present = [s for s in VIUBENCH_SUBTYPES if s in out]
    for task, subtypes in VIUBENCH_TASKS.items():
        have = [out[s] for s in subtypes if s in out]
        if have:
            out[task] = average_stderr(have)
    if present:
        out["overall"] = average_stderr([out[s] for s in present])
    return out


def _multiple_choice(spec: BenchmarkSpec, scored: Scored) -> dict[str, float | None]:
    out = {"accuracy": _pct(mean_stderr([r["score"] for _, r in scored]))}
    if spec.group_by:  # accuracy_<value> per value of that item field, named as scoring names them
        groups: dict[str, list[float]] = defaultdict(list)
        for item, res in scored:
            if item.meta.get(spec.group_by) is not None:
                groups[str(item.meta[spec.group_by]).lower()].append(res["score"])
        out.update({f"accuracy_{name}": _pct(mean_stderr(v)) for name, v in groups.items()})
    if "text_score" in spec.metrics:
        pairs: dict[str, list[float]] = defaultdict(list)
        for item, res in scored:
            pairs[str(item.meta.get("group", item.id))].append(res["score"])
        won = [float(len(v) == 2 and all(s == 1.0 for s in v)) for v in pairs.values()]
        out["text_score"] = _pct(mean_stderr(won))
    return out


def metric_stderrs(spec: BenchmarkSpec, scored: Scored) -> dict[str, float | None]:
    """``{metric: standard error in percent, or None}`` for the metrics :func:`benchmark_metrics` reports."""
    if spec.kind == "viubench":
        return _viubench(scored)
    if spec.kind == "grounding":
        ious = [r.get("iou", 0.0) for _, r in scored]
        out = {"mIoU": _pct(mean_stderr(ious))}
        for t in THRESHOLDS:
            out[f"R@{t}"] = _pct(mean_stderr([float(i >= t) for i in ious]))
        return out
    if spec.kind == "order":
        return {
            "accuracy": _pct(mean_stderr([r["score"] for _, r in scored])),
            "step_accuracy": _pct(
                ratio_stderr(
                    [r.get("step_hits", 0) for _, r in scored], [r.get("n_steps", 0) for _, r in scored]
                )
            ),
        }
    return _multiple_choice(spec, scored)
