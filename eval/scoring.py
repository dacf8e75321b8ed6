"""Per-item scoring and per-benchmark metrics. Failed or unparseable items score 0, in the denominator."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from videossr.tasks.extract import extract_choice, extract_interval, extract_order
from videossr.tasks.parsing import parse_counts, parse_interval, parse_permutation
from videossr.tasks.rewards import interval_iou, viubench_score

from .items import Item
from .registry import VIUBENCH_SUBTYPES, VIUBENCH_TASKS, BenchmarkSpec

THRESHOLDS = (0.3, 0.5, 0.7)


def score_item(item: Item, output: str | None, error: str | None = None) -> dict[str, Any]:
    """``{"score": float in [0,1], "parsed": ..., "status": ok|unparsed|failed, ...}`` for one item."""
    err = error or item.error
    if err is not None or output is None:
        out = {"score": 0.0, "parsed": None, "status": "failed", "reason": err or "no output"}
        if item.kind == "order":
            out.update(step_hits=0, n_steps=len(item.answer or []))
        return out
    if item.kind == "mc":
        letter = extract_choice(output, item.letters, item.options)
        if letter is None:
            return {"score": 0.0, "parsed": None, "status": "unparsed"}
        return {"score": float(letter == item.answer), "parsed": letter, "status": "ok"}
    if item.kind == "grounding":
        pred = extract_interval(output)
        if pred is None:
            return {"score": 0.0, "iou": 0.0, "parsed": None, "status": "unparsed"}
        iou = max(interval_iou(pred, (float(a), float(b))) for a, b in item.answer)
        return {"score": iou, "iou": iou, "parsed": list(pred), "status": "ok"}
    if item.kind == "order":
        # VCRBench's scorer counts an answer only as a permutation of 1..n; anything else is wrong everywhere
        n = len(item.answer)
        pred = extract_order(output, n)
        if pred is None or sorted(pred) != list(range(1, n + 1)):
            return {"score": 0.0, "step_hits": 0, "n_steps": n, "parsed": pred, "status": "unparsed"}
        exact = float(pred == list(item.answer))
        hits = sum(a == b for a, b in zip(pred, item.answer))
        return {"score": exact, "step_hits": hits, "n_steps": n, "parsed": pred, "status": "ok"}
    if item.kind == "viubench":
        task = item.meta["task"]
        if task == "grounding":
            parsed = parse_interval(output)
        elif task == "counting":
            parsed = parse_counts(output)
        else:
            parsed = parse_permutation(output, len(str(item.answer)))
        score = viubench_score(task, output, str(item.answer))
        return {
            "score": score,
            "parsed": list(parsed) if parsed is not None else None,
            "status": "ok" if parsed is not None else "unparsed",
        }
    raise ValueError(f"unknown item kind {item.kind!r}")


def _pct(values: list[float]) -> float:
    return 100.0 * sum(values) / len(values) if values else 0.0


def viubench_metrics(scored: list[tuple[Item, dict]]) -> dict[str, float]:
    """Per subtype (percent), per task = mean of its subtypes, Overall = mean of the 9 subtype scores."""
    by_sub: dict[str, list[float]] = defaultdict(list)
    for item, res in scored:
        by_sub[item.meta.get("subtype", "?")].append(res["score"])
    out: dict[str, float] = {}
    present = [s for s in VIUBENCH_SUBTYPES if by_sub.get(s)]
    for sub in present:
        out[sub] = _pct(by_sub[sub])
    for task, subs in VIUBENCH_TASKS.items():
        have = [out[s] for s in subs if s in out]
        if have:
            out[task] = sum(have) / len(have)
    if present:
        out["overall"] = sum(out[s] for s in present) / len(present)
    for sub in sorted(set(by_sub) - set(VIUBENCH_SUBTYPES)):  # extra subtypes (custom builds)
        out[sub] = _pct(by_sub[sub])
    return out


def grounding_metrics(ious: list[float]) -> dict[str, float]:
    out = {"mIoU": _pct(ious)}
    for t in THRESHOLDS:
        out[f"R@{t}"] = _pct([float(i >= t) for i in ious])
    return out


def text_score(scored: list[tuple[Item, dict]]) -> float:
    """VinoGround text score: a pair counts only if both of its videos are answered correctly."""
    groups: dict[str, list[float]] = defaultdict(list)
    for item, res in scored:
        groups[str(item.meta.get("group", item.id))].append(res["score"])
    if not groups:
        return 0.0
    return (
        100.0 * sum(all(v == 1.0 for v in vals) and len(vals) == 2 for vals in groups.values()) / len(groups)
    )


def benchmark_metrics(spec: BenchmarkSpec, scored: list[tuple[Item, dict]]) -> dict[str, float]:
    """The registry's metrics (percent) for one benchmark."""
    if spec.kind == "viubench":
        return viubench_metrics(scored)
    if spec.kind == "grounding":
        return grounding_metrics([res.get("iou", 0.0) for _, res in scored])
    if spec.kind == "order":
        # Step accuracy pools positions over all items (official VCRBench metrics.py); a wrong-length
        # order counts every position wrong.
        steps = sum(r.get("n_steps", 0) for _, r in scored)
        hits = sum(r.get("step_hits", 0) for _, r in scored)
        return {
            "accuracy": _pct([r["score"] for _, r in scored]),
            "step_accuracy": 100.0 * hits / steps if steps else 0.0,
        }
    out = {"accuracy": _pct([r["score"] for _, r in scored])}
    group_by = spec.group_by
    if group_by:  # Video-MME per duration (accuracy_short / _medium / _long), VideoMMMU per track
        groups: dict[str, list[float]] = defaultdict(list)
        for item, res in scored:
            if item.meta.get(group_by) is not None:
                groups[str(item.meta[group_by]).lower()].append(res["score"])
        for name, vals in sorted(groups.items()):
            out[f"accuracy_{name}"] = _pct(vals)
    if "text_score" in spec.metrics:
        out["text_score"] = text_score(scored)
    return out
