"""VinoGround, text score: a pair of videos counts only if both pick their own caption.

Hub: ``HanSolo9682/Vinoground`` at ``main``; the official evaluators read ``vinoground_textscore.json`` (a
list
of ``{idx: "<i>_pos"|"<i>_neg", question, GT, video_name}``, pairs in order) and the clips of
``vinoground_videos.zip`` (``vinoground_videos/<i>_pos.mp4``); nothing by hand. The question is used
verbatim (it lists the two captions as ``A.``/``B.``); ``GT`` is the letter. Metric: text score (pairs with
both videos right), accuracy per video. Loader: Vinoground/Vinoground ``eval/qwen.py`` and
``get_score_all.py``; lmms-eval ``lmms_eval/tasks/vinoground/utils.py``.
"""

from __future__ import annotations

import re

from ..items import Item, VideoRef
from ..registry import BenchmarkSpec, register_benchmark
from ..sources import Row, RowError
from ..videos import VideoFinder
from .base import Benchmark
from .common import letter_of, mc_item, options_from_text

IDX = re.compile(r"^(\d+)_(pos|neg)$")


@register_benchmark
class VinoGround(Benchmark):
    spec = BenchmarkSpec(
        name="vinoground",
        title="VinoGround",
        domain="General Video QA",
        hub_id="HanSolo9682/Vinoground",
        split="train",
        kind="mc",
        prompt="vinoground",
        metrics=("text_score", "accuracy"),
        primary="text_score",
        video_source="repo",
        data_files="vinoground_textscore.json",
        manual="none",
        loader="Vinoground/Vinoground: eval/qwen.py, get_score_all.py (vinoground_textscore.json); "
        "EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/vinoground/utils.py",
        max_new_tokens=16,
        protocol="text score: each pair (positive and negative video) counts only if both videos pick their "
        "own caption out of the two; accuracy is per video.",
        verified="file, fields (idx, question, GT, video_name) and the pair rule as the official evaluators.",
        order=4,
    )

    def items(self, row: Row) -> list[Item]:
        idx = row.text("idx")
        m = IDX.match(idx)
        if not m:
            raise RowError(f"idx {idx!r} is not <n>_pos or <n>_neg")
        question = row.text("question")
        options = options_from_text(question)
        if len(options) != 2:
            raise RowError(f"the question lists {len(options)} captions, not 2")
        item = mc_item(
            self.spec,
            item_id=idx,
            question=question,
            options=options,
            answer=letter_of(row.get("GT"), options),
            videos=[row.text("video_name")],
            body=question,
            meta={"group": m.group(1), "role": m.group(2)},
        )
        return [item]

    def locate(self, name: str, item: Item, videos: VideoFinder) -> VideoRef:
        return self.locate_relative(name, videos)
