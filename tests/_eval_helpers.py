"""Shared fixtures for the eval tests: a small VIUBench built with videossr.tasks, tiny benchmark repos in
their official schemas, and a scripted backend. Nothing here touches the network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

VIU_SPECS = (
    ("counting", "easy"),
    ("counting", "hard"),
    ("grounding", "ChannelSwap"),
    ("grounding", "Rotate180"),
    ("grounding", "ZoomOut"),
    ("grounding", "Mirror"),
    ("grounding", "Shuffle"),
    ("jigsaw", "easy"),
    ("jigsaw", "hard"),
)


def _frames(rng: np.random.Generator, n: int, h: int = 64, w: int = 64) -> np.ndarray:
    """Smooth, distinct frames: a moving gradient plus noise (every perturbation is visible on them)."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    base = rng.integers(0, 255, size=3)
    for i in range(n):
        r = (xx * 3 + i * 5 + base[0]) % 256
        g = (yy * 2 + i * 3 + base[1]) % 256
        b = ((xx + yy) + i * 7 + base[2]) % 256
        noise = rng.integers(0, 20, size=(h, w, 3))
        out[i] = np.clip(np.stack([r, g, b], -1) + noise, 0, 255).astype(np.uint8)
    return out


def make_viubench_samples(per_subtype: int = 1, seed: int = 0, size: int = 64):
    """``(sample_id, source_id, Sample)`` triples covering the 9 VIUBench subtypes."""
    from videossr.tasks import SampleRejected, TaskSpec, VideoInfo, make_sample, plan_sample

    rng = np.random.default_rng(seed)
    info = VideoInfo(duration=60.0, fps=24.0, num_frames=1440, width=size, height=size)
    out = []
    for task, subtype in VIU_SPECS:
        made = 0
        attempts = 0
        while made < per_subtype:
            attempts += 1
            assert attempts < 50, f"cannot make {task}/{subtype}"
            plan = plan_sample(TaskSpec(task, subtype), info, rng)
            try:
                sample = make_sample(plan, _frames(rng, len(plan.times), size, size))
            except SampleRejected:
                continue
            out.append((f"{task}-{subtype}-{made:04d}", f"src{made}", sample))
            made += 1
    return out


def make_viubench(out_dir: Path, per_subtype: int = 1, seed: int = 0) -> Path:
    from videossr.build.repo import write_samples_repo

    write_samples_repo(make_viubench_samples(per_subtype, seed), out_dir, dataset_name="viubench-test")
    return Path(out_dir)


def tiny_mp4(path: Path, n: int = 8, fps: float = 4.0, seed: int = 0, size: int = 32) -> Path:
    from videossr.build.render import encode_clip

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_clip(_frames(np.random.default_rng(seed), n, size, size), fps))
    return path


def write_card(folder: Path, configs: list[tuple[str, str, str]]) -> None:
    """README.md with ``configs`` (name, split, data file) so ``load_dataset(folder, name)`` finds the data."""
    lines = ["---", "configs:"]
    for i, (name, split, path) in enumerate(configs):
        lines += [f"- config_name: {name}", "  data_files:", f"  - split: {split}", f"    path: {path}"]
        if i == 0:
            lines.append("  default: true")
    lines += ["---", "", "fixture"]
    (folder / "README.md").write_text("\n".join(lines) + "\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def make_benchmark_fixture(bench: str, root: Path) -> tuple[Path, int]:
    """A tiny repo (or file) for ``bench`` in its official schema; returns (path for --data, expected items).

    Videos are real tiny mp4s placed as the publisher does (inside the repo, in a zip archive, or under a
    separate video root = the same folder here).
    """
    import zipfile

    folder = root / bench
    folder.mkdir(parents=True, exist_ok=True)
    if bench == "mvbench":
        from videossr.eval.registry import MVBENCH_TASKS

        lines = ["---", "configs:"]
        for k, (task, video_dir) in enumerate(MVBENCH_TASKS.items()):
            if not (folder / "video" / video_dir / "v.mp4").exists():
                tiny_mp4(folder / "video" / video_dir / "v.mp4", seed=k)
            write_jsonl(folder / "json" / f"{task}.jsonl", [
                {"video": "v.mp4", "question": f"What happens ({task})?", "candidates": ["Put it down.", "Threw it.", "Ate it."], "answer": "Threw it."},
            ])  # fmt: skip
            lines += [
                f"- config_name: {task}",
                "  data_files:",
                "  - split: train",
                f"    path: json/{task}.jsonl",
            ]
        (folder / "README.md").write_text("\n".join([*lines, "---", ""]))
        return folder, len(MVBENCH_TASKS)
    if bench == "tempcompass":
        tiny_mp4(folder / "videos" / "1001.mp4")
        write_jsonl(folder / "multi-choice.jsonl", [
            {"video_id": "1001", "dim": "direction", "question": "Which way does the car move?\nA. left\nB. right\nC. up\nD. down", "answer": "B. right"},
        ])  # fmt: skip
        with zipfile.ZipFile(folder / "tempcompass_videos.zip", "w") as zf:
            zf.write(folder / "videos" / "1001.mp4", "videos/1001.mp4")
        (folder / "videos" / "1001.mp4").unlink()
        write_card(folder, [("multi-choice", "test", "multi-choice.jsonl")])
        return folder, 1
    if bench == "aotbench":
        tiny_mp4(folder / "videos" / "clip_0.mp4")
        write_jsonl(folder / "test.jsonl", [
            {"id": "q0", "video": "clip_0.mp4", "question": "Is the video played forward or backward?", "options": ["forward", "backward"], "answer": "A"},
        ])  # fmt: skip
        write_card(folder, [("default", "test", "test.jsonl")])
        return folder, 1
    if bench == "vinoground":
        tiny_mp4(folder / "vinoground_videos" / "0_pos.mp4")
        tiny_mp4(folder / "vinoground_videos" / "0_neg.mp4", seed=1)
        tiny_mp4(folder / "vinoground_videos" / "1_pos.mp4", seed=2)
        tiny_mp4(folder / "vinoground_videos" / "1_neg.mp4", seed=3)
        (folder / "vinoground.csv").write_text(
            "index,major,minor,pos_vid,pos_cap,neg_vid,neg_cap\n"
            "0,action,,0_pos,a man opens the door then sits,0_neg,a man sits then opens the door\n"
            "1,object,interaction,1_pos,the dog chases the cat,1_neg,the cat chases the dog\n"
        )
        return folder, 4
    if bench == "videomme":
        tiny_mp4(folder / "data" / "fFjv93ACGo8.mp4")
        rows = [{"video_id": "001", "duration": "short", "domain": "Knowledge", "sub_category": "Humanity & History", "url": "", "videoID": "fFjv93ACGo8", "question_id": "001-1", "task_type": "Counting Problem", "question": "How many people appear?", "options": ["A. 1.", "B. 2.", "C. 3.", "D. 4."], "answer": "C"}]  # fmt: skip
        write_jsonl(folder / "videomme" / "test.jsonl", rows)
        write_card(folder, [("videomme", "test", "videomme/test.jsonl")])
        return folder, 1
    if bench == "lvbench":
        tiny_mp4(folder / "videos" / "00000001.mp4")
        write_jsonl(folder / "train.jsonl", [
            {"uid": 1, "video_path": "videos/00000001.mp4", "question": "What is the man holding?\n(A) a cup\n(B) a pen\n(C) a phone\n(D) a book", "answer": "D"},
        ])  # fmt: skip
        write_card(folder, [("default", "train", "train.jsonl")])
        return folder, 1
    if bench == "longvideobench":
        tiny_mp4(folder / "videos" / "86CxyhFV9MI.mp4")
        write_jsonl(folder / "lvb_val.jsonl", [
            {"id": "86CxyhFV9MI_0", "video_path": "86CxyhFV9MI.mp4", "question": "What colour is the hat?", "option0": "red", "option1": "blue", "option2": "green", "option3": "N/A", "option4": "N/A", "correct_choice": 1, "duration_group": 15},
        ])  # fmt: skip
        write_card(folder, [("default", "validation", "lvb_val.jsonl")])
        return folder, 1
    if bench == "cgbench":
        tiny_mp4(folder / "cg_videos_720p" / "abc123.mp4")
        write_jsonl(folder / "cgbench_mini.jsonl", [
            {"qid": 7, "video_uid": "abc123", "question": "Where does the scene take place?", "choices": ["kitchen", "garden", "office", "street", "beach"], "right_answer": "E", "duration": 900, "domain": "Life"},
        ])  # fmt: skip
        write_card(folder, [("cg-bench-mini", "train", "cgbench_mini.jsonl")])
        return folder, 1
    if bench == "qvhighlights":
        tiny_mp4(folder / "videos" / "RoripwjYFp8_60.0_210.0.mp4", n=16)
        write_jsonl(folder / "highlight_val_release.jsonl", [
            {"qid": 2579, "query": "A girl and her mother cooked while talking.", "duration": 4, "vid": "RoripwjYFp8_60.0_210.0", "relevant_windows": [[0, 1], [2, 3]]},
        ])  # fmt: skip
        return folder / "highlight_val_release.jsonl", 1
    if bench in ("activitynet", "tacos"):
        tiny_mp4(folder / "videos" / "v_abc.mp4", n=16)
        data = {
            "v_abc": {
                "duration": 4.0,
                "timestamps": [[0.0, 2.0], [1.0, 4.0]],
                "sentences": ["A man walks in.", "He sits down."],
            }
        }
        (folder / "val_2.json").write_text(json.dumps(data))
        return folder / "val_2.json", 2
    if bench == "charades":
        tiny_mp4(folder / "Charades_v1_480" / "3MSZA.mp4", n=16)
        write_jsonl(folder / "test.jsonl", [
            {"video": "3MSZA.mp4", "caption": "person turn a light on.", "timestamp": [1.0, 3.0], "duration": 4.0},
        ])  # fmt: skip
        write_card(folder, [("default", "test", "test.jsonl")])
        return folder, 1
    if bench == "videommmu":
        tiny_mp4(folder / "Perception" / "test_Art_1.mp4")
        tiny_mp4(folder / "Adaptation" / "test_Art_2.mp4", seed=1)
        write_jsonl(folder / "Perception" / "test.jsonl", [
            {"id": "test_Art_1", "question": "Which artist painted it?", "options": ["Monet", "Manet", "Degas", "Renoir"], "answer": "A", "question_type": "multiple-choice"},
            {"id": "test_Art_9", "question": "Name the year.", "options": [], "answer": "1874", "question_type": "open"},
        ])  # fmt: skip
        write_jsonl(folder / "Adaptation" / "test.jsonl", [
            {"id": "test_Art_2", "question": "Which style applies?", "options": ["Cubism", "Fauvism", "Impressionism"], "answer": "C", "question_type": "multiple-choice"},
        ])  # fmt: skip
        lines = ["---", "configs:"]
        for name in ("Perception", "Comprehension", "Adaptation"):
            if name != "Comprehension":
                lines += [
                    f"- config_name: {name}",
                    "  data_files:",
                    "  - split: test",
                    f"    path: {name}/test.jsonl",
                ]
        (folder / "README.md").write_text("\n".join([*lines, "---", ""]))
        return folder, 2  # Comprehension is missing in this fixture: reported, not a crash
    if bench == "videott":
        tiny_mp4(folder / "videos" / "tt_001.mp4")
        write_jsonl(folder / "test.jsonl", [
            {"video_id": "tt_001", "question": "Why does the man laugh?", "question_prompt": "A. a joke\nB. a fall\nC. a dog\nD. a song\nE. a gift", "answer": "B", "capability": "humor"},
            {"video_id": "tt_001", "question": "Describe the scene.", "question_prompt": "", "answer": "a park", "capability": "oe"},
        ])  # fmt: skip
        write_card(folder, [("default", "test", "test.jsonl")])
        return folder, 1
    if bench == "vcrbench":
        tiny_mp4(folder / "videos" / "make_tea.mp4", n=16)
        (folder / "data.json").write_text(
            json.dumps(
                [
                    {
                        "qid": "q1",
                        "goal": "make tea",
                        "video_file": "make_tea.mp4",
                        "ground_truth": [2, 0, 1, 3],
                    }
                ]
            )
        )
        return folder, 1
    if bench == "cvbench":
        tiny_mp4(folder / "videos" / "cv_a.mp4")
        tiny_mp4(folder / "videos" / "cv_b.mp4", seed=1)
        tiny_mp4(folder / "videos" / "cv_c.mp4", seed=2)
        write_jsonl(folder / "data" / "test.jsonl", [
            {"id": 1, "task_type": "Cross-video Object Recognition", "video_1": "cv_a.mp4", "video_2": "cv_b.mp4", "video_3": "cv_c.mp4", "video_4": "", "question": "Which object appears in all videos?", "options": ["A. a ball", "B. a cup", "C. a dog", "D. a hat"], "answer": "B"},
        ])  # fmt: skip
        write_card(folder, [("default", "test", "data/test.jsonl")])
        return folder, 1
    raise KeyError(bench)


FIXTURE_BENCHES = (
    "mvbench", "tempcompass", "aotbench", "vinoground", "videomme", "lvbench", "longvideobench", "cgbench",
    "qvhighlights", "activitynet", "charades", "tacos", "videommmu", "videott", "vcrbench", "cvbench",
)  # fmt: skip
