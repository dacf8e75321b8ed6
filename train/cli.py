"""Command lines: ``python train/grpo.py`` (GRPO training) and ``python train/pass_rate.py`` (Figure 1 analysis)."""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path
from typing import Any

from .config import CONFIG_FILENAME, PRESETS, TrainConfig, batch_layout, resolve


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _bool_flag(parser: argparse.ArgumentParser, name: str, help: str) -> None:
    parser.add_argument(f"--{name}", dest=name.replace("-", "_"), action=argparse.BooleanOptionalAction,
                        default=None, help=help)  # fmt: skip


def _pixels(text: str) -> int:
    from .data import parse_pixels

    try:
        return parse_pixels(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _key_value(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def grpo_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python train/grpo.py",
        description=(
            "GRPO training on a VideoSSR dataset (a Hub id or a folder from build/) with TRL; the clips' video "
            "tensors reach generation and every log-prob forward of the loss (VideoGRPOTrainer). "
            "Values: defaults <- --preset <- the flags you give."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("data and model")
    g.add_argument("--dataset", required=True, help="dataset: Hub id or local folder (e.g. videossr-30k)")
    g.add_argument("--dataset-config", default=None, help="dataset config, e.g. grounding or jigsaw-easy")
    g.add_argument("--split", default=None, help="dataset split (default train)")
    g.add_argument("--model", required=True, help="model id or local folder (Qwen2.5-VL / Qwen3-VL family)")
    g.add_argument("--output-dir", default=None, help="where checkpoints, model card and config go "
                   "(default outputs/grpo-<dataset>-<model>)")  # fmt: skip
    g.add_argument("--preset", choices=sorted(PRESETS), default="small",
                   help="paper = SPEC 6 (lr 1e-6, 64 prompts x 8 answers per step, KL 1e-3, 48 frames at "
                   "<=256x256, 2048-token answers); small = the same with 4 prompts x 4 answers and 64-token answers")  # fmt: skip
    g = p.add_argument_group("optimisation (override the preset)")
    g.add_argument("--learning-rate", "--lr", type=float, default=None)
    g.add_argument("--global-batch", type=int, default=None, help="prompts per optimizer step (all devices)")
    g.add_argument("--per-device-batch", type=int, default=None, help="completions per forward per device")
    g.add_argument("--num-generations", type=int, default=None, help="answers sampled per prompt")
    g.add_argument("--beta", type=float, default=None, help="KL coefficient")
    g.add_argument("--loss-type", default=None, help="TRL GRPO loss type (grpo, dapo, bnpo, dr_grpo, ...)")
    g.add_argument("--epsilon", type=float, default=None, help="PPO clip range")
    g.add_argument("--temperature", type=float, default=None)
    g.add_argument("--top-p", type=float, default=None)
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--max-completion-length", type=int, default=None)
    g.add_argument("--num-train-epochs", "--epochs", type=float, default=None)
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    g.add_argument("--weight-decay", type=float, default=None)
    g.add_argument("--max-grad-norm", type=float, default=None)
    g.add_argument("--lr-scheduler-type", default=None)
    g.add_argument("--warmup-steps", type=int, default=None)
    g.add_argument("--seed", type=int, default=None)
    g = p.add_argument_group("video and reward")
    g.add_argument("--max-frames", type=int, default=None, help="frames per clip (evenly sampled if more)")
    g.add_argument("--max-pixels", type=_pixels, default=None, help="pixels per frame, e.g. 65536 or 256x256")
    g.add_argument("--video-as", choices=("video", "frames"), default=None,
                   help="video: native video inputs; frames: each clip's frames as an images list")  # fmt: skip
    g.add_argument("--reward", choices=("smooth", "strict"), default=None, help="smooth = paper rewards")
    g = p.add_argument_group("scale")
    _bool_flag(p, "gradient-checkpointing", "gradient checkpointing")
    _bool_flag(p, "bf16", "bf16 mixed precision (default: on with a bf16-capable GPU)")
    p.add_argument("--lora", action="store_true", default=None, help="train a LoRA adapter (peft)")
    p.add_argument("--lora-r", type=int, default=None)
    p.add_argument("--lora-alpha", type=int, default=None)
    p.add_argument("--use-vllm", action="store_true", default=None, help="generate with vLLM (needs vllm)")
    p.add_argument("--vllm-mode", choices=("colocate", "server"), default=None)
    p.add_argument("--grpo-arg", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="any other trl.GRPOConfig field, e.g. --grpo-arg num_iterations=2 (repeatable)")  # fmt: skip
    g = p.add_argument_group("output")
    g.add_argument("--logging-steps", type=int, default=None)
    g.add_argument("--save-steps", type=int, default=None)
    g.add_argument("--report-to", default=None, help="none, tensorboard, wandb, ...")
    g.add_argument(
        "--push-to-hub", default=None, metavar="REPO", help="upload checkpoint and card to this repo"
    )
    g.add_argument("--hub-private", action="store_true", default=None)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    fields = set(TrainConfig.__dataclass_fields__)
    overrides = {k: v for k, v in vars(args).items() if k in fields and k != "preset"}
    grpo_args = dict(args.grpo_arg or [])
    if grpo_args:
        from trl import GRPOConfig

        known = set(GRPOConfig.__dataclass_fields__)
        bad = sorted(set(grpo_args) - known)
        if bad:
            raise CLIError(f"--grpo-arg: {', '.join(bad)} is not a trl.GRPOConfig field")
    overrides["grpo_args"] = grpo_args
    try:
        cfg = resolve(args.preset, overrides)
        batch_layout(cfg, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if not cfg.output_dir:
        cfg.output_dir = str(Path("outputs") / f"grpo-{_short(cfg.dataset)}-{_short(cfg.model)}")
    return cfg


def _short(name: str) -> str:
    return Path(name.rstrip("/")).name.replace(" ", "_") or "run"


def _check_optional_deps(cfg: TrainConfig) -> None:
    import importlib.util

    if cfg.use_vllm and importlib.util.find_spec("vllm") is None:
        raise CLIError("--use-vllm needs vLLM (pip install vllm); it is not installed")
    if cfg.lora and importlib.util.find_spec("peft") is None:
        raise CLIError("--lora needs peft (pip install peft); it is not installed")
    if (
        cfg.report_to not in ("none", "")
        and cfg.report_to == "wandb"
        and importlib.util.find_spec("wandb") is None
    ):
        raise CLIError("--report-to wandb needs wandb (pip install wandb)")


def lora_config(cfg: TrainConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        # the language model's projections (the vision tower has qkv/proj, not q_proj...)
        target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
        task_type="CAUSAL_LM",
    )


def build_trainer(cfg: TrainConfig, *, callbacks: list | None = None, reward_funcs: list | None = None):
    """Dataset, processor and ``VideoGRPOTrainer`` for ``cfg`` (no training)."""
    import torch
    from transformers import AutoProcessor, TrainerCallback
    from trl import GRPOConfig

    from .config import grpo_kwargs
    from .data import VideoOptions, configure_processor, load_train_dataset, prepare_dataset, processor_kwargs
    from .rewards import make_reward_fn
    from .tiny import suppress_vision_tokens
    from .trainer import VideoGRPOTrainer, check_trl

    check_trl()
    _check_optional_deps(cfg)
    options = VideoOptions(max_pixels=cfg.max_pixels, max_frames=cfg.max_frames, video_as=cfg.video_as)
    dataset = prepare_dataset(
        load_train_dataset(cfg.dataset, split=cfg.split, config=cfg.dataset_config), options
    )
    try:
        # left padding, as TRL itself loads it: its image path (--video-as frames) pads prompts with the processor
        processor = AutoProcessor.from_pretrained(cfg.model, padding_side="left", truncation_side="left")
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot load a processor from --model {cfg.model!r}: {exc}".splitlines()[0]) from None
    if getattr(processor, "video_processor", None) is None and cfg.video_as == "video":
        raise CLIError(
            f"--model {cfg.model!r} has no video processor; use a video model or --video-as frames"
        )
    configure_processor(processor, options)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    bf16_ok = cuda and torch.cuda.is_bf16_supported()
    kw = grpo_kwargs(cfg, world_size=world, cuda=cuda, bf16_ok=bf16_ok)
    kw.setdefault("chat_template_kwargs", {"processor_kwargs": processor_kwargs(processor, options)})
    # transformers generate() must never emit a vision token (it would break the loss forward); not for vLLM
    if not cfg.use_vllm:
        kw.setdefault("generation_kwargs", {"suppress_tokens": suppress_vision_tokens(processor.tokenizer)})
    if kw.get("bf16"):
        kw.setdefault("model_init_kwargs", {"dtype": "bfloat16"})
    args = GRPOConfig(**kw)

    class SaveConfig(TrainerCallback):
        def on_save(self, args, state, control, **_):
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                (ckpt / CONFIG_FILENAME).write_text(cfg.to_json() + "\n")

    trainer = VideoGRPOTrainer(
        model=cfg.model,
        reward_funcs=reward_funcs or [make_reward_fn(cfg.reward)],
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=lora_config(cfg) if cfg.lora else None,
        callbacks=[SaveConfig(), *(callbacks or [])],
    )
    return trainer


def train(cfg: TrainConfig, *, callbacks: list | None = None, reward_funcs: list | None = None):
    from .card import push_to_hub, write_outputs

    print("VideoSSR GRPO - effective config:\n" + cfg.to_json(), flush=True)
    trainer = build_trainer(
        cfg, callbacks=callbacks, reward_funcs=reward_funcs
    )  # checks data and model first
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILENAME).write_text(cfg.to_json() + "\n")
    t0 = time.time()
    result = trainer.train()
    runtime = time.time() - t0
    trainer.save_model(str(out))
    if trainer.accelerator.is_main_process:
        trainer.processing_class.save_pretrained(str(out))
        write_outputs(
            cfg,
            out,
            log_history=trainer.state.log_history,
            global_step=trainer.state.global_step,
            train_runtime=getattr(result, "metrics", {}).get("train_runtime", runtime),
        )
        print(f"saved checkpoint and model card to {out}", flush=True)
        if cfg.push_to_hub:
            url = push_to_hub(out, cfg.push_to_hub, private=bool(cfg.hub_private))
            print(f"pushed to {cfg.push_to_hub}: {url}", flush=True)
    return trainer


def _run(fn, argv_parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    from .data import DataError
    from .trainer import TRLVersionError

    args = argv_parser.parse_args(argv)
    try:
        fn(args)
    except (CLIError, DataError, TRLVersionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python train/grpo.py``."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return _run(lambda a: train(config_from_args(a)), grpo_parser(), argv)


def pass_rate_main(argv: list[str] | None = None) -> int:
    """``python train/pass_rate.py``."""
    from .passrate import parser, run

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return _run(run, parser(), argv)
