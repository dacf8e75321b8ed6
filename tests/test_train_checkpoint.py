"""End to end as a user runs it: `python train/grpo.py` on a dataset written by build/, then the checkpoint
reloads and generates, and the model card, reward curves and effective config are next to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _train_helpers import HEIGHT, WIDTH, small_dataset, tiny_model

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
OUTPUT_FILES = (
    "model.safetensors",
    "config.json",
    "processor_config.json",
    "tokenizer.json",
    "README.md",
    "reward_curves.png",
    "videossr_train_config.json",
    "log_history.json",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("grpo") / "out"
    # gradient checkpointing on and one clip-decoding worker process, as a user runs it
    cmd = [sys.executable, "train/grpo.py", "--dataset", small_dataset(), "--model", tiny_model("qwen3_vl")]
    cmd += ["--output-dir", str(out), "--max-steps", "2", "--global-batch", "2", "--num-generations", "2"]
    cmd += ["--per-device-batch", "4", "--max-completion-length", "6", "--max-pixels", f"{WIDTH}x{HEIGHT}"]
    cmd += ["--save-steps", "1", "--dataloader-num-workers", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def test_writes_checkpoint_card_and_config(run):
    out, proc = run
    assert "effective config" in proc.stdout and '"max_steps": 2' in proc.stdout
    for name in OUTPUT_FILES:
        assert (out / name).exists(), name
    assert (out / "checkpoint-2" / "videossr_train_config.json").exists()
    saved = json.loads((out / "videossr_train_config.json").read_text())
    assert saved["preset"] == "small" and saved["max_steps"] == 2 and saved["max_pixels"] == WIDTH * HEIGHT
    assert saved["dataloader_num_workers"] == 1
    card = (out / "README.md").read_text()
    assert tiny_model("qwen3_vl") in card and small_dataset() in card
    assert "**Preset:** `small`" in card and "| `max_pixels` | `3072` |" in card
    assert "reward_curves.png" in card and "@inproceedings{he2026videossr" in card
    history = json.loads((out / "log_history.json").read_text())
    assert any("reward/grounding" in h or "reward/jigsaw" in h or "reward/counting" in h for h in history)


def test_checkpoint_reloads_and_generates(run):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from videossr.train.data import load_train_dataset, prepare_dataset
    from videossr.train.processor import chat_inputs, processor_kwargs, video_options

    out, _ = run
    model = AutoModelForImageTextToText.from_pretrained(out)
    processor = AutoProcessor.from_pretrained(out)
    base = AutoModelForImageTextToText.from_pretrained(tiny_model("qwen3_vl")).state_dict()
    assert set(model.state_dict()) == set(base)  # a full model (not an adapter), same architecture
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    options = video_options(processor, max_pixels=WIDTH * HEIGHT, max_frames=48)
    row = prepare_dataset(load_train_dataset(small_dataset()), options)[0]
    enc = chat_inputs(processor, row["prompt"], processor_kwargs(processor, options))
    gen = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] > enc["input_ids"].shape[1]
    assert isinstance(processor.decode(gen[0, enc["input_ids"].shape[1] :]), str)
