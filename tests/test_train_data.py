"""Prompts from the published schema: one video block per clip, metadata from the clip's fps, caps, errors."""

from __future__ import annotations

import re

import datasets
import pytest
import torch
from _train_helpers import HEIGHT, WIDTH, small_dataset, tiny_model
from transformers import AutoProcessor
from videossr.train.data import (
    DataError,
    VideoOptions,
    check_dataset,
    frame_indices,
    load_train_dataset,
    parse_pixels,
    prepare_dataset,
    processor_kwargs,
    target_size,
)
from videossr.train.passrate import chat_inputs


@pytest.fixture(scope="module")
def raw():
    return load_train_dataset(small_dataset())


def _row(ds, task, clips=None):
    for i in range(len(ds)):
        r = ds[i]
        n = sum(1 for m in r["prompt"] for p in m["content"] if p["type"] == "video")
        if r["task"] == task and (clips is None or n == clips):
            return r
    raise AssertionError(f"no {task} row")


def test_jigsaw_prompt_has_clip_labels_then_videos(raw):
    ds = prepare_dataset(raw, VideoOptions())
    row = _row(ds, "jigsaw", clips=6)
    system, user = row["prompt"]
    assert system["role"] == "system" and system["content"][0]["text"]
    kinds = [p["type"] for p in user["content"]]
    assert kinds[:4] == ["text", "video", "text", "video"]
    assert user["content"][0]["text"] == "Clip 1: "
    assert user["content"][2]["text"].strip() == "Clip 2:"
    assert kinds.count("video") == 6
    for p in user["content"]:
        if p["type"] == "video":
            assert p["video"].dtype == torch.uint8 and tuple(p["video"].shape) == (2, 3, HEIGHT, WIDTH)
            assert p["video_metadata"]["frames_indices"] == [0, 1]
    src = raw.filter(lambda r: r["id"] == row["id"])[0]
    assert [p["video_metadata"]["fps"] for p in user["content"] if p["type"] == "video"] == src["fps"]
    assert row["answer"] == src["answer"] and row["task"] == "jigsaw"


def test_frame_and_pixel_caps(raw):
    ds = prepare_dataset(raw, VideoOptions(max_frames=4, max_pixels=40 * 30))
    row = _row(ds, "grounding")
    video = next(p for p in row["prompt"][1]["content"] if p["type"] == "video")
    assert video["video"].shape[0] == 4
    assert video["video"].shape[-2] * video["video"].shape[-1] <= 40 * 30
    assert video["video_metadata"]["frames_indices"] == frame_indices(8, 4) == [0, 2, 5, 7]
    assert video["video_metadata"]["total_num_frames"] == 8
    assert target_size(480, 640, 256 * 256)[0] * target_size(480, 640, 256 * 256)[1] <= 256 * 256
    assert parse_pixels("256x256") == parse_pixels("65536") == 65536
    with pytest.raises(ValueError, match="max-pixels"):
        parse_pixels("tiny")


def test_frames_mode_images_with_timestamps(raw):
    ds = prepare_dataset(raw, VideoOptions(video_as="frames"))
    row = next(ds[i] for i in range(len(ds)) if ds[i]["task"] == "jigsaw" and len(ds[i]["answer"]) == 4)
    content = row["prompt"][1]["content"]
    assert sum(p["type"] == "image" for p in content) == len(row["images"]) == 8
    assert not any(p["type"] == "video" for p in content)
    assert any(re.fullmatch(r"<\d+\.\d seconds>", p.get("text", "")) for p in content)


def test_processor_gets_the_clip_timeline(raw):
    """Qwen3-VL timestamps and Qwen2.5-VL second_per_grid_ts come from the clip's fps, all frames kept."""
    ds = prepare_dataset(raw, VideoOptions(max_pixels=WIDTH * HEIGHT))
    row = _row(ds, "grounding")
    meta = next(p for p in row["prompt"][1]["content"] if p["type"] == "video")["video_metadata"]
    fps = meta["fps"]
    opts = VideoOptions(max_pixels=WIDTH * HEIGHT)
    p3 = AutoProcessor.from_pretrained(tiny_model("qwen3_vl"))
    enc = chat_inputs(p3, row["prompt"], processor_kwargs(p3, opts))
    text = p3.tokenizer.decode(enc["input_ids"][0])
    stamps = [float(s) for s in re.findall(r"<(\d+\.\d) seconds>", text)]
    assert len(stamps) == 4  # 8 frames, 2 per temporal patch
    assert stamps == [float(f"{(2 * k + 0.5) / fps:.1f}") for k in range(4)]
    assert int(enc["video_grid_thw"][0, 0]) == 4
    p25 = AutoProcessor.from_pretrained(tiny_model("qwen2_5_vl"))
    enc = chat_inputs(p25, row["prompt"], processor_kwargs(p25, opts))
    assert float(enc["second_per_grid_ts"][0]) == pytest.approx(2 / fps, rel=1e-4)
    assert int(enc["video_grid_thw"][0, 0]) == 4


def _plain(path):
    return datasets.load_dataset(path, split="train")


def test_missing_column_is_named():
    ds = _plain(small_dataset()).remove_columns(["answer"])
    with pytest.raises(DataError, match=r"missing column\(s\) answer.*rebuild"):
        check_dataset(ds, name="mine")


def test_malformed_answer_names_the_row():
    ds = _plain(small_dataset())
    bad_id = ds[3]["id"]
    ds = ds.map(lambda r: {"answer": "seven" if r["id"] == bad_id else r["answer"]})
    with pytest.raises(DataError, match=rf"row 3 \(id {bad_id}\).*malformed .* answer 'seven'"):
        check_dataset(ds, name="mine")


def test_undecodable_clip_names_row_and_file(raw):
    bad_id = raw[0]["id"]

    def corrupt(r):
        if r["id"] == bad_id:
            r["videos"] = [{"bytes": b"not an mp4", "path": v["path"]} for v in r["videos"]]
        return r

    ds = prepare_dataset(raw.map(corrupt), VideoOptions())
    with pytest.raises(
        DataError, match=rf"row id {bad_id}, clip 0: cannot decode clip {bad_id}_clip0.mp4.*rebuild"
    ):
        ds[0]
    assert ds[1]["prompt"]  # other rows still fine


def test_marker_count_mismatch(raw):
    ds = raw.map(
        lambda r: {
            "question": r["question"].replace("<video>", "", 1) if r["task"] == "jigsaw" else r["question"]
        }
    )
    ds = prepare_dataset(ds, VideoOptions())
    idx = next(i for i in range(len(raw)) if raw[i]["task"] == "jigsaw")
    with pytest.raises(DataError, match=r"3 <video> marker\(s\) but the row has 4 clip"):
        ds[idx]


def test_bad_options():
    with pytest.raises(ValueError, match="--max-frames"):
        VideoOptions(max_frames=1)
    with pytest.raises(ValueError, match="--video-as"):
        VideoOptions(video_as="gif")
