"""``VideoGRPOTrainer``: TRL's ``GRPOTrainer`` with the video in the loss, one processor run per prompt.

TRL 1.16 feeds a prompt's video to ``generate()`` but drops it from every log-prob forward (policy, old
policy, reference): ``_generate`` does not return the processor's multimodal fields and the loss path only
knows image keys. Four thin wrappers fix that without copying TRL logic (the helpers live in
:mod:`videossr.train.video_batch`):

1. ``_tokenize_prompts`` (capture): run the processor once per unique prompt of the generation batch (frames
   restored from their handles, each clip's ``video_metadata`` passed through), split its video tensors per
   prompt into ``self._video_rows`` (the copies of a prompt share one dict), and hand ``generate`` the fields
   repeated per prompt.
2. ``_generate_and_score_completions`` (carry): before super, swap each prompt's frames for handles, so that
   what TRL deep-copies, gathers to every rank and logs is text; the old/ref log-prob calls inside super read
   ``self._video_rows``; afterwards they are attached as ``output["video_inputs"]``, a list with one dict per
   row, which TRL's ``shuffle_sequence_dict`` / ``split_tensor_dict`` permute and slice with the batch.
3. ``_compute_loss`` (expose): ``self._video_rows = inputs["video_inputs"]`` around super.
4. ``_get_per_token_logps_and_entropies`` (inject): per chunk of rows, concatenate the chunk's video tensors
   and call super with ``functools.partial(model, **video)``, plus ``mm_token_type_ids`` built from the ids
   (Qwen2.5-VL silently falls back to 1-D positions without it, Qwen3-VL raises). Ids holding video tokens
   without video rows raise instead of running a text-only forward.

Written against ``trl==1.16.0`` (:data:`TRL_VERSION`); :func:`check_trl` refuses another version unless told
otherwise, and ``tests/test_train_trl_pin.py`` fails if the TRL code the wrappers rely on changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import os
from functools import partial
from typing import Any

import torch
import trl
from trl import GRPOTrainer

from .errors import TRLVersionError
from .video_batch import (
    VideoBatchStats,
    VideoRow,
    attach_clips,
    concat_rows,
    count_video_blocks,
    detach_clips,
    expand_fields,
    held_video_bytes,
    pickled_size,
    split_video_fields,
    unique_prompts,
)

TRL_VERSION = "1.16.0"
HOOKED_METHODS: tuple[str, ...] = (
    "_tokenize_prompts",
    "_generate_and_score_completions",
    "_compute_loss",
    "_get_per_token_logps_and_entropies",
)
# sha256 of inspect.getsource(...) in trl 1.16.0: the methods wrapped here and the TRL code the wrappers rely
# on: ``_prepare_inputs`` shuffles/splits the list ``video_inputs`` with the batch; ``_generate`` calls
# ``_tokenize_prompts`` once per generation batch; ``_generate_single_turn`` passes tensor fields to
# ``generate`` as they are and pads per-prompt list fields; ``_log_metric`` collects the per-completion task
# rewards that ``_generate_and_score_completions`` averages as sum / count over all ranks. The stream
# trainer (:mod:`.stream_trainer`) also wraps ``_get_train_sampler`` and ``_calculate_rewards`` and relies on
# the order ``RepeatSampler`` lists its copies in.
HOOKED_SOURCE_SHA256: dict[str, str] = {
    "GRPOTrainer._tokenize_prompts": "d2d27f7c9bfda85f1c3225785fa2f09466c428803be6afa8a6c46290f7171a15",
    "GRPOTrainer._generate_and_score_completions": (
        "1fa48922792dcd5c72da155cfe99db477771a7c61cde15519fe8c86d0cdc0b65"
    ),
    "GRPOTrainer._compute_loss": "80295546bbdbf6f711acce7f6e69b0100ab40aa8f23ed8052cc564ff024e3e40",
    "GRPOTrainer._get_per_token_logps_and_entropies": (
        "ea73c3909275851d0cd664b1e7694905fdcd9c285e848ae923d7402234f2edce"
    ),
    "GRPOTrainer._prepare_inputs": "f824e7fb0714795697c9b4d574de1e139dd5f4404c2554e92cf1db7f60fa6c96",
    "GRPOTrainer._generate": "2a27fdf8f5e6f3562508eec3efb9e9dade2e0bf810de5031cdfab429d0a048f2",
    "GRPOTrainer._generate_single_turn": "e0f02e4fc094cefdb306c6f04da26a2547c8b8225161a90e87a6803b21989b8e",
    "GRPOTrainer._log_metric": "bcd19b9ca1016e3a0e32431b1c00c53d5c648b323dc546171e5b3001df1407b9",
    "utils.split_tensor_dict": "b61a5760a03e95dbceddcc1e8e78c3db6d9303f01c0b1ced19b745271e56d079",
    "utils.shuffle_sequence_dict": "bab038755e57ed2b537885296273850223db4d14c728fc2f6e4b1216eb5a9f30",
    "GRPOTrainer._get_train_sampler": "36497afb4d311dc9a80d914d27893fe075c5bbc7edde8586edfa60125e980799",
    "GRPOTrainer._calculate_rewards": "736ae29b083840b5da2638b55ad1258659c644589991fe6a494131354952efef",
    "utils.RepeatSampler": "ba139f4a43eeecd4976bc51c850039df3b53a308e5f1c372f7922e367906cd58",
}


def hooked_source_sha256() -> dict[str, str]:
    """The current sha256 of every entry of :data:`HOOKED_SOURCE_SHA256` (same keys)."""
    from trl.trainer import utils

    out = {}
    for key in HOOKED_SOURCE_SHA256:
        owner, name = key.split(".", 1)
        obj = getattr(GRPOTrainer if owner == "GRPOTrainer" else utils, name)
        out[key] = hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()
    return out


def check_trl(allow_mismatch: bool | None = None, installed: str | None = None) -> None:
    """Fail loudly if the installed TRL (or ``installed``) is not the version the wrappers are written for.

    ``allow_mismatch`` (or ``VIDEOSSR_ALLOW_TRL_MISMATCH=1``) turns the error into a warning, for trying a
    newer TRL at your own risk; then run ``pytest tests/test_train_trl_pin.py
    tests/test_train_video_loss.py``.
    """
    installed = installed or trl.__version__
    if allow_mismatch is None:
        allow_mismatch = os.environ.get("VIDEOSSR_ALLOW_TRL_MISMATCH", "") not in ("", "0")
    if installed == TRL_VERSION:
        return
    msg = (
        f"VideoGRPOTrainer was written against trl=={TRL_VERSION} but trl=={installed} is installed; the "
        "wrapped GRPOTrainer methods may have changed and the video could silently drop out of the loss. "
        f"Install trl=={TRL_VERSION} (pip install 'trl=={TRL_VERSION}'), or set "
        "VIDEOSSR_ALLOW_TRL_MISMATCH=1 and run tests/test_train_video_loss.py to check."
    )
    if not allow_mismatch:
        raise TRLVersionError(msg)
    import warnings

    warnings.warn(msg, stacklevel=2)


def pop_video_metadata(prompts: list[list[dict]]) -> tuple[list[list[dict]], list[list[dict | None]]]:
    """Prompts without the video blocks' ``video_metadata``, and that metadata per prompt (content order)."""
    stripped, metadata = [], []
    for prompt in prompts:
        row_meta, new_prompt = [], []
        for message in prompt:
            content = message.get("content")
            if isinstance(content, list):
                parts = []
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "video":
                        part = dict(part)
                        row_meta.append(part.pop("video_metadata", None))
                    elif (
                        isinstance(part, dict)
                        and part.get("type") == "image"
                        and part.get("image") is not None
                    ):
                        raise NotImplementedError(
                            "VideoGRPOTrainer: images and videos in the same batch are not supported"
                        )
                    parts.append(part)
                message = {**message, "content": parts}
            new_prompt.append(message)
        metadata.append(row_meta)
        stripped.append(new_prompt)
    flat = [m is not None for row in metadata for m in row]
    if any(flat) and not all(flat):
        raise ValueError(
            "some video blocks carry video_metadata and others do not; give every clip its metadata "
            "(fps, total_num_frames, frames_indices) or none"
        )
    return stripped, metadata if all(flat) else []


class VideoGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose every log-prob forward (policy, old, reference) gets each row's video tensors.

    Prompts are conversational with ``{"type": "video", "video": frames, "video_metadata": {...}}`` blocks
    (see :mod:`videossr.train.data`). Without video blocks it behaves like ``GRPOTrainer`` (e.g. the
    ``images`` column route of ``--video-as frames``). ``video_stats`` holds the counters of the last
    generation batch (also logged as ``video/*``).

    ``check_video_alignment`` (default on) verifies per row that the number of ``<|video_pad|>`` tokens equals
    the features implied by that row's grids, and that none sits in the completion.
    """

    def __init__(
        self,
        *args: Any,
        check_video_alignment: bool = True,
        allow_trl_mismatch: bool | None = None,
        **kwargs: Any,
    ) -> None:
        check_trl(allow_trl_mismatch)
        self._video_rows: list[VideoRow] | None = None
        self._clip_store: dict[str, Any] = {}
        self.video_stats: VideoBatchStats | None = None
        self.check_video_alignment = check_video_alignment
        super().__init__(*args, **kwargs)
        vp = getattr(self.processing_class, "video_processor", None)
        self._video_merge = int(getattr(vp, "merge_size", 2) or 2) ** 2

    # 1. capture --------------------------------------------------------------------------------------------
    def _tokenize_prompts(self, prompts: list):
        from trl.trainer.utils import remove_none_values

        if not prompts or not isinstance(prompts[0], list):
            return super()._tokenize_prompts(prompts)
        prompts = [remove_none_values(p) for p in prompts]
        if not any(count_video_blocks(p) for p in prompts):
            self._video_rows = None
            return super()._tokenize_prompts(prompts)
        unique, index = unique_prompts(prompts)
        clips = [count_video_blocks(p) for p in unique]
        stripped, metadata = pop_video_metadata(attach_clips(unique, self._clip_store))
        saved = self.chat_template_kwargs
        if metadata:
            processor_kwargs = {**(saved or {}).get("processor_kwargs", {}), "video_metadata": metadata}
            self.chat_template_kwargs = {**(saved or {}), "processor_kwargs": processor_kwargs}
        try:
            prompt_ids, images, fields = super()._tokenize_prompts(stripped)
        finally:
            self.chat_template_kwargs = saved
        rows = split_video_fields(fields, clips)
        if self.check_video_alignment:
            for i, (ids, row) in enumerate(zip(prompt_ids, rows)):
                self._check_row(i, torch.as_tensor(ids), row, where="prompt")
        self._video_rows = [rows[j] for j in index]
        self.video_stats = VideoBatchStats(len(prompts), len(unique), held_video_bytes(rows), 0)
        return [prompt_ids[j] for j in index], images, expand_fields(fields, rows, index)

    def _check_row(self, i: int, ids: torch.Tensor, row: VideoRow, where: str) -> None:
        pad = self._video_pad_token_id
        if pad is None:
            return
        tokens = int((ids == pad).sum())
        features = int(row["video_grid_thw"].prod(-1).sum()) // self._video_merge if row else 0
        if tokens != features:
            raise RuntimeError(
                f"row {i}: {tokens} <|video_pad|> tokens in the {where} but its clips give {features} "
                "features; the per-row video split is misaligned (or the completion emitted <|video_pad|>: "
                "suppress the vision tokens in generation_kwargs)"
            )

    # 2. carry ----------------------------------------------------------------------------------------------
    def _generate_and_score_completions(self, inputs):
        prompt_bytes = None
        if inputs and all(isinstance(x.get("prompt"), list) for x in inputs):
            prompts, self._clip_store = detach_clips([x["prompt"] for x in inputs])
            inputs = [{**x, "prompt": p} for x, p in zip(inputs, prompts)]
            prompt_bytes = pickled_size(prompts)
        self._video_rows = None
        try:
            output = super()._generate_and_score_completions(inputs)
            rows = self._video_rows
        finally:
            self._video_rows, self._clip_store = None, {}
        if rows is not None:
            output["video_inputs"] = rows
            self._log_video_stats(prompt_bytes or 0)
        return output

    def _log_video_stats(self, prompt_bytes: int) -> None:
        self.video_stats = dataclasses.replace(self.video_stats, prompt_pickle_bytes=prompt_bytes)
        metrics = self._metrics["train" if self.model.training else "eval"]
        metrics["video/unique_prompts"].append(self.video_stats.unique_prompts)
        metrics["video/held_mb"].append(self.video_stats.video_bytes / 2**20)
        metrics["video/prompt_pickle_kb"].append(prompt_bytes / 1024)

    # 3. expose ---------------------------------------------------------------------------------------------
    def _compute_loss(self, model, inputs):
        self._video_rows = inputs.get("video_inputs")
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._video_rows = None

    # 4. inject ---------------------------------------------------------------------------------------------
    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **kwargs,
    ):
        rows = self._video_rows
        flags = (batch_size, compute_entropy, compute_aux_loss)
        if not rows or not any(rows):
            self._refuse_video_tokens_without_video(input_ids)
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, *flags, **kwargs
            )
        if kwargs.get("pixel_values") is not None:
            raise NotImplementedError(
                "VideoGRPOTrainer: images and videos in the same batch are not supported"
            )
        if len(rows) != input_ids.size(0):
            raise RuntimeError(f"{len(rows)} video rows for a batch of {input_ids.size(0)} sequences")
        if self.check_video_alignment:
            for i, r in enumerate(rows):
                self._check_row(i, input_ids[i][attention_mask[i].bool()], r, where="prompt+completion")
        kwargs["mm_token_type_ids"] = (input_ids == self._video_pad_token_id).long() * 2
        batch_size = batch_size or input_ids.size(0)
        n = input_ids.size(0)
        logps, entropies, aux = [], [], []
        for s in range(0, n, batch_size):
            e = min(s + batch_size, n)
            sub = {
                k: v[s:e] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.size(0) == n else v
                for k, v in kwargs.items()
            }
            video = {k: v.to(input_ids.device) for k, v in concat_rows(rows[s:e]).items()}
            call = partial(model, **video) if video else model
            lp, ent, ax = super()._get_per_token_logps_and_entropies(
                call, input_ids[s:e], attention_mask[s:e], logits_to_keep, e - s, *flags[1:], **sub
            )
            logps.append(lp)
            entropies += [ent] if ent is not None else []
            aux += [ax] if ax is not None else []
        return (
            torch.cat(logps, 0),
            torch.cat(entropies, 0) if entropies else None,
            torch.stack(aux).mean() if aux else None,
        )

    def _refuse_video_tokens_without_video(self, input_ids: torch.Tensor) -> None:
        pad = self._video_pad_token_id
        if pad is not None and bool((input_ids == pad).any()):
            raise RuntimeError(
                f"{int((input_ids == pad).sum())} <|video_pad|> tokens reach a log-prob forward without "
                "their video tensors (a text-only forward would score the answers blind); the prompts' video "
                "rows were lost between generation and the loss"
            )
