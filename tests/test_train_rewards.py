"""The TRL reward function dispatches videossr.tasks.rewards by each row's task and logs every reward under
its task, so that TRL's cross-rank average (sum of all values / their count) weights each completion
equally."""

from __future__ import annotations

from collections import defaultdict

import pytest
from videossr.tasks.rewards import reward
from videossr.train.rewards import completion_text, make_reward_fn, task_means


def _conv(text):
    return [{"role": "assistant", "content": text}]


def test_dispatch_per_task_smooth_and_strict():
    tasks = ["grounding", "grounding", "counting", "counting", "jigsaw", "jigsaw"]
    answers = ["2.0-4.0", "2.0-4.0", "1,2,3", "1,2,3", "341562", "341562"]
    completions = [_conv(t) for t in ["2.0-4.0", "3.0-4.0", "1,2,3", "2,2,3", "341562", "341526"]]
    logged = defaultdict(list)
    smooth = make_reward_fn("smooth")(
        completions, task=tasks, answer=answers, log_metric=lambda k, v: logged[k].append(v)
    )
    for c, t, a, r in zip(completions, tasks, answers, smooth):
        assert r == pytest.approx(reward(t, c[0]["content"], a))
    assert smooth[0] == pytest.approx(1.0) and smooth[1] == pytest.approx(0.5)
    assert smooth[3] == pytest.approx((0.0 + 1 + 1) / 3)
    assert 0 < smooth[5] < 1
    strict = make_reward_fn("strict")(completions, task=tasks, answer=answers)
    assert strict == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert dict(logged) == {
        "reward/counting": [pytest.approx(1.0), pytest.approx(smooth[3])],
        "reward/grounding": [pytest.approx(1.0), pytest.approx(0.5)],
        "reward/jigsaw": [pytest.approx(1.0), pytest.approx(smooth[5])],
    }


def test_task_means_across_ranks_weigh_every_completion():
    """Two ranks with 3 and 1 grounding completions: TRL averages all logged values (sum / count), so the
    logged mean is the mean over the 4 completions, not the mean of the two rank means."""
    fn = make_reward_fn("smooth")
    pending = [defaultdict(list), defaultdict(list)]  # TRL's per-rank _pending_metrics
    rank_batches = [
        (["2.0-4.0", "9.0-9.5", "3.0-4.0"], ["grounding"] * 3),
        (["2.0-4.0"], ["grounding"]),
    ]
    for rank, (texts, tasks) in enumerate(rank_batches):
        completions = [_conv(t) for t in texts]
        log = pending[rank]
        fn(
            completions,
            task=tasks,
            answer=["2.0-4.0"] * len(texts),
            log_metric=lambda k, v, log=log: log[k].append(v),
        )
    values = [v for rank in pending for v in rank["reward/grounding"]]
    assert sum(values) / len(values) == pytest.approx((1.0 + 0.0 + 0.5 + 1.0) / 4)
    rank_means = [sum(r["reward/grounding"]) / len(r["reward/grounding"]) for r in pending]
    assert sum(values) / len(values) != pytest.approx(sum(rank_means) / 2)


def test_unparseable_scores_zero_and_bad_mode_rejected():
    fn = make_reward_fn()
    assert fn([_conv("I think it is 5")], task=["grounding"], answer=["1.0-2.0"]) == [0.0]
    with pytest.raises(ValueError, match="--reward must be one of"):
        make_reward_fn("lenient")
    with pytest.raises(ValueError, match="unknown task"):
        fn([_conv("1")], task=["dancing"], answer=["1"])


def test_completion_formats():
    assert completion_text("1-2") == "1-2"
    assert completion_text(_conv("1-2")) == "1-2"
    assert (
        completion_text(
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "1-"}, {"type": "text", "text": "2"}],
                }
            ]
        )
        == "1-2"
    )
    assert task_means(["a", "b", "a"], [1.0, 0.5, 0.0]) == {"a": 0.5, "b": 0.5}
