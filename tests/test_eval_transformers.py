"""The transformers backend with tiny random Qwen2.5-VL / Qwen3-VL checkpoints (videossr.train.tiny, offline):
a couple of items end to end, and the exact frame counts and per-frame pixel caps of the paper's protocol."""

from __future__ import annotations

import pytest
from _eval_helpers import make_benchmark_fixture, make_viubench_samples, tiny_mp4

pytest.importorskip("torch")
pytest.importorskip("torchvision")
tiny = pytest.importorskip("videossr.train.tiny")

from videossr.eval.backends import Settings, make_backend  # noqa: E402
from videossr.eval.evaluator import evaluate  # noqa: E402
from videossr.eval.items import Item, VideoRef  # noqa: E402


@pytest.fixture(scope="module", params=["qwen3_vl", "qwen2_5_vl"])
def backend(request, tmp_path_factory):
    path = tiny.make_tiny_vlm(request.param, tmp_path_factory.mktemp(request.param) / "model")
    return make_backend(str(path), "transformers", device="cpu")


def _grid(backend, item, settings):
    inputs = backend.processor.apply_chat_template(
        backend.messages(item, settings),
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs=backend.processor_kwargs(settings),
    )
    return inputs["video_grid_thw"].tolist()


def test_end_to_end_a_couple_of_items(backend, tmp_path):
    path, n = make_benchmark_fixture("cvbench", tmp_path / "fx")
    res = evaluate(
        ["cvbench"],
        backend,
        tmp_path / "out",
        data={"cvbench": str(path)},
        frames=4,
        max_new_tokens=4,
        progress=False,
    )
    counts = res["item_counts"]["cvbench"]
    assert counts["n_items"] == n and counts["n_failed"] == 0, counts["failure_reasons"]
    config = res["configs"]["cvbench"]
    assert config["backend"] == "transformers" and config["decoder"].startswith("greedy")
    assert config["model_family"] == backend.family


def test_fps2_capped_at_frames_and_pixels_per_frame(backend, tmp_path):
    clip = tiny_mp4(tmp_path / "c.mp4", n=40, fps=4.0, size=256)  # 10 s at 4 fps
    item = Item("x", "i", "mc", "", "<video>\nq", "A", videos=[VideoRef("c.mp4", path=str(clip))])
    patch = backend.video_processor.patch_size
    temporal = backend.video_processor.temporal_patch_size
    # fps 2 over 10 s = 20 frames, capped at 8
    (grid,) = _grid(backend, item, Settings(frames=8, max_pixels=128 * 128, cache_dir=str(tmp_path)))
    assert grid[0] * temporal == 8
    assert grid[1] * grid[2] * patch * patch <= 128 * 128
    # no cap reached: 20 frames at fps 2
    (grid,) = _grid(backend, item, Settings(frames=64, max_pixels=64 * 64, cache_dir=str(tmp_path)))
    assert grid[0] * temporal == 20
    assert grid[1] * grid[2] * patch * patch <= 64 * 64 * 1.1


def test_viubench_keeps_every_frame(backend, tmp_path):
    (_, _, sample) = make_viubench_samples(1)[2]  # a grounding sample: 48 frames
    from videossr.build.render import encode_clip

    data = encode_clip(sample.clips[0], sample.fps[0])
    item = Item(
        "viubench",
        "g",
        "viubench",
        "",
        sample.question,
        sample.answer,
        videos=[VideoRef("g.mp4", data=data)],
        system=sample.system,
    )
    (grid,) = _grid(backend, item, Settings(frames=48, sampling="all", cache_dir=str(tmp_path)))
    assert grid[0] * backend.video_processor.temporal_patch_size == 48
