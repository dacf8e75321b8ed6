"""TempCompass, multiple-choice part.

Hub: ``lmms-eval/TempCompass`` at ``main`` (the same release lmms-lab published as ``lmms-lab/TempCompass``),
config ``multi-choice`` (``multi-choice/test-00000-of-00001.parquet``), split ``test``. Videos:
``tempcompass_videos.zip`` in the repo, extracted to ``videos/<video_id>.mp4``; nothing by hand. Metric:
accuracy. Loader: lmms-eval ``lmms_eval/tasks/tempcompass/utils.py`` (the question text already lists the
options; the answer starts with its letter, ``"B. right"``).
"""

from __future__ import annotations

from ..items import Item
from ..registry import mc_spec, register_benchmark
from ..sources import Row
from .base import Benchmark
from .common import mc_item, options_from_text


@register_benchmark
class TempCompass(Benchmark):
    spec = mc_spec(
        "tempcompass",
        "TempCompass",
        "General Video QA",
        "lmms-eval/TempCompass",
        "test",
        configs=("multi-choice",),
        video_dirs=("videos",),
        manual="none",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/tempcompass/utils.py",
        protocol="the multi-choice config; the question text already lists the options.",
        verified="config, split, fields (video_id, question, answer, dim) and video layout as lmms-eval "
        "reads them.",
        order=2,
    )

    def items(self, row: Row) -> list[Item]:
        question = row.text("question")
        video_id = row.text("video_id")
        item = mc_item(
            self.spec,
            item_id=f"{video_id}-{row.opt('dim') or ''}-{row.index}",
            question=question,
            options=options_from_text(question),
            answer=row.get("answer"),
            videos=[f"{video_id}.mp4"],
            body=question,
            meta={"dim": row.opt("dim")},
        )
        return [item]
