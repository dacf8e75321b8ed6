"""Video-TT, its multiple-choice split.

Hub: ``lmms-eval/video-tt`` at ``main`` (lmms-lab's release, moved), default config, split ``test`` (the
single multiple-choice questions lmms-eval's ``videott_single_mc`` scores). Videos: the repo's archive,
extracted to ``Benchmark-AllVideos-LQ/<video_id>.mp4``; nothing by hand. The options are the ``A.``..``E.``
lines of ``question_prompt``; a row whose options do not parse is a failed item, counted. Metric: accuracy.
Loader: lmms-eval ``lmms_eval/tasks/video-tt/utils.py``.
"""

from __future__ import annotations

from ..items import Item
from ..registry import mc_spec, register_benchmark
from ..sources import Row, RowError
from .base import Benchmark
from .common import mc_item, options_from_text


@register_benchmark
class VideoTT(Benchmark):
    spec = mc_spec(
        "videott",
        "Video-TT",
        "Complex Reasoning",
        "lmms-eval/video-tt",
        "test",
        video_dirs=("Benchmark-AllVideos-LQ",),
        manual="none",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/video-tt/utils.py (videott_single_mc)",
        protocol="the multiple-choice split; options are listed in question_prompt.",
        verified="split and fields (video_id, question, question_prompt, answer, capability) as lmms-eval "
        "reads them.",
        order=14,
    )

    def items(self, row: Row) -> list[Item]:
        prompt_text = row.text("question_prompt")
        options = options_from_text(prompt_text)
        if len(options) < 2:
            raise RowError(f"question_prompt lists {len(options)} option(s): {prompt_text[:60]!r}")
        question = row.text("question")
        video_id = row.text("video_id")
        item = mc_item(
            self.spec,
            item_id=f"{video_id}-{row.index}",
            question=question,
            options=options,
            answer=row.get("answer"),
            videos=[f"{video_id}.mp4"],
            body=f"{question}\n{prompt_text}",
            meta={"capability": row.opt("capability")},
        )
        return [item]
