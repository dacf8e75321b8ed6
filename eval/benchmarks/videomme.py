"""Video-MME without subtitles: accuracy over 2,700 questions and per duration.

Hub: ``lmms-eval/Video-MME`` at ``main`` (lmms-lab's ``lmms-lab/Video-MME`` release, moved), default config
(``videomme/test-00000-of-00001.parquet``), split ``test``. Videos: ``videos_chunked_*.zip`` in the repo,
extracted to ``data/<videoID>.mp4`` (some ``.MP4``/``.mkv``); nothing by hand. Metric: accuracy, and
``accuracy_short``/``_medium``/``_long`` (the paper's "V-MME Long"). Loader: lmms-eval
``lmms_eval/tasks/videomme/utils.py``.
"""

from __future__ import annotations

from ..items import Item
from ..registry import mc_spec, register_benchmark
from ..sources import Row
from .base import Benchmark
from .common import mc_item, option_list


@register_benchmark
class VideoMME(Benchmark):
    spec = mc_spec(
        "videomme",
        "Video-MME",
        "Long Video QA",
        "lmms-eval/Video-MME",
        "test",
        video_dirs=("data",),
        metrics=("accuracy", "accuracy_short", "accuracy_medium", "accuracy_long"),
        group_by="duration",
        manual="none",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/videomme/utils.py",
        protocol="without subtitles; accuracy over all questions, and per duration (the paper's 'V-MME Long' "
        "is accuracy_long).",
        verified="fields (videoID, question_id, question, options, answer, duration, task_type) and the "
        "data/ layout as lmms-eval reads them.",
        order=5,
    )

    def items(self, row: Row) -> list[Item]:
        item = mc_item(
            self.spec,
            item_id=row.text("question_id"),
            question=row.text("question"),
            options=option_list(row.get("options")),
            answer=row.get("answer"),
            videos=[row.text("videoID")],
            meta={"duration": row.opt("duration"), "task_type": row.opt("task_type")},
        )
        return [item]
