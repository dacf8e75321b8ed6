"""A training session: the ``VideoGRPOTrainer`` for a :class:`TrainConfig`, its precision and launch checks,
and the run with its outputs (checkpoint, model card, reward curves, effective config)."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

from .config import CONFIG_FILENAME, TrainConfig
from .errors import CLIError
from .stream_options import is_stream
from .trl_args import batch_layout, grpo_kwargs


def _check_optional_deps(cfg: TrainConfig) -> None:
    if cfg.use_vllm and importlib.util.find_spec("vllm") is None:
        raise CLIError("--use-vllm needs vLLM (pip install vllm); it is not installed")
    if cfg.lora and importlib.util.find_spec("peft") is None:
        raise CLIError("--lora needs peft (pip install peft); it is not installed")
    if cfg.report_to == "wandb" and importlib.util.find_spec("wandb") is None:
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


def requested_engine(args) -> str | None:
    """``"deepspeed"`` or ``"fsdp"`` when the launch (accelerate config or GRPOConfig) asks for one, else
    None."""
    if getattr(args, "deepspeed_plugin", None) is not None:
        return "deepspeed"
    if getattr(args, "fsdp", None) or os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
        return "fsdp"
    return None


def policy_dtype(args, *, lora: bool) -> str:
    """The dtype the policy is loaded in.

    bf16 weights only where something keeps an fp32 copy of what is trained: DeepSpeed's optimizer, FSDP
    (which upcasts trainable parameters to fp32 under mixed precision) or LoRA (adapters in fp32, frozen
    base). Plain single-device and DDP runs keep fp32 parameters and compute in bf16 autocast, so that an
    update of 1e-6 is not rounded away (bf16 resolves about 0.4% of a weight's value).
    """
    if args.bf16 and (lora or requested_engine(args) is not None):
        return "bfloat16"
    return "float32"


def check_launch(trainer, engine: str | None) -> None:
    """Refuse a run that would not do what the launch asked for, before any step."""
    import torch

    active = {"deepspeed": trainer.is_deepspeed_enabled, "fsdp": trainer.is_fsdp_enabled}
    if engine is not None and not active[engine]:
        raise CLIError(
            f"the launch asks for {engine} but accelerate runs plain data parallelism (it enables DeepSpeed "
            "and FSDP on GPUs only): every process would hold the whole model; launch on GPUs or without the "
            f"{engine} config"
        )
    if trainer.args.bf16 and not any(active.values()):
        low = [n for n, p in trainer.model.named_parameters() if p.requires_grad and p.dtype != torch.float32]
        if low:
            raise CLIError(
                f"{len(low)} trained parameter tensors (e.g. {low[0]}) are not float32 and nothing keeps an "
                "fp32 master copy: small updates would be lost in bf16; drop model_init_kwargs dtype or use "
                "a DeepSpeed/FSDP config"
            )


def _save_config_callback(cfg: TrainConfig):
    from transformers import TrainerCallback

    class SaveConfig(TrainerCallback):
        """Writes the effective config into every checkpoint."""

        def on_save(self, args, state, control, **_):
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if ckpt.is_dir():
                (ckpt / CONFIG_FILENAME).write_text(cfg.to_json() + "\n")

    return SaveConfig()


def build_trainer(cfg: TrainConfig, *, callbacks: list | None = None, reward_funcs: list | None = None):
    """Dataset (or stream), processor and ``VideoGRPOTrainer`` (``StreamGRPOTrainer``) for ``cfg`` (no
    training)."""
    from .data import load_train_dataset, prepare_dataset
    from .rewards import make_reward_fn
    from .stream_trainer import StreamGRPOTrainer
    from .trainer import VideoGRPOTrainer, check_trl

    check_trl()
    _check_optional_deps(cfg)
    stream = _open_stream(cfg) if is_stream(cfg.dataset) else None
    if stream is None:
        raw = load_train_dataset(cfg.dataset, split=cfg.split, config=cfg.dataset_config)
    processor, options = _load_processor(cfg)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    args = _grpo_config(cfg, processor, options, world, stream=stream is not None)
    common = {
        "model": cfg.model,
        "reward_funcs": reward_funcs or [make_reward_fn(cfg.reward)],
        "args": args,
        "processing_class": processor,
        "peft_config": lora_config(cfg) if cfg.lora else None,
    }
    callbacks = [_save_config_callback(cfg), *(callbacks or [])]
    if stream is not None:
        trainer = StreamGRPOTrainer(
            train_dataset=stream.training_dataset(options),
            group_observer=stream.observe,
            callbacks=[*callbacks, stream.callback()],
            **common,
        )
        trainer.stream_run = stream
    else:
        # the distinct rows of one rank's generation batch (a prompt's copies can straddle two ranks): what
        # the repeated copies of that batch reuse
        layout = batch_layout(cfg, world)
        completions = layout["per_device_train_batch_size"] * layout["steps_per_generation"]
        keep_rows = -(-completions // cfg.num_generations) + 1
        dataset = prepare_dataset(raw, options, keep_rows=keep_rows)
        trainer = VideoGRPOTrainer(train_dataset=dataset, callbacks=callbacks, **common)
    check_launch(trainer, requested_engine(args))
    return trainer


def _load_processor(cfg: TrainConfig):
    """The model's processor, set up for the clips as ``cfg`` sizes them, and those :class:`VideoOptions`."""
    from transformers import AutoProcessor

    from .processor import configure_processor, video_options

    try:
        # left padding, as TRL itself loads it: its image path (--video-as frames) pads prompts with the
        # processor
        processor = AutoProcessor.from_pretrained(cfg.model, padding_side="left", truncation_side="left")
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot load a processor from --model {cfg.model!r}: {exc}".splitlines()[0]) from None
    if getattr(processor, "video_processor", None) is None and cfg.video_as == "video":
        raise CLIError(
            f"--model {cfg.model!r} has no video processor; use a video model or --video-as frames"
        )
    try:
        options = video_options(
            processor, max_pixels=cfg.max_pixels, max_frames=cfg.max_frames, video_as=cfg.video_as
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    configure_processor(processor, options)
    return processor, options


def _grpo_config(cfg: TrainConfig, processor, options, world: int, *, stream: bool):
    """The ``trl.GRPOConfig`` of ``cfg`` on ``world`` devices."""
    import torch
    from trl import GRPOConfig

    from .processor import processor_kwargs, suppress_vision_tokens
    from .stream_run import stream_grpo_kwargs

    cuda = torch.cuda.is_available()
    kw = grpo_kwargs(cfg, world_size=world, cuda=cuda, bf16_ok=cuda and torch.cuda.is_bf16_supported())
    kw.setdefault("chat_template_kwargs", {"processor_kwargs": processor_kwargs(processor, options)})
    # transformers generate() must never emit a vision token (it would break the loss forward); not for vLLM
    if not cfg.use_vllm:
        kw.setdefault("generation_kwargs", {"suppress_tokens": suppress_vision_tokens(processor.tokenizer)})
    args = GRPOConfig(**(stream_grpo_kwargs(kw) if stream else kw))
    args.model_init_kwargs = {"dtype": policy_dtype(args, lora=cfg.lora), **(args.model_init_kwargs or {})}
    return args


def _open_stream(cfg: TrainConfig):
    """``cfg``'s stream (before the model loads: a bad source, recipe or export folder fails at once); the
    local main process probes the sources first, the others read its probe cache."""
    from accelerate import PartialState

    from .stream_run import open_stream_run

    state = PartialState()
    return open_stream_run(
        cfg, main_first=state.local_main_process_first, progress=state.is_local_main_process
    )


def resume_checkpoint(cfg: TrainConfig) -> Path | None:
    """The checkpoint ``--resume-from-checkpoint`` names (``latest``: the last one in ``--output-dir``)."""
    if not cfg.resume_from_checkpoint:
        return None
    if cfg.resume_from_checkpoint == "latest":
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(cfg.output_dir) if Path(cfg.output_dir).is_dir() else None
        if last is None:
            raise CLIError(f"--resume-from-checkpoint latest: no checkpoint-* folder in {cfg.output_dir}")
        return Path(last)
    path = Path(cfg.resume_from_checkpoint)
    if not path.is_dir():
        raise CLIError(f"--resume-from-checkpoint {path}: not a checkpoint folder")
    return path


def train(cfg: TrainConfig, *, callbacks: list | None = None, reward_funcs: list | None = None):
    """Build the trainer, train, and write the model with its card; returns the trainer."""
    from .card import push_to_hub, write_outputs

    print("VideoSSR GRPO - effective config:\n" + cfg.to_json(), flush=True)
    resume = resume_checkpoint(cfg)
    trainer = build_trainer(cfg, callbacks=callbacks, reward_funcs=reward_funcs)
    run = getattr(trainer, "stream_run", None)
    if run is not None and resume is not None:
        run.restore(resume)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILENAME).write_text(cfg.to_json() + "\n")
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    runtime = time.time() - t0
    if trainer.is_fsdp_enabled:  # checkpoints may be sharded; the released model is one loadable file
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
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
    # Every rank leaves together once the model is on disk: a rank that exits while the main one still
    # writes it can abort at exit ("terminate called without an active exception"). The push and the
    # export below are the main rank's alone and may take longer than a collective's timeout.
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        if cfg.push_to_hub:
            url = push_to_hub(out, cfg.push_to_hub, private=bool(cfg.hub_private))
            print(f"pushed to {cfg.push_to_hub}: {url}", flush=True)
        if run is not None and cfg.export_seen:
            run.export(Path(cfg.export_seen), workers=max(1, cfg.dataloader_num_workers), progress=True)
    return trainer


def end_distributed() -> None:
    """Shut this rank's process group down before the interpreter exits: a rank that exits with its
    collective threads alive can abort ("terminate called without an active exception") while another
    rank still writes the model."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
