"""TRL reward function: each completion scored by ``videossr.tasks.rewards.reward`` for its row's ``task``.

TRL calls reward functions with the completions and every dataset column as a list (``task``, ``answer``, ...),
plus ``log_metric``; the mean reward of each task in the batch is logged as ``reward/<task>`` (every logging
step; the CLI logs every step).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from videossr.tasks.rewards import reward

REWARD_MODES: tuple[str, ...] = ("smooth", "strict")


def completion_text(completion: Any) -> str:
    """The assistant text of a TRL completion (a string, or a list of messages with string or block content)."""
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


def task_means(tasks: list[str], rewards: list[float]) -> dict[str, float]:
    acc: dict[str, list[float]] = defaultdict(list)
    for t, r in zip(tasks, rewards):
        acc[t].append(r)
    return {t: sum(v) / len(v) for t, v in sorted(acc.items())}


def make_reward_fn(mode: str = "smooth") -> Callable[..., list[float]]:
    """The reward function for ``GRPOTrainer(reward_funcs=[...])``; ``mode`` is ``smooth`` (paper) or ``strict``."""
    if mode not in REWARD_MODES:
        raise ValueError(f"--reward must be one of {', '.join(REWARD_MODES)}, got {mode!r}")
    strict = mode == "strict"

    def videossr_reward(completions, task, answer, log_metric=None, **_: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        rewards = [float(reward(t, c, a, strict=strict)) for t, c, a in zip(task, texts, answer)]
        if log_metric is not None:
            for t, m in task_means(list(task), rewards).items():
                log_metric(f"reward/{t}", m)
        return rewards

    videossr_reward.__name__ = f"videossr_{mode}"
    return videossr_reward
