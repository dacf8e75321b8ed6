"""VCRBench: put shuffled clips of a procedure back in order.

Hub: ``pritamqu/VCRBench`` at ``main``: ``data.json`` (a list of ``{qid, goal, video_file, ground_truth}``,
the ground truth 0-based) and ``videos/<video_file>``; nothing by hand. Prompt: the official default one.
An answer counts only as a permutation of 1..n (anything else scores 0 at every step), as the official
scorer checks. Metric: accuracy (whole order right), step accuracy (positions right, pooled). Loader:
pritamqu/VCRBench ``data/dataset.py``, ``process.py``, ``metrics.py``.
"""

from __future__ import annotations

from ..items import VIDEO, Item, VideoRef
from ..registry import PROMPTS, BenchmarkSpec, register_benchmark
from ..sources import Row, RowError
from .base import Benchmark


@register_benchmark
class VCRBench(Benchmark):
    spec = BenchmarkSpec(
        name="vcrbench",
        title="VCRBench",
        domain="Complex Reasoning",
        hub_id="pritamqu/VCRBench",
        split="train",
        kind="order",
        prompt="vcr",
        metrics=("accuracy", "step_accuracy"),
        primary="accuracy",
        video_source="repo",
        data_files="data.json",
        video_dirs=("videos",),
        manual="none",
        loader="pritamqu/VCRBench: data/dataset.py, process.py, metrics.py",
        max_new_tokens=256,
        protocol="official prompt; Acc = the whole order right; Step accuracy = positions right, pooled; a "
        "prediction that is not a permutation of 1..n scores 0.",
        verified="file, fields (qid, goal, video_file, ground_truth 0-based) and metrics from the official "
        "code.",
        order=15,
    )

    def items(self, row: Row) -> list[Item]:
        truth = row.get("ground_truth")
        if not isinstance(truth, list) or sorted(truth) != list(range(len(truth))) or len(truth) < 2:
            raise RowError(f"ground_truth {truth!r} is not a permutation of 0..n-1")
        goal = row.text("goal")
        order = [int(x) + 1 for x in truth]
        item = Item(
            bench=self.spec.name,
            id=row.text("qid"),
            kind="order",
            question=goal,
            prompt=f"{VIDEO}\n" + PROMPTS["vcr"].format(question=goal),
            answer=order,
            videos=[VideoRef(name=row.text("video_file"))],
            meta={"num_steps": len(order)},
        )
        return [item]
