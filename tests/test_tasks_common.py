"""What every task shares: determinism, the paper's prompts, the sampling grid, the sample model and
errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _tasks_helpers import DEFAULT_INFO, OTHER_INFO, decode, spec_grid, spec_times
from hypothesis import given, settings
from hypothesis import strategies as st
from videossr.tasks import (
    BUILTIN_PERTURBATIONS,
    PERTURBATIONS,
    SYSTEM_PROMPT,
    AmbiguousSample,
    Sample,
    SampleRejected,
    TaskSpec,
    VideoInfo,
    VideoTooShort,
    make_sample,
    plan_sample,
    resolve_secondary,
)
from videossr.tasks.prompts import jigsaw_instruction
from videossr.tasks.timeline import base_indices

SPECS = [TaskSpec("grounding", name) for name in sorted(BUILTIN_PERTURBATIONS)] + [
    TaskSpec("counting", "easy"),
    TaskSpec("counting", "hard"),
    TaskSpec("jigsaw", "easy"),
    TaskSpec("jigsaw", "hard"),
]
IDS = [spec.key for spec in SPECS]

# The reference code's prompts (pretext_tasks/*.py at b0d2acb), verbatim.
REF_SYSTEM = "Based on this video, provide the answer directly."
REF_GROUNDING = (
    "In a segment of this video, {description}. Your task is to identify the precise time interval of this "
    "change. Please only provide the start and end times in seconds, formatted as <start_time>-<end_time> "
    "(e.g., '14.5-26.2')."
)
REF_COUNTING = (
    "Count the number of circles, squares, and triangles that appear in this video. Be aware that the shapes "
    "can appear in any color and at any angle of rotation. They may be present on one or multiple frames, "
    "and any given frame can contain more than one shape. Provide the answer as three comma-separated "
    "numbers in the format: circles,squares,triangles. For example, if you see 3 circles, 1 square, and 4 "
    "triangles, your answer should be '3,1,4'."
)
REF_JIGSAW_6 = (
    "This video is presented as 6 separate clips, which are in a shuffled order. Your task is to determine "
    "the correct chronological sequence. Please output a six-digit number that specifies the order in which "
    "to play the clips you are seeing (labeled 1 through 6 by their position). For example, if you decide "
    "that the clip at position 3 of this video is the true beginning (the 1st clip of the original video), "
    "the clip at position 4 is the 2nd part, the clip at position 1 is the 3rd part, the clip at position 5 "
    "is the 4th part, the clip at position 6 is the 5th part, and finally the clip at position 2 is the 6th "
    "part, then your answer should be '341562'."
)
REF_JIGSAW_8 = (
    "This video is presented as 8 separate clips, which are in a shuffled order. Your task is to determine "
    "the correct chronological sequence. Please output an eight-digit number that specifies the order in "
    "which to play the clips you are seeing (labeled 1 through 8 by their position). For example, if you "
    "decide that the clip at position 5 of this video is the true beginning (the 1st clip of the original "
    "video), the clip at position 1 is the 2nd part, the clip at position 8 is the 3rd part, the clip at "
    "position 2 is the 4th part, the clip at position 7 is the 5th part, the clip at position 4 is the 6th "
    "part, the clip at position 6 is the 7th part, and finally the clip at position 3 is the 8th part, then "
    "your answer should be '51827463'."
)


def build(spec: TaskSpec, seed: int, info: VideoInfo = DEFAULT_INFO) -> tuple[object, Sample]:
    plan = plan_sample(spec, info, np.random.default_rng(seed))
    frames = decode(info, plan.times)
    secondary = None
    if plan.needs_secondary:
        secondary = decode(OTHER_INFO, resolve_secondary(plan, OTHER_INFO), seed=1)
    return plan, make_sample(plan, frames, secondary)


def fingerprint(sample: Sample) -> tuple:
    return (
        sample.answer,
        sample.question,
        sample.params_json(),
        tuple(c.tobytes() for c in sample.clips),
        tuple(t.tobytes() for t in sample.frame_times),
        tuple(sample.fps),
    )


# ----------------------------------------------------------------------------------------------------------
# Determinism


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_same_seed_same_sample(spec):
    plan_a, a = build(spec, 11)
    np.random.seed(123)  # the global numpy state must not matter
    plan_b, b = build(spec, 11)
    assert np.array_equal(plan_a.times, plan_b.times)
    assert fingerprint(a) == fingerprint(b)
    # make() is a pure function of the plan and the frames.
    frames = decode(DEFAULT_INFO, plan_a.times)
    secondary = None
    if plan_a.needs_secondary:
        secondary = decode(OTHER_INFO, plan_a.secondary_times, seed=1)
    before = frames.copy()
    np.random.seed(7)
    c = make_sample(plan_a, frames, secondary)
    assert fingerprint(c) == fingerprint(a)
    assert np.array_equal(frames, before)  # the decoded frames are not modified


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_different_seeds_differ(spec):
    for seed in (0, 1, 2):
        _, a = build(spec, seed)
        _, b = build(spec, seed + 1000)
        assert fingerprint(a) != fingerprint(b)
        assert a.params_json() != b.params_json()


def test_noise_differs_between_seeds_with_the_same_segment():
    """Noise is drawn from the plan's seed: two plans with the same segment still get different noise."""
    plans = {}
    for seed in range(400):
        plan = plan_sample(TaskSpec("grounding", "Noise"), DEFAULT_INFO, np.random.default_rng(seed))
        key = (plan.params["segment_start"], plan.params["segment_length"])
        if key in plans:
            first = plans[key]
            break
        plans[key] = plan
    else:
        pytest.fail("no two plans share a segment")
    frames = decode(DEFAULT_INFO, plan.times)
    a, b = make_sample(first, frames), make_sample(plan, frames)
    assert a.answer == b.answer and not np.array_equal(a.clips[0], b.clips[0])
    assert np.array_equal(make_sample(plan, frames).clips[0], b.clips[0])


# ----------------------------------------------------------------------------------------------------------
# Prompts


def test_system_prompt():
    assert SYSTEM_PROMPT == REF_SYSTEM


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_questions_are_the_papers_prompts(spec):
    _, sample = build(spec, 0)
    assert sample.system == REF_SYSTEM
    if spec.task == "grounding":
        description = PERTURBATIONS[spec.subtype].description
        assert sample.question == "<video>\n" + REF_GROUNDING.format(description=description)
    elif spec.task == "counting":
        assert sample.question == "<video>\n" + REF_COUNTING
    else:
        n = 6 if spec.subtype == "easy" else 8
        lines = "\n".join(f"Clip {i}: <video>" for i in range(1, n + 1))
        assert sample.question == lines + "\n" + (REF_JIGSAW_6 if n == 6 else REF_JIGSAW_8)
    assert sample.question.count("<video>") == len(sample.clips)


def test_grounding_prompt_quoted_in_the_spec():
    """The paper's grounding prompt (Appendix Fig. 9), with the ChannelSwap description."""
    _, sample = build(TaskSpec("grounding", "ChannelSwap"), 0)
    assert sample.question == (
        "<video>\nIn a segment of this video, the red and blue color channels in the video are swapped. Your "
        "task is to identify the precise time interval of this change. Please only provide the start and end "
        "times in seconds, formatted as <start_time>-<end_time> (e.g., '14.5-26.2')."
    )


def test_every_perturbation_has_its_own_question():
    questions = {build(TaskSpec("grounding", name), 0)[1].question for name in BUILTIN_PERTURBATIONS}
    assert len(questions) == 17


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 9])
def test_other_clip_counts_follow_the_papers_wording(n):
    text = jigsaw_instruction(n)
    assert text.startswith(f"This video is presented as {n} separate clips, which are in a shuffled order.")
    example = text.rsplit("your answer should be '", 1)[1].rstrip("'.")
    assert sorted(example) == [str(k) for k in range(1, n + 1)] and example != "".join(sorted(example))
    assert f"labeled 1 through {n} by their position" in text
    positions = [int(p.split()[0].rstrip(",")) for p in text.split("the clip at position ")[1:]]
    assert "".join(map(str, positions)) == example  # the worked example matches the answer it gives


# ----------------------------------------------------------------------------------------------------------
# The sampling grid and the sample model


@settings(max_examples=200, deadline=None)
@given(
    num_frames=st.integers(54, 100_000), fps=st.sampled_from([10.0, 23.976, 24.0, 25.0, 29.97, 30.0, 60.0])
)
def test_base_grid_is_the_papers(num_frames, fps):
    info = VideoInfo(duration=num_frames / fps, fps=fps, num_frames=num_frames, width=64, height=48)
    start, interval = spec_grid(info)
    if interval < 1:
        with pytest.raises(VideoTooShort):
            base_indices(info)
        return
    assert base_indices(info).tolist() == [start + i * interval for i in range(48)]


def test_base_grid_for_every_length_up_to_5000_frames():
    for num_frames in range(40, 5000):
        info = VideoInfo(duration=num_frames / 25.0, fps=25.0, num_frames=num_frames, width=64, height=48)
        start, interval = spec_grid(info)
        if interval < 1:
            with pytest.raises(VideoTooShort):
                base_indices(info)
        else:
            assert base_indices(info).tolist() == [start + i * interval for i in range(48)], num_frames


@pytest.mark.parametrize("spec", [s for s in SPECS if s.task != "grounding"], ids=lambda s: s.key)
def test_counting_and_jigsaw_use_the_base_grid(spec):
    plan, _ = build(spec, 0)
    assert np.allclose(plan.times, spec_times(DEFAULT_INFO))
    assert plan.frame_step == pytest.approx(spec_grid(DEFAULT_INFO)[1] / DEFAULT_INFO.fps)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_params_rederive_the_answer(spec):
    _, sample = build(spec, 5)
    params = json.loads(sample.params_json())
    if spec.task == "grounding":
        step = params["frame_step"]
        start, length = params["segment_start"], params["segment_length"]
        assert sample.answer == f"{start * step:.1f}-{(start + length) * step:.1f}"
        assert params["perturbation"] == spec.subtype
    elif spec.task == "counting":
        shapes = params["shapes"]
        expected = [sum(s["type"] == k for s in shapes) for k in ("circle", "square", "triangle")]
        assert sample.answer == ",".join(map(str, expected))
        assert all({"type", "center", "size", "angle", "color", "frame"} <= set(s) for s in shapes)
    else:
        shown = params["shown_order"]
        assert sample.answer == "".join(str(shown.index(k) + 1) for k in range(len(shown)))


def test_sample_validates_its_clips():
    clip = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    times = np.arange(4.0)
    kwargs = dict(
        task="counting", subtype="easy", difficulty="easy", system="s", question="q", answer="1,1,1"
    )
    Sample(**kwargs, clips=[clip], frame_times=[times], fps=[1.0], params={})
    with pytest.raises(ValueError, match="uint8"):
        Sample(**kwargs, clips=[clip.astype(np.float32)], frame_times=[times], fps=[1.0], params={})
    with pytest.raises(ValueError, match="frame times"):
        Sample(**kwargs, clips=[clip], frame_times=[times[:3]], fps=[1.0], params={})
    with pytest.raises(ValueError):
        Sample(**kwargs, clips=[clip], frame_times=[times], fps=[], params={})
    with pytest.raises(ValueError, match="ocr"):
        Sample(**{**kwargs, "task": "ocr"}, clips=[clip], frame_times=[times], fps=[1.0], params={})


# ----------------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("task", "subtype", "params", "error", "bad"),
    [
        ("ground", "Mirror", {}, ValueError, "ground"),
        ("grounding", "Mirrored", {}, KeyError, "Mirrored"),
        ("grounding", "mirror", {}, KeyError, "mirror"),
        ("counting", "medium", {}, KeyError, "medium"),
        ("jigsaw", "extreme", {}, KeyError, "extreme"),
        ("counting", "easy", {"max_shapes": 3}, ValueError, "max_shapes"),
        ("jigsaw", "easy", {"clips": 6}, ValueError, "clips"),
        ("grounding", "Mirror", {"segment": 8}, ValueError, "segment"),
        ("grounding", "Mirror", {"min_segment": 20, "max_segment": 10}, ValueError, "min_segment"),
        ("grounding", "Slow", {"speed_factor": 1.0}, ValueError, "speed_factor"),
        ("jigsaw", "custom", {"num_clips": 5}, ValueError, "5"),
    ],
)
def test_bad_task_specs_name_the_problem(task, subtype, params, error, bad):
    with pytest.raises(error) as info:
        TaskSpec(task, subtype, params)
    assert bad in str(info.value)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_too_short_video_is_rejected(spec):
    short = VideoInfo(duration=1.5, fps=30.0, num_frames=45, width=64, height=48)
    with pytest.raises(VideoTooShort) as info:
        plan_sample(spec, short, np.random.default_rng(0))
    assert isinstance(info.value, SampleRejected)


def test_rejections_are_sample_rejected():
    assert issubclass(VideoTooShort, SampleRejected) and issubclass(AmbiguousSample, SampleRejected)
    assert issubclass(SampleRejected, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(duration=0.0, fps=24.0, num_frames=100, width=64, height=48),
        dict(duration=4.0, fps=0.0, num_frames=100, width=64, height=48),
        dict(duration=4.0, fps=24.0, num_frames=0, width=64, height=48),
        dict(duration=4.0, fps=24.0, num_frames=100, width=1, height=48),
    ],
)
def test_bad_video_info(kwargs):
    with pytest.raises(ValueError):
        VideoInfo(**kwargs)
