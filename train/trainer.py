"""``VideoGRPOTrainer``: TRL's ``GRPOTrainer`` with the video really in the loss.

TRL 1.16 feeds a prompt's video to ``generate()`` but drops it from every log-prob forward (policy, old policy,
reference): ``_generate`` does not return the processor's multimodal fields and the loss path only knows image
keys. Four thin wrappers fix that without copying TRL logic (../shared/NOTES-video-grpo.md section 2):

1. ``_tokenize_prompts`` (capture): pass each video block's ``video_metadata`` to the processor, call super, then
   split the processor's video tensors (``pixel_values_videos``, ``video_grid_thw``, ``second_per_grid_ts``) per
   prompt row into ``self._video_rows`` - the exact tensors generation used.
2. ``_generate_and_score_completions`` (carry): the old/ref log-prob calls inside super read ``self._video_rows``;
   afterwards they are attached as ``output["video_inputs"]``, a list with one dict per row, which TRL's
   ``shuffle_sequence_dict`` / ``split_tensor_dict`` permute and slice together with the batch.
3. ``_compute_loss`` (expose): ``self._video_rows = inputs["video_inputs"]`` around super.
4. ``_get_per_token_logps_and_entropies`` (inject): per chunk of rows, concatenate the chunk's video tensors and
   call super with ``functools.partial(model, **video)``, plus ``mm_token_type_ids`` built from the ids (Qwen2.5-VL
   silently falls back to 1-D positions without it, Qwen3-VL raises).

Written against ``trl==1.16.0`` (:data:`TRL_VERSION`); :func:`check_trl` refuses another version unless told
otherwise, and ``tests/test_train_trl_pin.py`` fails if the hooked methods' source changes.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from functools import partial
from typing import Any

import torch
import trl
from trl import GRPOTrainer

TRL_VERSION = "1.16.0"
VIDEO_KEYS: tuple[str, ...] = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")
HOOKED_METHODS: tuple[str, ...] = (
    "_tokenize_prompts",
    "_generate_and_score_completions",
    "_compute_loss",
    "_get_per_token_logps_and_entropies",
)
# sha256 of inspect.getsource(...) in trl 1.16.0: the methods wrapped here, and the TRL code the wrappers rely on
# (``_prepare_inputs`` shuffles/splits the list ``video_inputs`` with the batch; ``_generate`` calls
# ``_tokenize_prompts`` once per generation batch). tests/test_train_trl_pin.py compares them.
HOOKED_SOURCE_SHA256: dict[str, str] = {
    "GRPOTrainer._tokenize_prompts": "d2d27f7c9bfda85f1c3225785fa2f09466c428803be6afa8a6c46290f7171a15",
    "GRPOTrainer._generate_and_score_completions": "1fa48922792dcd5c72da155cfe99db477771a7c61cde15519fe8c86d0cdc0b65",
    "GRPOTrainer._compute_loss": "80295546bbdbf6f711acce7f6e69b0100ab40aa8f23ed8052cc564ff024e3e40",
    "GRPOTrainer._get_per_token_logps_and_entropies": "ea73c3909275851d0cd664b1e7694905fdcd9c285e848ae923d7402234f2edce",
    "GRPOTrainer._prepare_inputs": "f824e7fb0714795697c9b4d574de1e139dd5f4404c2554e92cf1db7f60fa6c96",
    "GRPOTrainer._generate": "2a27fdf8f5e6f3562508eec3efb9e9dade2e0bf810de5031cdfab429d0a048f2",
    "utils.split_tensor_dict": "b61a5760a03e95dbceddcc1e8e78c3db6d9303f01c0b1ced19b745271e56d079",
    "utils.shuffle_sequence_dict": "bab038755e57ed2b537885296273850223db4d14c728fc2f6e4b1216eb5a9f30",
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


class TRLVersionError(RuntimeError):
    pass


def check_trl(allow_mismatch: bool | None = None) -> None:
    """Fail loudly if the installed TRL is not the version the wrappers were written against.

    ``allow_mismatch`` (or ``VIDEOSSR_ALLOW_TRL_MISMATCH=1``) turns the error into a warning, for trying a newer
    TRL at your own risk; then run ``pytest tests/test_train_trl_pin.py tests/test_train_video_loss.py``.
    """
    if allow_mismatch is None:
        allow_mismatch = os.environ.get("VIDEOSSR_ALLOW_TRL_MISMATCH", "") not in ("", "0")
    if trl.__version__ == TRL_VERSION:
        return
    msg = (
        f"VideoGRPOTrainer was written against trl=={TRL_VERSION} but trl=={trl.__version__} is installed; the "
        "wrapped GRPOTrainer methods may have changed and the video could silently drop out of the loss. Install "
        f"trl=={TRL_VERSION} (pip install 'trl=={TRL_VERSION}'), or set VIDEOSSR_ALLOW_TRL_MISMATCH=1 and run "
        "tests/test_train_video_loss.py to check."
    )
    if not allow_mismatch:
        raise TRLVersionError(msg)
    import warnings

    warnings.warn(msg, stacklevel=2)


def split_video_fields(fields: dict[str, Any], clips_per_row: list[int]) -> list[dict[str, torch.Tensor]]:
    """Split the processor's flat video tensors into one dict per prompt row (rows without clips get ``{}``).

    ``video_grid_thw`` is ``[V, 3]`` in row-major content order; video ``v`` owns ``prod(grid_v)`` consecutive rows
    of ``pixel_values_videos``; ``second_per_grid_ts`` (Qwen2.5-VL) has one entry per video.
    """
    if "video_grid_thw" not in fields or fields["video_grid_thw"] is None:
        if sum(clips_per_row):
            raise RuntimeError("the prompts hold video blocks but the processor returned no video_grid_thw")
        return [{} for _ in clips_per_row]
    grid = torch.as_tensor(fields["video_grid_thw"])
    pixels = torch.as_tensor(fields["pixel_values_videos"])
    spg = fields.get("second_per_grid_ts")
    spg = torch.as_tensor(spg) if spg is not None else None
    if grid.shape[0] != sum(clips_per_row):
        raise RuntimeError(
            f"processor returned {grid.shape[0]} video grids for {sum(clips_per_row)} video blocks in the batch"
        )
    rows_per_video = grid.prod(-1).tolist()
    if sum(rows_per_video) != pixels.shape[0]:
        raise RuntimeError(
            f"pixel_values_videos has {pixels.shape[0]} rows but the grids imply {sum(rows_per_video)}"
        )
    out: list[dict[str, torch.Tensor]] = []
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


def _count_video_blocks(prompt: list[dict]) -> int:
    n = 0
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            n += sum(1 for part in content if isinstance(part, dict) and part.get("type") == "video")
    return n


class VideoGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose every log-prob forward (policy, old policy, reference) gets each row's video tensors.

    Prompts are conversational with ``{"type": "video", "video": frames_or_path, "video_metadata": {...}}``
    blocks (see :mod:`videossr.train.data`). Without video blocks it behaves exactly like ``GRPOTrainer``
    (e.g. the ``images`` column route of ``--video-as frames``).

    ``check_video_alignment`` (default on) verifies per row that the number of ``<|video_pad|>`` tokens equals the
    features implied by that row's grids, and that none sits in the completion.
    """

    def __init__(self, *args: Any, check_video_alignment: bool = True, allow_trl_mismatch: bool | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        check_trl(allow_trl_mismatch)
        self._video_rows: list[dict[str, torch.Tensor]] | None = None
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
        clips_per_row = [_count_video_blocks(p) for p in prompts]
        if not any(clips_per_row):
            self._video_rows = None
            return super()._tokenize_prompts(prompts)
        metadata, stripped = [], []
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
        flat = [m for row in metadata for m in row]
        has_meta = [m is not None for m in flat]
        if any(has_meta) and not all(has_meta):
            raise ValueError(
                "some video blocks carry video_metadata and others do not; give every clip its metadata "
                "(fps, total_num_frames, frames_indices) or none"
            )
        saved = self.chat_template_kwargs
        if all(has_meta):
            kwargs = dict(saved or {})
            pk = dict(kwargs.get("processor_kwargs") or {})
            pk["video_metadata"] = [[dict(m) for m in row] for row in metadata if row]
            kwargs["processor_kwargs"] = pk
            self.chat_template_kwargs = kwargs
        try:
            prompt_ids, images, multimodal_fields = super()._tokenize_prompts(stripped)
        finally:
            self.chat_template_kwargs = saved
        rows = split_video_fields(multimodal_fields, clips_per_row)
        self._video_rows = [{k: v.detach().cpu() for k, v in r.items()} for r in rows]
        if self.check_video_alignment:
            for i, (ids, r) in enumerate(zip(prompt_ids, self._video_rows)):
                self._check_row(i, torch.as_tensor(ids), r, where="prompt")
        return prompt_ids, images, multimodal_fields

    def _check_row(self, i: int, ids: torch.Tensor, row: dict, where: str) -> None:
        pad = self._video_pad_token_id
        if pad is None:
            return
        tokens = int((ids == pad).sum())
        features = int(row["video_grid_thw"].prod(-1).sum()) // self._video_merge if row else 0
        if tokens != features:
            raise RuntimeError(
                f"row {i}: {tokens} <|video_pad|> tokens in the {where} but its clips give {features} features; "
                "the per-row video split is misaligned (or the completion emitted <|video_pad|>: suppress the vision "
                "tokens in generation_kwargs)"
            )

    # 2. carry ----------------------------------------------------------------------------------------------
    def _generate_and_score_completions(self, inputs):
        self._video_rows = None
        try:
            output = super()._generate_and_score_completions(inputs)
            rows = self._video_rows
        finally:
            self._video_rows = None
        if rows is not None:
            output["video_inputs"] = rows
        return output

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
        if not rows or not any(rows):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss,
                **kwargs,
            )  # fmt: skip
        if kwargs.get("pixel_values") is not None:
            raise NotImplementedError(
                "VideoGRPOTrainer: images and videos in the same batch are not supported"
            )
        if len(rows) != input_ids.size(0):
            raise RuntimeError(f"{len(rows)} video rows for a batch of {input_ids.size(0)} sequences")
        if self.check_video_alignment:
            for i, r in enumerate(rows):
                self._check_row(i, input_ids[i][attention_mask[i].bool()], r, where="prompt+completion")
        mm = torch.zeros_like(input_ids)
        if self._video_pad_token_id is not None:
            mm[input_ids == self._video_pad_token_id] = 2
        kwargs["mm_token_type_ids"] = mm
        batch_size = batch_size or input_ids.size(0)
        device = input_ids.device
        logps, entropies, aux = [], [], []
        for s in range(0, input_ids.size(0), batch_size):
            e = min(s + batch_size, input_ids.size(0))
            chunk = [r for r in rows[s:e] if r]
            sub = {
                k: (
                    v[s:e]
                    if isinstance(v, torch.Tensor) and v.dim() > 0 and v.size(0) == input_ids.size(0)
                    else v
                )
                for k, v in kwargs.items()
            }
            call = model
            if chunk:
                video = {k: torch.cat([r[k] for r in chunk]).to(device) for k in chunk[0]}
                call = partial(model, **video)
            lp, ent, ax = super()._get_per_token_logps_and_entropies(
                call, input_ids[s:e], attention_mask[s:e], logits_to_keep, e - s, compute_entropy,
                compute_aux_loss, **sub,
            )  # fmt: skip
            logps.append(lp)
            if ent is not None:
                entropies.append(ent)
            if ax is not None:
                aux.append(ax)
        return (
            torch.cat(logps, 0),
            torch.cat(entropies, 0) if entropies else None,
            torch.stack(aux).mean() if aux else None,
        )
