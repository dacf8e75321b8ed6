"""End-to-end builds of small recipes from generated sources, checked independently from the decoded
output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from _build_helpers import decode_clip, make_corpus, small_recipe, tree_digest
from videossr.build.frames import FrameSampler
from videossr.build.pipeline import BuildConfig, build
from videossr.build.render import encode_clip, probe
from videossr.build.shards import iter_repo_rows
from videossr.tasks import jigsaw
from videossr.tasks.parsing import parse_interval

SEED = 7
# A decoded frame "differs" when more than DIFF_AREA of its pixels change by more than DIFF_LEVEL in some
# channel: codec noise stays below 0.05 % of pixels, the smallest painted shape covers over 1 %.
DIFF_LEVEL, DIFF_AREA = 48, 0.005


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"), duration=12.0)


def _build(corpus: Path, out: Path, seed: int = SEED, said: list[str] | None = None):
    recipes = [small_recipe("mini"), small_recipe("mini-bench").scaled(4)]
    return build(
        recipes,
        [corpus],
        BuildConfig(out_dir=out, seed=seed, workers=2, progress=False),
        on_progress=(said.append if said is not None else lambda m: None),
    )


@pytest.fixture(scope="module")
def built(corpus: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("out")
    result = _build(corpus, out)
    return out, result


@pytest.fixture(scope="module")
def rows(built) -> list[dict]:
    out, _ = built
    return list(iter_repo_rows(out / "mini"))


def _clean_render(corpus: Path, row: dict, clip: int = 0) -> np.ndarray:
    """Decode the source at the row's own frame times, encode like the builder, decode again."""
    params = json.loads(row["params"])
    src = next(corpus.rglob(row["source"].split("/")[-1] + ".mp4"))
    fps = params["source_fps"]
    idx = np.rint(np.asarray(row["frame_times"][clip]) * fps).astype(int)
    h, w = decode_clip(row["videos"][clip]).shape[1:3]
    sampler = FrameSampler()
    try:
        frames = sampler.frames_at(str(src), idx, w, h).frames
    finally:
        sampler.close()
    from videossr.build.render import decode_all_frames

    return decode_all_frames(encode_clip(frames, row["fps"][clip]))


def _differing(a: np.ndarray, b: np.ndarray) -> list[int]:
    changed = (np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1) > DIFF_LEVEL).mean(axis=(1, 2))
    return [int(i) for i in np.nonzero(changed > DIFF_AREA)[0]]


def _answer_frames(row: dict) -> list[int]:
    start, end = parse_interval(row["answer"])
    fps = row["fps"][0]
    return list(range(round(start * fps), round(end * fps)))


def test_every_sample_built_and_rows_match_manifest(built, rows):
    out, result = built
    mini = next(d for d in result.datasets if d.name == "mini")
    assert mini.built == mini.requested == 12 and not mini.skipped_samples
    manifest = json.loads((out / "mini" / "build_manifest.json").read_text())
    assert manifest["num_rows"] == len(rows) == 12
    by_subtype: dict[str, int] = {}
    for r in rows:
        key = f"{r['task']}/{r['subtype']}"
        by_subtype[key] = by_subtype.get(key, 0) + 1
    assert manifest["counts"]["subtype"] == dict(sorted(by_subtype.items()))
    assert sorted({r["source"] for r in rows}) == manifest["sources"]
    assert len({r["id"] for r in rows}) == len(rows)
    assert manifest["seed"] == SEED and manifest["recipe"]["name"] == "mini"
    for s in manifest["sources"]:
        assert not s.startswith("/") and ".." not in s


def test_every_clip_decodes_with_stated_frames_and_fps(rows, tmp_path):
    for r in rows:
        assert len(r["videos"]) == len(r["fps"]) == len(r["num_frames"]) == len(r["frame_times"])
        assert r["question"].count("<video>") == len(r["videos"])
        for k, v in enumerate(r["videos"]):
            frames = decode_clip(v)
            assert len(frames) == r["num_frames"][k] == len(r["frame_times"][k])
            assert frames.shape[1] % 2 == 0 and frames.shape[2] % 2 == 0
            assert frames.shape[1] * frames.shape[2] <= 96 * 96
            path = tmp_path / "c.mp4"
            path.write_bytes(v["bytes"])
            assert probe(path).fps == pytest.approx(r["fps"][k], rel=1e-4)


def test_dataset_loads_with_load_dataset_and_configs(built):
    from datasets import load_dataset

    out, _ = built
    ds = load_dataset(str(out / "mini"), split="train")
    assert len(ds) == 12 and set(ds["task"]) == {"grounding", "counting", "jigsaw"}
    dec = ds[0]["videos"][0]
    assert dec.metadata.num_frames == ds[0]["num_frames"][0]
    jig = load_dataset(str(out / "mini"), "jigsaw-hard", split="train")
    assert len(jig) == 1 and len(jig[0]["videos"]) == 8
    card = (out / "mini" / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["task_categories"] == ["video-text-to-text"]
    names = {c["config_name"] for c in meta["configs"]}
    assert {"default", "grounding", "counting", "jigsaw", "grounding-Swap", "counting-hard"} <= names
    assert {i["config_name"]: i["splits"][0]["num_examples"] for i in meta["dataset_info"]}["default"] == 12
    assert "preview.png" in card and (out / "mini" / "preview.png").stat().st_size > 1000
    assert "| grounding | Slow | none | 1 |" in card


@pytest.mark.parametrize("subtype", ["ChannelSwap", "Mirror", "ZoomOut", "Swap"])
def test_grounding_pixels_differ_exactly_on_the_answer_interval(corpus, rows, subtype):
    row = next(r for r in rows if r["task"] == "grounding" and r["subtype"] == subtype)
    clip = decode_clip(row["videos"][0])
    clean = _clean_render(corpus, row)
    assert _differing(clip, clean) == _answer_frames(row)


@pytest.mark.parametrize("subtype", ["Shuffle", "StutterHold"])
def test_reordered_frame_times_differ_exactly_on_the_answer_interval(rows, subtype):
    row = next(r for r in rows if r["task"] == "grounding" and r["subtype"] == subtype)
    params = json.loads(row["params"])
    grid = np.asarray(params["source_indices"]) / params["source_fps"]
    times = np.asarray(row["frame_times"][0])
    # frame_times are the decoder's presentation times: equal to index / fps up to timebase rounding
    moved = [int(i) for i in np.nonzero(np.abs(times - grid) > 1e-3)[0]]
    span = _answer_frames(row)
    assert moved[0] == span[0] and moved[-1] == span[-1]
    assert set(moved) <= set(span)
    if subtype == "Shuffle":
        assert moved == span and np.allclose(sorted(times[span]), sorted(grid[span]), atol=1e-3)


@pytest.mark.parametrize("subtype", ["Slow", "Fast"])
def test_speed_changes_only_the_segment_spacing(rows, subtype):
    row = next(r for r in rows if r["task"] == "grounding" and r["subtype"] == subtype)
    params = json.loads(row["params"])
    diffs = np.diff(np.asarray(row["frame_times"][0]))
    span = _answer_frames(row)
    inside = np.zeros(len(diffs), dtype=bool)
    inside[span[0] : span[-1]] = True  # diffs between consecutive segment frames
    step = 1.0 / row["fps"][0]
    assert np.allclose(diffs[~inside], step, atol=1e-3)
    expected = step * params["speed_factor"]
    assert np.allclose(diffs[inside], expected, atol=1e-3)
    assert (expected < step) if subtype == "Slow" else (expected > step)


def test_counting_clip_differs_from_clean_render_only_on_params_frames(corpus, rows):
    for row in (r for r in rows if r["task"] == "counting"):
        params = json.loads(row["params"])
        painted = sorted({s["frame"] for s in params["shapes"]})
        clip = decode_clip(row["videos"][0])
        assert _differing(clip, _clean_render(corpus, row)) == painted
        counts = [sum(s["type"] == t for s in params["shapes"]) for t in ("circle", "square", "triangle")]
        assert row["answer"] == ",".join(map(str, counts))


def test_jigsaw_answer_restores_source_order(corpus, rows):
    for row in (r for r in rows if r["task"] == "jigsaw"):
        order = jigsaw.restore_order(row["answer"])
        times = np.concatenate([row["frame_times"][k] for k in order])
        assert np.all(np.diff(times) > 0)
        shown = np.concatenate([t[:1] for t in row["frame_times"]])
        assert not np.all(np.diff(shown) > 0)  # the clips are really shuffled
        clip = decode_clip(row["videos"][0])
        assert _differing(clip, _clean_render(corpus, row, clip=0)) == []


def test_split_keeps_benchmark_sources_out_of_training(built):
    _, result = built
    by_name = {d.name: set(d.sources) for d in result.datasets}
    assert by_name["mini"] and by_name["mini-bench"]
    assert not by_name["mini"] & by_name["mini-bench"]


def test_same_seed_same_bytes_and_resume_equals_uninterrupted(corpus, built, tmp_path):
    out, _ = built
    reference = tree_digest(out / "mini")
    # 1. Determinism: a fresh build with the same seed gives identical files.
    other = tmp_path / "again"
    _build(corpus, other)
    assert tree_digest(other / "mini") == reference
    # 2. Resume: drop half of the finished units and the published files (an interrupted build), re-run.
    parts = sorted((other / ".videossr-work" / "mini" / "parts").glob("*.parquet"))
    assert len(parts) >= 2
    dropped = parts[: len(parts) // 2]
    kept = {p: p.stat().st_mtime_ns for p in parts[len(parts) // 2 :]}
    for p in dropped:
        p.unlink()
        p.with_suffix(".json").unlink()
    shutil.rmtree(other / "mini" / "data")
    (other / "mini" / "README.md").unlink()
    said: list[str] = []
    _build(corpus, other, said=said)
    assert tree_digest(other / "mini") == reference
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished work was not redone
    # Nor was probing: every source comes from the first run's probe cache, beside the dataset folders.
    usable = next(m for m in said if "usable sources" in m)
    n = int(usable.split()[1])
    assert n >= 2 and f"({n} probed by an earlier run)" in usable
    assert (other / ".videossr-cache" / "probe.jsonl").is_file()


def test_rebuild_with_another_seed_is_seen_by_load_dataset(corpus, built, tmp_path):
    """The README's hashed YAML changes with the content, so load_dataset never serves stale rows."""
    from datasets import load_dataset

    out, _ = built
    target = tmp_path / "mini"
    shutil.copytree(out / "mini", target, ignore=shutil.ignore_patterns(".work"))
    first = load_dataset(str(target), split="train", cache_dir=str(tmp_path / "hf"))["answer"]
    rebuilt = tmp_path / "rebuilt"
    _build(corpus, rebuilt, seed=SEED + 1)
    shutil.rmtree(target)
    shutil.copytree(rebuilt / "mini", target, ignore=shutil.ignore_patterns(".work"))
    second = load_dataset(str(target), split="train", cache_dir=str(tmp_path / "hf"))["answer"]
    assert second != first
    assert second == [
        r["answer"] for r in sorted(iter_repo_rows(target, ["id", "answer"]), key=lambda r: r["id"])
    ]


def test_shards_are_complete_parquet_files_with_hub_names(built):
    out, _ = built
    shards = sorted((out / "mini" / "data").rglob("*.parquet"))
    assert shards
    for s in shards:
        assert s.name.startswith("train-") and "-of-" in s.name
        assert pq.ParquetFile(s).metadata.num_rows >= 1
    assert not list((out / "mini").glob(".staging-*"))
