"""The video side of one generation batch, kept small: clip handles, unique prompts, per-row tensors,
counters.

TRL repeats each prompt ``num_generations`` times in a generation batch, deep-copies the prompts, pickles them
to every rank (``gather_object``) and keeps them for its completion log. So before TRL sees a prompt, each
video block's frames are swapped for a short handle (:func:`detach_clips`); the processor then runs once per
unique prompt (:func:`unique_prompts`) on the frames restored from the handles (:func:`attach_clips`), and
every copy of a prompt refers to the same per-row video tensors (:func:`split_video_fields`).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from typing import Any

import torch

VIDEO_KEYS: tuple[str, ...] = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
HANDLE_PREFIX = "videossr-clip:"

Prompt = list[dict[str, Any]]
VideoRow = dict[str, torch.Tensor]


@dataclass(frozen=True)
class VideoBatchStats:
    """Counters of one generation batch on one rank."""

    rows: int  # prompts in the batch (each prompt once per generation)
    unique_prompts: int  # prompts the processor ran on
    video_bytes: int  # bytes of pixel_values_videos kept for the loss (shared storage counted once)
    prompt_pickle_bytes: int  # size of the prompts as TRL pickles them to gather and log


def _map_video_blocks(prompt: Prompt, fn) -> Prompt:
    """``prompt`` with every ``{"type": "video"}`` block replaced by ``fn(block)`` (other parts untouched)."""
    out = []
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            parts = [fn(p) if isinstance(p, dict) and p.get("type") == "video" else p for p in content]
            message = {**message, "content": parts}
        out.append(message)
    return out


def count_video_blocks(prompt: Prompt) -> int:
    n = [0]

    def count(block: dict) -> dict:
        n[0] += 1
        return block

    _map_video_blocks(prompt, count)
    return n[0]


def detach_clips(prompts: list[Prompt]) -> tuple[list[Prompt], dict[str, Any]]:
    """Prompts whose video frames are replaced by handles, and ``handle -> frames``.

    The same frames object (a prompt repeated in the batch) gets the same handle.
    """
    store: dict[str, Any] = {}
    by_object: dict[int, str] = {}

    def detach(block: dict) -> dict:
        frames = block.get("video")
        if frames is None or isinstance(frames, str):
            return block
        handle = by_object.get(id(frames))
        if handle is None:
            handle = f"{HANDLE_PREFIX}{len(store)}"
            by_object[id(frames)] = handle
            store[handle] = frames
        return {**block, "video": handle}

    return [_map_video_blocks(p, detach) for p in prompts], store


def attach_clips(prompts: list[Prompt], store: dict[str, Any]) -> list[Prompt]:
    """The inverse of :func:`detach_clips`: handles replaced by their frames."""

    def attach(block: dict) -> dict:
        video = block.get("video")
        if isinstance(video, str) and video.startswith(HANDLE_PREFIX):
            if video not in store:
                raise RuntimeError(f"video handle {video} has no frames in this generation batch")
            return {**block, "video": store[video]}
        return block

    return [_map_video_blocks(p, attach) for p in prompts]


def unique_prompts(prompts: list[Prompt]) -> tuple[list[Prompt], list[int]]:
    """The distinct prompts (first-seen order) and, per input prompt, its index among them.

    Prompts must hold handles, not frames (:func:`detach_clips`): two prompts are equal when their text, clip
    handles and metadata are.
    """
    index_of: dict[str, int] = {}
    unique: list[Prompt] = []
    index = []
    for prompt in prompts:
        key = json.dumps(prompt, sort_keys=True, default=repr)
        if key not in index_of:
            index_of[key] = len(unique)
            unique.append(prompt)
        index.append(index_of[key])
    return unique, index


def split_video_fields(fields: dict[str, Any], clips_per_row: list[int]) -> list[VideoRow]:
    """Split the processor's flat video tensors into one dict per prompt row (rows without clips get ``{}``).

    ``video_grid_thw`` is ``[V, 3]`` in row-major content order; video ``v`` owns ``prod(grid_v)`` consecutive
    rows of ``pixel_values_videos``; ``second_per_grid_ts`` (Qwen2.5-VL) has one entry per video. The row
    dicts hold views of the processor's tensors (no copy).
    """
    if fields.get("video_grid_thw") is None:
        if sum(clips_per_row):
            raise RuntimeError("the prompts hold video blocks but the processor returned no video_grid_thw")
        return [{} for _ in clips_per_row]
    grid = torch.as_tensor(fields["video_grid_thw"])
    pixels = torch.as_tensor(fields["pixel_values_videos"])
    spg = fields.get("second_per_grid_ts")
    spg = torch.as_tensor(spg) if spg is not None else None
    if grid.shape[0] != sum(clips_per_row):
        raise RuntimeError(
            f"processor returned {grid.shape[0]} video grids for {sum(clips_per_row)} video blocks in the "
            "batch"
        )
    rows_per_video = grid.prod(-1).tolist()
    if sum(rows_per_video) != pixels.shape[0]:
        raise RuntimeError(
            f"pixel_values_videos has {pixels.shape[0]} rows but the grids imply {sum(rows_per_video)}"
        )
    out: list[VideoRow] = []
    v0 = p0 = 0
    for n in clips_per_row:
        if n == 0:
            out.append({})
            continue
        p1 = p0 + sum(rows_per_video[v0 : v0 + n])
        row = {"pixel_values_videos": pixels[p0:p1], "video_grid_thw": grid[v0 : v0 + n]}
        if spg is not None:
            row["second_per_grid_ts"] = spg[v0 : v0 + n]
        out.append(row)
        v0, p0 = v0 + n, p1
    return out


def concat_rows(rows: list[VideoRow]) -> dict[str, torch.Tensor]:
    """One model input from several rows' video tensors (rows without clips skipped)."""
    rows = [r for r in rows if r]
    if not rows:
        return {}
    return {k: torch.cat([r[k] for r in rows]) for k in rows[0]}


def expand_fields(fields: dict[str, Any], unique_rows: list[VideoRow], index: list[int]) -> dict[str, Any]:
    """The processor fields of the unique prompts, repeated for every prompt of the batch (for ``generate``).

    Video tensors are concatenated per prompt; per-prompt fields (lists with one entry per unique prompt, e.g.
    ``mm_token_type_ids``) are repeated. Any other field is refused rather than passed on misaligned.
    """
    out: dict[str, Any] = concat_rows([unique_rows[j] for j in index])
    for key, value in fields.items():
        if key in VIDEO_KEYS:
            continue
        if isinstance(value, list) and len(value) == len(unique_rows):
            out[key] = [value[j] for j in index]
        else:
            raise NotImplementedError(
                f"VideoGRPOTrainer: cannot repeat the processor field {key!r} per prompt"
            )
    return out


def held_video_bytes(rows: list[VideoRow]) -> int:
    """Bytes of ``pixel_values_videos`` storage that ``rows`` keep alive, each storage counted once."""
    storages: dict[int, int] = {}
    for row in rows:
        if "pixel_values_videos" in row:
            storage = row["pixel_values_videos"].untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def pickled_size(obj: Any) -> int:
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
