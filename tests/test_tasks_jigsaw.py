"""Temporal jigsaw: the answer restores the source order of the shown clips."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _tasks_helpers import DEFAULT_INFO, decode, spec_grid, spec_times
from videossr.tasks import TaskSpec, VideoInfo, VideoTooShort, jigsaw, make_sample, plan_sample


def jigsaw_sample(preset: str, seed: int, params: dict | None = None, info: VideoInfo = DEFAULT_INFO):
    plan = plan_sample(TaskSpec("jigsaw", preset, params or {}), info, np.random.default_rng(seed))
    frames = decode(info, plan.times)
    return plan, frames, make_sample(plan, frames)


@pytest.mark.parametrize(("preset", "n"), [("easy", 6), ("hard", 8)])
@pytest.mark.parametrize("seed", range(8))
def test_applying_the_answer_restores_the_source_order(preset, n, seed):
    _, frames, sample = jigsaw_sample(preset, seed)
    assert len(sample.clips) == n and sample.difficulty == preset and sample.subtype == preset
    assert sorted(sample.answer) == [str(k) for k in range(1, n + 1)]
    order = jigsaw.restore_order(sample.answer)
    restored_times = np.concatenate([sample.frame_times[p] for p in order])
    assert np.all(np.diff(restored_times) > 0)
    assert np.allclose(restored_times, spec_times(DEFAULT_INFO))
    restored = np.concatenate([sample.clips[p] for p in order])
    assert np.array_equal(restored, frames)
    # Shown as they are, the clips are out of order.
    shown_times = np.concatenate(sample.frame_times)
    assert not np.all(np.diff(shown_times) > 0)


@pytest.mark.parametrize(("preset", "n"), [("easy", 6), ("hard", 8)])
def test_each_clip_is_a_run_of_contiguous_source_frames(preset, n):
    _, interval = spec_grid(DEFAULT_INFO)
    step = interval / DEFAULT_INFO.fps
    for seed in range(5):
        _, _, sample = jigsaw_sample(preset, seed)
        starts = set()
        for clip, times in zip(sample.clips, sample.frame_times):
            assert clip.shape[0] == 48 // n == len(times)
            assert np.allclose(np.diff(times), step)  # consecutive frames of the sampling grid
            assert np.array_equal(clip, decode(DEFAULT_INFO, times))  # the pixels are those source frames
            starts.add(round(times[0] * DEFAULT_INFO.fps))
        grid_start = spec_grid(DEFAULT_INFO)[0]
        assert starts == {grid_start + k * (48 // n) * interval for k in range(n)}  # equal, non-overlapping
        assert sample.fps == [pytest.approx(1 / step)] * n


def test_never_the_identity_and_every_order_is_possible():
    seen = set()
    for seed in range(3000):
        plan = plan_sample(
            TaskSpec("jigsaw", "custom", {"num_clips": 3}), DEFAULT_INFO, np.random.default_rng(seed)
        )
        shown = tuple(plan.params["shown_order"])
        assert shown != (0, 1, 2)
        seen.add(shown)
    assert seen == set(itertools.permutations(range(3))) - {(0, 1, 2)}
    for preset, identity in (("easy", "123456"), ("hard", "12345678")):
        for seed in range(500):
            plan = plan_sample(TaskSpec("jigsaw", preset), DEFAULT_INFO, np.random.default_rng(seed))
            assert jigsaw.answer_from_shown_order(plan.params["shown_order"]) != identity


def test_answer_is_the_play_order_of_the_positions_shown():
    """The paper's answer: answer[k] is the 1-based position at which original clip k is shown."""
    # Worked by hand: shown = [clip 3, clip 6, clip 1, clip 2, clip 5, clip 4] (1-based).
    # Clip 1 is at position 3, clip 2 at 4, clip 3 at 1, clip 4 at 6, clip 5 at 5, clip 6 at 2.
    assert jigsaw.answer_from_shown_order([2, 5, 0, 1, 4, 3]) == "341652"
    assert jigsaw.restore_order("341652") == [2, 3, 0, 5, 4, 1]
    for seed in range(20):
        plan, _, sample = jigsaw_sample("hard", seed)
        shown = plan.params["shown_order"]
        for k, ch in enumerate(sample.answer):
            assert shown[int(ch) - 1] == k


def test_question_has_one_clip_line_per_clip():
    for preset, n in (("easy", 6), ("hard", 8)):
        _, _, sample = jigsaw_sample(preset, 0)
        lines = sample.question.split("\n")
        assert lines[:n] == [f"Clip {i}: <video>" for i in range(1, n + 1)]
        assert sample.question.count("<video>") == n
        assert lines[n].startswith(f"This video is presented as {n} separate clips")


def test_custom_clip_counts():
    _, frames, sample = jigsaw_sample("custom", 1, {"num_clips": 4})
    assert len(sample.clips) == 4 and len(sample.answer) == 4 and sample.subtype == "custom"
    restored = np.concatenate([sample.clips[p] for p in jigsaw.restore_order(sample.answer)])
    assert np.array_equal(restored, frames)
    with pytest.raises(ValueError, match="7"):
        TaskSpec("jigsaw", "custom", {"num_clips": 7})  # 48 frames do not split into 7 equal clips
    with pytest.raises(ValueError):
        TaskSpec("jigsaw", "custom", {"num_clips": 12})  # one answer digit per clip


def test_too_short_video_and_wrong_frames():
    short = VideoInfo(duration=2.0, fps=25.0, num_frames=50, width=64, height=48)
    with pytest.raises(VideoTooShort):
        plan_sample(TaskSpec("jigsaw", "easy"), short, np.random.default_rng(0))
    plan = plan_sample(TaskSpec("jigsaw", "easy"), DEFAULT_INFO, np.random.default_rng(0))
    with pytest.raises(ValueError):
        make_sample(plan, decode(DEFAULT_INFO, plan.times)[:40])
