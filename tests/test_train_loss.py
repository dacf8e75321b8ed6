"""The paper preset's loss is verl's: token-mean over each micro-batch (ppo_micro_batch_size_per_gpu
completions) scaled by 1 / gradient accumulation, which is TRL's ``bnpo`` with ``per_device_batch``
completions per forward.

The oracle below is verl's policy loss written from its definition (core_algos: vanilla PPO clip with dual
clip, ``loss_agg_mode="token-mean"``, ``low_var_kl``, then ``policy_loss / gradient_accumulation`` in the
actor), independent of TRL; TRL's loss on the same fixed batch must equal it within 1e-6.
"""

from __future__ import annotations

import pytest
import torch
from _train_helpers import one_thread, train_config, varied_reward
from videossr.train.config import PAPER
from videossr.train.session import build_trainer

pytestmark = pytest.mark.slow

CLIP, CLIP_RATIO_C, KL_COEF, ACCUM = 0.2, 3.0, 0.04, 2


def verl_policy_loss(logp, old_logp, ref_logp, advantages, mask, grad_accum):
    """verl's actor loss for one micro-batch: PPO clip (+ dual clip), token-mean, low_var_kl, /
    accumulation."""
    neg_kl = torch.clamp(logp - old_logp, -20.0, 20.0)
    ratio = torch.exp(neg_kl)
    adv = advantages[:, None]
    losses1 = -adv * ratio
    losses2 = -adv * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)
    clipped1 = torch.maximum(losses1, losses2)
    clipped2 = torch.minimum(-adv * CLIP_RATIO_C, clipped1)
    pg_losses = torch.where(adv < 0, clipped2, clipped1)
    pg_loss = (pg_losses * mask).sum() / mask.sum()
    kl = torch.clamp(ref_logp - logp, -20.0, 20.0)
    kld = torch.clamp(torch.exp(kl) - kl - 1, -10.0, 10.0)
    kl_loss = (kld * mask).sum() / mask.sum()
    return (pg_loss + KL_COEF * kl_loss) / grad_accum


def plain_completion_logps(model, input_ids, attention_mask, completion_len):
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
    logits = logits[:, -completion_len - 1 : -1]
    completion = input_ids[:, -completion_len:]
    return logits.log_softmax(-1).gather(-1, completion[..., None])[..., 0]


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    cfg = train_config(
        "qwen3_vl",
        tmp_path_factory.mktemp("loss"),
        loss_type="bnpo",
        beta=KL_COEF,
        epsilon=CLIP,
        global_batch=4,
        num_generations=2,
        per_device_batch=4,
    )
    with one_thread():
        yield build_trainer(cfg, reward_funcs=[varied_reward])


def fixed_batch(trainer):
    """4 text rows, left-padded prompts, completions of 7/5/3/1 tokens, old and reference log-probs within 0.5
    of the policy's (ratios 0.6-1.65: clipped at 0.8/1.2, inside verl's dual-clip bound of 3)."""
    gen = torch.Generator().manual_seed(0)
    B, P, T = 4, 6, 7
    prompt_ids = torch.randint(10, 300, (B, P), generator=gen)
    prompt_mask = torch.ones(B, P, dtype=torch.long)
    prompt_mask[0, :2] = 0
    prompt_ids[0, :2] = trainer.processing_class.tokenizer.pad_token_id
    completion_ids = torch.randint(10, 300, (B, T), generator=gen)
    completion_mask = torch.zeros(B, T, dtype=torch.long)
    for row, length in enumerate((7, 5, 3, 1)):
        completion_mask[row, :length] = 1
    ids = torch.cat([prompt_ids, completion_ids], 1)
    logp = plain_completion_logps(trainer.model, ids, torch.cat([prompt_mask, completion_mask], 1), T)
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": torch.tensor([1.3, -0.7, 0.4, -1.1]),
        "old_per_token_logps": logp + (torch.rand(B, T, generator=gen) - 0.5),
        "ref_per_token_logps": logp + (torch.rand(B, T, generator=gen) - 0.5),
        "num_items_in_batch": completion_mask.sum(),
    }, logp


def test_trl_bnpo_equals_verl_token_mean_over_accumulation(trainer):
    batch, logp = fixed_batch(trainer)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = ACCUM  # what the training loop sets for each step
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(trainer.model, batch))
    oracle = verl_policy_loss(
        logp,
        batch["old_per_token_logps"],
        batch["ref_per_token_logps"],
        batch["advantages"],
        batch["completion_mask"].float(),
        ACCUM,
    )
    ratio = torch.exp(logp - batch["old_per_token_logps"])[batch["completion_mask"].bool()]
    assert bool((ratio < 1 - CLIP).any()) and bool((ratio > 1 + CLIP).any())  # clipping is exercised
    assert trl_loss == pytest.approx(float(oracle), abs=1e-6)


def _trl_grads(trainer, batch):
    trainer.model.zero_grad()
    trainer.compute_loss(trainer.model, batch).backward()
    grads = [None if p.grad is None else p.grad.clone() for p in trainer.model.parameters()]
    trainer.model.zero_grad()
    return grads


def _verl_grads(trainer, batch):
    trainer.model.zero_grad()
    T = batch["completion_ids"].shape[1]
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    logits = trainer.model(input_ids=ids, attention_mask=mask).logits.float()[:, -T - 1 : -1]
    logp = logits.log_softmax(-1).gather(-1, batch["completion_ids"][..., None])[..., 0]
    old, ref = batch["old_per_token_logps"], batch["ref_per_token_logps"]
    mask = batch["completion_mask"].float()
    verl_policy_loss(logp, old, ref, batch["advantages"], mask, ACCUM).backward()
    grads = [None if p.grad is None else p.grad.clone() for p in trainer.model.parameters()]
    trainer.model.zero_grad()
    return grads


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))


def test_gradients_equal_verl(trainer):
    """The gradients agree too. TRL's default importance weighting of the KL term changes the gradient (the
    ratio is differentiable): the config turns it off, and turning it back on breaks the agreement."""
    batch, _ = fixed_batch(trainer)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = ACCUM
    assert trainer.args.use_bias_correction_kl is False
    verl = _verl_grads(trainer, batch)
    assert sum(g is not None for g in verl) > 10
    assert all(_same(a, b) for a, b in zip(_trl_grads(trainer, batch), verl))
    trainer.args.use_bias_correction_kl = True
    try:
        weighted = _trl_grads(trainer, batch)
    finally:
        trainer.args.use_bias_correction_kl = False
    assert not all(_same(a, b) for a, b in zip(weighted, verl))


def test_the_per_sequence_mean_is_a_different_loss(trainer):
    """Contrast (the oracle has teeth): TRL's `grpo` aggregation (mean of per-sequence means) on the same
    batch, with completions of different lengths, is not verl's token-mean."""
    batch, logp = fixed_batch(trainer)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = ACCUM
    trainer.loss_type = "grpo"
    try:
        with torch.no_grad():
            grpo_loss = float(trainer.compute_loss(trainer.model, batch))
    finally:
        trainer.loss_type = "bnpo"
    oracle = verl_policy_loss(
        logp,
        batch["old_per_token_logps"],
        batch["ref_per_token_logps"],
        batch["advantages"],
        batch["completion_mask"].float(),
        ACCUM,
    )
    assert abs(grpo_loss - float(oracle)) > 1e-3


def test_paper_preset_is_bnpo_with_the_released_micro_batch():
    assert PAPER["loss_type"] == "bnpo" and PAPER["per_device_batch"] == 8
