"""Training on a stream with the tiny Qwen3-VL: sharding over loader workers and ranks, resuming the exact
sequence from a checkpoint, adaptive difficulty against a rigged reward, and ``python train/grpo.py --dataset
stream:...`` with ``--export-seen`` (checked by build/verify.py)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from _stream_helpers import (
    BAND,
    FRAME_PIXELS,
    counting_recipe,
    every_kind_recipe,
    open_stream,
    rigged_reward,
    stream_config,
    write_recipe,
)
from _train_helpers import REPO, accelerate_launch, cpu_accelerate_config, one_thread, tiny_model
from accelerate.data_loader import prepare_data_loader
from torch.utils.data import DataLoader
from trl.trainer.utils import RepeatSampler
from videossr.build.checks import verify_repo
from videossr.train.data import VideoOptions
from videossr.train.errors import CLIError
from videossr.train.session import build_trainer, train
from videossr.train.stream_data import REPEAT_KEY, FirstCopySampler, StreamPrompts
from videossr.train.stream_run import STATE_FILENAME, StreamRun

pytestmark = pytest.mark.slow


def identity(batch):
    return batch


def sample_key(row: dict) -> tuple:
    """What makes two training rows the same sample: the answer, the params and every clip's frames."""
    clips = [b["video"] for m in row["prompt"] for b in m["content"] if b.get("type") == "video"]
    return (row["answer"], row["params"], *(hashlib.sha256(c.numpy().tobytes()).digest() for c in clips))


def test_two_loader_workers_on_two_ranks_draw_every_position_once(small_corpus):
    """TRL's sampler, as the stream trainer wraps it, sharded by accelerate over 2 ranks, each with 2 loader
    workers: every position is drawn once, by one rank, in order, and its copies share its row."""
    stream = open_stream(every_kind_recipe(count=4), small_corpus, seed=2)
    prompts = StreamPrompts(stream, VideoOptions(max_pixels=FRAME_PIXELS, max_frames=16, size_multiple=32))
    generations, prompts_per_step, steps_per_generation = 2, 4, 2  # 8 completions: 2 per forward on 2 ranks
    inner = RepeatSampler(prompts, generations, prompts_per_step, steps_per_generation, shuffle=False, seed=0)
    sampler = FirstCopySampler(inner, steps_per_generation)
    drawn: dict[int, list[tuple[int, int]]] = {}  # position -> (rank, loader batch) of its rows
    keys = {}
    for rank in (0, 1):
        loader = DataLoader(prompts, batch_size=4, sampler=sampler, num_workers=2, collate_fn=identity)
        for b, batch in enumerate(prepare_data_loader(loader, num_processes=2, process_index=rank)):
            if b % steps_per_generation:
                assert all(REPEAT_KEY in row and "prompt" not in row for row in batch)  # nothing generated
                continue
            for row in batch:
                drawn.setdefault(row["position"], []).append((rank, b))
                keys[row["position"]] = sample_key(row)
            assert batch[0]["prompt"] is batch[1]["prompt"] and batch[2]["prompt"] is batch[3]["prompt"]
    assert sorted(drawn) == list(range(len(stream)))
    assert all(len(where) == generations and len(set(where)) == 1 for where in drawn.values())
    assert len(set(keys.values())) == len(keys), "two positions gave the same sample"
    steps = {p: where[0][1] // steps_per_generation for p, where in drawn.items()}
    assert all(steps[p] == p // prompts_per_step for p in steps)  # step k trains on positions 4k..4k+3


def zero_std(history: list[dict]) -> list[float]:
    return [h["zero_std/counting"] for h in history if "zero_std/counting" in h]


def test_adaptive_brings_the_zero_variance_share_into_the_band(tmp_path, small_corpus):
    recipe = write_recipe(counting_recipe(count=64), tmp_path / "counting.yaml")
    shares = {}
    for adaptive in (False, True):
        cfg = stream_config(
            tmp_path / f"adaptive-{adaptive}",
            recipe,
            small_corpus,
            max_steps=14,
            global_batch=8,
            num_generations=4,
            per_device_batch=16,
            adaptive=adaptive,
            adaptive_band=BAND,
            adaptive_window=16,
        )
        with one_thread():
            trainer = build_trainer(cfg, reward_funcs=[rigged_reward])
            trainer.train()
        shares[adaptive] = zero_std(trainer.state.log_history)
        if adaptive:
            offsets = [
                h["adaptive/counting/offset"]
                for h in trainer.state.log_history
                if "adaptive/counting/offset" in h
            ]
    fixed, adaptive = shares[False], shares[True]
    assert len(fixed) == len(adaptive) == 14
    assert fixed == [1.0] * 14, "the fixed recipe is always solved: every group has zero variance"
    assert adaptive[0] == 1.0 and offsets[-1] >= 2, offsets
    settled = sum(adaptive[7:]) / len(adaptive[7:])
    assert BAND[0] <= settled <= BAND[1], f"zero-variance share {adaptive} with offsets {offsets}"


def test_a_resumed_run_trains_on_the_rows_an_uninterrupted_run_trains_on(tmp_path, small_corpus):
    recipe = write_recipe(counting_recipe(count=64), tmp_path / "counting.yaml")
    common = {"global_batch": 8, "num_generations": 4, "per_device_batch": 16, "adaptive": True}
    common |= {"adaptive_band": BAND, "adaptive_window": 8, "save_steps": 3}
    seen = str(tmp_path / "seen-whole")
    whole = stream_config(tmp_path / "whole", recipe, small_corpus, max_steps=6, export_seen=seen, **common)
    first = stream_config(tmp_path / "parts", recipe, small_corpus, max_steps=3, **common)
    rest = stream_config(
        tmp_path / "parts",
        recipe,
        small_corpus,
        max_steps=6,
        resume_from_checkpoint="latest",
        export_seen=str(tmp_path / "seen-resumed"),
        **common,
    )
    with one_thread():
        for cfg in (whole, first, rest):
            train(cfg, reward_funcs=[rigged_reward])
    states = [
        json.loads((tmp_path / run / "checkpoint-6" / STATE_FILENAME).read_text())
        for run in ("whole", "parts")
    ]
    assert states[0] == states[1]
    assert len(states[0]["seen"]) == 6 * 8 and states[0]["controller"]["moves"] >= 1
    assert {offset for _, _, _, offset, _ in states[0]["seen"]} != {0}, "the run never moved the difficulty"
    manifests = [
        json.loads((tmp_path / f"seen-{r}" / "build_manifest.json").read_text()) for r in ("whole", "resumed")
    ]
    assert manifests[0]["fingerprint"] == manifests[1]["fingerprint"] and manifests[0]["num_rows"] == 48


def test_two_processes_take_the_same_decisions_and_record_every_ranks_rows(tmp_path, small_corpus):
    """``accelerate launch --num_processes 2`` (gloo), two loader workers per rank, adaptive on: every rank
    gathers both ranks' groups, so both end with the same decisions and the same record of rows seen."""
    recipe = write_recipe(counting_recipe(count=64), tmp_path / "counting.yaml")
    config = cpu_accelerate_config("ddp", tmp_path)
    args = [str(tmp_path), str(recipe), str(small_corpus), tiny_model("qwen3_vl")]
    proc = accelerate_launch(config, "tests/_stream_launch.py", args, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    states = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in (0, 1)]
    assert states[0] == states[1]
    assert sorted(p for p, *_ in states[0]["seen"]) == list(range(4 * 8))
    assert states[0]["controller"]["moves"] >= 1 and len(states[0]["schedule"]) == 4
    assert verify_repo(tmp_path / "seen", workers=2).ok


def test_grpo_cli_trains_on_a_stream_and_exports_what_it_saw(tmp_path, small_corpus):
    recipe = write_recipe(every_kind_recipe(count=2), tmp_path / "mini.yaml")
    out, seen = tmp_path / "out", tmp_path / "seen"
    cmd = [sys.executable, "train/grpo.py", "--dataset", f"stream:{small_corpus}", "--recipe", str(recipe)]
    cmd += [
        "--holdout",
        "none",
        "--model",
        tiny_model("qwen3_vl"),
        "--output-dir",
        str(out),
        "--max-steps",
        "2",
    ]
    cmd += [
        "--global-batch",
        "4",
        "--num-generations",
        "2",
        "--per-device-batch",
        "4",
        "--max-completion-length",
        "4",
    ]
    cmd += ["--max-pixels", str(FRAME_PIXELS), "--dataloader-num-workers", "1", "--export-seen", str(seen)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "stream: 4 sources to draw from" in proc.stdout and "exported the 8 rows" in proc.stdout
    report = verify_repo(seen, workers=2)
    assert report.ok, report.problems
    manifest = json.loads((seen / "build_manifest.json").read_text())
    assert manifest["num_rows"] == 8 and manifest["stream"]["last_position"] == 7
    history = json.loads((out / "log_history.json").read_text())
    assert any("zero_std/grounding" in h for h in history)


def test_cli_refuses_before_training(tmp_path, small_corpus):
    """Bad stream options end in one line and exit status 2 before the model loads; a folder the tool did not
    make is never replaced by --export-seen."""
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("mine")
    base = [
        sys.executable,
        "train/grpo.py",
        "--model",
        tiny_model("qwen3_vl"),
        "--output-dir",
        str(tmp_path / "o"),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    cases = [
        (
            ["--dataset", f"stream:{small_corpus}", "--holdout", "none", "--export-seen", str(foreign)],
            "notes",
        ),
        (["--dataset", "some-folder", "--adaptive"], "--adaptive needs a stream"),
    ]
    for args, message in cases:
        proc = subprocess.run([*base, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr[-2000:])
        assert "Loading weights" not in proc.stderr
    assert [p.name for p in foreign.iterdir()] == ["todo.txt"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dataset": "stream:/no/such/folder"}, "--sources /no/such/folder does not exist"),
        ({"recipe": "no-such-recipe"}, "unknown recipe 'no-such-recipe'"),
        ({"holdout": "stream-mini"}, "the held-out recipe is the training recipe"),
        ({"adaptive_window": 0}, "--adaptive-window must be at least 1"),
    ],
)
def test_bad_stream_options_are_one_line_errors(tmp_path, small_corpus, overrides, message):
    recipe = write_recipe(every_kind_recipe(), tmp_path / "mini.yaml")
    if overrides.get("holdout"):
        overrides["holdout"] = str(recipe)
    with pytest.raises((CLIError, ValueError), match=message):
        train(stream_config(tmp_path / "out", recipe, small_corpus, **overrides))


def test_an_export_folder_that_appeared_during_training_is_refused_in_one_line(tmp_path, small_corpus):
    stream = open_stream(every_kind_recipe(count=1), small_corpus)
    row = stream[0]
    run = StreamRun(stream, global_batch=1)
    seen = {"position": 0, "offset": 0, "redrawn": False, **{k: row[k] for k in ("id", "task", "source")}}
    run.observe([seen, seen], [1.0, 0.0], 2)
    foreign = tmp_path / "seen"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(CLIError, match=r"--export-seen .*seen: .*\(the trained model is saved\)"):
        run.export(foreign, workers=1, progress=False)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    run.export(tmp_path / "fresh", workers=1, progress=False)
    assert verify_repo(tmp_path / "fresh", workers=1).ok
