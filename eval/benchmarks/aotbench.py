"""AoTBench (arrow of time), multiple choice.

Hub: ``sherylxue/AoTBench`` at ``main``, split ``test`` - NOT verified: no official loader was available
offline, so the Hub id and the fields (``id``, ``video``, ``question``, ``options``, ``answer``) follow the
common multiple-choice layout; a local copy in that layout works with ``--data aotbench=PATH``. Videos are
looked up by name in the release and ``--video-root``. Metric: accuracy.
"""

from __future__ import annotations

from ..items import Item
from ..registry import mc_spec, register_benchmark
from ..sources import Row, RowError
from .base import Benchmark
from .common import mc_item, option_list, options_from_text


@register_benchmark
class AoTBench(Benchmark):
    spec = mc_spec(
        "aotbench",
        "AoTBench",
        "General Video QA",
        "sherylxue/AoTBench",
        "test",
        manual="unverified release: pass --data aotbench=PATH if the Hub id does not resolve",
        loader="none verified (generic multiple-choice fields)",
        protocol="arrow-of-time multiple-choice accuracy.",
        verified="NOT verified offline: Hub id and field names are the common multiple-choice layout.",
        order=3,
    )

    def items(self, row: Row) -> list[Item]:
        question = row.text("question")
        listed = row.opt("options") or row.opt("candidates") or row.opt("choices")
        options = option_list(listed) if listed else options_from_text(question)
        video = row.opt("video") or row.opt("video_path") or row.opt("video_id")
        if not video:
            raise RowError("missing column 'video'")
        item = mc_item(
            self.spec,
            item_id=row.opt("id") if row.opt("id") is not None else row.index,
            question=question,
            options=options,
            answer=row.get("answer"),
            videos=[str(video)],
            body=None if listed else question,
        )
        return [item]
