"""A few GRPO steps under the current ``accelerate launch``, checking that the launch does what its config
says.

::

    accelerate launch --config_file train/configs/fsdp.yaml -m videossr.train.sharding_check \\
        --dataset DATA --model MODEL --expect fsdp --report-dir REPORT

accelerate runs a DeepSpeed or FSDP config as plain data parallelism when it cannot honour it (on CPU it does
so without a word), and such a run exits 0 with every process holding the whole model. Here every rank records
how it holds the model at the start and end of training (engine, FSDP-wrapped module classes, the local and
full sizes of its parameters, a checksum of replicated ones) and the per-task rewards it computed; at the end
the ranks exchange their records, check them against ``--expect``, write ``REPORT/rank<k>.json`` and print
one PASS or FAIL line. The exit status is 1 on FAIL.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videossr.arguments import DataclassArgumentParser, option

from .config import parse_pixels, resolve
from .rewards import log_task_rewards

ENGINES: tuple[str, ...] = ("single", "ddp", "fsdp", "deepspeed")


@dataclass
class ShardingCheckConfig:
    """Options of ``python -m videossr.train.sharding_check`` (run it under ``accelerate launch``)."""

    dataset: str = option("", help="dataset folder or Hub id", required=True)
    model: str = option("", help="model folder, e.g. from python -m videossr.train.tiny", required=True)
    expect: str = option("ddp", choices=ENGINES, help="how the launch must hold the model", required=True)
    report_dir: str = option("", help="where each rank writes rank<k>.json", required=True)
    output_dir: str = option("", help="training output (default REPORT_DIR/run)")
    max_steps: int = option(2, help="optimizer steps")
    learning_rate: float = option(1e-4, help="learning rate (large enough to see the weights move)")
    beta: float = option(0.04, help="KL coefficient (> 0 also runs the reference model)")
    max_pixels: int = option(64 * 48, help="pixels per frame", parse=parse_pixels)
    max_frames: int = option(8, help="frames per clip")
    dataloader_num_workers: int = option(0, help="clip-decoding worker processes")
    bf16: bool | None = option(None, help="bf16 mixed precision (default: on with a bf16-capable GPU)")


def model_layout(model) -> dict[str, Any]:
    """How this rank holds ``model``: parameter kinds, local and full element counts, FSDP-wrapped classes."""
    import torch
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    kinds: Counter[str] = Counter()
    local = full = 0
    checksum = 0.0
    dtypes = {str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.requires_grad}
    for p in model.parameters():
        if isinstance(p, DTensor):
            kinds["dtensor"] += 1
            local += p.to_local().numel()
            full += p.numel()
        elif hasattr(p, "ds_numel"):
            kinds["zero3"] += 1
            local += p.ds_tensor.numel()
            full += p.ds_numel
        else:
            kinds["plain"] += 1
            local += p.numel()
            full += p.numel()
            checksum += float(p.detach().to(torch.float64).sum())
    return {
        "model_class": type(model).__name__,
        "params": dict(kinds),
        "local_elements": local,
        "full_elements": full,
        "plain_checksum": checksum,
        "trained_dtypes": sorted(dtypes),
        # fully_shard gives each wrapped module a class named "FSDP" + its own class name
        "fsdp_modules": sorted(
            {type(m).__name__.removeprefix("FSDP") for m in model.modules() if isinstance(m, FSDPModule)}
        ),
        "no_split_modules": sorted(getattr(model, "_no_split_modules", None) or []),
    }


def _local_values(model):
    from torch.distributed.tensor import DTensor

    out = []
    for p in model.parameters():
        value = p.to_local() if isinstance(p, DTensor) else getattr(p, "ds_tensor", p)
        out.append(value.detach().clone())
    return out


def verify(expect: str, ranks: list[dict[str, Any]]) -> list[str]:
    """Problems with the records of all ranks for the expected engine (empty: the launch did what it said)."""
    problems = []
    begin = [r["layout_begin"] for r in ranks]
    kinds = {k for layout in begin for k in layout["params"]}
    want = {"single": {"plain"}, "ddp": {"plain"}, "fsdp": {"dtensor"}, "deepspeed": {"zero3"}}[expect]
    if expect == "single" and len(ranks) != 1:
        problems.append(f"{len(ranks)} processes for a single-process check")
    if expect != "single" and len(ranks) < 2:
        problems.append(f"{len(ranks)} process(es): launch at least 2 to check {expect}")
    if kinds != want:
        problems.append(f"parameters are {sorted(kinds)}, expected only {sorted(want)} for {expect}")
    # DeepSpeed keeps its fp32 master copy inside the optimizer; everywhere else the parameters are the master
    if ranks[0]["bf16"] and expect != "deepspeed" and begin[0]["trained_dtypes"] != ["float32"]:
        problems.append(f"bf16 run trains {begin[0]['trained_dtypes']} parameters, not float32 masters")
    if expect == "ddp":
        sums = {round(r["layout_end"]["plain_checksum"], 6) for r in ranks}
        if len(sums) != 1:
            problems.append(
                f"the replicas differ after training (checksums {sorted(sums)}): not data parallel"
            )
    elif expect != "single":
        full = begin[0]["full_elements"]
        if any(layout["local_elements"] >= full for layout in begin):
            problems.append(f"a rank holds all {full} elements of the model: not sharded")
        if sum(layout["local_elements"] for layout in begin) < full:
            problems.append("the shards together hold fewer elements than the model")
    if expect == "fsdp":
        missing = set(begin[0]["no_split_modules"]) - set(begin[0]["fsdp_modules"])
        if missing:
            problems.append(f"layer classes not wrapped as FSDP units: {', '.join(sorted(missing))}")
    if not any(r["changed_tensors"] for r in ranks):
        problems.append("no parameter changed during training")
    steps = {r["global_step"] for r in ranks}
    if steps != {ranks[0]["max_steps"]}:
        problems.append(f"optimizer steps done: {sorted(steps)}, expected {ranks[0]['max_steps']}")
    return problems


class ShardingProbe:
    """Trainer callback and reward function of the check: records layouts, parameter changes and rewards."""

    def __init__(self, cfg: ShardingCheckConfig) -> None:
        from transformers import TrainerCallback

        self.cfg = cfg
        self.record: dict[str, Any] = {"expect": cfg.expect, "max_steps": cfg.max_steps, "rewards": []}
        self._begin: list = []
        probe = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **_):
                probe.record["bf16"] = bool(args.bf16)
                probe.record["layout_begin"] = model_layout(model)
                probe._begin = _local_values(model)

            def on_train_end(self, args, state, control, model=None, **_):
                probe.finish(model, state)

        self.callback = Callback()

    def reward(self, completion_ids, task, log_metric=None, trainer_state=None, **_) -> list[float]:
        """A reward that varies within every group (non-zero advantages), logged per task like the real
        one."""
        rewards = [(sum(ids) % 7) / 6.0 for ids in completion_ids]
        if log_metric is not None:
            log_task_rewards(log_metric, task, rewards)
        step = trainer_state.global_step if trainer_state is not None else None
        self.record["rewards"].append({"step": step, "tasks": list(task), "rewards": rewards})
        return rewards

    def finish(self, model, state) -> None:
        import torch
        import torch.distributed as dist

        end = _local_values(model)
        self.record["layout_end"] = model_layout(model)
        self.record["changed_tensors"] = sum(not torch.equal(a, b) for a, b in zip(self._begin, end))
        self.record["global_step"] = state.global_step
        self.record["log_history"] = state.log_history
        rank = dist.get_rank() if dist.is_initialized() else 0
        ranks = [None] * (dist.get_world_size() if dist.is_initialized() else 1)
        if dist.is_initialized():
            dist.all_gather_object(ranks, self.record)
        else:
            ranks = [self.record]
        self.record.update(rank=rank, world=len(ranks), problems=verify(self.cfg.expect, ranks))
        out = Path(self.cfg.report_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"rank{rank}.json").write_text(json.dumps(self.record, indent=1, default=str) + "\n")


def run(cfg: ShardingCheckConfig) -> list[str]:
    """Train under the current launch and return this rank's problems (also written to its report)."""
    from .session import train

    probe = ShardingProbe(cfg)
    train_cfg = resolve(
        "small",
        {
            "dataset": cfg.dataset,
            "model": cfg.model,
            "output_dir": cfg.output_dir or str(Path(cfg.report_dir) / "run"),
            "max_steps": cfg.max_steps,
            "learning_rate": cfg.learning_rate,
            "beta": cfg.beta,
            "global_batch": 4,
            "num_generations": 2,
            "per_device_batch": 2,
            "max_completion_length": 8,
            "max_pixels": cfg.max_pixels,
            "max_frames": cfg.max_frames,
            "dataloader_num_workers": cfg.dataloader_num_workers,
            "bf16": cfg.bf16,
            "gradient_checkpointing": False,
            "save_steps": 1000,
        },
    )
    train(train_cfg, callbacks=[probe.callback], reward_funcs=[probe.reward])
    return probe.record["problems"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = DataclassArgumentParser(ShardingCheckConfig, prog="python -m videossr.train.sharding_check")
    (cfg,) = parser.parse_into_dataclasses(argv)
    from .session import end_distributed

    try:
        problems = run(cfg)
    finally:
        end_distributed()
    verdict = "PASS" if not problems else "FAIL: " + "; ".join(problems)
    print(f"sharding check ({cfg.expect}): {verdict}", flush=True)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
