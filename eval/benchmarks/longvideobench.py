"""LongVideoBench, validation set, video only (no subtitles).

Hub: ``longvideobench/LongVideoBench`` at ``main`` (gated), question file ``lvb_val.json``. By hand: the
videos come as split tar parts: ``cat videos.tar.part.* > videos.tar && tar -xf videos.tar`` in the
release folder (or pass the extracted ``videos/`` as ``--video-root``). Options are ``option0``..``option4``
(``"N/A"`` when unused), the answer is ``correct_choice`` (an index). Metric: accuracy. Loader: lmms-eval
``lmms_eval/tasks/longvideobench/utils.py``; the authors' ``longvideobench/LongVideoBench`` dataloader.
"""

from __future__ import annotations

from ..items import Item
from ..registry import mc_spec, register_benchmark
from ..sources import Row, RowError
from .base import Benchmark
from .common import mc_item


@register_benchmark
class LongVideoBench(Benchmark):
    spec = mc_spec(
        "longvideobench",
        "LongVideoBench",
        "Long Video QA",
        "longvideobench/LongVideoBench",
        "validation",
        data_files="lvb_val.json",
        video_dirs=("videos",),
        manual="videos.tar.part.*: concatenate and extract (cat videos.tar.part.* > videos.tar; tar -xf "
        "videos.tar), or pass the extracted videos/ as --video-root",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/longvideobench/utils.py",
        protocol="val set, no subtitles (video only).",
        verified="file and fields (id, video_path, question, option0..4, correct_choice) as lmms-eval reads "
        "them.",
        order=7,
    )

    def items(self, row: Row) -> list[Item]:
        raw = [row.opt(f"option{i}") for i in range(5)]
        options = [str(o) for o in raw if o not in (None, "N/A")]
        choice = row.get("correct_choice")
        if not isinstance(choice, int) or isinstance(choice, bool) or not 0 <= choice < 5:
            raise RowError(f"correct_choice {choice!r} is not an option index 0..4")
        if raw[choice] in (None, "N/A"):
            raise RowError(f"correct_choice {choice} names an unused option")
        item = mc_item(
            self.spec,
            item_id=row.text("id"),
            question=row.text("question"),
            options=options,
            answer=sum(o not in (None, "N/A") for o in raw[:choice]),  # its index among the used options
            videos=[row.text("video_path")],
            meta={"duration_group": row.opt("duration_group")},
        )
        return [item]
