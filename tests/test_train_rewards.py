"""The TRL reward function dispatches videossr.tasks.rewards by each row's task and logs per-task means."""

from __future__ import annotations

import pytest
from videossr.tasks.rewards import reward
from videossr.train.rewards import completion_text, make_reward_fn, task_means


def _conv(text):
    return [{"role": "assistant", "content": text}]


def test_dispatch_per_task_smooth_and_strict():
    tasks = ["grounding", "grounding", "counting", "counting", "jigsaw", "jigsaw"]
    answers = ["2.0-4.0", "2.0-4.0", "1,2,3", "1,2,3", "341562", "341562"]
    completions = [_conv(t) for t in ["2.0-4.0", "3.0-4.0", "1,2,3", "2,2,3", "341562", "341526"]]
    logged = {}
    smooth = make_reward_fn("smooth")(completions, task=tasks, answer=answers, log_metric=logged.__setitem__)
    for c, t, a, r in zip(completions, tasks, answers, smooth):
        assert r == pytest.approx(reward(t, c[0]["content"], a))
    assert smooth[0] == pytest.approx(1.0) and smooth[1] == pytest.approx(0.5)
    assert smooth[3] == pytest.approx((0.0 + 1 + 1) / 3)
    assert 0 < smooth[5] < 1
    strict = make_reward_fn("strict")(completions, task=tasks, answer=answers)
    assert strict == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert logged == {
        "reward/counting": pytest.approx((1 + smooth[3]) / 2),
        "reward/grounding": pytest.approx(0.75, abs=1e-6),
        "reward/jigsaw": pytest.approx((1 + smooth[5]) / 2),
    }


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
