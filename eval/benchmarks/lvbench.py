"""LVBench: extreme-long video multiple choice.

Hub: ``lmms-eval/LVBench`` at ``main`` (lmms-lab's release, moved), default config
(``data/train-00000-of-00001.parquet``), split ``train``. Videos: ``video_chunks/videos_chunk_*.zip`` in the
repo, extracted to the row's ``video_path``; nothing by hand. The options are written in the question
(``(A) ...`` lines) unless an ``options`` column lists them. Metric: accuracy. Loader: lmms-eval
``lmms_eval/tasks/lvbench/utils.py``.
"""

from __future__ import annotations

from ..items import Item, VideoRef
from ..registry import mc_spec, register_benchmark
from ..sources import Row
from ..videos import VideoFinder
from .base import Benchmark
from .common import mc_item, option_list, options_from_text


@register_benchmark
class LVBench(Benchmark):
    spec = mc_spec(
        "lvbench",
        "LVBench",
        "Long Video QA",
        "lmms-eval/LVBench",
        "train",
        manual="none",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/lvbench/utils.py",
        protocol="accuracy.",
        verified="split and fields (uid, video_path, question with (A)-(D) lines, answer) as lmms-eval reads "
        "them.",
        order=6,
    )

    def items(self, row: Row) -> list[Item]:
        question = row.text("question")
        listed = row.opt("options")
        item = mc_item(
            self.spec,
            item_id=f"{row.opt('uid') if row.opt('uid') is not None else row.opt('key')}-{row.index}",
            question=question,
            options=option_list(listed) if listed else options_from_text(question),
            answer=row.get("answer"),
            videos=[row.text("video_path")],
            body=None if listed else question,
            meta={"question_type": row.opt("question_type")},
        )
        return [item]

    def locate(self, name: str, item: Item, videos: VideoFinder) -> VideoRef:
        return self.locate_relative(name, videos)
