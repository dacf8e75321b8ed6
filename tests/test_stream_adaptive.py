"""Adaptive difficulty without a model: the ladders give valid task specs at every offset, the controller
moves each task toward the zero-variance band and keeps its state across a checkpoint, and the schedule hands
the decisions to other processes after its lag."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import pytest
from videossr.build.recipes import load_recipe
from videossr.stream import (
    BOUNDS,
    AdaptiveController,
    AdaptiveSettings,
    Group,
    Levels,
    LevelSchedule,
    spec_at,
)
from videossr.stream.difficulty import EASY_PERTURBATIONS, HARD_PERTURBATIONS, clip_counts, segment_range
from videossr.tasks import TaskSpec


def groups(task: str, offset: int, solved: int, failed: int, mixed: int) -> list[Group]:
    out = [Group(task, offset, (1.0, 1.0, 1.0, 1.0)) for _ in range(solved)]
    out += [Group(task, offset, (0.0, 0.0, 0.0, 0.0)) for _ in range(failed)]
    return out + [Group(task, offset, (0.0, 1.0, 0.5, 1.0)) for _ in range(mixed)]


# ------------------------------------------------------------------------------------------- ladders


@pytest.mark.parametrize("recipe", ["videossr-30k", "viubench"])
def test_every_offset_gives_a_valid_spec_that_moves_the_way_it_says(recipe):
    for entry in load_recipe(recipe).mix:
        low, high = BOUNDS[entry.spec.task]
        rng = np.random.default_rng(0)
        configs = [spec_at(entry.spec, k, rng).config() for k in range(low, high + 1)]  # each validates
        if entry.spec.task == "counting":
            hardness = [c.max_frames_per_shape + c.max_instances_per_frame for c in configs]
        elif entry.spec.task == "jigsaw":
            hardness = [c.num_clips for c in configs]
        else:
            hardness = [-(c.min_segment + c.max_segment) for c in configs]
        assert hardness == sorted(hardness) and hardness[0] < hardness[-1], (entry.spec.key, hardness)
        assert spec_at(entry.spec, 0, rng) is entry.spec  # offset 0 is the recipe's own entry


def test_ladder_steps_match_the_papers_levels():
    easy = TaskSpec("counting", "easy")
    assert spec_at(easy, 1, np.random.default_rng(0)).config().difficulty == "hard"  # 3/3 -> 4/4
    jig = TaskSpec("jigsaw", "easy")
    assert [spec_at(jig, k, np.random.default_rng(0)).config().num_clips for k in (-3, -1, 0, 1, 2)] == [
        2,
        4,
        6,
        8,
        8,
    ]
    assert clip_counts(48) == [2, 3, 4, 6, 8]
    assert segment_range(8, 16, 48, 0) == (8, 16) and segment_range(8, 16, 48, 2) == (4, 8)
    assert segment_range(2, 4, 8, -3) == (6, 7)  # clamped below the frame count


def test_grounding_mix_swaps_a_growing_share_for_the_pools():
    spec = TaskSpec("grounding", "ZoomOut")
    for k, pool in ((3, HARD_PERTURBATIONS), (-3, EASY_PERTURBATIONS)):
        picked = [spec_at(spec, k, np.random.default_rng(i)).subtype for i in range(200)]
        assert set(picked) == set(pool)  # at 3 steps every row takes a pool perturbation
    one = [spec_at(spec, 1, np.random.default_rng(i)).subtype for i in range(600)]
    share = sum(s != "ZoomOut" for s in one) / len(one)
    assert 0.2 < share < 0.4, share  # a third of the rows, minus those that draw ZoomOut from the pool


def test_levels_refuse_offsets_outside_the_bounds():
    with pytest.raises(ValueError, match=r"jigsaw difficulty offset 3 is outside -3\.\.2"):
        Levels.of({"jigsaw": 3})
    assert Levels.of({"counting": 0, "jigsaw": -1}).as_dict() == {"jigsaw": -1}


# ------------------------------------------------------------------------------------------- controller


def test_too_easy_goes_harder_too_hard_goes_easier_inside_stays():
    c = AdaptiveController(["counting", "jigsaw", "grounding"], AdaptiveSettings((0.1, 0.5), window=8))
    c.observe(groups("counting", 0, solved=7, failed=0, mixed=1))
    c.observe(groups("jigsaw", 0, solved=0, failed=6, mixed=2))
    c.observe(groups("grounding", 0, solved=1, failed=1, mixed=6))
    assert c.levels.as_dict() == {"counting": 1, "jigsaw": -1}


def test_below_the_band_goes_harder():
    c = AdaptiveController(["counting"], AdaptiveSettings((0.2, 0.5), window=4))
    c.observe(groups("counting", 0, solved=0, failed=0, mixed=4))
    assert c.levels.offset("counting") == 1


def test_a_move_waits_for_a_full_window_at_the_new_offset():
    c = AdaptiveController(["counting"], AdaptiveSettings((0.1, 0.5), window=4))
    metrics = c.observe(groups("counting", 0, solved=4, failed=0, mixed=0))
    assert c.levels.offset("counting") == 1 and metrics["zero_std/counting"] == 1.0
    c.observe(groups("counting", 0, solved=8, failed=0, mixed=0))  # rows drawn before the move: no vote
    assert c.levels.offset("counting") == 1
    c.observe(groups("counting", 1, solved=3, failed=0, mixed=0))
    assert c.levels.offset("counting") == 1  # 3 of 4 groups so far
    metrics = c.observe(groups("counting", 1, solved=1, failed=0, mixed=0))
    assert c.levels.offset("counting") == 2 and metrics["adaptive/counting/offset"] == 2.0


def test_offsets_stop_at_the_ladder_bounds():
    c = AdaptiveController(["jigsaw"], AdaptiveSettings((0.1, 0.5), window=2))
    for _ in range(10):
        c.observe(groups("jigsaw", c.levels.offset("jigsaw"), solved=2, failed=0, mixed=0))
    assert c.levels.offset("jigsaw") == BOUNDS["jigsaw"][1]


def test_state_round_trips_through_a_checkpoint():
    settings = AdaptiveSettings((0.1, 0.5), window=6)
    a = AdaptiveController(["counting", "jigsaw"], settings)
    a.observe(groups("counting", 0, solved=6, failed=0, mixed=0) + groups("jigsaw", 0, 0, 2, 1))
    b = AdaptiveController(["counting", "jigsaw"], settings)
    b.load_state_dict(a.state_dict())
    more = groups("counting", 1, solved=5, failed=0, mixed=1) + groups("jigsaw", 0, 0, 3, 0)
    assert a.observe(more) == b.observe(more)
    assert a.state_dict() == b.state_dict() and a.levels == b.levels


def test_settings_refuse_a_bad_band():
    with pytest.raises(ValueError, match="0 <= low < high <= 1"):
        AdaptiveSettings((0.6, 0.2))


# ------------------------------------------------------------------------------------------- schedule


def test_rows_use_the_decision_lag_batches_back():
    s = LevelSchedule(["counting", "jigsaw"], batches=8, batch_size=4, lag=2)
    assert s.levels_for(7) == Levels()  # batch 1: nothing decided can apply yet
    s.record(0, Levels.of({"counting": 1}))
    s.record(1, Levels.of({"counting": 2, "jigsaw": -1}))
    assert s.levels_for(8).as_dict() == {"counting": 1}  # batch 2 <- decision after batch 0
    assert s.levels_for(15).as_dict() == {"counting": 2, "jigsaw": -1}
    with pytest.raises(ValueError, match="recorded after 2 batches"):
        s.record(3, Levels())
    restored = LevelSchedule(["counting", "jigsaw"], batches=8, batch_size=4, lag=2)
    restored.restore(s.history())
    assert [restored.levels_for(p) for p in range(16)] == [s.levels_for(p) for p in range(16)]


def _read_later(schedule: LevelSchedule, queue) -> None:
    start = time.monotonic()
    levels = schedule.levels_for(3 * schedule.batch_size, wait=30)
    queue.put((levels.as_dict(), time.monotonic() - start))


def test_a_worker_process_waits_for_the_decision_it_needs():
    s = LevelSchedule(["counting"], batches=4, batch_size=2, lag=2)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_read_later, args=(s, queue))
    worker.start()
    time.sleep(0.5)
    s.record(0, Levels())
    s.record(1, Levels.of({"counting": 2}))
    levels, waited = queue.get(timeout=30)
    worker.join(10)
    assert levels == {"counting": 2} and waited >= 0.4


def _read_too_early(schedule: LevelSchedule, queue) -> None:
    try:
        schedule.levels_for(5, wait=0.2)
    except RuntimeError as exc:
        queue.put(str(exc))


def test_a_stuck_trainer_times_out_and_the_trainer_never_waits_on_itself():
    s = LevelSchedule(["counting"], batches=4, batch_size=2, lag=1)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_read_too_early, args=(s, queue))
    worker.start()
    assert "is the trainer still running" in queue.get(timeout=30)
    worker.join(10)
    start = time.monotonic()
    with pytest.raises(
        RuntimeError, match="position 2 needs the difficulty decided after generation batch 0"
    ):
        s.levels_for(2, wait=60)  # in the recording process: at once, not after a minute
    assert time.monotonic() - start < 5
