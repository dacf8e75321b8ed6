"""ActivityNet Captions temporal grounding, val set: each (video, sentence, timestamp) is one item.

No Hub copy: by hand, ``val_2.json`` (or ``val_1.json``) of the official captions release as
``--data activitynet=FILE`` (2D-TAN renames them ``test.json`` / ``val.json``), and the ActivityNet videos
(``v_<id>.mp4``) as ``--video-root``. Layout ``{video_id: {duration, timestamps, sentences}}``, seconds.
Metric: mIoU, R@0.3/0.5/0.7. Loader: microsoft/VideoX ``2D-TAN/lib/datasets/activitynet.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..items import Item
from ..registry import grounding_spec, register_benchmark
from ..sources import DatasetUnavailable, DataSource, Row, read_json
from .base import Benchmark
from .common import grounding_item, interval


def caption_rows(value: object, path: str) -> Iterator[Row]:
    """One row per (video, sentence) of a ``{video_id: {timestamps, sentences, ...}}`` file."""
    if not isinstance(value, dict):
        raise DatasetUnavailable(f"{path}: expected {{video_id: {{timestamps, sentences}}}}")
    index = 0
    for vid, entry in value.items():
        entry = entry if isinstance(entry, dict) else {}
        stamps, sentences = entry.get("timestamps"), entry.get("sentences")
        if not isinstance(stamps, list) or not isinstance(sentences, list) or len(stamps) != len(sentences):
            yield Row({"video_id": vid}, index, error=f"{vid}: timestamps and sentences do not pair up")
            index += 1
            continue
        for j, (stamp, sentence) in enumerate(zip(stamps, sentences)):
            fields = {"video_id": vid, "sentence_index": j, "sentence": sentence, "timestamp": stamp, **entry}
            yield Row(fields, index)
            index += 1


@register_benchmark
class ActivityNet(Benchmark):
    spec = grounding_spec(
        "activitynet",
        "ActivityNet Captions",
        None,
        "val",
        manual="val_2.json of the captions release as --data, the videos (v_<id>.mp4) as --video-root",
        loader="microsoft/VideoX: 2D-TAN/lib/datasets/activitynet.py",
        protocol="val_2 (or val_1) grounding: each (video, sentence, timestamp) is one item; mIoU and R@k.",
        verified="official json layout {video_id: {duration, timestamps, sentences}} in seconds.",
        order=10,
    )

    def read(self, source: DataSource) -> Iterator[Row]:
        path = source.path if source.is_file else source.folder / "val_2.json"
        return caption_rows(read_json(path), str(path))

    def items(self, row: Row) -> list[Item]:
        vid = row.text("video_id")
        start, end = interval(row.get("timestamp"))
        duration = row.opt("duration")
        if duration not in (
            None,
            "",
        ):  # 2D-TAN clips windows to the video: [max(start, 0), min(end, duration)]
            end = min(end, float(duration))  # type: ignore[arg-type]
        item = grounding_item(
            self.spec,
            item_id=f"{vid}-{row.get('sentence_index')}",
            query=row.text("sentence"),
            windows=[[start, end]],
            video=vid,
            duration=row.opt("duration"),
        )
        return [item]
