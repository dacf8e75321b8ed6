"""What a :class:`~.config.TrainConfig` means to TRL: the batch layout for a world size (verl's batch
semantics, see :mod:`.config`) and the keyword arguments of ``trl.GRPOConfig``."""

from __future__ import annotations

from typing import Any

from .config import TrainConfig

# TrainConfig fields that are trl.GRPOConfig fields of the same name and meaning
SAME_NAME_IN_GRPO_CONFIG: tuple[str, ...] = (
    "output_dir",
    "learning_rate",
    "num_generations",
    "beta",
    "loss_type",
    "epsilon",
    "temperature",
    "top_p",
    "top_k",
    "max_completion_length",
    "num_train_epochs",
    "max_steps",
    "weight_decay",
    "max_grad_norm",
    "lr_scheduler_type",
    "warmup_steps",
    "seed",
    "logging_steps",
    "save_steps",
    "report_to",
    "use_vllm",
    "dataloader_num_workers",
)


def batch_layout(cfg: TrainConfig, world_size: int) -> dict[str, int]:
    """The per-device batch, gradient accumulation and steps per generation for ``world_size`` devices."""
    completions = cfg.global_batch * cfg.num_generations
    per_step = cfg.per_device_batch * world_size
    if completions % per_step:
        raise ValueError(
            f"--global-batch {cfg.global_batch} x --num-generations {cfg.num_generations} = {completions} "
            f"completions per step is not a multiple of --per-device-batch {cfg.per_device_batch} x "
            f"{world_size} device(s); change one of them"
        )
    accum = completions // per_step
    return {
        "per_device_train_batch_size": cfg.per_device_batch,
        "gradient_accumulation_steps": accum,
        "steps_per_generation": accum,
    }


def grpo_kwargs(cfg: TrainConfig, *, world_size: int, cuda: bool, bf16_ok: bool) -> dict[str, Any]:
    """Keyword arguments for ``trl.GRPOConfig`` (without the processor, generation and dtype kwargs)."""
    bf16 = cfg.bf16 if cfg.bf16 is not None else (cuda and bf16_ok)
    kw: dict[str, Any] = {name: getattr(cfg, name) for name in SAME_NAME_IN_GRPO_CONFIG}
    kw.update(
        activation_checkpointing=cfg.gradient_checkpointing,
        bf16=bf16,
        use_cpu=not cuda,
        save_strategy="steps",
        remove_unused_columns=False,
        # the decoded frames stay on the CPU (the processor reads them there); pinning would copy every row's
        # frames, including the num_generations rows that share one clip
        dataloader_pin_memory=False,
        # verl's KL term (low_var_kl) is not weighted by the importance ratio; TRL's default weighting changes
        # the KL gradient even on-policy
        use_bias_correction_kl=False,
        **batch_layout(cfg, world_size),
    )
    if cfg.use_vllm:
        kw["vllm_mode"] = cfg.vllm_mode
    kw.update(cfg.grpo_args)
    return kw
