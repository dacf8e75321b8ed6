"""A stream as TRL's training dataset: map-style, one row per stream position, and a sampler that asks the
data loader for each generation batch once.

TRL's ``RepeatSampler`` lists every prompt ``num_generations`` times, in chunks of one generation batch, and
lists each chunk ``num_iterations * steps_per_generation`` times: one data-loader batch per accumulation
step, of which the trainer generates from the first of each ``steps_per_generation`` and ignores the others.
With a stored dataset those copies cost a clip decode; with a stream they would cost generating the rows
again, in whichever loader worker gets the copy. :class:`FirstCopySampler` passes the copies the trainer
generates from as positions and the others as ``-1 - position``, for which :class:`StreamPrompts` returns a
marker row without generating anything (and the trainer refuses to generate from one).

Because the stream is sampled in position order (TRL's shuffling is off for a stream: its positions are
already independent seeded draws), training step ``k`` consumes positions ``k * global_batch`` onwards, the
Trainer's own sampler state is the stream's checkpointed position, and accelerate's batch sharding gives every
rank its own positions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import Sampler
from videossr.stream.generate import Draw, SampleStream, StreamError

from .clips import frames_clip
from .data import DataError, VideoOptions, build_prompt, decode_row

REPEAT_KEY = "videossr_repeat_of"  # the marker row's key: the position it is a repeated copy of


def repeat_marker(position: int) -> int:
    return -1 - position


class FirstCopySampler(Sampler[int]):
    """``inner`` (TRL's ``RepeatSampler``) with every copy the trainer does not generate from replaced by
    :func:`repeat_marker` of its position. Copy ``r`` of a chunk is generated from when ``r`` is a multiple
    of ``steps_per_generation`` (the first copy of each of the ``num_iterations``: a resumed run may start
    at any of them)."""

    def __init__(self, inner: Any, steps_per_generation: int) -> None:
        self.inner, self.every = inner, max(1, steps_per_generation)

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[int]:
        chunk = self.inner.batch_size * self.inner.mini_repeat_count
        for k, index in enumerate(self.inner):
            copy = (k // chunk) % self.inner.repeat_count
            yield index if copy % self.every == 0 else repeat_marker(index)


class StreamPrompts:
    """Stream position ``p`` as a training row: the prompt (its clips sized for the model), the columns the
    reward and the trainer read (id, task, subtype, answer, params, source) and where it came from (position,
    the difficulty offset of its task, whether it was re-drawn). The copies of one position in a loader batch
    share one row, hence one frames tensor."""

    position_addressed = True  # the trainer samples it with FirstCopySampler

    def __init__(self, stream: SampleStream, options: VideoOptions) -> None:
        self.stream, self.options = stream, options

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        made: dict[int, dict[str, Any]] = {}
        for index in dict.fromkeys(int(i) for i in indices):
            made[index] = {REPEAT_KEY: -1 - index} if index < 0 else self.training_row(self.draw(index))
        return [made[int(i)] for i in indices]

    def draw(self, position: int) -> Draw:
        try:
            return self.stream.draw(position)
        except StreamError as exc:  # a data problem the user must fix: one line, not a worker traceback
            raise DataError(f"{exc}; add videos, or change --recipe") from None

    def training_row(self, draw: Draw) -> dict[str, Any]:
        row = draw.row
        prompt, images = self.prompt(row)
        out = {k: row[k] for k in ("id", "task", "subtype", "answer", "params", "source")}
        out.update(
            prompt=prompt, position=draw.position, offset=draw.offset, redrawn=draw.spare > 0 or draw.moved
        )
        if self.options.video_as == "frames":
            out["images"] = images
        return out

    def prompt(self, row: dict[str, Any]) -> tuple[list[dict], list]:
        if self.stream.clips == "mp4":
            return decode_row(row, self.options, row["id"])
        o = self.options
        try:
            clips = [
                frames_clip(
                    v["frames"],
                    fps=f,
                    max_frames=o.max_frames,
                    max_pixels=o.max_pixels,
                    size_multiple=o.size_multiple,
                )
                for v, f in zip(row["videos"], row["fps"])
            ]
        except ValueError as exc:
            raise DataError(f"stream row {row['id']}: {exc}") from None
        return build_prompt(row, clips, o, where=f"stream row {row['id']}")
