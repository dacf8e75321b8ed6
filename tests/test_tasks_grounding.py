"""Anomaly grounding: every perturbation's defining property on real pixels, the segment and
its answer, the frame plans of Slow/Fast/Swap, the registry, and the rejection of invisible anomalies."""

from __future__ import annotations

import numpy as np
import pytest
from _tasks_helpers import (
    DEFAULT_INFO,
    OTHER_INFO,
    decode,
    flat_frame,
    gray_frame,
    grounding_case,
    rect_frame,
    render_frame,
    smooth_frame,
    spec_grid,
    spec_times,
    static_frame,
)
from PIL import Image
from videossr.tasks import (
    BUILTIN_PERTURBATIONS,
    PERTURBATIONS,
    AmbiguousSample,
    TaskSpec,
    VideoInfo,
    VideoTooShort,
    make_sample,
    plan_sample,
    register_perturbation,
    resolve_secondary,
)
from videossr.tasks.perturbations import Perturbation

ALL = sorted(BUILTIN_PERTURBATIONS)
PIXEL_KINDS = [n for n in ALL if PERTURBATIONS[n].kind == "pixels"]
SEEDS = (0, 1, 2)

# The reference code's descriptions (pretext_tasks/grounding.py, PERTURBATION_DETAILS), verbatim.
REFERENCE_DESCRIPTIONS = {
    "Grayscale": "the video becomes black and white",
    "Invert": "the colors in the video are inverted",
    "ChannelSwap": "the red and blue color channels in the video are swapped",
    "Rotate90": "the video is rotated 90 degrees clockwise",
    "Rotate180": "the video is rotated 180 degrees",
    "Rotate270": "the video is rotated 270 degrees clockwise",
    "Noise": "Gaussian noise is added to the video",
    "Shuffle": (
        "the frames are shuffled, this means the order of events is scrambled, making the action appear "
        "illogical and chaotic"
    ),
    "Swap": "the clip is replaced by a clip from another video",
    "ZoomIn": "the video is zoomed in",
    "ZoomOut": "the video is zoomed out",
    "Mirror": "The video is mirrored horizontally",
    "Blur": "the video becomes blurry or out of focus",
    "Saturation": "the colors in the video become oversaturated and unnaturally vibrant",
    "StutterHold": "the video appears to freeze and stutter on a few frames, this means instead of playing "
    "smoothly, the video repeatedly freezes on a single frame before jumping to the next.",
}
GROUPS = {
    "fine-grained": {"Saturation", "Noise", "Blur", "Grayscale", "Invert", "ChannelSwap"},
    "spatial": {"ZoomIn", "Rotate90", "Rotate180", "Rotate270", "ZoomOut", "Mirror"},
    "temporal": {"Slow", "Fast", "StutterHold", "Shuffle", "Swap"},
}


def i16(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(np.int16)


def luma(frame: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma, computed here in floating point."""
    f = frame.astype(np.float64)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def hf_energy(frame: np.ndarray) -> float:
    """Energy of the discrete Laplacian: the high-frequency content of a frame."""
    f = frame.astype(np.float64)
    lap = 4 * f[1:-1, 1:-1] - f[:-2, 1:-1] - f[2:, 1:-1] - f[1:-1, :-2] - f[1:-1, 2:]
    return float(np.mean(lap**2))


# ----------------------------------------------------------------------------------------------------------
# The catalogue


def test_catalogue_has_the_17_perturbations_in_their_groups():
    assert len(BUILTIN_PERTURBATIONS) == 17
    assert set(BUILTIN_PERTURBATIONS) == set().union(*GROUPS.values())
    for group, names in GROUPS.items():
        for name in names:
            assert PERTURBATIONS[name].group == group, name


def test_descriptions_are_the_reference_codes_and_distinct():
    for name, description in REFERENCE_DESCRIPTIONS.items():
        assert PERTURBATIONS[name].description == description
    descriptions = [PERTURBATIONS[n].description for n in BUILTIN_PERTURBATIONS]
    assert len(set(descriptions)) == 17
    for name in ("Slow", "Fast"):
        text = PERTURBATIONS[name].description
        assert "evenly spaced" in text and "motion" in text  # the paper's note on timestamps
    assert "slow" in PERTURBATIONS["Slow"].description
    assert "speeds up" in PERTURBATIONS["Fast"].description


def test_documented_parameter_ranges():
    assert PERTURBATIONS["Noise"].ranges["sigma"] == (35.0, 70.0)
    assert PERTURBATIONS["ZoomIn"].ranges["scale"] == (1.3, 1.5)
    assert PERTURBATIONS["ZoomOut"].ranges["scale"] == (1.2, 1.4)
    assert PERTURBATIONS["StutterHold"].ranges["holds"] == (2, 5)


# ----------------------------------------------------------------------------------------------------------
# Properties shared by every perturbation


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("seed", SEEDS)
def test_frames_outside_the_segment_are_untouched(name, seed):
    case = grounding_case(name, seed)
    out, frames, keep = case.clip, case.frames, case.outside()
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert np.array_equal(out[keep], frames[keep])
    assert np.array_equal(case.times[keep], case.plan.times[keep])
    assert case.sample.task == "grounding" and case.sample.subtype == name
    assert len(case.sample.clips) == 1 and len(case.times) == 48


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("seed", SEEDS)
def test_answer_is_the_segment_in_seconds(name, seed):
    case = grounding_case(name, seed)
    p = case.sample.params
    step = p["frame_step"]
    start, length = p["segment_start"], p["segment_length"]
    assert 8 <= length <= 16 and 0 <= start <= 48 - length
    assert case.sample.answer == f"{start * step:.1f}-{(start + length) * step:.1f}"
    assert case.sample.fps == [pytest.approx(1 / step)]
    if PERTURBATIONS[name].kind == "speed":
        # The anomaly is where the spacing of source times differs from the nominal step.
        odd = np.flatnonzero(~np.isclose(np.diff(case.times), step))
        first, last = odd[0], odd[-1] + 1
    else:
        # The anomaly is where the pixels differ from the decoded frames.
        changed = np.flatnonzero((case.clip != case.frames).any(axis=(1, 2, 3)))
        first, last = changed[0], changed[-1]
        _, interval = spec_grid(DEFAULT_INFO)
        assert step == pytest.approx(interval / DEFAULT_INFO.fps)
        assert np.allclose(case.plan.times, spec_times(DEFAULT_INFO))
    assert (first, last) == (start, start + length - 1)
    assert case.sample.answer == f"{first * step:.1f}-{(last + 1) * step:.1f}"


def test_segment_length_and_start_distribution():
    lengths, starts, ends = set(), set(), set()
    for seed in range(600):
        plan = plan_sample(TaskSpec("grounding", "Mirror"), DEFAULT_INFO, np.random.default_rng(seed))
        s, n = plan.params["segment_start"], plan.params["segment_length"]
        lengths.add(n)
        starts.add(s)
        ends.add(s + n)
    assert lengths == set(range(8, 17))
    assert min(starts) == 0 and max(ends) == 48


def test_segment_length_is_configurable():
    for seed in range(50):
        case_plan = plan_sample(
            TaskSpec("grounding", "Invert", {"min_segment": 3, "max_segment": 5}),
            DEFAULT_INFO,
            np.random.default_rng(seed),
        )
        assert 3 <= case_plan.params["segment_length"] <= 5


# ----------------------------------------------------------------------------------------------------------
# Fine-grained perturbations


@pytest.mark.parametrize("seed", SEEDS)
def test_grayscale_has_equal_channels_equal_to_luma(seed):
    case = grounding_case("Grayscale", seed)
    seg, orig = case.clip[case.segment], case.frames[case.segment]
    assert np.array_equal(seg[..., 0], seg[..., 1]) and np.array_equal(seg[..., 1], seg[..., 2])
    assert np.abs(i16(seg[..., 0]) - luma(orig)).max() <= 1


@pytest.mark.parametrize("seed", SEEDS)
def test_invert_is_255_minus_x(seed):
    case = grounding_case("Invert", seed)
    assert np.array_equal(i16(case.clip[case.segment]), 255 - i16(case.frames[case.segment]))


@pytest.mark.parametrize("seed", SEEDS)
def test_channel_swap_swaps_red_and_blue_exactly(seed):
    case = grounding_case("ChannelSwap", seed)
    seg, orig = case.clip[case.segment], case.frames[case.segment]
    assert np.array_equal(seg[..., 0], orig[..., 2])
    assert np.array_equal(seg[..., 1], orig[..., 1])
    assert np.array_equal(seg[..., 2], orig[..., 0])
    assert not np.array_equal(seg, orig)


@pytest.mark.parametrize("seed", SEEDS)
def test_noise_sigma_is_drawn_per_frame_in_35_70(seed):
    case = grounding_case("Noise", seed, frame=gray_frame)
    sigmas = [p["sigma"] for p in case.sample.params["per_frame"]]
    assert len(sigmas) == case.length
    assert all(35.0 <= s <= 70.0 for s in sigmas)
    assert len(set(sigmas)) == case.length  # drawn again for every frame
    for j, sigma in enumerate(sigmas):
        residual = i16(case.clip[case.start + j]) - i16(case.frames[case.start + j])
        # Median absolute deviation of a normal is 0.6745 sigma; clipping only touches the far tails here.
        estimate = np.median(np.abs(residual)) / 0.6745
        assert estimate == pytest.approx(sigma, rel=0.06)
        assert abs(residual.mean()) < 2.0


@pytest.mark.parametrize("seed", SEEDS)
def test_blur_lowers_high_frequency_energy(seed):
    case = grounding_case("Blur", seed)
    for j in range(case.length):
        out, orig = case.clip[case.start + j], case.frames[case.start + j]
        assert hf_energy(out) < 0.2 * hf_energy(orig)
        assert abs(out.astype(float).mean() - orig.astype(float).mean()) < 2.0  # blurring keeps brightness


@pytest.mark.parametrize("seed", SEEDS)
def test_saturation_increases_chroma(seed):
    case = grounding_case("Saturation", seed)
    seg, orig = case.clip[case.segment], case.frames[case.segment]
    chroma_out = i16(seg.max(axis=-1)) - seg.min(axis=-1)
    chroma_in = i16(orig.max(axis=-1)) - orig.min(axis=-1)
    assert chroma_out.mean() > 1.5 * chroma_in.mean()
    # PIL ImageEnhance.Color(2.0) blends away from the grey image: out = clip(2 x - luma(x)).
    expected = np.clip(2 * orig.astype(np.float64) - luma(orig)[..., None], 0, 255)
    assert np.abs(seg - expected).max() <= 2.0


def test_saturation_leaves_grey_pixels_grey():
    frame = gray_frame(3, 32, 32)
    frame[..., 1] = frame[..., 0]
    frame[..., 2] = frame[..., 0]
    out = PERTURBATIONS["Saturation"].fn(frame, np.random.default_rng(0))
    assert np.abs(i16(out) - frame).max() <= 1


# ----------------------------------------------------------------------------------------------------------
# Spatial perturbations


@pytest.mark.parametrize("seed", SEEDS)
def test_mirror_matches_horizontal_flip(seed):
    case = grounding_case("Mirror", seed)
    assert np.array_equal(case.clip[case.segment], case.frames[case.segment][:, :, ::-1])


@pytest.mark.parametrize("seed", SEEDS)
def test_rotate180_matches_and_twice_is_identity(seed):
    case = grounding_case("Rotate180", seed)
    seg, orig = case.clip[case.segment], case.frames[case.segment]
    assert np.array_equal(seg, orig[:, ::-1, ::-1])
    fn = PERTURBATIONS["Rotate180"].fn
    rng = np.random.default_rng(seed)
    for frame in orig:
        assert np.array_equal(fn(fn(frame, rng), rng), frame)
        reference = np.asarray(Image.fromarray(frame).rotate(180))  # the reference code's operation
        assert np.array_equal(fn(frame, rng), reference)


SQUARE = VideoInfo(duration=40.0, fps=24.0, num_frames=960, width=64, height=64)


@pytest.mark.parametrize(("name", "k", "pil_angle"), [("Rotate90", -1, -90), ("Rotate270", 1, 90)])
@pytest.mark.parametrize("seed", SEEDS)
def test_rotate90_270_on_square_frames_match_rot90_and_the_reference(name, k, pil_angle, seed):
    case = grounding_case(name, seed, info=SQUARE)
    seg, orig = case.clip[case.segment], case.frames[case.segment]
    assert seg.shape == orig.shape
    assert np.array_equal(seg, np.rot90(orig, k=k, axes=(1, 2)))
    for out, frame in zip(seg, orig):
        # The reference: PIL rotate(-90 / 90, expand=True); PIL angles are counter-clockwise.
        assert np.array_equal(out, np.asarray(Image.fromarray(frame).rotate(pil_angle, expand=True)))


@pytest.mark.parametrize(("name", "k"), [("Rotate90", -1), ("Rotate270", 1)])
def test_rotate90_270_keep_the_frame_size_and_letterbox(name, k):
    info = DEFAULT_INFO  # 96 x 64, landscape
    case = grounding_case(name, 4, info=info, frame=smooth_frame)
    h, w = info.height, info.width
    band_w = round(h * h / w)  # the rotated picture (h wide, w tall) scaled to fit the frame height
    x0 = (w - band_w) // 2
    for j in range(case.length):
        out = case.clip[case.start + j]
        assert out.shape == (h, w, 3)
        assert not out[:, : x0 - 1].any() and not out[:, x0 + band_w + 1 :].any()  # black side bands
        band = out[:, x0 + 1 : x0 + band_w - 1]
        assert (band.max(axis=-1) > 0).all()
        rotated = np.rot90(case.frames[case.start + j], k=k)
        small = np.asarray(Image.fromarray(np.ascontiguousarray(rotated)).resize((band_w, h), Image.BILINEAR))
        assert np.abs(i16(band) - small[:, 1:-1]).mean() < 6.0


def test_rotate90_and_rotate270_are_inverse_on_square_frames():
    frame = render_frame(5, 48, 48)
    rng = np.random.default_rng(0)
    r90, r270 = PERTURBATIONS["Rotate90"].fn, PERTURBATIONS["Rotate270"].fn
    assert np.array_equal(r270(r90(frame, rng), rng), frame)
    assert np.array_equal(r90(r90(frame, rng), rng), PERTURBATIONS["Rotate180"].fn(frame, rng))


RECT = VideoInfo(duration=40.0, fps=24.0, num_frames=960, width=162, height=120)


def _bright_extent(line: np.ndarray) -> tuple[int, int]:
    bright = np.flatnonzero(line.mean(axis=-1) > 125)
    return int(bright[0]), int(bright[-1]) + 1


@pytest.mark.parametrize("seed", SEEDS)
def test_zoom_in_scale_in_1_3_1_5_and_magnifies_about_the_centre(seed):
    case = grounding_case("ZoomIn", seed, info=RECT, frame=rect_frame)
    scales = [p["scale"] for p in case.sample.params["per_frame"]]
    assert len(scales) == case.length and all(1.3 <= s <= 1.5 for s in scales)
    assert len(set(scales)) == case.length  # drawn again for every frame
    h, w = RECT.height, RECT.width
    x0, x1 = _bright_extent(case.frames[0][h // 2])
    y0, y1 = _bright_extent(case.frames[0][:, w // 2])
    for j, scale in enumerate(scales):
        out = case.clip[case.start + j]
        a0, a1 = _bright_extent(out[h // 2])
        b0, b1 = _bright_extent(out[:, w // 2])
        assert (a1 - a0) / (x1 - x0) == pytest.approx(scale, abs=0.045)
        assert (b1 - b0) / (y1 - y0) == pytest.approx(scale, abs=0.06)
        assert abs((a0 + a1) / 2 - w / 2) <= 1 and abs((b0 + b1) / 2 - h / 2) <= 1


@pytest.mark.parametrize("seed", SEEDS)
def test_zoom_out_shrinks_onto_a_black_border(seed):
    case = grounding_case("ZoomOut", seed)
    scales = [p["scale"] for p in case.sample.params["per_frame"]]
    assert len(scales) == case.length and all(1.2 <= s <= 1.4 for s in scales)
    h, w = DEFAULT_INFO.height, DEFAULT_INFO.width
    for j, scale in enumerate(scales):
        out = case.clip[case.start + j]
        assert not out[0].any() and not out[-1].any() and not out[:, 0].any() and not out[:, -1].any()
        ys, xs = np.nonzero(out.any(axis=-1))
        top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        assert abs((right - left) - w / scale) <= 1.5 and abs((bottom - top) - h / scale) <= 1.5
        assert abs(left - (w - right)) <= 1 and abs(top - (h - bottom)) <= 1  # centred
        # The picture inside is the whole frame, shrunk: its mean colour is the original's.
        inner = out[top:bottom, left:right].reshape(-1, 3).mean(axis=0)
        assert np.abs(inner - case.frames[case.start + j].reshape(-1, 3).mean(axis=0)).max() < 3.0


# ----------------------------------------------------------------------------------------------------------
# Temporal perturbations


def _source_position(frame: np.ndarray, candidates: np.ndarray) -> int:
    """Which of the candidate (unique) frames this frame is."""
    hits = [i for i, c in enumerate(candidates) if np.array_equal(frame, c)]
    assert len(hits) == 1
    return hits[0]


@pytest.mark.parametrize("seed", range(6))
def test_shuffle_permutes_only_the_segment_and_moves_every_frame(seed):
    case = grounding_case("Shuffle", seed)
    orig = case.frames[case.segment]
    order = [_source_position(f, orig) for f in case.clip[case.segment]]
    assert sorted(order) == list(range(case.length))  # a permutation of the segment's frames
    assert all(k != j for j, k in enumerate(order))  # every segment frame moved
    # The frame times follow the frames.
    assert np.array_equal(case.times[case.segment], case.plan.times[case.segment][order])
    assert case.sample.params["order"] == order


@pytest.mark.parametrize("seed", range(6))
def test_stutter_hold_repeats_frames(seed):
    case = grounding_case("StutterHold", seed)
    orig = case.frames[case.segment]
    shown = [_source_position(f, orig) for f in case.clip[case.segment]]
    runs = [[shown[0], 1]]
    for k in shown[1:]:
        if k == runs[-1][0]:
            runs[-1][1] += 1
        else:
            runs.append([k, 1])
    held = [k for k, _ in runs]
    sizes = [n for _, n in runs]
    assert 2 <= len(runs) <= 5 and len(runs) == case.sample.params["holds"]
    assert held == sorted(set(held))  # each held frame once, in source order
    assert min(sizes) >= 2 and max(sizes) - min(sizes) <= 1  # every frame held, evenly
    assert shown[0] != 0 and shown[-1] != case.length - 1  # the anomaly spans the whole segment
    assert np.array_equal(case.times[case.segment], case.plan.times[case.segment][shown])


def test_stutter_hold_uses_2_to_5_holds():
    holds = set()
    small = VideoInfo(duration=40.0, fps=24.0, num_frames=960, width=24, height=16)
    for seed in range(200):
        case = grounding_case("StutterHold", seed, info=small, params={"min_segment": 12, "max_segment": 16})
        holds.add(case.sample.params["holds"])
        assert len(np.unique(case.times[case.segment])) == case.sample.params["holds"]
    assert holds == {2, 3, 4, 5}


@pytest.mark.parametrize(("name", "factor"), [("Slow", 0.5), ("Fast", 2.0)])
@pytest.mark.parametrize("seed", range(5))
def test_slow_and_fast_change_only_the_spacing_of_the_segment(name, factor, seed):
    case = grounding_case(name, seed)
    p = case.sample.params
    step = p["frame_step"]
    start, length = case.start, case.length
    diffs = np.diff(case.times)
    inside = np.zeros(47, dtype=bool)
    inside[start : start + length - 1] = True  # spacing between consecutive segment frames
    assert p["speed_factor"] == pytest.approx(factor)
    assert np.allclose(diffs[~inside], step)
    assert np.allclose(diffs[inside], step * factor)
    # Timestamps shown to the model stay evenly spaced; the answer is still the segment.
    assert case.sample.fps == [pytest.approx(1 / step)]
    assert case.sample.answer == f"{start * step:.1f}-{(start + length) * step:.1f}"
    # The pixels are exactly the source frames at those times, untouched.
    assert np.array_equal(case.clip, decode(DEFAULT_INFO, case.times))
    # The plan stays inside the sampled 90 % of the video, on integer source frames.
    indices = case.times * DEFAULT_INFO.fps
    assert np.allclose(indices, np.rint(indices))
    lo, hi = spec_grid(DEFAULT_INFO)[0], int(0.95 * DEFAULT_INFO.num_frames)
    assert indices[0] == lo and indices[-1] < hi


def test_slow_on_the_default_grid_and_fast_on_a_wider_one():
    start_frame, interval = spec_grid(DEFAULT_INFO)
    slow = grounding_case("Slow", 3)
    assert slow.sample.params["frame_step"] == pytest.approx(interval / DEFAULT_INFO.fps)
    assert slow.times[0] == pytest.approx(start_frame / DEFAULT_INFO.fps)
    fast = grounding_case("Fast", 3)
    # Fast consumes 48 + length nominal steps, so its grid is at most as dense as the default one.
    n = fast.length
    fast_interval = fast.sample.params["frame_step"] * DEFAULT_INFO.fps
    usable = int(0.95 * DEFAULT_INFO.num_frames) - start_frame
    assert round(fast_interval) == usable // (48 + n)


@pytest.mark.parametrize("seed", range(4))
def test_swap_replaces_exactly_the_segment_with_the_second_videos_frames(seed):
    case = grounding_case("Swap", seed)
    seg = case.segment
    assert np.array_equal(case.clip[seg], case.secondary)
    assert not np.array_equal(case.clip[seg], case.frames[seg])
    # The second video's frames are its own sampling grid at the same positions (reference code).
    assert np.allclose(case.plan.secondary_times, spec_times(OTHER_INFO)[seg])
    assert np.array_equal(case.times, case.plan.times)


def test_swap_with_a_second_video_of_another_size_is_fitted():
    other = VideoInfo(duration=20.0, fps=25.0, num_frames=500, width=128, height=96)
    case = grounding_case("Swap", 1, other=other, frame=smooth_frame)
    assert case.secondary.shape[1:3] == (96, 128)
    assert case.clip.shape == case.frames.shape
    for out, sec in zip(case.clip[case.segment], case.secondary):
        # Cover-fit: 128x96 -> 96x72 then a centre crop of 64 rows; compare with our own resize.
        resized = np.asarray(Image.fromarray(sec).resize((96, 72), Image.BILINEAR))[4:68]
        assert np.abs(i16(out) - resized).mean() < 4.0


def test_swap_without_the_second_video_is_an_error():
    plan = plan_sample(TaskSpec("grounding", "Swap"), DEFAULT_INFO, np.random.default_rng(0))
    assert plan.needs_secondary
    frames = decode(DEFAULT_INFO, plan.times)
    with pytest.raises(ValueError, match="Swap"):
        make_sample(plan, frames)
    resolve_secondary(plan, OTHER_INFO)
    with pytest.raises(ValueError):
        make_sample(plan, frames, decode(OTHER_INFO, plan.secondary_times)[:-1])


def test_only_swap_needs_a_second_video():
    for name in ALL:
        plan = plan_sample(TaskSpec("grounding", name), DEFAULT_INFO, np.random.default_rng(0))
        assert plan.needs_secondary == (name == "Swap")
        if name != "Swap":
            with pytest.raises(ValueError):
                resolve_secondary(plan, OTHER_INFO)


# ----------------------------------------------------------------------------------------------------------
# Samples that cannot be trusted are rejected


@pytest.mark.parametrize(
    "name", ["ChannelSwap", "Grayscale", "Invert", "Mirror", "Rotate180", "Blur", "Saturation", "ZoomIn"]
)
def test_flat_segment_is_ambiguous(name):
    with pytest.raises(AmbiguousSample, match=name):
        grounding_case(name, 0, frame=flat_frame)


@pytest.mark.parametrize("name", ["Shuffle", "StutterHold", "Slow", "Fast", "Swap"])
def test_static_video_is_ambiguous_for_temporal_perturbations(name):
    with pytest.raises(AmbiguousSample, match=name):
        grounding_case(name, 0, frame=static_frame)


@pytest.mark.parametrize("name", ["ZoomOut", "Rotate90", "Noise"])
def test_visible_even_on_flat_frames(name):
    case = grounding_case(name, 0, frame=flat_frame)
    assert not np.array_equal(case.clip[case.segment], case.frames[case.segment])


@pytest.mark.parametrize("name", ALL)
def test_too_short_video_is_rejected(name):
    short = VideoInfo(duration=2.0, fps=25.0, num_frames=50, width=64, height=48)  # 45 usable frames
    with pytest.raises(VideoTooShort):
        plan_sample(TaskSpec("grounding", name), short, np.random.default_rng(0))


def test_fast_needs_more_frames_and_slow_a_wider_interval():
    tight = VideoInfo(duration=2.4, fps=25.0, num_frames=60, width=64, height=48)  # 54 usable, interval 1
    plan_sample(TaskSpec("grounding", "Mirror"), tight, np.random.default_rng(0))  # 48 frames fit
    for name in ("Fast", "Slow"):
        with pytest.raises(VideoTooShort):
            plan_sample(TaskSpec("grounding", name), tight, np.random.default_rng(0))


def test_wrong_number_of_frames_is_an_error():
    plan = plan_sample(TaskSpec("grounding", "Mirror"), DEFAULT_INFO, np.random.default_rng(0))
    frames = decode(DEFAULT_INFO, plan.times)
    with pytest.raises(ValueError):
        make_sample(plan, frames[:-1])
    with pytest.raises(ValueError):
        make_sample(plan, frames.astype(np.float32))


# ----------------------------------------------------------------------------------------------------------
# The registry: a user adds a perturbation with one decorated function


@pytest.fixture
def clean_registry():
    before = dict(PERTURBATIONS)
    yield
    PERTURBATIONS.clear()
    PERTURBATIONS.update(before)


def test_user_registered_pixel_perturbation(clean_registry):
    @register_perturbation("TestDarken", group="fine-grained", description="the video becomes much darker")
    def darken(frame, rng):
        return frame // 2

    assert "TestDarken" in PERTURBATIONS and "TestDarken" not in BUILTIN_PERTURBATIONS
    spec = TaskSpec("grounding", "TestDarken")
    plan = plan_sample(spec, DEFAULT_INFO, np.random.default_rng(7))
    frames = decode(DEFAULT_INFO, plan.times)
    sample = make_sample(plan, frames)
    p = sample.params
    seg = slice(p["segment_start"], p["segment_start"] + p["segment_length"])
    assert np.array_equal(sample.clips[0][seg], frames[seg] // 2)
    keep = np.ones(48, dtype=bool)
    keep[seg] = False
    assert np.array_equal(sample.clips[0][keep], frames[keep])
    assert sample.subtype == "TestDarken" and p["group"] == "fine-grained"
    assert "In a segment of this video, the video becomes much darker. Your task" in sample.question
    step = p["frame_step"]
    assert sample.answer == f"{seg.start * step:.1f}-{seg.stop * step:.1f}"


def test_user_registered_reorder_perturbation(clean_registry):
    @register_perturbation(
        "TestReverse", group="temporal", kind="reorder", description="the video plays backwards"
    )
    def reverse(length, rng):
        return np.arange(length)[::-1], {"reversed": True}

    case = grounding_case("TestReverse", 2)
    assert np.array_equal(case.clip[case.segment], case.frames[case.segment][::-1])
    assert np.array_equal(case.times[case.segment], case.plan.times[case.segment][::-1])
    assert case.sample.params["reversed"] is True


def test_registry_rejects_duplicates_and_bad_definitions(clean_registry):
    builtin = PERTURBATIONS["Mirror"]
    with pytest.raises(ValueError, match="Mirror"):

        @register_perturbation("Mirror", group="spatial", description="x")
        def again(frame, rng):
            return frame

    assert PERTURBATIONS["Mirror"] is builtin

    @register_perturbation("Mirror", group="spatial", description="flipped", replace=True)
    def replaced(frame, rng):
        return np.ascontiguousarray(frame[:, ::-1])

    assert PERTURBATIONS["Mirror"].description == "flipped"
    with pytest.raises(ValueError, match="group"):
        register_perturbation("TestBad", group="colour", description="x")(lambda f, r: f)
    assert "TestBad" not in PERTURBATIONS
    with pytest.raises(ValueError, match="kind"):
        Perturbation(name="TestBad", group="spatial", description="x", kind="warp", fn=lambda f, r: f)


def test_user_perturbation_must_keep_shape_and_dtype(clean_registry):
    @register_perturbation("TestCrop", group="spatial", description="the video is cropped")
    def crop(frame, rng):
        return frame[1:-1, 1:-1]

    with pytest.raises(ValueError, match="TestCrop"):
        grounding_case("TestCrop", 0)


def test_registry_is_restored_after_the_user_tests():
    assert set(BUILTIN_PERTURBATIONS) <= set(PERTURBATIONS)
    assert not [name for name in PERTURBATIONS if name.startswith("Test")]
    assert PERTURBATIONS["Mirror"].description == "The video is mirrored horizontally"


def _verdict(plan, frames, secondary) -> str:
    try:
        make_sample(plan, frames, secondary)
    except AmbiguousSample as exc:
        return f"rejected: {exc}"
    return "accepted"


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("frame", [render_frame, gray_frame, flat_frame, static_frame])
def test_decisive_positions_alone_give_the_same_verdict(name, frame):
    """The builder may decode only ``decisive_positions`` first and try the draw with the other frames blank:
    for every built-in perturbation, on colourful, grey, flat and still content, the verdict (and its reason)
    is the one the fully decoded frames give."""
    from videossr.tasks import decisive_positions

    for seed in SEEDS:
        plan = plan_sample(TaskSpec("grounding", name), DEFAULT_INFO, np.random.default_rng(seed))
        frames = decode(DEFAULT_INFO, plan.times, seed=0, frame=frame)
        secondary = None
        if plan.needs_secondary:
            secondary = decode(OTHER_INFO, resolve_secondary(plan, OTHER_INFO), seed=1, frame=frame)
        positions = decisive_positions(plan)
        assert positions and len(positions) <= plan.params["segment_length"] < len(frames)
        partial = np.zeros_like(frames)
        partial[positions] = frames[positions]
        assert _verdict(plan, partial, secondary) == _verdict(plan, frames, secondary), (name, seed)


def test_decisive_positions_only_for_grounding():
    from videossr.tasks import decisive_positions

    for spec in (TaskSpec("counting", "easy"), TaskSpec("jigsaw", "easy")):
        assert decisive_positions(plan_sample(spec, DEFAULT_INFO, np.random.default_rng(0))) is None
