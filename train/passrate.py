"""The paper's Figure 1 analysis for any dataset: how many of k sampled answers per question are correct.

Items answered correctly 0/k or k/k times give every GRPO rollout the same reward, hence zero advantage: GRPO
cannot learn from them. ``--filter OUT`` writes the dataset without those items.

An answer counts as correct when its strict reward is 1 (exact answer), or, with ``--threshold T``, when its
smooth (paper) reward is at least ``T``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from videossr.tasks.rewards import reward

Sampler = Callable[[dict, int], list[str]]  # (prepared row with "prompt", k) -> k answers


def parser() -> argparse.ArgumentParser:
    from .cli import _pixels

    p = argparse.ArgumentParser(
        prog="python train/pass_rate.py",
        description=(
            "Sample k answers per question, write the histogram of correct counts (JSON + PNG, overall and per "
            "task), and optionally the dataset without the zero-variance items (0/k or k/k correct)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--model", required=True, help="model id or local folder")
    p.add_argument("--dataset", required=True, help="dataset: Hub id or local folder")
    p.add_argument("--dataset-config", default=None)
    p.add_argument("--split", default="train")
    p.add_argument("--k", type=int, default=8, help="answers sampled per question")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--threshold", type=float, default=None,
                   help="count an answer correct when its smooth reward >= this (default: exact answer only)")  # fmt: skip
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--max-frames", type=int, default=48)
    p.add_argument("--max-pixels", type=_pixels, default=256 * 256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out",
        default=None,
        help="output folder for pass_rate.json/.png (default outputs/pass_rate-<model>)",
    )
    p.add_argument(
        "--filter", default=None, metavar="OUT", help="write the dataset without 0/k and k/k items here"
    )
    return p


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
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*.parquet\n"
        "---\n\n# Filtered VideoSSR dataset\n\nRows of the source dataset whose sampled answers were neither all "
        "wrong nor all right (written by `train/pass_rate.py --filter`).\n"
    )
    return out


def hf_sampler(
    model_path: str, *, max_new_tokens: int, temperature: float, options, seed: int = 0
) -> Sampler:
    """A sampler that runs ``model.generate`` (sampling, ``num_return_sequences=k``) on one prompt."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from .cli import CLIError
    from .data import configure_processor, processor_kwargs
    from .tiny import suppress_vision_tokens

    try:
        processor = AutoProcessor.from_pretrained(model_path, padding_side="left")
        model = AutoModelForImageTextToText.from_pretrained(model_path)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot load --model {model_path!r}: {str(exc).splitlines()[0]}") from None
    configure_processor(processor, options)
    model.eval()
    if torch.cuda.is_available():
        model.to("cuda")
    pkw = processor_kwargs(processor, options)
    suppress = suppress_vision_tokens(processor.tokenizer)
    generator_seed = [seed]

    def sample(row: dict, k: int) -> list[str]:
        inputs = chat_inputs(processor, row["prompt"], pkw, images=row.get("images"))
        inputs = {key: v.to(model.device) if hasattr(v, "to") else v for key, v in inputs.items()}
        torch.manual_seed(generator_seed[0])
        generator_seed[0] += 1
        with torch.no_grad():
            out = model.generate(
                **inputs,
                do_sample=True,
                temperature=temperature,
                top_k=0,
                top_p=1.0,
                num_return_sequences=k,
                max_new_tokens=max_new_tokens,
                suppress_tokens=suppress,
            )
        gen = out[:, inputs["input_ids"].shape[1] :]
        return processor.batch_decode(gen, skip_special_tokens=True)

    return sample


def chat_inputs(processor, prompt: list[dict], processor_kw: dict, images=None) -> dict:
    """Processor inputs for one prompt of :mod:`videossr.train.data` (video metadata passed per clip)."""
    metas, messages = [], []
    for message in prompt:
        content = message["content"]
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.get("type") == "video":
                    part = dict(part)
                    metas.append(part.pop("video_metadata", None))
                parts.append(part)
            message = {**message, "content": parts}
        messages.append(message)
    if images:  # fill image placeholders in order across messages
        it = iter(images)
        messages = [
            {
                **m,
                "content": [
                    ({**p, "image": next(it)} if p.get("type") == "image" else p) for p in m["content"]
                ],
            }
            if isinstance(m["content"], list)
            else m
            for m in messages
        ]
    kw = dict(processor_kw)
    if metas and all(m is not None for m in metas):
        kw["video_metadata"] = [metas]
    return processor.apply_chat_template(
        [messages],
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        add_generation_prompt=True,
        processor_kwargs=kw,
    )


def run(args: argparse.Namespace, sampler: Sampler | None = None) -> dict[str, Any]:
    from .cli import CLIError, _short
    from .data import VideoOptions, load_train_dataset, prepare_dataset

    if args.k < 1:
        raise CLIError(f"--k must be at least 1, got {args.k}")
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise CLIError(f"--threshold must be in (0, 1], got {args.threshold}")
    if args.temperature <= 0:
        raise CLIError(f"--temperature must be positive, got {args.temperature}")
    try:
        options = VideoOptions(max_pixels=args.max_pixels, max_frames=args.max_frames)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    raw = load_train_dataset(args.dataset, split=args.split, config=args.dataset_config)
    if args.limit is not None:
        raw = raw.select(range(min(args.limit, len(raw))))
    if "id" not in raw.column_names:
        raise CLIError(f"{args.dataset}: pass_rate needs an id column to report and filter items")
    rows = prepare_dataset(raw, options)
    if sampler is None:
        sampler = hf_sampler(
            args.model, max_new_tokens=args.max_new_tokens, temperature=args.temperature, options=options,
            seed=args.seed,
        )  # fmt: skip
    records = evaluate((rows[i] for i in range(len(rows))), sampler, args.k, threshold=args.threshold)
    hist = histogram(records, args.k)
    out = Path(args.out or Path("outputs") / f"pass_rate-{_short(args.model)}")
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "model": args.model,
        "dataset": args.dataset,
        "dataset_config": args.dataset_config,
        "split": args.split,
        "correct": "exact answer" if args.threshold is None else f"smooth reward >= {args.threshold}",
        "histogram": hist,
        "items": [{k: v for k, v in r.items() if k != "answers"} for r in records],
    }
    (out / "pass_rate.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "pass_rate_samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    plot_histogram(hist, out / "pass_rate.png")
    o = hist["overall"]
    print(
        f"{o['questions']} questions, k={args.k}: counts {o['counts']}; zero-variance "
        f"{o['zero_variance']} ({100 * o['zero_variance_fraction']:.1f}%); wrote {out}/pass_rate.json and .png"
    )
    if args.filter:
        keep = {r["id"] for r in records if 0 < r["correct"] < args.k}
        write_filtered(raw, keep, args.filter)
        print(
            f"wrote {len(keep)} of {len(records)} items (without 0/{args.k} and {args.k}/{args.k}) to {args.filter}"
        )
    return result
