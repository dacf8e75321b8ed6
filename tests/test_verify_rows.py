"""build/verify.py's row checks accept every task, perturbation and difficulty the builder makes, and catch
rows whose answer, params or timeline disagree."""

from __future__ import annotations

import json

import pytest
from _verify_helpers import make_samples
from videossr.build.checks import check_row
from videossr.build.repo import render_row
from videossr.tasks import PERTURBATIONS

ALL_KINDS = [("grounding", name, "s/a") for name in sorted(PERTURBATIONS)] + [
    ("counting", "easy", "s/b"),
    ("counting", "hard", "s/b"),
    ("counting", "custom", "s/b"),
    ("jigsaw", "easy", "s/c"),
    ("jigsaw", "hard", "s/c"),
    ("jigsaw", "custom", "s/c"),
]
CUSTOM = {
    "counting/custom": {"max_frames_per_shape": 2, "max_instances_per_frame": 2},
    "jigsaw/custom": {"num_clips": 4},
}


@pytest.fixture(scope="module")
def rows() -> dict[str, dict]:
    samples = make_samples(ALL_KINDS, params=CUSTOM)
    return {f"{s.task}/{s.subtype}": render_row(sid, src, s) for sid, src, s in samples}


def _problems(row: dict) -> list[str]:
    found: list[str] = []
    assert check_row(row, lambda check, message: found.append(f"[{check}] {message}")) or found
    return found


@pytest.mark.parametrize("key", [f"{t}/{s}" for t, s, _ in ALL_KINDS])
def test_every_kind_of_row_passes(rows: dict[str, dict], key: str) -> None:
    assert _problems(rows[key]) == []


def _edited(row: dict, **changes) -> dict:
    new = json.loads(json.dumps({k: v for k, v in row.items() if k != "videos"}))
    new["videos"] = row["videos"]
    new.update(changes)
    return new


def test_reordered_segment_times_must_follow_the_params_order(rows: dict[str, dict]) -> None:
    row = rows["grounding/Shuffle"]
    params = json.loads(row["params"])
    start, length = params["segment_start"], params["segment_length"]
    times = [list(row["frame_times"][0])]
    seg = times[0][start : start + length]
    times[0][start : start + length] = sorted(seg)  # the clean order: not what the clip shows
    found = _problems(_edited(row, frame_times=times))
    assert any("frame_times differ" in f and "segment order" in f for f in found), found


def test_jigsaw_clip_times_swapped(rows: dict[str, dict]) -> None:
    row = rows["jigsaw/easy"]
    times = [list(t) for t in row["frame_times"]]
    times[0], times[1] = times[1], times[0]
    found = _problems(_edited(row, frame_times=times))
    assert any("clip 0 frame_times are not source frames" in f for f in found), found


def test_counting_params_that_break_the_difficulty(rows: dict[str, dict]) -> None:
    row = rows["counting/easy"]
    params = json.loads(row["params"])
    params["max_frames_per_shape"] = 4
    params["max_instances_per_frame"] = 4
    found = _problems(_edited(row, params=json.dumps(params)))
    assert any("difficulty 'easy', but params make it 'hard'" in f for f in found), found


def test_counting_params_counts_disagree_with_shapes(rows: dict[str, dict]) -> None:
    row = rows["counting/hard"]
    params = json.loads(row["params"])
    params["shapes"] = params["shapes"][1:]  # one shape fewer than the answer counts
    found = _problems(_edited(row, params=json.dumps(params)))
    assert any("counted from params shapes" in f for f in found), found


def test_grounding_subtype_is_the_perturbation(rows: dict[str, dict]) -> None:
    found = _problems(_edited(rows["grounding/Mirror"], subtype="Rotate180"))
    assert any("is not the params perturbation 'Mirror'" in f for f in found), found


def test_fps_must_be_one_over_the_frame_step(rows: dict[str, dict]) -> None:
    row = rows["grounding/Grayscale"]
    found = _problems(_edited(row, fps=[row["fps"][0] * 1.01]))
    assert any("fps" in f and "frame_step" in f for f in found), found
