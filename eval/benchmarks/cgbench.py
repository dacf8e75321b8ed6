"""CG-Bench, the 3k-question mini set, multiple choice.

Hub: ``CG-Bench/CG-Bench`` at ``main`` (gated), config ``cg-bench-mini``, split ``train``. Videos: the
repo's ``cg_videos_720p`` archives, extracted to ``cg_videos_720p/<video_uid>.mp4``; nothing by hand
(accept the terms). Metric: accuracy. Loader: lmms-eval ``lmms_eval/tasks/cgbench/utils.py`` (ported from
the official CG-Bench protocol).
"""

from __future__ import annotations

from ..items import Item
from ..registry import mc_spec, register_benchmark
from ..sources import Row
from .base import Benchmark
from .common import mc_item, option_list


@register_benchmark
class CGBench(Benchmark):
    spec = mc_spec(
        "cgbench",
        "CG-Bench",
        "Long Video QA",
        "CG-Bench/CG-Bench",
        "train",
        configs=("cg-bench-mini",),
        video_dirs=("cg_videos_720p",),
        manual="none (gated: accept the terms on the Hub)",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/cgbench/utils.py",
        protocol="the 3k mini set (cg-bench-mini config), multiple choice.",
        verified="config, split and fields (qid, video_uid, question, choices, right_answer) as lmms-eval "
        "reads them.",
        order=8,
    )

    def items(self, row: Row) -> list[Item]:
        item = mc_item(
            self.spec,
            item_id=row.text("qid"),
            question=row.text("question"),
            options=option_list(row.get("choices")),
            answer=row.get("right_answer"),
            videos=[f"{row.text('video_uid')}.mp4"],
            meta={"duration": row.opt("duration"), "domain": row.opt("domain")},
        )
        return [item]
