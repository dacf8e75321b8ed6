"""Prompts from the published schema: one video block per clip, metadata from the clip's fps, the pixel
budget, decoding once per row, errors."""

from __future__ import annotations

import re

import datasets
import pytest
import torch
from _train_helpers import HEIGHT, WIDTH, small_dataset, tiny_model
from transformers import AutoProcessor
from videossr.train.clips import fit_frame_size, frame_indices
from videossr.train.config import parse_pixels
from videossr.train.data import (
    ClipTransform,
    DataError,
    VideoOptions,
    check_dataset,
    load_train_dataset,
    prepare_dataset,
)
from videossr.train.processor import chat_inputs, processor_kwargs, video_options


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
    assert parse_pixels("256x256") == parse_pixels("65536") == parse_pixels(" 256 * 256 ") == 65536
    for bad in ("tiny", "256x", "2x2x2", "16x16"):
        with pytest.raises(ValueError, match="max-pixels"):
            parse_pixels(bad)


def test_frames_mode_images_with_timestamps(raw):
    ds = prepare_dataset(raw, VideoOptions(video_as="frames"))
    row = next(ds[i] for i in range(len(ds)) if ds[i]["task"] == "jigsaw" and len(ds[i]["answer"]) == 4)
    content = row["prompt"][1]["content"]
    assert sum(p["type"] == "image" for p in content) == len(row["images"]) == 8
    assert not any(p["type"] == "video" for p in content)
    assert any(re.fullmatch(r"<\d+\.\d seconds>", p.get("text", "")) for p in content)


def test_processor_gets_the_clip_timeline(raw):
    """Qwen3-VL timestamps and Qwen2.5-VL second_per_grid_ts come from the clip's fps, all frames kept."""
    p3 = AutoProcessor.from_pretrained(tiny_model("qwen3_vl"))
    opts = video_options(p3, max_pixels=WIDTH * HEIGHT, max_frames=48)
    row = _row(prepare_dataset(raw, opts), "grounding")
    meta = next(p for p in row["prompt"][1]["content"] if p["type"] == "video")["video_metadata"]
    fps = meta["fps"]
    enc = chat_inputs(p3, row["prompt"], processor_kwargs(p3, opts))
    text = p3.tokenizer.decode(enc["input_ids"][0])
    stamps = [float(s) for s in re.findall(r"<(\d+\.\d) seconds>", text)]
    assert len(stamps) == 4  # 8 frames, 2 per temporal patch
    assert stamps == [float(f"{(2 * k + 0.5) / fps:.1f}") for k in range(4)]
    assert int(enc["video_grid_thw"][0, 0]) == 4
    p25 = AutoProcessor.from_pretrained(tiny_model("qwen2_5_vl"))
    opts = video_options(p25, max_pixels=WIDTH * HEIGHT, max_frames=48)
    row = _row(prepare_dataset(raw, opts), "grounding")
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


@pytest.mark.parametrize("kind", ["qwen2_5_vl", "qwen3_vl"])
@pytest.mark.parametrize(
    ("height", "width", "max_pixels", "frames"),
    [
        (192, 340, 65536, 48),
        (720, 1280, 65536, 47),
        (480, 640, 65536, 8),
        (48, 64, 3072, 8),
        (100, 3000, 65536, 4),
    ],
)
def test_pixel_budget_is_never_exceeded(kind, height, width, max_pixels, frames):
    """The frames the model sees (grid x patch size) stay within --max-pixels, and the processor keeps the
    size the decoder chose (one resize). A 192x340 frame is the case the processors' own rounding takes above
    65,536 pixels (192x352 on Qwen3-VL)."""
    processor = AutoProcessor.from_pretrained(tiny_model(kind))
    opts = video_options(processor, max_pixels=max_pixels, max_frames=48)
    h, w = fit_frame_size(height, width, max_pixels, opts.size_multiple)
    assert h * w <= max_pixels and h % opts.size_multiple == 0 and w % opts.size_multiple == 0
    clip = torch.randint(0, 255, (frames, 3, h, w), dtype=torch.uint8)
    meta = {"fps": 1.0, "total_num_frames": frames, "frames_indices": list(range(frames))}
    prompt = [{"role": "user", "content": [{"type": "video", "video": clip, "video_metadata": meta}]}]
    grid = chat_inputs(processor, prompt, processor_kwargs(processor, opts))["video_grid_thw"][0].tolist()
    patch = processor.video_processor.patch_size
    assert (grid[1] * patch, grid[2] * patch) == (h, w)
    assert grid[0] == (frames + 1) // 2


def test_fit_frame_size_floors_like_qwen_vl_utils():
    assert fit_frame_size(192, 340, 65536, 32) == (192, 320)  # rounding would give 192x352 = 67,584
    assert fit_frame_size(48, 64, 65536, 2) == (48, 64)
    assert fit_frame_size(47, 63, 65536, 2) == (48, 64)
    for height, width in [(1080, 1920), (333, 777), (28, 5000), (5000, 28)]:
        for multiple in (2, 28, 32):
            h, w = fit_frame_size(height, width, 256 * 256, multiple)
            assert h * w <= 256 * 256 and h % multiple == 0 and w % multiple == 0
    with pytest.raises(ValueError, match="elongated"):
        fit_frame_size(10, 3000, 65536, 28)
    with pytest.raises(ValueError, match="patch group"):
        fit_frame_size(100, 100, 900, 32)


def test_repeated_rows_share_one_decode(raw):
    """TRL lists each prompt num_generations times and yields each generation batch once per accumulation
    step: the transform decodes a row once and every copy holds the same frames tensor."""
    transform = ClipTransform(VideoOptions(max_pixels=WIDTH * HEIGHT), keep_rows=4)
    ds = raw.with_transform(transform)
    batch = ds[[0, 0, 0, 1, 1, 1]]["prompt"]
    videos = [next(p["video"] for p in prompt[1]["content"] if p["type"] == "video") for prompt in batch]
    assert videos[0] is videos[1] is videos[2] and videos[3] is videos[4] and videos[0] is not videos[3]
    assert transform.decoded_rows == 2
    ds[[0, 0, 1, 1]]  # the same generation batch again: nothing decoded
    assert transform.decoded_rows == 2
    ds[[2, 3, 4, 5]]  # four new rows push 0 and 1 out (keep_rows=4)
    ds[[0, 1]]
    assert transform.decoded_rows == 8


def test_duplicate_ids_are_refused():
    ds = _plain(small_dataset())
    dup = ds[0]["id"]
    ds = ds.map(lambda r, i: {"id": dup if i == 5 else r["id"]}, with_indices=True)
    with pytest.raises(DataError, match=f"id '{dup}' appears more than once"):
        check_dataset(ds, name="mine")
