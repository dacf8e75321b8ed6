"""Object counting: samples drawn on black frames are counted with an independent method
(8-connected components, classified by geometry) and must count exactly to their answers."""

from __future__ import annotations

import itertools
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from _tasks_helpers import (
    black_counting_sample,
    check_counting_seeds,
    components,
    count_by_kind,
    counting_problems,
    decode,
)
from videossr.tasks import (
    AmbiguousSample,
    SampleRejected,
    TaskSpec,
    VideoInfo,
    counting,
    make_sample,
    plan_sample,
)
from videossr.tasks.counting import CountingConfig, paint, shape_mask


def test_independent_counter_on_hand_drawn_shapes():
    """The test's own counter, checked on shapes drawn here with plain numpy (no code under test)."""
    h, w = 90, 120
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    clip = np.zeros((3, h, w, 3), dtype=np.uint8)
    # frame 0: two circles; frame 1: a square rotated 30 degrees and an axis-aligned one; frame 2: triangles
    clip[0][(xs - 30) ** 2 + (ys - 40) ** 2 <= 12**2] = (200, 60, 60)
    clip[0][(xs - 85) ** 2 + (ys - 50) ** 2 <= 7**2] = (60, 200, 60)
    u, v = (
        (xs - 35) * math.cos(0.5236) + (ys - 45) * math.sin(0.5236),
        -(xs - 35) * math.sin(0.5236) + (ys - 45) * math.cos(0.5236),
    )
    clip[1][(np.abs(u) <= 11) & (np.abs(v) <= 11)] = (90, 90, 250)
    clip[1][(np.abs(xs - 90) <= 8) & (np.abs(ys - 40) <= 8)] = (250, 250, 90)
    for cx, cy, side, color in ((35, 50, 30, (100, 180, 220)), (90, 40, 18, (220, 100, 180))):
        height = side * math.sqrt(3) / 2
        top = cy - 2 * height / 3
        inside = (ys >= top) & (ys <= top + height) & (np.abs(xs - cx) <= (ys - top) / math.sqrt(3))
        clip[2][inside] = color
    comps = components(clip)
    assert [(c.frame, c.kind) for c in sorted(comps, key=lambda c: (c.frame, c.centroid))] == [
        (0, "circle"),
        (0, "circle"),
        (1, "square"),
        (1, "square"),
        (2, "triangle"),
        (2, "triangle"),
    ]
    assert count_by_kind(comps) == (2, 2, 2)
    assert all(c.single_color and not c.touches_border for c in comps)
    # Touching shapes of two colours are one component with two colours; a shape on the edge touches it.
    clip[0][(xs - 50) ** 2 + (ys - 40) ** 2 <= 9**2] = (10, 10, 240)
    clip[2][:5, :5] = (255, 255, 255)
    comps = components(clip)
    assert any(not c.single_color for c in comps if c.frame == 0)
    assert any(c.touches_border for c in comps if c.frame == 2)


@pytest.mark.parametrize("preset", ["easy", "hard"])
def test_counts_equal_the_answer_with_every_layout_rule(preset):
    """A few hundred seeds with readable failures (the 10,000-sample test below checks the same rules)."""
    for seed in range(300):
        plan, sample = black_counting_sample(seed, preset)
        assert counting_problems(sample, preset) == [], f"seed {seed}"
        assert sample.task == "counting" and sample.subtype == preset and sample.difficulty == preset
        shapes = plan.params["shapes"]
        assert sample.answer == ",".join(str(sum(s["type"] == k for s in shapes)) for k in SHAPE_NAMES)
        # Frames without shapes stay black; frames with shapes are exactly the planned ones.
        painted = set(np.flatnonzero(sample.clips[0].reshape(48, -1).any(axis=1)).tolist())
        assert painted == {s["frame"] for s in shapes}


SHAPE_NAMES = ("circle", "square", "triangle")


def test_10000_counting_samples_count_exactly_to_their_answers():
    """Issue acceptance: 10,000 samples (easy and hard, 64x48..128x96 frames of varied aspect) drawn on black
    frames count exactly to their answers, with no overlap, no cut shape and every layout rule kept."""
    seeds = list(range(10_000))
    workers = max(1, min(4, os.cpu_count() or 1))
    chunks = [seeds[i::workers] for i in range(workers)]
    t0 = time.monotonic()
    if workers == 1:
        results = [check_counting_seeds(seeds)]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(check_counting_seeds, chunks))
    problems = [p for r, _ in results for p in r]
    samples = sum(s["samples"] for _, s in results)
    assert samples == 10_000
    assert problems == [], f"{len(problems)} problems, first: {problems[:10]}"
    # The count ranges are used in full: easy up to 9, hard beyond 9 ([1, 9] and [1, 16]).
    assert max(s["max_easy"] for _, s in results) == 9
    assert max(s["max_hard"] for _, s in results) > 12
    print(f"10,000 counting samples checked in {time.monotonic() - t0:.1f} s with {workers} workers")


def test_shapes_are_painted_exactly_over_the_video():
    info = VideoInfo(duration=40.0, fps=24.0, num_frames=960, width=96, height=64)
    plan = plan_sample(TaskSpec("counting", "hard"), info, np.random.default_rng(3))
    frames = decode(info, plan.times)
    sample = make_sample(plan, frames)
    on_black = make_sample(plan, np.zeros_like(frames)).clips[0]
    painted = on_black.any(axis=-1)
    out = sample.clips[0]
    assert np.array_equal(out[~painted], frames[~painted])
    # Every shape pixel has its shape's final colour: the drawn one, or its mirror 305 - c where the drawn
    # colour would not stand out from the picture under it.
    expected = frames.copy()
    for f in {s["frame"] for s in sample.params["shapes"]}:
        expected[f] = counting.paint(frames[f], [s for s in sample.params["shapes"] if s["frame"] == f])
    assert np.array_equal(out, expected)
    for drawn, final in zip(plan.params["shapes"], sample.params["shapes"]):
        assert final["color"] in (drawn["color"], [305 - c for c in drawn["color"]])
        assert all(50 <= c <= 255 for c in final["color"])
    assert np.array_equal(frames, decode(info, plan.times))  # the decoded frames are not modified


def test_a_shape_that_would_not_stand_out_gets_the_mirrored_colour_or_the_sample_is_rejected():
    info = VideoInfo(duration=40.0, fps=24.0, num_frames=960, width=96, height=64)
    plan = plan_sample(TaskSpec("counting", "easy"), info, np.random.default_rng(5))
    first = plan.params["shapes"][0]
    frames = np.zeros((48, 64, 96, 3), dtype=np.uint8)
    frames[:] = np.asarray(first["color"], dtype=np.uint8)  # the whole video has the first shape's colour
    sample = make_sample(plan, frames)
    assert sample.params["shapes"][0]["color"] == [305 - c for c in first["color"]]
    assert plan.params["shapes"][0]["color"] == first["color"]  # the plan is not modified
    # A grey that both the colour and its mirror sit close to: nothing can stand out.
    grey = plan_sample(TaskSpec("counting", "easy"), info, np.random.default_rng(5))
    for s in grey.params["shapes"]:
        s["color"] = [152, 152, 152]  # 305 - 152 = 153
    with pytest.raises(AmbiguousSample, match="cannot stand out"):
        make_sample(grey, np.full((48, 64, 96, 3), 152, dtype=np.uint8))


def test_painted_pixels_are_the_shape_masks_and_nothing_else():
    for seed in range(20):
        plan, sample = black_counting_sample(seed, "easy", size=(80, 60))
        union = np.zeros((48, 60, 80), dtype=bool)
        for s in plan.params["shapes"]:
            mask = shape_mask(s, 60, 80)
            assert not (union[s["frame"]] & mask).any()  # no two shapes share a pixel
            union[s["frame"]] |= mask
            assert (sample.clips[0][s["frame"]][mask] == s["color"]).all()
        assert np.array_equal(sample.clips[0].any(axis=-1), union)


def test_shape_parameters():
    for seed in range(200):
        plan, _ = black_counting_sample(seed, "hard")
        w, h = plan.params["frame_size"]
        for s in plan.params["shapes"]:
            assert s["type"] in SHAPE_NAMES
            assert all(50 <= c <= 255 for c in s["color"])
            assert 0.0 <= s["angle"] < 360.0
            if s["type"] == "circle":
                assert s["angle"] == 0.0
            # Circumscribed circle fully inside the frame (nothing cut by the edge).
            radius = (
                s["size"]
                * {"circle": 0.5, "square": math.sqrt(2) / 2, "triangle": 1 / math.sqrt(3)}[s["type"]]
            )
            cx, cy = s["center"]
            assert radius <= cx <= w - radius and radius <= cy <= h - radius
    angles = [
        s["angle"] for seed in range(50) for s in black_counting_sample(seed, "easy")[0].params["shapes"]
    ]
    assert max(angles) > 300 and min(a for a in angles if a > 0) < 60  # rotations are drawn over 0..360


def test_layout_statistics_follow_the_presets():
    frames_used = {"easy": set(), "hard": set()}
    instances = {"easy": set(), "hard": set()}
    for seed in range(400):
        for preset in ("easy", "hard"):
            plan, _ = black_counting_sample(seed, preset, size=(96, 72))
            for _kind, fs in plan.params["frames_per_shape"].items():
                frames_used[preset].add(len(fs))
                for f in fs:
                    instances[preset].add(sum(1 for s in plan.params["shapes"] if s["frame"] == f))
    assert frames_used == {"easy": {1, 2, 3}, "hard": {1, 2, 3, 4}}
    assert instances == {"easy": {1, 2, 3}, "hard": {1, 2, 3, 4}}


def test_custom_parameters():
    spec = TaskSpec("counting", "custom", {"max_frames_per_shape": 5, "max_instances_per_frame": 2})
    for seed in range(50):
        info = VideoInfo(duration=20.0, fps=10.0, num_frames=200, width=96, height=72)
        plan = plan_sample(spec, info, np.random.default_rng(seed))
        assert plan.subtype == "custom"
        for fs in plan.params["frames_per_shape"].values():
            assert 1 <= len(fs) <= 5 and all(b - a > 8 for a, b in itertools.pairwise(fs))
        assert all(1 <= c <= 10 for c in plan.params["counts"])
    assert TaskSpec("counting", "easy", {"max_instances_per_frame": 4}).config().max_instances_per_frame == 4


def test_impossible_configurations_are_rejected():
    with pytest.raises(ValueError):
        CountingConfig(max_frames_per_shape=7)  # 7 frames more than 8 apart do not fit in 48
    with pytest.raises(ValueError):
        TaskSpec("counting", "custom", {"max_frames_per_shape": 0})
    with pytest.raises(ValueError):
        TaskSpec("counting", "custom", {"size_range": (0.5, 0.2)})
    # A frame too small for the layout is rejected rather than emitted with overlapping shapes.
    tiny = VideoInfo(duration=20.0, fps=10.0, num_frames=200, width=12, height=10)
    with pytest.raises(SampleRejected):
        plan_sample(TaskSpec("counting", "hard", {"max_attempts": 5}), tiny, np.random.default_rng(0))


def test_wrong_frame_size_is_an_error():
    plan, _ = black_counting_sample(0, "easy", size=(80, 60))
    with pytest.raises(ValueError, match="80x60"):
        make_sample(plan, np.zeros((48, 80, 60, 3), dtype=np.uint8))


def test_paint_does_not_modify_its_input():
    plan, _ = black_counting_sample(1, "easy", size=(80, 60))
    frame = np.zeros((60, 80, 3), dtype=np.uint8)
    shapes = [s for s in plan.params["shapes"] if s["frame"] == plan.params["shapes"][0]["frame"]]
    out = paint(frame, shapes)
    assert not frame.any() and out.any()
