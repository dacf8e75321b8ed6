"""The stream's rows: the same in every process for a seed and a position, they pass the checks verify runs
on every row of a built dataset, they are the rows the build makes from the same plan, and they never come
from the benchmark's videos. Adversarial sources: a video that breaks after it was probed, content on which
no draw is visible."""

from __future__ import annotations

import json
import multiprocessing
import tempfile
from pathlib import Path

import numpy as np
import pytest
from _stream_helpers import FRAME_PIXELS, every_kind_recipe, make_corpus, open_stream
from videossr.build.checks import (
    LeakScanner,
    check_clips,
    check_row,
    check_video_bytes,
    clips_of_row,
    row_leaks,
)
from videossr.build.config import BuildConfig
from videossr.build.frames import FrameSampler
from videossr.build.pipeline import build
from videossr.build.plan import split_sources
from videossr.build.recipes import MixEntry, Recipe, load_recipe
from videossr.build.render import encode_clips, run_ffmpeg
from videossr.build.shards import iter_repo_rows
from videossr.stream import BOUNDS, DrawSettings, Levels, SampleStream, StreamError, open_corpus
from videossr.tasks import TaskSpec
from videossr.train.data import DataError, VideoOptions
from videossr.train.stream_data import StreamPrompts

pytestmark = pytest.mark.slow


def row_problems(row: dict) -> list[str]:
    """What verify's per-row checks find in ``row``: ids, clip lists, prompts, the answer re-derived from
    its params, and leaks (absolute paths, user and host names)."""
    problems: list[str] = []
    rederived = check_row(row, lambda check, message: problems.append(f"{check}: {message}"))
    assert rederived, f"{row['id']}: the answer was not re-derived from params"
    return problems + row_leaks(row, LeakScanner(Path(tempfile.gettempdir())))


def bytes_problems(row: dict) -> list[str]:
    problems: list[str] = []
    check_video_bytes(row, lambda check, message: problems.append(message))
    return problems


def same_row(a: dict, b: dict) -> bool:
    if set(a) != set(b) or any(a[k] != b[k] for k in a if k != "videos"):
        return False
    return all(
        np.array_equal(x["frames"], y["frames"]) and x["path"] == y["path"]
        for x, y in zip(a["videos"], b["videos"])
    )


def _rows_in_fresh_process(root, positions: list[int]) -> list[dict]:
    stream = open_stream(every_kind_recipe(count=3), root, seed=5)
    return [stream[p] for p in positions]


def test_same_seed_and_position_give_the_same_row_in_any_process(small_corpus):
    recipe = every_kind_recipe(count=3)
    positions = [20, 3, 11, 0, 17]
    here = [open_stream(recipe, small_corpus, seed=5)[p] for p in positions]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.apply(_rows_in_fresh_process, (small_corpus, positions))
    assert all(same_row(a, b) for a, b in zip(here, there))
    again = open_stream(recipe, small_corpus, seed=5)
    assert all(same_row(again[p], row) for p, row in zip(positions, here))  # any order, any instance
    other = open_stream(recipe, small_corpus, seed=6)
    assert not any(same_row(other[p], row) for p, row in zip(positions, here))


def test_later_epochs_draw_new_samples(small_corpus):
    recipe = every_kind_recipe(count=1)
    stream = open_stream(recipe, small_corpus, length=3 * recipe.total)
    rows = [stream[p] for p in range(len(stream))]
    assert len({r["id"] for r in rows}) == len(rows)
    keys = {(r["question"], r["answer"], r["params"]) for r in rows}
    assert len(keys) == len(rows), "an epoch repeated a sample of another"
    with pytest.raises(IndexError, match=r"outside 0\.\.20"):
        stream[len(stream)]


def test_every_row_passes_verifys_row_checks_frames_and_mp4(small_corpus):
    recipe = every_kind_recipe(count=2)
    frames, mp4 = (
        open_stream(recipe, small_corpus, seed=1),
        open_stream(recipe, small_corpus, seed=1, clips="mp4"),
    )
    sampler = FrameSampler(60)
    try:
        for p in range(len(frames)):
            row = frames[p]
            assert row_problems(row) == [], row["id"]
            for video, n in zip(row["videos"], row["num_frames"]):
                assert video["frames"].dtype == np.uint8 and video["frames"].shape[0] == n
                assert video["frames"].shape[1] * video["frames"].shape[2] <= FRAME_PIXELS
            encoded = mp4[p]
            assert row_problems(encoded) == []
            decoded = check_clips(list(clips_of_row(encoded)), sampler)
            assert bytes_problems(encoded) == [] and all(r.problems == [] for r in decoded), decoded
            assert {k: v for k, v in encoded.items() if k != "videos"} == {
                k: v for k, v in row.items() if k != "videos"
            }
    finally:
        sampler.close()


def test_rows_at_every_difficulty_pass_the_checks_and_record_it(small_corpus):
    recipe = every_kind_recipe(count=1)
    stream = open_stream(recipe, small_corpus, seed=3)
    for p in range(len(stream)):
        task = stream.plan.job(p)[1].spec.task
        low, high = BOUNDS[task]
        for offset in range(low, high + 1):
            row = stream.draw(p, Levels.of({task: offset})).row
            assert row_problems(row) == [], (row["id"], offset)
            recorded = json.loads(row["params"]).get("stream_difficulty")
            assert (recorded or {}).get("offset", 0) == offset and (recorded is None) == (offset == 0)


@pytest.fixture(scope="module")
def built(small_corpus, tmp_path_factory):
    """The same recipe built by build/run.py's pipeline from the same videos and seed."""
    out = tmp_path_factory.mktemp("built")
    recipe = every_kind_recipe(count=2)
    config = BuildConfig(out_dir=out, seed=7, workers=2, progress=False)
    build([recipe], [small_corpus], config, on_progress=lambda m: None)
    return recipe, {r["id"]: r for r in iter_repo_rows(out / recipe.name)}


def test_stream_rows_are_the_built_rows_of_the_same_plan(built, small_corpus):
    recipe, rows = built
    mp4 = open_stream(recipe, small_corpus, seed=7, clips="mp4")
    frames = open_stream(recipe, small_corpus, seed=7)
    assert len(rows) == len(mp4) == recipe.total
    for p in range(len(mp4)):
        streamed = mp4[p]
        assert streamed == rows[streamed["id"]], streamed["id"]  # every column, every clip's bytes
        decoded = frames[p]
        clips = [(v["frames"], fps) for v, fps in zip(decoded["videos"], decoded["fps"])]
        assert encode_clips(clips) == [v["bytes"] for v in streamed["videos"]]  # the frames the build encodes
        assert decoded["answer"] == streamed["answer"]


def test_the_benchmarks_videos_are_never_drawn(tmp_path):
    root = make_corpus(tmp_path / "videos", count=8, width=64, height=48, seconds=3)
    train = every_kind_recipe(count=4)
    bench = load_recipe("viubench").scaled(train.total)
    corpus = open_corpus([root], train, bench)
    usable = open_corpus([root], train, None).sources
    expected = split_sources(list(usable), [train, bench])  # what build/run.py gives each dataset
    assert [s.id for s in corpus.sources] == [s.id for s in expected[train.name]]
    assert corpus.held_out and set(corpus.held_out) == {s.id for s in expected[bench.name]}
    stream = SampleStream(corpus, DrawSettings(train, seed=0))
    drawn = {stream[p]["source"] for p in range(len(stream))}
    assert drawn and not drawn & set(corpus.held_out)


def test_a_video_that_breaks_after_probing_gives_its_samples_to_its_fallbacks(tmp_path):
    root = make_corpus(tmp_path / "videos", count=4, width=64, height=48, seconds=3)
    recipe = every_kind_recipe(count=1)
    stream = open_stream(recipe, root)
    victim = stream.corpus.sources[0]
    dealt = [p for p in range(len(stream)) if stream.plan.job(p)[0].source.id == victim.id]
    assert dealt
    with open(victim.path, "r+b") as f:  # cut short after the probe: the container no longer opens
        f.truncate(2000)
    for p in dealt:
        draw = stream.draw(p)
        assert draw.moved and draw.row["source"] != victim.id and row_problems(draw.row) == []
    assert victim.id in stream.broken


def flat_video(path, grey: str) -> None:
    """A video of one flat grey (red = green = blue): no channel swap can be seen on it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(
        [
            "-f",
            "lavfi",
            "-i",
            f"color=c={grey}:size=64x48:rate=24",
            "-t",
            "3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ]
    )


def test_a_corpus_on_which_no_draw_is_visible_fails_loudly(tmp_path):
    for i, grey in enumerate(("0x808080", "0x606060")):
        flat_video(tmp_path / "flat" / f"grey{i}.mp4", grey)
    entry = MixEntry(
        TaskSpec("grounding", "ChannelSwap", {"num_frames": 16, "min_segment": 3, "max_segment": 6}), 2
    )
    stream = open_stream(
        Recipe("grey", (entry,), max_pixels=FRAME_PIXELS, num_frames=16), root=tmp_path / "flat"
    )
    message = r"stream position 1 \(grounding/ChannelSwap\): no source gave a sample in 4 plans; last reasons"
    with pytest.raises(StreamError, match=message):
        stream[1]
    prompts = StreamPrompts(stream, VideoOptions(max_pixels=FRAME_PIXELS, max_frames=16))
    with pytest.raises(DataError, match=message) as raised:
        prompts[1]  # what the trainer's loader raises: a one-line user error, not a worker traceback
    text = str(raised.value)
    assert "would not be visible" in text and text.endswith("add videos, or change --recipe")


def test_the_stream_leaves_no_file_behind(tmp_path, monkeypatch):
    root = make_corpus(tmp_path / "videos", count=3, width=64, height=48, seconds=3)
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    stream = open_stream(every_kind_recipe(count=1), root)
    rows = [stream[p] for p in range(len(stream))]
    assert len(rows) == len(stream) and sorted(tmp_path.rglob("*")) == before
