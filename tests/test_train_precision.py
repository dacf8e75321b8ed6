"""fp32 master weights: with bf16 and neither DeepSpeed nor FSDP, the policy keeps fp32 parameters and
computes in bf16 autocast, so one step at the paper's lr of 1e-6 moves the same weights as an fp32 run (bf16
weights would round such an update away); runs that would not learn, or would not shard as launched, are
refused up front."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import torch
from _train_helpers import one_thread, small_dataset, tiny_model, train_config, varied_reward
from transformers import TrainerCallback
from trl import GRPOConfig
from videossr.train import cli
from videossr.train.session import build_trainer, policy_dtype
from videossr.train.sharding_check import ShardingCheckConfig
from videossr.train.sharding_check import run as run_sharding_check

pytestmark = pytest.mark.slow


class ChangedTensors(TrainerCallback):
    """Names of the parameter tensors that differ between the start and the end of training."""

    def on_train_begin(self, args, state, control, model=None, **_):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def on_train_end(self, args, state, control, model=None, **_):
        self.dtypes = {p.dtype for p in model.parameters()}
        self.changed = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), self.before[n])}


def _one_step(tmp_path, bf16: bool) -> ChangedTensors:
    cfg = train_config("qwen3_vl", tmp_path, bf16=bf16, learning_rate=1e-6, max_steps=1, beta=0.0, seed=3)
    probe = ChangedTensors()
    with one_thread():
        trainer = build_trainer(cfg, callbacks=[probe], reward_funcs=[varied_reward])
        assert trainer.accelerator.mixed_precision == ("bf16" if bf16 else "no")  # bf16 autocast on CPU too
        trainer.train()
    assert any(h.get("reward_std", 0) > 0 for h in trainer.state.log_history), "advantages were all zero"
    return probe


def test_bf16_step_at_lr_1e6_moves_the_same_weights_as_fp32(tmp_path):
    fp32 = _one_step(tmp_path / "fp32", bf16=False)
    bf16 = _one_step(tmp_path / "bf16", bf16=True)
    assert bf16.dtypes == {torch.float32}  # fp32 parameters, bf16 only in the autocast compute
    assert len(fp32.changed) > 0.9 * len(fp32.before)
    assert bf16.changed == fp32.changed


def test_single_process_check_sees_fp32_masters(tmp_path):
    """The GPU smoke script's single-GPU check, here on CPU bf16 autocast: plain fp32 parameters that
    train."""
    cfg = ShardingCheckConfig(
        dataset=small_dataset(),
        model=tiny_model("qwen3_vl"),
        expect="single",
        report_dir=str(tmp_path),
        bf16=True,
        max_steps=1,
    )
    with one_thread():
        assert run_sharding_check(cfg) == []
    report = json.loads((tmp_path / "rank0.json").read_text())
    assert report["bf16"] and report["layout_begin"]["trained_dtypes"] == ["float32"]
    assert report["changed_tensors"] > 0


def test_the_same_update_is_lost_on_bf16_weights():
    """Why: an Adam step of 1e-6 on weights of 0.02 / 0.005 / 0.001 changes fp32 values and no bf16 value."""
    for dtype, survives in ((torch.float32, True), (torch.bfloat16, False)):
        weights = torch.tensor([0.02, 0.005, 0.001], dtype=dtype)
        assert torch.equal(weights - 1e-6, weights) is not survives


def test_bf16_weights_without_a_master_copy_are_refused(tmp_path, capsys):
    argv = ["--dataset", small_dataset(), "--model", tiny_model("qwen3_vl"), "--output-dir", str(tmp_path)]
    argv += ["--bf16", "--grpo-arg", "model_init_kwargs={'dtype': 'bfloat16'}"]
    capsys.readouterr()
    assert cli.main(argv) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "are not float32 and nothing keeps an fp32 master copy" in error


def test_an_fsdp_launch_that_would_not_shard_is_refused(tmp_path, capsys, monkeypatch):
    """accelerate runs an FSDP config unsharded where it cannot shard (one process here, CPUs in general)."""
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    argv = ["--dataset", small_dataset(), "--model", tiny_model("qwen3_vl"), "--output-dir", str(tmp_path)]
    capsys.readouterr()
    assert cli.main(argv) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "the launch asks for fsdp but accelerate runs plain data parallelism" in error


@pytest.mark.parametrize(
    ("bf16", "deepspeed", "fsdp", "lora", "dtype"),
    [
        (True, False, False, False, "float32"),
        (True, True, False, False, "bfloat16"),
        (True, False, True, False, "bfloat16"),
        (True, False, False, True, "bfloat16"),
        (False, True, False, False, "float32"),
    ],
)
def test_policy_dtype(bf16, deepspeed, fsdp, lora, dtype, monkeypatch):
    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    args = mock.create_autospec(GRPOConfig, instance=True)
    args.bf16 = bf16
    args.deepspeed_plugin = object() if deepspeed else None
    args.fsdp = "full_shard" if fsdp else ""
    assert policy_dtype(args, lora=lora) == dtype
