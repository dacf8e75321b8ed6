"""TRL reward function: each completion scored by ``videossr.tasks.rewards.reward`` for its row's ``task``.

TRL calls reward functions with the completions and every dataset column as a list (``task``, ``answer``,
...), plus ``log_metric``. Each completion's reward is also logged as ``reward/<task>``: TRL averages a logged
metric as the sum over all values of all ranks divided by their count, so the per-task curve is the mean over
every completion of that task, whatever the number per rank.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from videossr.tasks.rewards import reward

from .config import REWARD_MODES


def completion_text(completion: Any) -> str:
    """The assistant text of a TRL completion (a string, or messages with string or block content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        texts = []
        for message in completion:
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                content = message.get("content")
                if isinstance(content, str):
                    texts.append(content)
                elif isinstance(content, list):
                    texts.extend(p.get("text", "") for p in content if isinstance(p, dict))
        return "".join(texts)
    return str(completion)


def task_means(tasks: Sequence[str], rewards: Sequence[float]) -> dict[str, float]:
    acc: dict[str, list[float]] = defaultdict(list)
    for t, r in zip(tasks, rewards):
        acc[t].append(r)
    return {t: sum(v) / len(v) for t, v in sorted(acc.items())}


def log_task_rewards(
    log_metric: Callable[[str, float], None], tasks: Sequence[str], rewards: Sequence[float]
):
    """Log every reward under ``reward/<task>`` (one value per completion, so means weight by count)."""
    for task, value in zip(tasks, rewards):
        log_metric(f"reward/{task}", float(value))


def make_reward_fn(mode: str = "smooth") -> Callable[..., list[float]]:
    """The reward function for ``GRPOTrainer(reward_funcs=[...])``; ``mode`` is ``smooth`` (paper) or
    ``strict``."""
    if mode not in REWARD_MODES:
        raise ValueError(f"--reward must be one of {', '.join(REWARD_MODES)}, got {mode!r}")
    strict = mode == "strict"

    def videossr_reward(completions, task, answer, log_metric=None, **_: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        rewards = [float(reward(t, c, a, strict=strict)) for t, c, a in zip(task, texts, answer)]
        if log_metric is not None:
            log_task_rewards(log_metric, task, rewards)
        return rewards

    videossr_reward.__name__ = f"videossr_{mode}"
    return videossr_reward
