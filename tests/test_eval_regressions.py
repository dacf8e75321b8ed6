"""The adapter regressions found by reading each benchmark's official loader against the old adapters:
each test fails on the old code (which read MVBench's ``main``, fed uncut videos, matched videos by name,
read TACoS frames as seconds, rejected yes/no answers, built its own VinoGround prompt from a CSV, shifted
VideoMMMU letters, dropped Video-TT rows, accepted non-permutations, and dropped Charades' period)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
from _benchmark_fixtures import build_fixture, clip_bytes
from PIL import Image
from videossr.eval.items import load_items
from videossr.eval.media import materialize
from videossr.eval.registry import BENCHMARKS
from videossr.eval.scoring import benchmark_metrics, score_item

REPO = Path(__file__).resolve().parent.parent


def items_by_id(bench: str, fx) -> dict:
    root = str(fx.video_root) if fx.video_root else None
    items = load_items(BENCHMARKS[bench], data=str(fx.data), video_root=root, cache_dir=fx.root / "cache")
    return {it.id: it for it in items}


def frame_count(path: str) -> tuple[int, float]:
    with av.open(path) as container:
        frames = [f for f in container.decode(video=0)]
    return len(frames), float(frames[-1].time - frames[0].time) if frames else 0.0


def test_mvbench_reads_the_video_revision_through_the_hub_cache(tmp_path):
    """snapshot_download gets revision "video": only that ref exists in this (offline) cache. The snapshot's
    files are links into the cache's blobs, which the containment rules accept."""
    fx = build_fixture("mvbench", tmp_path / "fx")
    repo = tmp_path / "hub" / "datasets--OpenGVLab--MVBench"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / commit
    for path in sorted(p for p in fx.data.rglob("*") if p.is_file()):
        blob = repo / "blobs" / f"{abs(hash(str(path))):x}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, blob)
        link = snapshot / path.relative_to(fx.data)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "video").write_text(commit)
    code = (
        "from videossr.eval.items import load_items\n"
        "from videossr.eval.registry import BENCHMARKS\n"
        "items = load_items(BENCHMARKS['mvbench'])\n"
        "print(len(items), sum(i.error is not None for i in items), items[0].videos[0].path)\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    count, failed, path = out.stdout.split()
    assert (count, failed) == ("20", "0") and path.startswith(str(snapshot))


def _main_layout(root: Path) -> Path:
    """MVBench's ``main`` revision: json/<task>.json, zipped full-length videos, tvqa frame folders."""
    rows = {
        "action_sequence": [
            {
                "video": "6H78U.mp4",
                "question": "What did the person do first?",
                "candidates": ["Sat down.", "Stood up."],
                "answer": "Stood up.",
                "start": 1.0,
                "end": 3.0,
            }
        ],
        "episodic_reasoning": [
            {
                "video": "castle_s01e02_seg02_clip_05",
                "question": "Why does he leave?",
                "candidates": ["He is late.", "He is angry."],
                "answer": "He is late.",
                "start": 1.0,
                "end": 2.0,
            }
        ],
        "action_count": [
            {"video": "dup.mp4", "question": "How many times?", "candidates": ["1", "2"], "answer": "2"}
        ],
    }
    for task, task_rows in rows.items():
        (root / "json").mkdir(parents=True, exist_ok=True)
        (root / "json" / f"{task}.json").write_text(json.dumps(task_rows))
    shutil.copy(REPO / "tests/fixtures/benchmarks/mvbench/release/README.md", root / "README.md")
    (root / "video").mkdir()
    with zipfile.ZipFile(root / "video" / "star.zip", "w") as zf:
        zf.writestr("star/Charades_v1_480/6H78U.mp4", clip_bytes(8.0))  # 8 s at 4 fps
    frames = root / "video" / "tvqa" / "frames_fps3_hq" / "castle_s01e02_seg02_clip_05"
    frames.mkdir(parents=True)
    for k in range(1, 10):  # 3 s at 3 fps
        Image.fromarray(np.full((32, 32, 3), 20 * k, np.uint8)).save(frames / f"{k:05d}.jpg")
    # a file named like action_count's video, but in another sub-task's folder
    (root / "clevrer" / "video_validation").mkdir(parents=True)
    (root / "clevrer" / "video_validation" / "dup.mp4").write_bytes(clip_bytes(2.0))
    return root


def test_mvbench_main_layout_cuts_bounds_reads_frame_folders_and_never_matches_by_name(tmp_path):
    data = _main_layout(tmp_path / "mvbench-main")
    loaded = load_items(BENCHMARKS["mvbench"], data=str(data), cache_dir=tmp_path / "cache")
    items = {it.meta.get("task"): it for it in loaded if it.meta.get("task")}
    seq, ep, count = items["action_sequence"], items["episodic_reasoning"], items["action_count"]
    assert (seq.videos[0].start, seq.videos[0].end) == (1.0, 3.0)
    n, span = frame_count(materialize(seq.videos[0], tmp_path / "cache"))
    assert n == 8 and span == pytest.approx(1.75, abs=0.01)  # 2 s of the 8 s source at 4 fps
    assert ep.videos[0].frame_fps == 3.0
    assert frame_count(materialize(ep.videos[0], tmp_path / "cache"))[0] == 4  # frames 4..7 = [1 s, 2 s]
    assert count.error is not None and "perception/videos/dup.mp4" in count.error
    unavailable = [it for it in loaded if it.error and "unavailable" in it.error]
    assert len(unavailable) == 17  # the sub-tasks this copy lacks are counted, not dropped


def test_mvbench_video_revision_clip_named_by_source_is_matched_by_its_bounds(tmp_path):
    items = items_by_id("mvbench", build_fixture("mvbench", tmp_path))
    pred = next(it for it in items.values() if it.meta["task"] == "action_prediction")
    assert Path(pred.videos[0].path).name == "ZS9XR_2.0_5.5.mp4" and pred.videos[0].start is None


def test_tacos_frames_become_seconds(tmp_path):
    item = items_by_id("tacos", build_fixture("tacos", tmp_path))["s13-d21.avi-0"]
    assert item.answer == [[pytest.approx(30 / 29.4), pytest.approx(60 / 29.4)]]
    assert item.meta["duration"] == pytest.approx(120 / 29.4)
    res = score_item(item, "The event happens in 1.02 - 2.04 seconds.")
    assert res["iou"] > 0.99


def test_cvbench_yes_no_and_one_option_answers(tmp_path):
    items = items_by_id("cvbench", build_fixture("cvbench", tmp_path))
    yes_no, single = items["2"], items["3"]
    assert yes_no.options == ["Yes.", "No."] and yes_no.answer == "A"
    assert score_item(yes_no, "Yes")["score"] == 1.0 and score_item(yes_no, "No.")["score"] == 0.0
    assert single.options == ["A. a cooking show"] and single.answer == "A"
    assert len(items["1"].videos) == 3 and items["1"].prompt.startswith("Video 1: <video>\nVideo 2: <video>")


def test_vinoground_comes_from_the_official_text_score_file(tmp_path):
    fx = build_fixture("vinoground", tmp_path)
    rows = {r["idx"]: r for r in json.loads((fx.data / "vinoground_textscore.json").read_text())}
    items = items_by_id("vinoground", fx)
    assert sorted(items) == ["0_neg", "0_pos", "1_neg", "1_pos"]
    for idx, item in items.items():
        assert item.prompt == "<video>\n" + rows[idx]["question"]
        assert item.answer == rows[idx]["GT"]
        assert item.videos[0].path.endswith(f"vinoground_videos/{idx}.mp4")
    wrong = {"A": "B", "B": "A"}
    scored = [
        (it, score_item(it, wrong[it.answer] if it.id == "1_neg" else it.answer)) for it in items.values()
    ]
    metrics = benchmark_metrics(BENCHMARKS["vinoground"], scored)
    assert metrics["text_score"] == 50.0 and metrics["accuracy"] == 75.0


def test_videommmu_blank_options_keep_their_letters_and_tracks_are_reported(tmp_path):
    items = items_by_id("videommmu", build_fixture("videommmu", tmp_path))
    art = items["test_Art_1"]
    assert art.answer == "C" and art.options[2] == "Degas"
    assert "\nB.\nC. Degas\n" in art.prompt
    scored = [(it, score_item(it, "A" if it.id == "test_Art_3" else it.answer)) for it in items.values()]
    metrics = benchmark_metrics(BENCHMARKS["videommmu"], scored)
    assert metrics["accuracy_perception"] == 100.0 and metrics["accuracy_comprehension"] == 100.0
    assert metrics["accuracy_adaptation"] == 0.0 and metrics["accuracy"] == pytest.approx(200 / 3)


def test_videott_row_without_options_is_counted_as_failed(tmp_path):
    fx = build_fixture("videott", tmp_path, malformed=True)
    items = list(items_by_id("videott", fx).values())
    assert len(items) == 2 and [bool(it.error) for it in items].count(True) == 1
    assert "question_prompt lists 0 option(s)" in next(it.error for it in items if it.error)


def test_vcrbench_answer_must_be_a_permutation(tmp_path):
    item = items_by_id("vcrbench", build_fixture("vcrbench", tmp_path))["q0001"]
    assert item.answer == [3, 1, 2, 4]
    assert score_item(item, "Correct order: 3, 1, 2, 4")["score"] == 1.0
    res = score_item(item, "Correct order: 3, 1, 2, 2")
    assert res["status"] == "unparsed" and res["step_hits"] == 0 and res["score"] == 0.0


def test_charades_prompt_puts_a_period_after_the_caption(tmp_path):
    items = items_by_id("charades", build_fixture("charades", tmp_path))
    prompt = items["3MSZA-0"].prompt
    assert "textual sentence: person turn a light on. Please return its start time and end time." in prompt


def test_hub_orgs_and_revisions_are_the_real_releases():
    lmms = {s.name: s.hub_id for s in BENCHMARKS.values() if s.hub_id and s.hub_id.startswith("lmms")}
    assert lmms and all(hub.startswith("lmms-eval/") for hub in lmms.values()), lmms
    assert BENCHMARKS["mvbench"].revision == "video"
    assert all(s.revision and s.loader for s in BENCHMARKS.values())
