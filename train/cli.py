"""Command lines: ``videossr-train`` / ``python train/grpo.py`` (GRPO training) and ``videossr-pass-rate`` /
``python train/pass_rate.py`` (the Figure 1 analysis). Both parsers are generated from their config
dataclass."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from videossr.arguments import DataclassArgumentParser

from .config import TrainConfig, resolve
from .errors import CLIError, TRLVersionError
from .trl_args import batch_layout

GRPO_DESCRIPTION = (
    "GRPO training on a VideoSSR dataset (a Hub id or a folder from build/) with TRL; the clips' video "
    "tensors reach generation and every log-prob forward of the loss (VideoGRPOTrainer). The defaults shown "
    "are the small preset's; --preset paper sets the paper's values; the flags you give override both."
)


def short_name(name: str) -> str:
    """The last path component of a dataset or model name, for default output folders."""
    return Path(name.rstrip("/")).name.replace(" ", "_") or "run"


def grpo_parser() -> DataclassArgumentParser:
    return DataclassArgumentParser(TrainConfig, description=GRPO_DESCRIPTION)


def config_from_argv(argv: Sequence[str] | None = None) -> TrainConfig:
    """The effective :class:`TrainConfig` of a command line: defaults <- preset <- the flags given."""
    (given,) = grpo_parser().parse_given(argv)
    preset = given.pop("preset", "small")
    grpo_args = dict(given.get("grpo_args") or [])
    if grpo_args:
        from trl import GRPOConfig

        bad = sorted(set(grpo_args) - set(GRPOConfig.__dataclass_fields__))
        if bad:
            raise CLIError(f"--grpo-arg: {', '.join(bad)} is not a trl.GRPOConfig field")
    given["grpo_args"] = grpo_args
    try:
        cfg = resolve(preset, given)
        batch_layout(cfg, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if not cfg.output_dir:
        cfg.output_dir = str(Path("outputs") / f"grpo-{short_name(cfg.dataset)}-{short_name(cfg.model)}")
    return cfg


def run_cli(fn: Callable[[], object]) -> int:
    """Run ``fn``; a user error prints one line and returns exit status 2."""
    from .data import DataError

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        fn()
    except (CLIError, DataError, TRLVersionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``videossr-train`` / ``python train/grpo.py``."""
    from .session import end_distributed, train

    try:
        return run_cli(lambda: train(config_from_argv(argv)))
    finally:
        end_distributed()


def pass_rate_main(argv: Sequence[str] | None = None) -> int:
    """``videossr-pass-rate`` / ``python train/pass_rate.py``."""
    from .zero_variance import config_from_argv as pass_rate_config
    from .zero_variance import run

    return run_cli(lambda: run(pass_rate_config(argv)))
