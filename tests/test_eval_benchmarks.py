"""The eval loop on the real-layout fixtures with scripted backends: prompts, failures (missing column,
missing or undecodable video) counted never a crash, resumable shards. The per-benchmark oracle / chance /
malformed tests are in test_eval_adapters.py, the command line's in test_eval_cli.py."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from _benchmark_fixtures import fixture_names
from _eval_helpers import make_benchmark_fixture, write_card, write_jsonl
from videossr.eval.backends import CallableBackend, RandomBackend
from videossr.eval.evaluator import evaluate
from videossr.eval.registry import BENCHMARKS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data, expected = {}, {}
    for bench in fixture_names():
        path, n = make_benchmark_fixture(bench, root)
        data[bench], expected[bench] = str(path), n
    return root, data, expected


def test_wrong_and_garbled_answers_score_zero_and_are_counted(fixtures, tmp_path):
    _, data, _ = fixtures

    def script(item, settings):
        return "I am not sure."

    res = evaluate(
        ["videomme", "charades", "vcrbench"], CallableBackend(script), tmp_path, data=data, progress=False
    )
    for bench in ("videomme", "charades", "vcrbench"):
        entry, counts = res["results"][bench], res["item_counts"][bench]
        assert counts["n_unparsed"] == counts["n_items"] and entry[f"{BENCHMARKS[bench].primary},none"] == 0.0


def test_prompts_follow_the_paper(fixtures, tmp_path):
    _, data, _ = fixtures
    seen = {}

    def script(item, settings):
        seen[item.bench] = (item.prompt, settings)
        return "A"

    evaluate(
        ["videomme", "charades", "vcrbench", "tempcompass"],
        CallableBackend(script),
        tmp_path,
        data=data,
        progress=False,
    )
    assert (
        seen["videomme"][0] == "<video>\nHow many people appear in the video?\nA. 1.\nB. 2.\nC. 3.\nD. 4.\n"
        "Answer with the option letter directly."
    )
    assert seen["charades"][0].startswith(
        "<video>\nPlease find the visual event described by a sentence in the video"
    )
    assert re.search(
        r"textual sentence: [a-z ]+\. Please return its start time and end time\.$", seen["charades"][0]
    )
    assert "complete the task: make tea" in seen["vcrbench"][0] and "Correct order:" in seen["vcrbench"][0]
    assert seen["tempcompass"][0].count("\nA. ") == 1  # the question lists its options once
    settings = seen["videomme"][1]
    assert (settings.frames, settings.fps, settings.max_pixels, settings.sampling) == (
        32,
        2.0,
        512 * 512,
        "fps",
    )


def test_missing_column_missing_video_and_undecodable_clip_are_failed_items(tmp_path):
    folder = tmp_path / "videomme"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "broken.mp4").write_bytes(b"not an mp4 at all")
    rows = [
        {
            "videoID": "broken",
            "question_id": "1",
            "question": "q?",
            "options": ["A. a", "B. b"],
            "answer": "A",
        },
        {
            "videoID": "absent",
            "question_id": "2",
            "question": "q?",
            "options": ["A. a", "B. b"],
            "answer": "B",
        },
        {"videoID": "broken", "question_id": "3", "question": "q?", "answer": "B"},  # no options column value
    ]
    write_jsonl(folder / "test.jsonl", rows)
    write_card(folder, [("default", "test", "test.jsonl")])
    from videossr.eval.backends import Settings
    from videossr.eval.media import decode_frames, materialize

    def script(item, settings: Settings):
        decode_frames(materialize(item.videos[0], settings.cache_dir), max_frames=4)
        return "A"

    res = evaluate(
        ["videomme"],
        CallableBackend(script, needs_video=True),
        tmp_path / "out",
        data={"videomme": str(folder)},
        progress=False,
    )
    counts = res["item_counts"]["videomme"]
    assert (
        counts["n_items"] == 3
        and counts["n_failed"] == 3
        and res["results"]["videomme"]["accuracy,none"] == 0.0
    )
    reasons = [
        json.loads(line).get("reason", "")
        for line in (tmp_path / "out" / "samples_videomme.jsonl").read_text().splitlines()
    ]
    assert any("VideoError: cannot decode broken.mp4" in r for r in reasons)
    assert any("video not found: absent" in r for r in reasons)
    assert any("missing column 'options'" in r for r in reasons)


def test_resume_and_shards_reuse_cached_answers(fixtures, tmp_path):
    _, data, _ = fixtures
    calls = []

    def script(item, settings):
        calls.append(item.id)
        return f"({item.answer})"

    backend = CallableBackend(script)
    for i in range(2):
        evaluate(["vinoground"], backend, tmp_path, data=data, shard=(i, 2), progress=False)
    assert sorted(calls) == ["0_neg", "0_pos", "1_neg", "1_pos"]
    assert (tmp_path / "results.shard-0-of-2.json").exists()
    res = evaluate(["vinoground"], backend, tmp_path, data=data, progress=False)
    assert len(calls) == 4  # nothing answered twice
    assert res["results"]["vinoground"]["text_score,none"] == 100.0
    res = evaluate(["vinoground"], backend, tmp_path, data=data, frames=16, limit=2, progress=False)
    assert len(calls) == 6  # other settings -> other cache keys; --limit spreads N items over the ids
    assert res["n-samples"]["vinoground"] == {"original": 4, "effective": 2}


def test_unavailable_benchmark_is_reported_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = evaluate(["qvhighlights", "charades"], RandomBackend(), tmp_path / "o", progress=False)
    assert "pass --data qvhighlights=PATH" in res["unavailable"]["qvhighlights"]
    assert "charades" in res["unavailable"]
    shutil.rmtree(tmp_path / "o")
