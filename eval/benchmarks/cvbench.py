"""CVBench: questions over two to four videos at once (each sampled with --frames frames).

Hub: ``Dongyh35/CVBench`` at ``main``, default config, split ``test``; fields ``id``, ``task_type``,
``video_1``..``video_4`` (paths relative to the release, null when unused), ``question``, ``options``,
``answer``. Most options are ``"A. ..."`` with a letter answer; yes/no rows list ``["Yes.", "No."]`` and
answer ``"Yes"``/``"No"``, mapped to a letter case- and punctuation-insensitively. Nothing by hand. Metric:
accuracy. Loader: Hokhim2/CVBench ``lmms-eval/lmms_eval/tasks/mvr/utils.py``.
"""

from __future__ import annotations

from ..items import Item, VideoRef
from ..registry import mc_spec, register_benchmark
from ..sources import Row, RowError
from ..videos import VideoFinder
from .base import Benchmark
from .common import mc_item, option_list


@register_benchmark
class CVBench(Benchmark):
    spec = mc_spec(
        "cvbench",
        "CVBench",
        "Complex Reasoning",
        "Dongyh35/CVBench",
        "test",
        manual="none",
        loader="Hokhim2/CVBench: lmms-eval/lmms_eval/tasks/mvr/utils.py",
        protocol="several videos per question (video_1..video_4), each sampled with --frames frames; yes/no "
        "and one-option rows answered by letter.",
        verified="fields (id, task_type, video_1..4, question, options, answer) as the official task reads "
        "them; the file layout of the Hub repo NOT verified offline.",
        order=16,
    )

    def items(self, row: Row) -> list[Item]:
        videos = [str(v) for v in (row.opt(f"video_{i}") for i in range(1, 5)) if v not in (None, "", "None")]
        if not videos:
            raise RowError("missing column 'video_1'")
        item = mc_item(
            self.spec,
            item_id=row.text("id"),
            question=row.text("question"),
            options=option_list(row.get("options")),
            answer=row.get("answer"),
            videos=videos,
            meta={"task_type": row.opt("task_type"), "num_videos": len(videos)},
        )
        return [item]

    def locate(self, name: str, item: Item, videos: VideoFinder) -> VideoRef:
        return self.locate_relative(name, videos)
