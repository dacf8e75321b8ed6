"""`accelerate launch --num_processes 2` on CPU (gloo) with the shipped DDP, FSDP and DeepSpeed ZeRO-3
configs, on the tiny Qwen2.5-VL and Qwen3-VL: two GRPO steps complete, and inside the run every rank records
how it holds the model (videossr.train.sharding_check), which the test checks again from the ranks' reports.

accelerate enables FSDP and DeepSpeed on GPUs only; tests/_train_launch.py lifts that one gate so that the
same accelerate/Trainer/TRL code path runs on CPU. Without it the run would silently train unsharded (what
test_precision's launch check refuses).
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import torch
from _train_helpers import accelerate_launch, cpu_accelerate_config, small_dataset, tiny_model

pytestmark = pytest.mark.slow

LAUNCHES = [("ddp", "ddp"), ("fsdp", "fsdp"), ("deepspeed_zero3", "deepspeed")]


def _launch(kind: str, config: str, expect: str, tmp_path):
    report = tmp_path / "report"
    args = ["--dataset", small_dataset(), "--model", tiny_model(kind), "--expect", expect]
    proc = accelerate_launch(
        cpu_accelerate_config(config, tmp_path),
        "tests/_train_launch.py",
        [*args, "--report-dir", str(report)],
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert proc.stdout.count(f"sharding check ({expect}): PASS") == 2, proc.stdout[-3000:]
    ranks = [json.loads((report / f"rank{r}.json").read_text()) for r in (0, 1)]
    return ranks, report / "run"


def _check_layout(expect: str, ranks: list[dict]) -> None:
    begin = [r["layout_begin"] for r in ranks]
    full = begin[0]["full_elements"]
    if expect == "ddp":
        assert all(set(layout["params"]) == {"plain"} for layout in begin)
        assert all(layout["local_elements"] == full for layout in begin)
        ends = [r["layout_end"]["plain_checksum"] for r in ranks]
        assert ends[0] == pytest.approx(ends[1], abs=1e-6)  # replicas stay identical
        return
    kind = {"fsdp": "dtensor", "deepspeed": "zero3"}[expect]
    assert all(set(layout["params"]) == {kind} for layout in begin), begin
    assert all(layout["local_elements"] < full for layout in begin)
    assert full <= sum(layout["local_elements"] for layout in begin) <= full + 64 * len(begin[0]["params"])
    if expect == "fsdp":
        assert set(begin[0]["no_split_modules"]) <= set(begin[0]["fsdp_modules"])


def _check_task_rewards(ranks: list[dict]) -> None:
    """The logged reward/<task> of each step is the mean over all completions of that task on both ranks."""
    per_step: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in ranks:
        for batch in r["rewards"]:
            for task, value in zip(batch["tasks"], batch["rewards"]):
                per_step[batch["step"]][task].append(value)
    logged = {h["step"]: h for h in ranks[0]["log_history"] if "reward" in h}
    assert sorted(per_step) == [0, 1] and sorted(logged) == [1, 2]
    for step, by_task in per_step.items():
        for task, values in by_task.items():
            assert logged[step + 1][f"reward/{task}"] == pytest.approx(sum(values) / len(values), abs=1e-6)


@pytest.mark.parametrize("kind", ["qwen2_5_vl", "qwen3_vl"])
@pytest.mark.parametrize(("config", "expect"), LAUNCHES)
def test_two_process_launch(kind, config, expect, tmp_path):
    from transformers import AutoModelForImageTextToText

    ranks, run = _launch(kind, config, expect, tmp_path)
    assert all(r["problems"] == [] and r["world"] == 2 and r["global_step"] == 2 for r in ranks)
    assert any(r["changed_tensors"] for r in ranks)
    _check_layout(expect, ranks)
    _check_task_rewards(ranks)
    # the released model is one full, loadable state dict, moved away from the base by training
    trained = AutoModelForImageTextToText.from_pretrained(run).state_dict()
    base = AutoModelForImageTextToText.from_pretrained(tiny_model(kind)).state_dict()
    assert set(trained) == set(base)
    assert all(trained[k].shape == base[k].shape for k in base)
    assert any(not torch.equal(trained[k].float(), base[k].float()) for k in base)
