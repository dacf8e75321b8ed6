"""Presets, overrides, batch layout, CLI errors, --help, accelerate configs, --lora and --push-to-hub (the Hub
client is an autospec of huggingface_hub.HfApi: nothing is uploaded)."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import huggingface_hub
import pytest
from _train_helpers import small_dataset, tiny_model, train_config
from videossr.train import cli
from videossr.train.config import PAPER, TrainConfig, overridden, resolve
from videossr.train.session import train
from videossr.train.trl_args import batch_layout, grpo_kwargs

REPO = Path(__file__).resolve().parent.parent


def _parse(*argv):
    return cli.config_from_argv(["--dataset", "d", "--model", "m", *argv])


def test_paper_preset_is_the_released_run():
    cfg = _parse("--preset", "paper")
    assert cfg.learning_rate == 1e-6
    assert cfg.global_batch == 64 and cfg.num_generations == 8 and cfg.per_device_batch == 8
    assert cfg.beta == 1e-3 and cfg.loss_type == "bnpo" and cfg.temperature == 1.0
    assert cfg.num_train_epochs == 1.0 and cfg.max_frames == 48 and cfg.max_pixels == 256 * 256
    assert cfg.reward == "smooth" and cfg.lr_scheduler_type == "constant" and cfg.weight_decay == 0.01
    assert batch_layout(cfg, 8) == {
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 8,
        "steps_per_generation": 8,
    }
    assert batch_layout(cfg, 1)["gradient_accumulation_steps"] == 64
    assert overridden(cfg) == {}


def test_defaults_shown_by_help_are_the_small_preset():
    """The dataclass defaults (what --help prints) are the default preset's values."""
    defaults = TrainConfig()
    small = resolve("small", {})
    assert {k: v for k, v in defaults.to_dict().items() if k != "preset"} == {
        k: v for k, v in small.to_dict().items() if k != "preset"
    }


def test_every_value_can_be_overridden():
    argv = ["--preset", "paper", "--lr", "3e-6", "--num-generations", "4", "--beta", "0", "--max-pixels"]
    argv += ["128x128", "--max-frames", "32", "--reward", "strict", "--video-as", "frames", "--temperature"]
    argv += ["0.7", "--no-gradient-checkpointing", "--dataloader-num-workers", "3", "--grpo-arg"]
    argv += ["num_iterations=2", "--grpo-arg", "mask_truncated_completions=True"]  # repeated: both kept
    cfg = _parse(*argv)
    assert cfg.learning_rate == 3e-6 and cfg.num_generations == 4 and cfg.beta == 0
    assert cfg.max_pixels == 128 * 128 and cfg.max_frames == 32 and cfg.reward == "strict"
    assert cfg.gradient_checkpointing is False and cfg.dataloader_num_workers == 3
    assert cfg.grpo_args == {"num_iterations": 2, "mask_truncated_completions": True}
    changed = overridden(cfg)
    assert changed["learning_rate"] == 3e-6 and changed["video_as"] == "frames" and "beta" in changed
    assert "global_batch" not in changed
    assert cfg.output_dir == str(Path("outputs") / "grpo-d-m")
    kw = grpo_kwargs(cfg, world_size=2, cuda=False, bf16_ok=False)
    assert kw["num_iterations"] == 2 and kw["use_cpu"] and not kw["bf16"]
    assert kw["per_device_train_batch_size"] * 2 * kw["gradient_accumulation_steps"] == 64 * 4
    assert kw["loss_type"] == "bnpo" and kw["dataloader_num_workers"] == 3
    assert kw["dataloader_pin_memory"] is False
    assert grpo_kwargs(cfg, world_size=1, cuda=True, bf16_ok=True)["bf16"] is True
    assert _parse("--preset", "paper", "--no-bf16").bf16 is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--num-generations", "1"], "--num-generations must be at least 2"),
        (["--lr", "-1"], "--learning-rate must be positive"),
        (["--global-batch", "3", "--num-generations", "3", "--per-device-batch", "4"], "not a multiple"),
        (["--use-vllm"], "--use-vllm needs --video-as frames"),
        (["--grpo-arg", "no_such_field=1"], "not a trl.GRPOConfig field"),
        (["--max-steps", "0"], "--max-steps must be positive"),
        (["--dataloader-num-workers", "-1"], "--dataloader-num-workers must be >= 0"),
    ],
)
def test_bad_values_give_one_line_errors(argv, message, capsys):
    argv = ["--dataset", small_dataset(), "--model", tiny_model("qwen2_5_vl"), *argv]
    capsys.readouterr()
    rc = cli.main([*argv, "--output-dir", "/nonexistent/never-written"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert message in err and err.startswith("error: ") and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--max-pixels", "huge"], "--max-pixels"),
        (["--loss-type", "ppo"], "--loss-type"),
        (["--grpo-arg", "no-equals-sign"], "--grpo-args"),
    ],
)
def test_argparse_rejects_bad_types(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--dataset", "d", "--model", "m", *argv])
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err


def test_missing_dataset_and_vllm_not_installed(capsys, tmp_path):
    small_dataset(), tiny_model("qwen2_5_vl")
    capsys.readouterr()
    rc = cli.main(["--dataset", str(tmp_path / "nope"), "--model", tiny_model("qwen2_5_vl")])
    assert rc == 2 and "not found" in capsys.readouterr().err
    argv = ["--dataset", small_dataset(), "--model", tiny_model("qwen2_5_vl"), "--use-vllm", "--video-as"]
    with mock.patch("importlib.util.find_spec", return_value=None):
        rc = cli.main([*argv, "frames", "--output-dir", str(tmp_path / "o")])
    assert rc == 2 and "--use-vllm needs vLLM" in capsys.readouterr().err


def test_help(capsys):
    for fn in (cli.main, cli.pass_rate_main):
        with pytest.raises(SystemExit) as exc:
            fn(["--help"])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--preset" in out and "--push-to-hub" in out and "--filter" in out and "(default: bnpo)" in out


@pytest.mark.parametrize(("script", "flag"), [("videossr-train", "--preset"), ("videossr-pass-rate", "--k")])
def test_console_scripts(script, flag):
    """The console scripts `pip install -e .[train]` puts next to the interpreter answer --help."""
    import subprocess
    import sys

    exe = Path(sys.executable).parent / script
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {script}") and flag in proc.stdout


def test_accelerate_configs_load():
    from accelerate.commands.config.config_args import load_config_from_file

    ds = load_config_from_file(str(REPO / "train/configs/deepspeed_zero3.yaml"))
    assert ds.distributed_type.value == "DEEPSPEED" and ds.deepspeed_config["zero_stage"] == 3
    fsdp = load_config_from_file(str(REPO / "train/configs/fsdp.yaml"))
    assert fsdp.distributed_type.value == "FSDP" and fsdp.mixed_precision == "bf16"
    # the units come from each model's _no_split_modules: no class list that one family lacks
    assert "fsdp_transformer_layer_cls_to_wrap" not in fsdp.fsdp_config
    ddp = load_config_from_file(str(REPO / "train/configs/ddp.yaml"))
    assert ddp.distributed_type.value == "MULTI_GPU" and ddp.mixed_precision == "bf16"


def test_resolve_rejects_unknown():
    with pytest.raises(ValueError, match="--preset"):
        resolve("huge", {})
    with pytest.raises(ValueError, match="unknown config key"):
        resolve("paper", {"lrr": 1})
    assert PAPER["num_generations"] == 8


@pytest.mark.slow
def test_lora_train_and_push_to_hub(tmp_path):
    """--lora trains a peft adapter; --push-to-hub creates the repo and uploads the output folder."""
    from _train_helpers import one_thread, varied_reward

    cfg = train_config(
        "qwen2_5_vl",
        tmp_path / "out",
        lora=True,
        lora_r=4,
        max_steps=1,
        beta=0.04,
        push_to_hub="someone/videossr-tiny",
        learning_rate=1e-3,
    )
    with mock.patch("huggingface_hub.HfApi", autospec=True) as api_cls:
        api = api_cls.return_value
        api.upload_folder.return_value = mock.create_autospec(huggingface_hub.CommitInfo, instance=True)
        api.upload_folder.return_value.commit_url = "https://hf.co/someone/videossr-tiny/commit/1"
        with one_thread():
            trainer = train(cfg, reward_funcs=[varied_reward])
    from peft import PeftModel

    assert isinstance(trainer.model, PeftModel)
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    api.create_repo.assert_called_once_with(
        "someone/videossr-tiny", repo_type="model", private=False, exist_ok=True
    )
    kwargs = api.upload_folder.call_args.kwargs
    assert kwargs["repo_id"] == "someone/videossr-tiny" and Path(kwargs["folder_path"]) == tmp_path / "out"
    assert (tmp_path / "out" / "adapter_config.json").exists()
    card = (tmp_path / "out" / "README.md").read_text()
    assert "someone/videossr-tiny" in card and "| `lora` | `True` |" in card
    saved = json.loads((tmp_path / "out" / "videossr_train_config.json").read_text())
    assert saved["lora"] is True and saved["push_to_hub"] == "someone/videossr-tiny"


def test_push_failure_is_not_hidden(tmp_path):
    from videossr.train.card import push_to_hub

    with mock.patch("huggingface_hub.HfApi", autospec=True) as api_cls:
        api_cls.return_value.create_repo.side_effect = RuntimeError("401 Unauthorized")
        with pytest.raises(RuntimeError, match="401"):
            push_to_hub(tmp_path, "someone/x")


def test_tiny_model_cli(tmp_path, capsys):
    """`python -m videossr.train.tiny --out DIR` writes a folder that from_pretrained loads (what users and
    the eval/ tests use)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from videossr.train import tiny

    assert tiny.main(["--kind", "qwen2_5_vl", "--out", str(tmp_path / "m")]) == 0
    assert "wrote tiny qwen2_5_vl" in capsys.readouterr().out
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "m")
    processor = AutoProcessor.from_pretrained(tmp_path / "m")
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert model.config.video_token_id == processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    with pytest.raises(ValueError, match="unknown kind"):
        tiny.make_tiny_vlm("llava", tmp_path / "x")


def test_dataset_errors_reach_the_cli_as_one_line(tmp_path, capsys):
    import datasets

    ds = datasets.load_dataset(small_dataset(), split="train").remove_columns(["answer"])
    (tmp_path / "bad" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "bad" / "data" / "train-00000-of-00001.parquet"))
    tiny_model("qwen2_5_vl")
    capsys.readouterr()
    argv = ["--dataset", str(tmp_path / "bad"), "--model", tiny_model("qwen2_5_vl"), "--output-dir"]
    rc = cli.main([*argv, str(tmp_path / "o")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "examples/s" not in line]
    assert rc == 2 and len(err) == 1 and "missing column(s) answer" in err[0]
    argv = ["--dataset", small_dataset(), "--model", str(tmp_path / "no-model"), "--k", "2", "--out"]
    rc = cli.pass_rate_main([*argv, str(tmp_path / "pr")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "examples/s" not in line]
    assert rc == 2 and len(err) == 1 and "cannot load --model" in err[0]
