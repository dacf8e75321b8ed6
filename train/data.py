"""The published dataset as GRPO prompts: one video block per clip, frames decoded from the embedded mp4s.

A row of the published schema (``videossr.build.schema``: id, task, system, question, answer, videos, fps,
...) becomes a conversational prompt::

    [{"role": "system", "content": [{"type": "text", "text": row["system"]}]},
     {"role": "user", "content": [{"type": "text", "text": "Clip 1: "}, {"type": "video", ...}, ...]}]

where each ``<video>`` marker of the question is replaced by the next clip. A video block carries the decoded
frames (uint8 tensor ``(T, 3, H, W)``) and ``video_metadata`` (the clip's fps and frame indices), which
:class:`~videossr.train.trainer.VideoGRPOTrainer` hands to the processor so that Qwen3-VL timestamps and
Qwen2.5-VL ``second_per_grid_ts`` are those of the clip. With ``video_as="frames"`` the frames go instead into
an ``images`` column (what plain TRL supports), each preceded by its ``<t seconds>`` text.

Decoding happens lazily (``Dataset.with_transform``), per batch, in the data loader's worker processes, so
nothing large is stored in Arrow. A batch decodes each row once: TRL's sampler lists each prompt
``num_generations`` times, and those rows share one prompt object (hence one frames tensor). The transform
also keeps the prompts of the last rows it built, because TRL's sampler yields every generation batch once per
accumulation step and only the first copy is used.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .clips import clip_name, decode_clip
from .config import VIDEO_AS

VIDEO_MARKER = "<video>"
REQUIRED_COLUMNS: tuple[str, ...] = ("task", "question", "answer", "videos")
KEPT_COLUMNS: tuple[str, ...] = ("id", "task", "subtype", "answer")


class DataError(ValueError):
    """A dataset problem the user must fix; the message says which row, which file and what to do."""


@dataclass(frozen=True)
class VideoOptions:
    """How clips become model inputs: ``max_pixels`` per frame, ``max_frames`` per clip, frame sides in
    multiples of ``size_multiple`` (the model's patch group,
    :func:`videossr.train.processor.video_options`)."""

    max_pixels: int = 256 * 256
    max_frames: int = 48
    video_as: str = "video"
    default_system: str | None = None
    size_multiple: int = 2

    def __post_init__(self) -> None:
        if self.max_pixels < 28 * 28:
            raise ValueError(f"--max-pixels must be at least 784 (28x28), got {self.max_pixels}")
        if self.max_pixels < self.size_multiple**2:
            raise ValueError(
                f"--max-pixels {self.max_pixels} is below one {self.size_multiple}x{self.size_multiple} "
                "patch group of this model"
            )
        if self.max_frames < 2:
            raise ValueError(
                f"--max-frames must be at least 2 (models group frames in pairs), got {self.max_frames}"
            )
        if self.video_as not in VIDEO_AS:
            raise ValueError(f"--video-as must be one of {', '.join(VIDEO_AS)}, got {self.video_as!r}")


# ---------------------------------------------------------------------------------------------------- loading


def load_train_dataset(name_or_path: str, *, split: str = "train", config: str | None = None):
    """``load_dataset`` of a Hub id or a local folder written by build/, with the clips left undecoded."""
    import datasets

    try:
        ds = datasets.load_dataset(name_or_path, config, split=split)
    except FileNotFoundError as exc:
        raise DataError(
            f"dataset {name_or_path!r} not found ({exc}); pass a local folder written by `make demo` / "
            "`python build/run.py`, or a Hub dataset id (needs network unless cached)"
        ) from None
    except ValueError as exc:
        raise DataError(
            f"cannot load dataset {name_or_path!r} (config {config!r}, split {split!r}): {exc}"
        ) from None
    return check_dataset(ds, name=name_or_path)


def check_dataset(ds, *, name: str = "dataset"):
    """Check columns, ids and every answer up front; cast ``videos`` to undecoded bytes. Returns the
    dataset."""
    import datasets
    from videossr.tasks.rewards import reward

    missing = [c for c in REQUIRED_COLUMNS if c not in ds.column_names]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {', '.join(missing)} (has {', '.join(ds.column_names)}); "
            "the dataset must follow the published VideoSSR schema (videossr.build.schema) - rebuild it with "
            "`python build/run.py` or add the columns"
        )
    inner = getattr(ds.features["videos"], "feature", None)
    if isinstance(inner, datasets.Video):
        ds = ds.cast_column("videos", datasets.List(datasets.Video(decode=False)))
    if "id" in ds.column_names:
        ids = ds["id"]
        if len(set(ids)) != len(ids):
            seen: set = set()
            dup = next(i for i in ids if i in seen or seen.add(i))
            raise DataError(f"{name}: id {dup!r} appears more than once; every row needs its own id")
    small = ds.select_columns([c for c in ("id", "task", "answer") if c in ds.column_names])
    for i, row in enumerate(small):
        try:
            reward(row["task"], row["answer"], row["answer"])
        except ValueError as exc:
            raise DataError(
                f"{name}: row {i} (id {row.get('id', i)}): {exc}; fix or drop this row (e.g. ds.filter) and "
                "rebuild"
            ) from None
    return ds


# ---------------------------------------------------------------------------------------------------- prompts


def split_question(question: str, num_clips: int, where: str) -> list[str]:
    """Text around the ``<video>`` markers: ``num_clips + 1`` pieces. A question without markers gets the
    clips first (the single-video convention)."""
    parts = question.split(VIDEO_MARKER)
    if len(parts) == 1:
        return ["" for _ in range(num_clips)] + [question]
    if len(parts) - 1 != num_clips:
        raise DataError(
            f"{where}: the question has {len(parts) - 1} {VIDEO_MARKER} marker(s) but the row has "
            f"{num_clips} clip(s); each clip needs exactly one marker - fix the question or the videos column"
        )
    return parts


def build_prompt(row: dict, clips: Sequence[tuple[Any, dict]], options: VideoOptions, where: str):
    """Conversational prompt (and, for ``video_as="frames"``, the images list) for one row."""
    from PIL import Image

    parts = split_question(row["question"], len(clips), where)
    content: list[dict] = []
    images: list = []

    def text(t: str) -> None:
        if t:
            content.append({"type": "text", "text": t})

    for k, (frames, meta) in enumerate(clips):
        text(parts[k])
        if options.video_as == "video":
            content.append({"type": "video", "video": frames, "video_metadata": meta})
        else:
            for j, fi in enumerate(meta["frames_indices"]):
                text(f"<{fi / meta['fps']:.1f} seconds>")
                content.append({"type": "image"})
                images.append(Image.fromarray(frames[j].permute(1, 2, 0).numpy()))
    text(parts[-1])
    messages = []
    system = row.get("system") or options.default_system
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": content})
    return messages, images


def decode_row(row: dict, options: VideoOptions, rid: Any) -> tuple[list[dict], list]:
    """Decode the clips of one dataset row and build its prompt."""
    videos = row["videos"] or []
    if not videos:
        raise DataError(f"row id {rid}: the videos column is empty; every row needs at least one clip")
    fps_list = row.get("fps") or [None] * len(videos)
    clips = []
    for k, (video, fps) in enumerate(zip(videos, fps_list)):
        try:
            clips.append(
                decode_clip(
                    video,
                    fps=fps,
                    max_frames=options.max_frames,
                    max_pixels=options.max_pixels,
                    size_multiple=options.size_multiple,
                )
            )
        except Exception as exc:
            raise DataError(
                f"row id {rid}, clip {k}: cannot decode clip {clip_name(video)}: {type(exc).__name__}: "
                f"{exc}; the mp4 is missing or corrupt - rebuild the dataset (python build/run.py) or drop "
                "this row"
            ) from None
    return build_prompt(row, clips, options, where=f"row id {rid}")


class ClipTransform:
    """The ``Dataset.with_transform`` function: decode each batch row's clips and build its prompt.

    Rows are keyed by their id (and question); a key decoded in this batch or among the last ``keep_rows``
    rows returns the same prompt object, so repeated rows share one frames tensor. Picklable, for data loader
    workers started with spawn. ``decoded_rows`` counts the rows this process decoded.
    """

    def __init__(self, options: VideoOptions, *, keep_rows: int = 0, keep: Sequence[str] = KEPT_COLUMNS):
        self.options = options
        self.keep_rows = keep_rows
        self.keep = tuple(keep)
        self.decoded_rows = 0
        self._recent: OrderedDict[tuple, tuple[list[dict], list]] = OrderedDict()

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        n = len(batch["question"])
        out: dict[str, list] = {"prompt": []}
        if self.options.video_as == "frames":
            out["images"] = []
        for col in self.keep:
            if col in batch:
                out[col] = list(batch[col])
        for i in range(n):
            row = {k: v[i] for k, v in batch.items()}
            prompt, images = self._prompt(row, i)
            out["prompt"].append(prompt)
            if self.options.video_as == "frames":
                out["images"].append(images)
        while len(self._recent) > self.keep_rows:
            self._recent.popitem(last=False)
        return out

    def _prompt(self, row: dict, i: int) -> tuple[list[dict], list]:
        rid = row.get("id")
        if rid is None:  # no id, no way to tell repeated rows apart
            self.decoded_rows += 1
            return decode_row(row, self.options, f"#{i}")
        key = (rid, row["question"])
        if key not in self._recent:
            self._recent[key] = decode_row(row, self.options, rid)
            self.decoded_rows += 1
        self._recent.move_to_end(key)
        return self._recent[key]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_recent": OrderedDict()}


def prepare_dataset(ds, options: VideoOptions, *, keep_rows: int = 0):
    """The checked dataset with lazy prompt building (columns: prompt, id, task, subtype, answer[, images]).

    ``keep_rows``: how many recently built rows each process keeps for repeated batches (the rows of one
    generation batch).
    """
    return ds.with_transform(ClipTransform(options, keep_rows=keep_rows))
