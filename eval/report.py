"""What a run prints and draws: the tables (VIUBench as the paper's Table 1, one line per other benchmark,
with the paper's numbers alongside) and the PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .paper import MODELS, TABLE1_COLUMNS, TABLE1_LABELS, paper_numbers
from .registry import BENCHMARKS
from .results import metric_values


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}"


def paper_frames(results: dict) -> int:
    """The frame count the paper's downstream numbers are compared at (the run's, 32 by default)."""
    frames = [c.get("frames") for b, c in results.get("configs", {}).items() if b != "viubench"]
    return int(frames[0]) if frames else 32


def _counts(results: dict, bench: str) -> dict[str, Any]:
    return results.get("item_counts", {}).get(bench, {})


def format_tables(results: dict) -> str:
    """The VIUBench table (paper Table 1 layout) and one line per other benchmark, with paper references."""
    lines: list[str] = []
    res = results["results"]
    frames = paper_frames(results)
    refs = {m: paper_numbers(m, frames) for m in MODELS}
    model = Path(str(results.get("config", {}).get("model", "model"))).name or "model"
    if "viubench" in res:
        r = res["viubench"]
        lines.append("VIUBench (48 frames; Overall = mean of the 9 subtypes)")
        header = f"{'':<16}" + "".join(f"{lab:>8}" for lab in TABLE1_LABELS)
        lines.append(header)
        lines.append(f"{model[:16]:<16}" + "".join(f"{_fmt(r.get(f'{c},none')):>8}" for c in TABLE1_COLUMNS))
        for m in ("Random Guess", *MODELS):
            ref = paper_numbers(m, 48).get("viubench", {})
            lines.append(
                f"{(m + ' (paper)')[:16]:<16}" + "".join(f"{_fmt(ref.get(c)):>8}" for c in TABLE1_COLUMNS)
            )
        c = _counts(results, "viubench")
        failed, unparsed, items = c.get("n_failed", 0), c.get("n_unparsed", 0), c.get("n_items", 0)
        lines.append(f"failed items: {failed}, unparsed: {unparsed} of {items}")
        lines.append("")
    others = [b for b in res if b != "viubench"]
    if others:
        columns = f"{'benchmark':<22}{'metric':<14}{model[:14]:>14}{'Qwen3-VL-8B':>13}{'VideoSSR-8B':>13}"
        lines.append(f"{columns}  failed/unparsed/items")
        lines.append(f"{'':<22}{'':<14}{'':>14}{f'(paper, {frames}f)':>13}{f'(paper, {frames}f)':>13}")
        for bench in others:
            spec = BENCHMARKS.get(bench)
            r = res[bench]
            metrics = spec.metrics if spec else list(metric_values(r))
            for j, metric in enumerate(metrics):
                ours = r.get(f"{metric},none")
                q = refs["Qwen3-VL-8B"].get(bench, {}).get(metric)
                v = refs["VideoSSR-8B"].get(bench, {}).get(metric)
                c = _counts(results, bench)
                counts = (
                    f"  {c.get('n_failed', 0)}/{c.get('n_unparsed', 0)}/{c.get('n_items', 0)}"
                    if j == 0
                    else ""
                )
                title = (spec.title if spec else bench) if j == 0 else ""
                lines.append(f"{title:<22}{metric:<14}{_fmt(ours):>14}{_fmt(q):>13}{_fmt(v):>13}{counts}")
    return "\n".join(lines)


def plot_chart(results: dict, path: Path) -> Path | None:
    """Bars: this model's primary score per benchmark (VIUBench: subtypes and Overall) next to the paper's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = results["results"]
    frames = paper_frames(results)
    labels: list[str] = []
    ours: list[float | None] = []
    refs: dict[str, list[float | None]] = {m: [] for m in MODELS}
    for bench, r in res.items():
        spec = BENCHMARKS.get(bench)
        if bench == "viubench":
            cols = [(c, lab) for c, lab in zip(TABLE1_COLUMNS, TABLE1_LABELS) if f"{c},none" in r]
            for c, lab in cols:
                labels.append(f"VIU {lab}")
                ours.append(r.get(f"{c},none"))
                for m in MODELS:
                    refs[m].append(paper_numbers(m, 48).get("viubench", {}).get(c))
            continue
        metric = spec.primary if spec else next(iter(metric_values(r)))
        labels.append(f"{spec.title if spec else bench}\n{metric}")
        ours.append(r.get(f"{metric},none"))
        for m in MODELS:
            refs[m].append(paper_numbers(m, frames).get(bench, {}).get(metric))
    if not labels:
        return None
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels) + 2), 4.2))
    xs = list(range(len(labels)))
    series = [
        (results.get("config", {}).get("model", "this model"), ours),
        *((f"{m} (paper)", refs[m]) for m in MODELS),
    ]
    for k, (name, vals) in enumerate(series):
        pos = [x + (k - 1) * width for x, v in zip(xs, vals) if v is not None]
        hs = [v for v in vals if v is not None]
        if hs:
            ax.bar(pos, hs, width, label=name)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("score (%)")
    only_viu = set(res) == {"viubench"}
    ax.set_title(
        "VIUBench (48 frames) vs. the paper"
        if only_viu
        else f"VideoSSR eval, {frames} frames (VIUBench: 48) vs. the paper"
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
