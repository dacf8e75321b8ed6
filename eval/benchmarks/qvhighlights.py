"""QVHighlights moment retrieval, val set: one predicted interval scored against the best relevant window.

No Hub copy of the original annotations: by hand, ``highlight_val_release.jsonl`` from the official release
(``jayleicn/moment_detr``, ``data/``) passed as ``--data qvhighlights=FILE``, and the released videos
(``<vid>.mp4``, e.g. ``RoripwjYFp8_60.0_210.0.mp4``) as ``--video-root``. Fields: ``qid``, ``query``,
``duration``, ``vid``, ``relevant_windows`` (seconds). Metric: mIoU, R@0.3/0.5/0.7. Loader:
jayleicn/moment_detr ``moment_detr/start_end_dataset.py``.
"""

from __future__ import annotations

from ..items import Item
from ..registry import grounding_spec, register_benchmark
from ..sources import Row
from .base import Benchmark
from .common import grounding_item


@register_benchmark
class QVHighlights(Benchmark):
    spec = grounding_spec(
        "qvhighlights",
        "QVHighlights",
        None,
        "val",
        manual="highlight_val_release.jsonl (jayleicn/moment_detr data/) as --data, the videos as "
        "--video-root",
        loader="jayleicn/moment_detr: moment_detr/start_end_dataset.py",
        protocol="val; one predicted interval scored against the best-matching relevant window; mIoU and "
        "R@k.",
        verified="official release jsonl fields (qid, query, vid, duration, relevant_windows).",
        order=9,
    )

    def items(self, row: Row) -> list[Item]:
        windows = row.get("relevant_windows")
        item = grounding_item(
            self.spec,
            item_id=row.text("qid"),
            query=row.text("query"),
            windows=windows if isinstance(windows, list) else [windows],
            video=row.text("vid"),
            duration=row.opt("duration"),
        )
        return [item]
