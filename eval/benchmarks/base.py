"""The adapter each benchmark module registers: how its release's rows become items, where its videos are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from ..items import Item, VideoRef
from ..registry import BenchmarkSpec
from ..sources import DataSource, Row, release_rows
from ..videos import VideoFinder


class Benchmark:
    """Override :meth:`items`; :meth:`read` and :meth:`locate` have defaults most releases fit.

    ``items`` raises :class:`~videossr.eval.sources.RowError` for a row it cannot use (it becomes a failed
    item) and :class:`~videossr.eval.sources.RowExcluded` for a row outside the evaluated subset (counted).
    """

    spec: ClassVar[BenchmarkSpec]

    def read(self, source: DataSource) -> Iterator[Row]:
        """The release's rows: the spec's data files, or the folder read as a Hub dataset."""
        return release_rows(self.spec, source)

    def items(self, row: Row) -> list[Item]:
        raise NotImplementedError

    def failed_meta(self, row: Row) -> dict[str, object]:
        """What a failed row still tells about its group (so it counts in that group's denominator)."""
        return {"config": row.config} if row.config else {}

    def locate(self, name: str, item: Item, videos: VideoFinder) -> VideoRef:
        """The file a video name refers to (by relative path, then by unique file name)."""
        return VideoRef(name=name, path=str(videos.find(name, self.spec.video_dirs)))

    def locate_relative(self, name: str, videos: VideoFinder) -> VideoRef:
        """A video named by its path relative to the release (``data/x.mp4``), else by unique file name."""
        found = videos.exact(name)
        return VideoRef(name=name, path=str(found if found is not None else videos.find(name)))
