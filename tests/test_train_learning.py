"""Learning test: with a reward that prefers one fixed answer, the mean reward rises within 16 GRPO steps.

The reward is the share of completion tokens that belong to a fixed answer text (the counting question), so
it is dense from the start (about 5% for a random tiny model) and maximal for answers made of that text.
"""

from __future__ import annotations

import pytest
from _train_helpers import one_thread, train_config
from transformers import AutoTokenizer
from videossr.tasks.prompts import COUNTING_QUESTION
from videossr.train.session import build_trainer

pytestmark = pytest.mark.slow


def test_mean_reward_rises(tmp_path):
    cfg = train_config(
        "qwen3_vl",
        tmp_path,
        learning_rate=3e-2,
        max_steps=16,
        beta=0.0,
        num_generations=8,
        global_batch=2,
        per_device_batch=16,
        max_completion_length=4,
        dataset_config="grounding",
    )
    tok = AutoTokenizer.from_pretrained(cfg.model)
    answer_tokens = set(tok(COUNTING_QUESTION)["input_ids"])

    def prefers_fixed_answer(completion_ids, **_):
        return [sum(t in answer_tokens for t in ids) / max(1, len(ids)) for ids in completion_ids]

    with one_thread():
        trainer = build_trainer(cfg, reward_funcs=[prefers_fixed_answer])
        trainer.train()
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    assert len(rewards) == 16
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert first < 0.3, rewards
    assert last > first + 0.3, f"mean reward did not rise: {[round(r, 2) for r in rewards]}"
