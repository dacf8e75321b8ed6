"""Charades-STA temporal grounding, test set.

Hub: ``lmms-eval/charades_sta`` at ``main`` (default config, split ``test``); videos: the repo's
``Charades_v1_480`` archive, extracted to ``Charades_v1_480/<video>``; nothing by hand. Fields ``video``,
``caption``, ``timestamp`` (``[start, end]`` seconds, a list or its string). The prompt is lmms-eval's:
the caption followed by a period, then "Please return its start time and end time.". Metric: mIoU,
R@0.3/0.5/0.7. Loader: lmms-eval ``lmms_eval/tasks/charades_sta/utils.py``.
"""

from __future__ import annotations

from pathlib import Path

from ..items import Item
from ..registry import grounding_spec, register_benchmark
from ..sources import Row
from .base import Benchmark
from .common import grounding_item


@register_benchmark
class CharadesSTA(Benchmark):
    spec = grounding_spec(
        "charades",
        "Charades-STA",
        "lmms-eval/charades_sta",
        "test",
        video_source="repo",
        video_dirs=("Charades_v1_480",),
        manual="none",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/charades_sta/utils.py",
        protocol="test; the caption ends with a period in the prompt, as lmms-eval writes it; mIoU and R@k.",
        verified="split, fields (video, caption, timestamp) and the prompt as lmms-eval writes them.",
        order=11,
    )

    def items(self, row: Row) -> list[Item]:
        video = row.text("video")
        item = grounding_item(
            self.spec,
            item_id=f"{Path(video).stem}-{row.index}",
            query=f"{row.text('caption')}.",  # lmms-eval: f"{pre_prompt}{caption}. {post_prompt}"
            windows=[row.get("timestamp")],
            video=video,
            duration=row.opt("duration"),
        )
        return [item]
