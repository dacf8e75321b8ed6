"""The paper's Figure 1 analysis for any dataset: how many of k sampled answers per question are correct.

Items answered correctly 0/k or k/k times give every GRPO rollout the same reward, hence zero advantage: GRPO
cannot learn from them. ``--filter OUT`` writes the dataset without those items.

An answer counts as correct when its strict reward is 1 (exact answer), or, with ``--threshold T``, when its
smooth (paper) reward is at least ``T``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from videossr.tasks.rewards import reward

from videossr.arguments import DataclassArgumentParser, option

from .config import parse_pixels
from .data import VideoOptions, load_train_dataset, prepare_dataset
from .errors import CLIError

Sampler = Callable[[dict, int], list[str]]  # (prepared row with "prompt", k) -> k answers

DESCRIPTION = (
    "Sample k answers per question, write the histogram of correct counts (JSON + PNG, overall and per "
    "task), and optionally the dataset without the zero-variance items (0/k or k/k correct)."
)


@dataclass
class PassRateConfig:
    """Options of ``videossr-pass-rate`` / ``python train/pass_rate.py``."""

    model: str = option("", help="model id or local folder", required=True)
    dataset: str = option("", help="dataset: Hub id or local folder", required=True)
    dataset_config: str | None = option(None, help="dataset config, e.g. grounding")
    split: str = option("train", help="dataset split")
    k: int = option(8, help="answers sampled per question")
    limit: int | None = option(None, help="only the first N questions", metavar="N")
    threshold: float | None = option(
        None, help="count an answer correct when its smooth reward >= this (default: exact answer only)"
    )
    temperature: float = option(1.0, help="sampling temperature")
    max_new_tokens: int = option(64, help="tokens per answer")
    max_frames: int = option(48, help="frames per clip (evenly sampled if more)")
    max_pixels: int = option(256 * 256, help="pixels per frame, e.g. 65536 or 256x256", parse=parse_pixels)
    seed: int = option(0, help="sampling seed")
    out: str | None = option(
        None, help="output folder for pass_rate.json/.png (default outputs/pass_rate-<model>)"
    )
    filter: str | None = option(None, help="write the dataset without 0/k and k/k items here", metavar="OUT")


def parser() -> DataclassArgumentParser:
    return DataclassArgumentParser(PassRateConfig, description=DESCRIPTION)


def config_from_argv(argv: Sequence[str] | None = None) -> PassRateConfig:
    (cfg,) = parser().parse_into_dataclasses(argv)
    return cfg


def is_correct(task: str, completion: str, answer: str, threshold: float | None) -> bool:
    if threshold is None:
        return reward(task, completion, answer, strict=True) >= 1.0
    return reward(task, completion, answer, strict=False) >= threshold


def evaluate(
    rows: Iterable[dict], sampler: Sampler, k: int, *, threshold: float | None = None
) -> list[dict[str, Any]]:
    """One record per row: id, task, subtype, answers, correct count."""
    out = []
    for row in rows:
        answers = sampler(row, k)
        if len(answers) != k:
            raise RuntimeError(
                f"sampler returned {len(answers)} answers for row {row.get('id')}, expected {k}"
            )
        correct = sum(is_correct(row["task"], a, row["answer"], threshold) for a in answers)
        out.append(
            {
                "id": row.get("id"),
                "task": row["task"],
                "subtype": row.get("subtype"),
                "answer": row["answer"],
                "answers": answers,
                "correct": int(correct),
            }
        )
    return out


def histogram(records: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Counts of questions with c correct answers, c = 0..k; overall and per task; zero-variance share."""

    def counts(recs):
        h = [0] * (k + 1)
        for r in recs:
            h[r["correct"]] += 1
        return h

    def summary(recs):
        h = counts(recs)
        n = max(1, len(recs))
        return {
            "questions": len(recs),
            "counts": h,
            "fractions": [c / n for c in h],
            "zero_variance": h[0] + h[k],
            "zero_variance_fraction": (h[0] + h[k]) / n,
        }

    tasks = sorted({r["task"] for r in records})
    return {
        "k": k,
        "overall": summary(records),
        "by_task": {t: summary([r for r in records if r["task"] == t]) for t in tasks},
    }


def plot_histogram(hist: dict[str, Any], path: str | Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    k = hist["k"]
    groups = [("all", hist["overall"]), *hist["by_task"].items()]
    x = np.arange(k + 1)
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    for i, (name, s) in enumerate(groups):
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, [100 * f for f in s["fractions"]], width, label=name)
    ax.set_xticks(x)
    ax.set_xlabel(f"correct answers out of {k}")
    ax.set_ylabel("% of questions")
    zv = hist["overall"]["zero_variance_fraction"]
    ax.set_title(
        title or f"Pass-rate histogram ({100 * zv:.0f}% zero-variance: 0/{k} or {k}/{k})", fontsize=9
    )
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_filtered(raw_dataset, keep_ids: set, out_dir: str | Path) -> Path:
    """Write ``raw_dataset`` rows whose id is in ``keep_ids`` as a folder that ``load_dataset`` reads."""
    import datasets

    out = Path(out_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    kept = raw_dataset.filter(lambda r: r["id"] in keep_ids)
    if "videos" in kept.column_names:
        kept = kept.cast_column("videos", datasets.List(datasets.Video()))
    for old in (out / "data").glob("train-*.parquet"):
        old.unlink()
    kept.to_parquet(str(out / "data" / "train-00000-of-00001.parquet"))
    (out / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
        "    path: data/train-*.parquet\n---\n\n# Filtered VideoSSR dataset\n\nRows of the source dataset "
        "whose sampled answers were neither all wrong nor all right (written by `train/pass_rate.py "
        "--filter`).\n"
    )
    return out


def hf_sampler(cfg: PassRateConfig) -> tuple[Sampler, VideoOptions]:
    """A sampler that runs ``model.generate`` (sampling, ``num_return_sequences=k``) on one prompt, and the
    video options that size frames for its model."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from .processor import (
        chat_inputs,
        configure_processor,
        processor_kwargs,
        suppress_vision_tokens,
        video_options,
    )

    try:
        processor = AutoProcessor.from_pretrained(cfg.model, padding_side="left")
        model = AutoModelForImageTextToText.from_pretrained(cfg.model)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot load --model {cfg.model!r}: {str(exc).splitlines()[0]}") from None
    try:
        options = video_options(processor, max_pixels=cfg.max_pixels, max_frames=cfg.max_frames)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    configure_processor(processor, options)
    model.eval()
    if torch.cuda.is_available():
        model.to("cuda")
    pkw = processor_kwargs(processor, options)
    suppress = suppress_vision_tokens(processor.tokenizer)
    generator_seed = [cfg.seed]

    def sample(row: dict, k: int) -> list[str]:
        inputs = chat_inputs(processor, row["prompt"], pkw, images=row.get("images"))
        inputs = {key: v.to(model.device) if hasattr(v, "to") else v for key, v in inputs.items()}
        torch.manual_seed(generator_seed[0])
        generator_seed[0] += 1
        with torch.no_grad():
            out = model.generate(
                **inputs,
                do_sample=True,
                temperature=cfg.temperature,
                top_k=0,
                top_p=1.0,
                num_return_sequences=k,
                max_new_tokens=cfg.max_new_tokens,
                suppress_tokens=suppress,
            )
        gen = out[:, inputs["input_ids"].shape[1] :]
        return processor.batch_decode(gen, skip_special_tokens=True)

    return sample, options


def validate(cfg: PassRateConfig) -> None:
    if cfg.k < 1:
        raise CLIError(f"--k must be at least 1, got {cfg.k}")
    if cfg.threshold is not None and not 0 < cfg.threshold <= 1:
        raise CLIError(f"--threshold must be in (0, 1], got {cfg.threshold}")
    if cfg.temperature <= 0:
        raise CLIError(f"--temperature must be positive, got {cfg.temperature}")
    try:
        VideoOptions(max_pixels=cfg.max_pixels, max_frames=cfg.max_frames)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def run(cfg: PassRateConfig, sampler: Sampler | None = None) -> dict[str, Any]:
    """Sample, count, write ``pass_rate.json`` / ``.png`` / ``pass_rate_samples.jsonl`` and the filtered
    dataset; ``sampler`` replaces the model (any ``(row, k) -> k answers`` function)."""
    from .cli import short_name

    validate(cfg)
    raw = load_train_dataset(cfg.dataset, split=cfg.split, config=cfg.dataset_config)
    if cfg.limit is not None:
        raw = raw.select(range(min(cfg.limit, len(raw))))
    if "id" not in raw.column_names:
        raise CLIError(f"{cfg.dataset}: pass_rate needs an id column to report and filter items")
    if sampler is None:
        sampler, options = hf_sampler(cfg)
    else:
        options = VideoOptions(max_pixels=cfg.max_pixels, max_frames=cfg.max_frames)
    rows = prepare_dataset(raw, options)
    records = evaluate((rows[i] for i in range(len(rows))), sampler, cfg.k, threshold=cfg.threshold)
    hist = histogram(records, cfg.k)
    out = Path(cfg.out or Path("outputs") / f"pass_rate-{short_name(cfg.model)}")
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "model": cfg.model,
        "dataset": cfg.dataset,
        "dataset_config": cfg.dataset_config,
        "split": cfg.split,
        "correct": "exact answer" if cfg.threshold is None else f"smooth reward >= {cfg.threshold}",
        "histogram": hist,
        "items": [{k: v for k, v in r.items() if k != "answers"} for r in records],
    }
    (out / "pass_rate.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "pass_rate_samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    plot_histogram(hist, out / "pass_rate.png")
    o = hist["overall"]
    print(
        f"{o['questions']} questions, k={cfg.k}: counts {o['counts']}; zero-variance {o['zero_variance']} "
        f"({100 * o['zero_variance_fraction']:.1f}%); wrote {out}/pass_rate.json and .png"
    )
    if cfg.filter:
        keep = {r["id"] for r in records if 0 < r["correct"] < cfg.k}
        write_filtered(raw, keep, cfg.filter)
        dropped = f"without 0/{cfg.k} and {cfg.k}/{cfg.k}"
        print(f"wrote {len(keep)} of {len(records)} items ({dropped}) to {cfg.filter}")
    return result
