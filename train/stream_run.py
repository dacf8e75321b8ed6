"""A training run on a stream (``--dataset stream:SOURCES``): the stream as the trainer's dataset, the
adaptive difficulty controller and its schedule, the record of the rows trained on, and their checkpointed
state.

One run uses ``global_batch`` stream positions per optimizer step: ``--max-steps N`` draws positions
``0 .. N * global_batch - 1``; without it, ``--num-train-epochs E`` draws ``E`` times the recipe's sample
count, each epoch from its own plan (the Trainer runs one pass over them). ``STATE_FILENAME`` in every
checkpoint holds the stream's description, the rows trained on, the difficulty decisions and the controller's
windows; a resumed run restores them before its data loader starts, so it draws exactly the rows an
uninterrupted run draws.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videossr.stream.adaptive import AdaptiveController, AdaptiveSettings, Group, zero_variance_shares
from videossr.stream.export import (
    ExportError,
    SeenRow,
    export_rows,
    seen_from_json,
    seen_row_of,
    seen_to_json,
)
from videossr.stream.generate import SampleStream
from videossr.stream.positions import DrawSettings
from videossr.stream.schedule import LAG, LevelSchedule

from .config import TrainConfig
from .data import VideoOptions
from .errors import CLIError
from .stream_data import StreamPrompts
from .stream_options import STREAM_PREFIX

STATE_FILENAME = "videossr_stream_state.json"
STATE_VERSION = 1
PROBE_WORKERS = 16  # processes probing the sources at start (at most one per core)
SKIPS_SHOWN = 5  # skipped sources printed at start (the export's manifest lists them all)


def stream_length(cfg: TrainConfig, epoch_size: int) -> int:
    """Positions the run draws: whole generation batches (``global_batch`` positions each)."""
    if cfg.max_steps > 0:
        return cfg.max_steps * cfg.global_batch
    batches = math.floor(cfg.num_train_epochs * epoch_size / cfg.global_batch)
    if batches < 1:
        raise CLIError(
            f"--num-train-epochs {cfg.num_train_epochs} of {epoch_size} samples is less than one step of "
            f"--global-batch {cfg.global_batch}; give --max-steps or more epochs"
        )
    return batches * cfg.global_batch


def stream_grpo_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    """``GRPOConfig`` keywords for a stream: position order, and one pass (the positions hold the epochs)."""
    return {**kw, "shuffle_dataset": False, "num_train_epochs": 1}


class StreamRun:
    """The stream side of one training run; ``observe`` is the trainer's group observer."""

    def __init__(
        self, stream: SampleStream, global_batch: int, controller: AdaptiveController | None = None
    ) -> None:
        self.stream, self.global_batch, self.controller = stream, global_batch, controller
        self.seen: dict[int, SeenRow] = {}
        self.batches = 0  # generation batches observed

    @property
    def schedule(self) -> LevelSchedule | None:
        return self.stream.schedule

    def training_dataset(self, options: VideoOptions) -> StreamPrompts:
        """The stream's rows as prompts for a model that takes clips as ``options`` say."""
        return StreamPrompts(self.stream, options)

    def description(self) -> dict[str, Any]:
        """What must be the same for a checkpoint to resume this run's sequence of rows."""
        s, corpus = self.stream.settings, self.stream.corpus
        return {
            "recipe": s.recipe.describe(),
            "seed": s.seed,
            "clips": self.stream.clips,
            "global_batch": self.global_batch,
            "sources": len(corpus.sources),
            "sources_sha256": hashlib.sha256(
                json.dumps(sorted([src.id, src.content_hash] for src in corpus.sources)).encode()
            ).hexdigest(),
            "adaptive": self.controller is not None,
            "lag": LAG,
        }

    # ------------------------------------------------------------------------------------------- observing
    def observe(
        self, rows: Sequence[dict[str, Any]], rewards: Sequence[float], num_generations: int
    ) -> dict[str, float]:
        """One generation batch (every rank's completions, each prompt's copies together): record its rows,
        feed its groups to the controller and record the decision; returns the metrics to log."""
        groups: list[Group] = []
        for start in range(0, len(rows), num_generations):
            block = rows[start : start + num_generations]
            if len({r["position"] for r in block}) != 1:
                raise RuntimeError(
                    f"completions {start}..{start + len(block) - 1} of a generation batch belong to "
                    f"positions {sorted({r['position'] for r in block})}: the batch is not grouped by prompt"
                )
            first = block[0]
            groups.append(
                Group(first["task"], int(first["offset"]), tuple(rewards[start : start + num_generations]))
            )
            self.seen[int(first["position"])] = seen_row_of(first)
        batch = min(int(r["position"]) for r in rows) // self.global_batch
        metrics = zero_variance_shares(groups)
        metrics["stream/redrawn"] = sum(bool(r["redrawn"]) for r in rows[::num_generations]) / max(
            1, len(groups)
        )
        if self.controller is not None and self.schedule is not None:
            metrics.update(self.controller.observe(groups))
            if batch != self.schedule.decided:
                raise RuntimeError(
                    f"generation batch {batch} observed after {self.schedule.decided} batches: the trainer "
                    "skipped or repeated stream positions"
                )
            self.schedule.record(batch, self.controller.levels)
        self.batches += 1
        return metrics

    # ------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "stream": self.description(),
            "batches": self.batches,
            "seen": seen_to_json(list(self.seen.values())),
            "schedule": self.schedule.history() if self.schedule is not None else None,
            "controller": self.controller.state_dict() if self.controller is not None else None,
        }

    def save(self, checkpoint: Path) -> None:
        (checkpoint / STATE_FILENAME).write_text(json.dumps(self.state_dict(), sort_keys=True) + "\n")

    def restore(self, checkpoint: Path) -> None:
        """Continue from ``checkpoint``'s state (before the trainer's data loader starts)."""
        path = checkpoint / STATE_FILENAME
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CLIError(f"cannot resume the stream: {path} is missing or unreadable ({exc})") from None
        if state.get("version") != STATE_VERSION or state.get("stream") != self.description():
            raise CLIError(
                f"{checkpoint} was trained on another stream (sources, --recipe, --holdout, --stream-seed, "
                "--stream-clips, --global-batch or --adaptive differ); resume with the options it ran with"
            )
        self.batches = int(state["batches"])
        self.seen = {r.position: r for r in seen_from_json(state["seen"])}
        if self.schedule is not None and self.controller is not None:
            self.schedule.restore(state["schedule"])
            self.controller.load_state_dict(state["controller"])

    def callback(self):
        """The Trainer callback that writes this state into every checkpoint."""
        from transformers import TrainerCallback

        run = self

        class SaveStreamState(TrainerCallback):
            def on_save(self, args, state, control, **_):
                ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if state.is_world_process_zero and ckpt.is_dir():
                    run.save(ckpt)

        return SaveStreamState()

    def export(self, folder: Path, *, workers: int, progress: bool) -> None:
        """``--export-seen``: the rows trained on as the dataset folder ``folder`` (after the model is saved,
        so a failure here loses no training)."""
        from videossr.build.output import OutputRefused

        try:
            summary = export_rows(
                self.stream, list(self.seen.values()), folder, workers=workers, progress=progress
            )
        except (ExportError, OutputRefused) as exc:
            raise CLIError(f"--export-seen {folder}: {exc} (the trained model is saved)") from None
        print(f"exported the {summary.num_rows} rows trained on to {folder}", flush=True)


def open_stream_run(cfg: TrainConfig, *, main_first, progress: bool) -> StreamRun:
    """The stream of ``cfg``: its sources probed (the local main process first, the others from its cache),
    split and dealt as the build does, with the adaptive controller when ``--adaptive``."""
    from videossr.build.output import OutputRefused, check_replaceable, dataset_folder
    from videossr.build.recipes import load_recipe
    from videossr.build.sources import SourcesError
    from videossr.stream.corpus import CorpusError, open_corpus
    from videossr.tasks import TASK_NAMES

    try:
        recipe = load_recipe(cfg.recipe)
        holdout = None if cfg.holdout == "none" else load_recipe(cfg.holdout)
        if cfg.export_seen:
            target = Path(cfg.export_seen)
            check_replaceable(dataset_folder(target.parent, target.name))
        cache = Path(cfg.output_dir) / ".videossr-cache" / "probe.jsonl"
        with main_first():
            corpus = open_corpus(
                [cfg.dataset[len(STREAM_PREFIX) :]],
                recipe,
                holdout,
                cache_file=cache,
                workers=min(PROBE_WORKERS, os.cpu_count() or 1),
                progress=progress,
            )
    except (ValueError, OutputRefused, SourcesError, CorpusError) as exc:
        raise CLIError(str(exc)) from None
    print(f"stream: {corpus.summary()}", flush=True)
    for skip in corpus.skipped[:SKIPS_SHOWN]:
        print(f"stream: skipped {skip.source}: {skip.reason}", flush=True)
    if len(corpus.skipped) > SKIPS_SHOWN:
        print(f"stream: ... and {len(corpus.skipped) - SKIPS_SHOWN} more skipped", flush=True)
    length = stream_length(cfg, recipe.total)
    schedule, controller = None, None
    if cfg.adaptive:
        schedule = LevelSchedule(TASK_NAMES, batches=length // cfg.global_batch, batch_size=cfg.global_batch)
        tasks = sorted({e.spec.task for e in recipe.mix if e.count})
        controller = AdaptiveController(tasks, AdaptiveSettings(cfg.adaptive_band, cfg.adaptive_window))
    settings = DrawSettings(recipe, seed=cfg.stream_seed)
    stream = SampleStream(corpus, settings, length=length, clips=cfg.stream_clips, schedule=schedule)
    return StreamRun(stream, cfg.global_batch, controller)
