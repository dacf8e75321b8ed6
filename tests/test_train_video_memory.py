"""Bounded video memory: per generation batch the processor runs once per unique prompt, the num_generations
copies of a prompt share one video tensor, and what TRL gathers to every rank and logs holds no frames; ids
with video tokens never reach a forward without their video."""

from __future__ import annotations

import pickle
from unittest import mock

import numpy as np
import pytest
import torch
from _train_helpers import one_thread, train_config, varied_reward
from PIL import Image
from trl.trainer import grpo_trainer
from videossr.train.data import load_train_dataset, prepare_dataset
from videossr.train.processor import chat_inputs, processor_kwargs, video_options
from videossr.train.session import build_trainer

pytestmark = pytest.mark.slow


def _holds_arrays(obj) -> bool:
    if isinstance(obj, (torch.Tensor, np.ndarray, Image.Image, bytes)):
        return True
    if isinstance(obj, dict):
        return any(_holds_arrays(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_holds_arrays(v) for v in obj)
    return False


def _clip_bytes(trainer, cfg) -> int:
    """pixel_values_videos bytes of one grounding clip, from the processor run on that row alone."""
    options = video_options(trainer.processing_class, max_pixels=cfg.max_pixels, max_frames=cfg.max_frames)
    ds = prepare_dataset(load_train_dataset(cfg.dataset, config=cfg.dataset_config), options)
    enc = chat_inputs(
        trainer.processing_class, ds[0]["prompt"], processor_kwargs(trainer.processing_class, options)
    )
    return enc["pixel_values_videos"].nbytes


@pytest.mark.parametrize(("kind", "workers"), [("qwen2_5_vl", 0), ("qwen3_vl", 1)])
def test_one_processor_run_per_unique_prompt(kind, workers, tmp_path):
    # 2 prompts x 4 answers per step, 4 completions per forward: 2 accumulation steps per generation batch
    cfg = train_config(
        kind,
        tmp_path,
        dataset_config="grounding",
        global_batch=2,
        num_generations=4,
        per_device_batch=4,
        max_steps=2,
        dataloader_num_workers=workers,
    )
    with one_thread():
        trainer = build_trainer(cfg, reward_funcs=[varied_reward])
        conversations = []
        apply = trainer.processing_class.apply_chat_template

        def spy_apply(conversation, *args, **kwargs):
            conversations.append(len(conversation))
            return apply(conversation, *args, **kwargs)

        trainer.processing_class.apply_chat_template = spy_apply
        with mock.patch.object(grpo_trainer, "gather_object", wraps=grpo_trainer.gather_object) as gather:
            trainer.train()
    gathered = [call.args[0] for call in gather.call_args_list]
    stats = trainer.video_stats
    assert (stats.rows, stats.unique_prompts) == (8, 2)
    assert conversations == [2, 2]  # one processor call per generation batch, on the 2 unique prompts
    assert stats.video_bytes == 2 * _clip_bytes(trainer, cfg)
    prompts = [
        obj for obj in gathered if obj and isinstance(obj[0], list) and obj[0][-1].get("role") == "user"
    ]
    assert len(prompts) == 2  # one gather of the prompts per generation batch
    for obj in prompts:
        assert len(obj) == 8 and not _holds_arrays(obj)
        assert len(pickle.dumps(obj)) < 1_000_000
    assert stats.prompt_pickle_bytes == len(pickle.dumps(prompts[-1], protocol=pickle.HIGHEST_PROTOCOL))
    if workers == 0:  # decoding ran in this process: each generation batch decoded once, not once per copy
        transform = trainer.train_dataset.format["format_kwargs"]["transform"]
        assert transform.decoded_rows == 2 * 2  # 2 generation batches x 2 prompts (loaded 2 x 2 times)
    logged = [h for h in trainer.state.log_history if "video/held_mb" in h]
    assert len(logged) == 2 and logged[-1]["video/unique_prompts"] == 2
    assert logged[-1]["video/held_mb"] == pytest.approx(stats.video_bytes / 2**20)


def test_video_tokens_without_video_are_refused(tmp_path):
    """A batch whose ids hold <|video_pad|> but carries no video rows raises instead of a text-only
    forward."""
    cfg = train_config("qwen3_vl", tmp_path)
    with one_thread():
        trainer = build_trainer(cfg, reward_funcs=[varied_reward])
    pad = trainer.processing_class.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    prompt = torch.tensor([[11, 12, pad, pad, 13]])
    completion = torch.tensor([[14, 15]])
    batch = {
        "prompt_ids": prompt,
        "prompt_mask": torch.ones_like(prompt),
        "completion_ids": completion,
        "completion_mask": torch.ones_like(completion),
        "advantages": torch.tensor([1.0]),
        "num_items_in_batch": torch.tensor(2),
    }
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    with pytest.raises(
        RuntimeError, match=r"2 <\|video_pad\|> tokens reach a log-prob forward without their video"
    ):
        trainer.compute_loss(trainer.model, batch)
