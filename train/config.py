"""The training configuration: one dataclass field per option and the presets (the mapping to
``GRPOConfig`` is :mod:`.trl_args`).

Each :class:`TrainConfig` field is declared once, with its command-line help
(:func:`videossr.arguments.option`); ``videossr-train`` / ``python train/grpo.py`` generate their parser from
it. Values resolve as: the field defaults, then the preset (``--preset paper|small``), then every flag given
on the command line (and ``--grpo-arg KEY=VALUE`` for any other ``trl.GRPOConfig`` field). The effective
config is printed at start and saved as ``videossr_train_config.json`` in the output folder and in every
checkpoint.

Batch semantics follow verl (the paper's framework): ``global_batch`` is the number of *prompts* per optimizer
step, each answered ``num_generations`` times, so one step consumes ``global_batch * num_generations``
completions (paper: 64 x 8 = 512). ``per_device_batch`` is the number of completions per forward on one device
(verl's ``ppo_micro_batch_size_per_gpu``, 8 in the released config); gradient accumulation follows from the
world size.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from videossr.arguments import option

from .stream_options import CLIP_FORMS, STREAM, parse_band, validate_stream

CONFIG_FILENAME = "videossr_train_config.json"
LOSS_TYPES: tuple[str, ...] = ("bnpo", "grpo", "dapo", "dr_grpo", "cispo", "sapo", "luspo", "vespo")
REWARD_MODES: tuple[str, ...] = ("smooth", "strict")
VIDEO_AS: tuple[str, ...] = ("video", "frames")


def parse_pixels(text: str | int) -> int:
    """``65536``, ``256x256`` or ``256*256`` -> pixels per frame."""
    if isinstance(text, int):
        value = text
    else:
        parts = str(text).strip().replace("*", "x").split("x")
        if not 1 <= len(parts) <= 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"--max-pixels expects an integer or WxH such as 256x256, got {text!r}")
        value = 1
        for p in parts:
            value *= int(p)
    if value < 28 * 28:
        raise ValueError(f"--max-pixels must be at least 784 (28x28), got {text!r}")
    return value


def parse_key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> ``(KEY, VALUE)``; the value is read as a Python literal when it is one."""
    if "=" not in text:
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


@dataclass
class TrainConfig:
    """Everything ``videossr-train`` needs; the paper's values are in :data:`PAPER`."""

    dataset: str = option(
        "",
        help="dataset: Hub id or local folder (e.g. videossr-30k), or stream:SOURCES to generate samples "
        "from raw videos while training (a folder, a list file or a video, as build/run.py --sources)",
        required=True,
        group="data and model",
    )
    dataset_config: str | None = option(
        None, help="dataset config, e.g. grounding or jigsaw-easy", group="data and model"
    )
    split: str = option("train", help="dataset split", group="data and model")
    model: str = option(
        "",
        help="model id or local folder (Qwen2.5-VL / Qwen3-VL family)",
        required=True,
        group="data and model",
    )
    output_dir: str = option(
        "",
        help="checkpoints, model card and config (default outputs/grpo-<dataset>-<model>)",
        group="data and model",
    )
    preset: str = option(
        "small",
        choices=("paper", "small"),
        group="data and model",
        help="paper = the paper's run (lr 1e-6, 64 prompts x 8 answers per step, KL 1e-3, 48 "
        "frames at <=256x256, 2048-token answers, bnpo loss); small = the same with 4 prompts x 4 "
        "answers and 64-token answers",
    )
    learning_rate: float = option(1e-6, help="AdamW learning rate", aliases=("--lr",), group="optimisation")
    global_batch: int = option(4, help="prompts per optimizer step (all devices)", group="optimisation")
    per_device_batch: int = option(8, help="completions per forward per device", group="optimisation")
    num_generations: int = option(4, help="answers sampled per prompt", group="optimisation")
    beta: float = option(1e-3, help="KL coefficient (k3 estimator, verl's low_var_kl)", group="optimisation")
    loss_type: str = option(
        "bnpo",
        choices=LOSS_TYPES,
        group="optimisation",
        help="TRL GRPO loss; bnpo = verl's token-mean per micro-batch",
    )
    epsilon: float = option(0.2, help="PPO clip range", group="optimisation")
    temperature: float = option(1.0, help="sampling temperature", group="optimisation")
    top_p: float = option(1.0, help="nucleus sampling threshold", group="optimisation")
    top_k: int = option(0, help="top-k sampling (0: off)", group="optimisation")
    max_completion_length: int = option(64, help="tokens per answer", group="optimisation")
    num_train_epochs: float = option(
        1.0, help="epochs (when --max-steps is -1)", aliases=("--epochs",), group="optimisation"
    )
    max_steps: int = option(
        -1, help="stop after this many optimizer steps (-1: epochs)", group="optimisation"
    )
    weight_decay: float = option(0.01, help="AdamW weight decay", group="optimisation")
    max_grad_norm: float = option(1.0, help="gradient clipping norm", group="optimisation")
    lr_scheduler_type: str = option("constant", help="transformers scheduler name", group="optimisation")
    warmup_steps: int = option(0, help="learning-rate warm-up steps", group="optimisation")
    seed: int = option(
        42, help="seed for sampling order, generation and initialisation", group="optimisation"
    )
    max_frames: int = option(48, help="frames per clip (evenly sampled if more)", group="video and reward")
    max_pixels: int = option(
        256 * 256,
        help="pixels per frame, e.g. 65536 or 256x256",
        parse=parse_pixels,
        group="video and reward",
    )
    video_as: str = option(
        "video",
        choices=VIDEO_AS,
        group="video and reward",
        help="video: native video inputs; frames: each clip's frames as an images list",
    )
    reward: str = option(
        "smooth",
        choices=REWARD_MODES,
        help="smooth = the paper's rewards; strict = 0/1",
        group="video and reward",
    )
    dataloader_num_workers: int = option(
        2, help="processes that decode clips ahead of the trainer", group="video and reward"
    )
    gradient_checkpointing: bool = option(True, help="activation checkpointing", group="scale")
    bf16: bool | None = option(
        None, help="bf16 mixed precision (default: on with a bf16-capable GPU)", group="scale"
    )
    lora: bool = option(False, help="train a LoRA adapter (peft) instead of all weights", group="scale")
    lora_r: int = option(16, help="LoRA rank", group="scale")
    lora_alpha: int = option(32, help="LoRA alpha", group="scale")
    lora_dropout: float = option(0.05, help="LoRA dropout", group="scale")
    use_vllm: bool = option(
        False, help="generate with vLLM (needs vllm and --video-as frames)", group="scale"
    )
    vllm_mode: str = option("colocate", choices=("colocate", "server"), help="vLLM mode", group="scale")
    grpo_args: dict[str, Any] = option(
        default_factory=dict,
        parse=parse_key_value,
        nargs="+",
        repeatable=True,
        aliases=("--grpo-arg",),
        metavar="KEY=VALUE",
        group="scale",
        help="other trl.GRPOConfig fields, e.g. --grpo-arg num_iterations=2 (repeatable)",
    )
    recipe: str = option(
        "videossr-30k",
        help="the recipe whose samples are drawn, a built-in name or a YAML file; one epoch is its "
        "sample count",
        metavar="NAME|YAML",
        group=STREAM,
    )
    holdout: str = option(
        "viubench",
        help="never draw from the videos build/run.py gives this recipe when it builds both (the "
        "benchmark's); none: draw from every video",
        metavar="NAME|YAML|none",
        group=STREAM,
    )
    stream_seed: int = option(
        0,
        help="the build seed; the first epoch is the dataset build/run.py --seed N makes from the "
        "same videos",
        metavar="N",
        group=STREAM,
    )
    stream_clips: str = option(
        "frames",
        choices=CLIP_FORMS,
        help="give the model the decoded frames, or the build's H.264 clips (what a built dataset "
        "holds; costs an encode and a decode per clip)",
        group=STREAM,
    )
    export_seen: str | None = option(
        None,
        help="write the rows the run trained on to this dataset folder when it ends (the build's "
        "layout; build/verify.py checks it)",
        metavar="DIR",
        group=STREAM,
    )
    adaptive: bool = option(
        False,
        help="move each task's difficulty to keep its share of zero-variance groups inside --adaptive-band",
        group=STREAM,
    )
    adaptive_band: tuple[float, float] = option(
        (0.1, 0.5),
        help="the target share of groups whose answers all get the same reward, e.g. 0.2,0.6",
        parse=parse_band,
        metavar="LOW,HIGH",
        group=STREAM,
    )
    adaptive_window: int = option(
        32, help="groups of a task at one difficulty before it may move", metavar="N", group=STREAM
    )
    logging_steps: int = option(1, help="log every N steps", group="output")
    save_steps: int = option(500, help="checkpoint every N steps", group="output")
    report_to: str = option("none", help="none, tensorboard, wandb, ...", group="output")
    resume_from_checkpoint: str | None = option(
        None,
        help="resume from this checkpoint folder, or latest (the last one in --output-dir)",
        metavar="DIR|latest",
        group="output",
    )
    push_to_hub: str | None = option(
        None, help="upload checkpoint and card to this Hub repo", metavar="REPO", group="output"
    )
    hub_private: bool = option(False, help="create the Hub repo private", group="output")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)


# The paper's run: Qwen3-VL-8B with verl GRPO. Values the paper does not state are those of the released verl
# config: token-mean loss per micro-batch of 8 completions per GPU (TRL's bnpo with per_device_batch 8).
PAPER: dict[str, Any] = {
    "learning_rate": 1e-6,
    "global_batch": 64,
    "per_device_batch": 8,
    "num_generations": 8,
    "beta": 1e-3,
    "loss_type": "bnpo",
    "epsilon": 0.2,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "max_completion_length": 2048,
    "num_train_epochs": 1.0,
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "max_frames": 48,
    "max_pixels": 256 * 256,
    "reward": "smooth",
    "gradient_checkpointing": True,
    "save_steps": 500,
}

# For tiny models and smoke runs: the paper's values with a small batch and short answers.
SMALL: dict[str, Any] = {
    **PAPER,
    "global_batch": 4,
    "per_device_batch": 8,
    "num_generations": 4,
    "max_completion_length": 64,
}

PRESETS: dict[str, dict[str, Any]] = {"paper": PAPER, "small": SMALL}


def resolve(preset: str, overrides: dict[str, Any]) -> TrainConfig:
    """Defaults <- preset <- overrides (keys of :class:`TrainConfig`; ``None`` values are ignored)."""
    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
    values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    values["preset"] = preset
    if isinstance(values.get("grpo_args"), list):  # KEY=VALUE pairs from the command line
        values["grpo_args"] = dict(values["grpo_args"])
    cfg = TrainConfig(**values)
    validate(cfg)
    return cfg


def overridden(cfg: TrainConfig) -> dict[str, Any]:
    """The values that differ from the preset (what the model card lists as overrides)."""
    base = PRESETS.get(cfg.preset, {})
    skip = {"dataset", "dataset_config", "split", "model", "output_dir", "preset", "push_to_hub"}
    skip |= {"export_seen", "resume_from_checkpoint"}
    defaults = TrainConfig()
    out = {}
    for k, v in cfg.to_dict().items():
        if k in skip:
            continue
        ref = base.get(k, getattr(defaults, k))
        if v != ref:
            out[k] = v
    return out


def _positive(name: str, value: float) -> None:
    if value is None or value <= 0:
        raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")


def validate(cfg: TrainConfig) -> None:
    """Raise ``ValueError`` naming the first bad option and what to do."""
    for name in ("learning_rate", "global_batch", "per_device_batch", "max_completion_length", "lora_r"):
        _positive(name, getattr(cfg, name))
    if cfg.num_generations < 2:
        raise ValueError(
            f"--num-generations must be at least 2 (GRPO compares answers), got {cfg.num_generations}"
        )
    if cfg.beta < 0:
        raise ValueError(f"--beta must be >= 0, got {cfg.beta}")
    if cfg.temperature <= 0:
        raise ValueError(f"--temperature must be positive, got {cfg.temperature}")
    if cfg.max_steps == 0 or cfg.max_steps < -1:
        raise ValueError(f"--max-steps must be positive (or -1 for epochs), got {cfg.max_steps}")
    if cfg.max_steps == -1:
        _positive("num_train_epochs", cfg.num_train_epochs)
    if cfg.max_frames < 2:
        raise ValueError(f"--max-frames must be at least 2, got {cfg.max_frames}")
    if cfg.max_pixels < 784:
        raise ValueError(f"--max-pixels must be at least 784 (28x28), got {cfg.max_pixels}")
    if cfg.dataloader_num_workers < 0:
        raise ValueError(f"--dataloader-num-workers must be >= 0, got {cfg.dataloader_num_workers}")
    for name, allowed in (("video_as", VIDEO_AS), ("reward", REWARD_MODES), ("loss_type", LOSS_TYPES)):
        if getattr(cfg, name) not in allowed:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} must be one of {', '.join(allowed)}, got {getattr(cfg, name)!r}")
    validate_stream(cfg)
    if cfg.use_vllm and cfg.video_as == "video":
        raise ValueError(
            "--use-vllm needs --video-as frames: TRL 1.16 passes only images to vLLM, so native video would "
            "be dropped from generation"
        )
