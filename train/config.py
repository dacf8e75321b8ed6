"""Training configuration: presets (``paper`` = SPEC section 6), overrides, and the mapping to ``GRPOConfig``.

Resolution order: the :class:`TrainConfig` defaults, then the preset, then every flag given on the command line
(and ``--grpo-arg KEY=VALUE`` for any other ``trl.GRPOConfig`` field). The effective config is printed at start
and saved as ``videossr_train_config.json`` in the output folder and in every checkpoint.

Batch semantics follow verl (the paper's framework): ``global_batch`` is the number of *prompts* per optimizer
step, each answered ``num_generations`` times, so one step consumes ``global_batch * num_generations`` completions
(paper: 64 x 8 = 512). ``per_device_batch`` is the number of completions per forward on one device (paper's
``ppo_micro_batch_size_per_gpu`` = 8); gradient accumulation is derived from the world size.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

CONFIG_FILENAME = "videossr_train_config.json"


@dataclass
class TrainConfig:
    # data and model
    dataset: str = ""
    dataset_config: str | None = None
    split: str = "train"
    model: str = ""
    output_dir: str = ""
    preset: str = "small"
    # rollouts and loss (paper values in PRESETS["paper"])
    learning_rate: float = 1e-6
    global_batch: int = 4
    per_device_batch: int = 8
    num_generations: int = 4
    beta: float = 1e-3
    loss_type: str = "grpo"
    epsilon: float = 0.2
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_completion_length: int = 64
    num_train_epochs: float = 1.0
    max_steps: int = -1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    lr_scheduler_type: str = "constant"
    warmup_steps: int = 0
    seed: int = 42
    # video
    max_frames: int = 48
    max_pixels: int = 256 * 256
    video_as: str = "video"
    # reward
    reward: str = "smooth"
    # scale
    gradient_checkpointing: bool = True
    bf16: bool | None = None  # None: on when a bf16-capable GPU is present
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    # logging and output
    logging_steps: int = 1
    save_steps: int = 500
    report_to: str = "none"
    push_to_hub: str | None = None
    hub_private: bool = False
    grpo_args: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)


# The paper's setting (SPEC 6): Qwen3-VL-8B, verl GRPO. Values not in the paper are verl's defaults.
PAPER: dict[str, Any] = {
    "learning_rate": 1e-6,
    "global_batch": 64,
    "per_device_batch": 8,
    "num_generations": 8,
    "beta": 1e-3,  # kl_loss_coef, low_var_kl (= TRL's k3 estimator)
    "loss_type": "grpo",
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

# A CPU-friendly setting for tiny models and smoke runs: the paper's values with a small batch and short answers.
SMALL: dict[str, Any] = {**PAPER, "global_batch": 4, "per_device_batch": 8, "num_generations": 4,
                         "max_completion_length": 64}  # fmt: skip

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
    cfg = TrainConfig(**values)
    validate(cfg)
    return cfg


def overridden(cfg: TrainConfig) -> dict[str, Any]:
    """The values that differ from the preset (what the model card lists as overrides)."""
    base = PRESETS.get(cfg.preset, {})
    skip = {"dataset", "dataset_config", "split", "model", "output_dir", "preset", "push_to_hub"}
    defaults = TrainConfig()
    out = {}
    for k, v in cfg.to_dict().items():
        if k in skip:
            continue
        ref = base.get(k, getattr(defaults, k))
        if v != ref:
            out[k] = v
    return out


def validate(cfg: TrainConfig) -> None:
    def positive(name: str, value: float) -> None:
        if value is None or value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {value}")

    for name in ("learning_rate", "global_batch", "per_device_batch", "max_completion_length", "lora_r"):
        positive(name, getattr(cfg, name))
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
        positive("num_train_epochs", cfg.num_train_epochs)
    if cfg.max_frames < 2:
        raise ValueError(f"--max-frames must be at least 2, got {cfg.max_frames}")
    if cfg.max_pixels < 784:
        raise ValueError(f"--max-pixels must be at least 784 (28x28), got {cfg.max_pixels}")
    if cfg.video_as not in ("video", "frames"):
        raise ValueError(f"--video-as must be video or frames, got {cfg.video_as!r}")
    if cfg.reward not in ("smooth", "strict"):
        raise ValueError(f"--reward must be smooth or strict, got {cfg.reward!r}")
    if cfg.loss_type not in ("grpo", "dapo", "bnpo", "dr_grpo", "cispo", "sapo", "luspo", "vespo"):
        raise ValueError(
            f"--loss-type {cfg.loss_type!r} is not a TRL GRPO loss type (e.g. grpo, dapo, bnpo, dr_grpo)"
        )
    if cfg.use_vllm and cfg.video_as == "video":
        raise ValueError(
            "--use-vllm needs --video-as frames: TRL 1.16 passes only images to vLLM, so native video would be "
            "dropped from generation"
        )


def batch_layout(cfg: TrainConfig, world_size: int) -> dict[str, int]:
    """per_device_train_batch_size, gradient_accumulation_steps and steps_per_generation for ``world_size``."""
    completions = cfg.global_batch * cfg.num_generations
    per_step = cfg.per_device_batch * world_size
    if completions % per_step:
        raise ValueError(
            f"--global-batch {cfg.global_batch} x --num-generations {cfg.num_generations} = {completions} "
            f"completions per step is not a multiple of --per-device-batch {cfg.per_device_batch} x {world_size} "
            "device(s); change one of them"
        )
    accum = completions // per_step
    return {
        "per_device_train_batch_size": cfg.per_device_batch,
        "gradient_accumulation_steps": accum,
        "steps_per_generation": accum,
    }


def _checkpointing_field() -> str:
    """``activation_checkpointing`` (transformers >= 5.2x) or the older ``gradient_checkpointing``."""
    from trl import GRPOConfig

    return (
        "activation_checkpointing"
        if "activation_checkpointing" in GRPOConfig.__dataclass_fields__
        else ("gradient_checkpointing")
    )


def grpo_kwargs(cfg: TrainConfig, *, world_size: int, cuda: bool, bf16_ok: bool) -> dict[str, Any]:
    """Keyword arguments for ``trl.GRPOConfig`` (without the processor/generation kwargs added by the CLI)."""
    bf16 = cfg.bf16 if cfg.bf16 is not None else (cuda and bf16_ok)
    kw: dict[str, Any] = {
        "output_dir": cfg.output_dir,
        "learning_rate": cfg.learning_rate,
        "num_generations": cfg.num_generations,
        "beta": cfg.beta,
        "loss_type": cfg.loss_type,
        "epsilon": cfg.epsilon,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "top_k": cfg.top_k,
        "max_completion_length": cfg.max_completion_length,
        "num_train_epochs": cfg.num_train_epochs,
        "max_steps": cfg.max_steps,
        "weight_decay": cfg.weight_decay,
        "max_grad_norm": cfg.max_grad_norm,
        "lr_scheduler_type": cfg.lr_scheduler_type,
        "warmup_steps": cfg.warmup_steps,
        "seed": cfg.seed,
        _checkpointing_field(): cfg.gradient_checkpointing,
        "bf16": bf16,
        "use_cpu": not cuda,
        "logging_steps": cfg.logging_steps,
        "save_steps": cfg.save_steps,
        "save_strategy": "steps",
        "report_to": cfg.report_to,
        "use_vllm": cfg.use_vllm,
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        **batch_layout(cfg, world_size),
    }
    if cfg.use_vllm:
        kw["vllm_mode"] = cfg.vllm_mode
    kw.update(cfg.grpo_args)
    return kw
