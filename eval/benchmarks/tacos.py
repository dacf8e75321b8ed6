"""TACoS temporal grounding, test set, in 2D-TAN's release.

No Hub copy: by hand, 2D-TAN's ``test.json`` (microsoft/VideoX ``2D-TAN/data/TACoS``) as
``--data tacos=FILE`` and the TACoS videos (``s13-d21.avi``, the keys of the file) as ``--video-root``.
Layout ``{video: {num_frames, fps, timestamps, sentences}}`` with timestamps in FRAMES: an item's window is
``[max(start / fps, 0), min(end / fps, num_frames / fps)]`` seconds, as 2D-TAN's loader computes it.
Metric: mIoU, R@0.3/0.5/0.7. Loader: microsoft/VideoX ``2D-TAN/lib/datasets/tacos.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..items import Item
from ..registry import grounding_spec, register_benchmark
from ..sources import DataSource, Row, RowError, read_json
from .activitynet import caption_rows
from .base import Benchmark
from .common import grounding_item, interval


def _positive(value: object, name: str) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not number > 0:
        raise RowError(f"{name} must be positive, got {value!r}")
    return number


@register_benchmark
class TACoS(Benchmark):
    spec = grounding_spec(
        "tacos",
        "TACoS",
        None,
        "test",
        manual="2D-TAN's test.json as --data, the TACoS videos (<key>.avi) as --video-root",
        loader="microsoft/VideoX: 2D-TAN/lib/datasets/tacos.py",
        protocol="test; timestamps in frames converted to seconds with the video's fps; mIoU and R@k.",
        verified="2D-TAN's json layout {video: {num_frames, fps, timestamps (frames), sentences}}.",
        order=12,
    )

    def read(self, source: DataSource) -> Iterator[Row]:
        path = source.path if source.is_file else source.folder / "test.json"
        return caption_rows(read_json(path), str(path))

    def items(self, row: Row) -> list[Item]:
        vid = row.text("video_id")
        fps = _positive(row.get("fps"), "fps")
        duration = _positive(row.get("num_frames"), "num_frames") / fps
        first, last = interval(row.get("timestamp"))
        window = [max(first / fps, 0.0), min(last / fps, duration)]
        item = grounding_item(
            self.spec,
            item_id=f"{vid}-{row.get('sentence_index')}",
            query=row.text("sentence"),
            windows=[window],
            video=vid,
            duration=duration,
        )
        return [item]
