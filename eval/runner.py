"""The eval loop: load items, answer them (cached, resumable, sharded), score, and write the outputs.

Outputs in ``--out DIR``::

    results.json                    lmms-eval shaped: results[bench]["<metric>,none"], configs, versions, n-samples
    samples_<bench>.jsonl           one line per item: id, prompt, target, raw output, parsed answer, score, status
    chart.png                       this model next to the paper's Qwen3-VL-8B and VideoSSR-8B
    cache/<bench>[.shard-i-of-n].jsonl   raw outputs, keyed by item and settings (what makes runs resumable)

A ``--shard i/n`` run answers every n-th item and writes ``results.shard-i-of-n.json``; a final run without
``--shard`` on the same ``--out`` reuses all shards' caches and writes the full results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .backends import Backend, Settings, make_backend
from .items import DatasetUnavailable, Item, load_items
from .registry import BENCHMARKS, PROMPTS, BenchmarkSpec, resolve
from .report import environment, format_tables, plot_chart, write_json
from .scoring import benchmark_metrics, score_item


def item_key(spec: BenchmarkSpec, item: Item, backend: Backend, settings: Settings) -> str:
    """What an answer depends on: the item's prompt and videos, the model, the sampling and the decoder."""
    payload = json.dumps(
        [
            spec.name,
            item.id,
            item.system,
            item.prompt,
            [v.digest() for v in item.videos],
            backend.signature(),
            settings.frames,
            settings.fps,
            settings.max_pixels,
            settings.sampling,
            settings.max_new_tokens,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _load_cache(cache_dir: Path, bench: str) -> dict[str, dict]:
    entries: dict[str, dict] = {}
    for path in sorted(cache_dir.glob(f"{bench}.jsonl")) + sorted(cache_dir.glob(f"{bench}.shard-*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by an interrupted run
            entries[entry["key"]] = entry
    return entries


def _progress(total: int, desc: str, enabled: bool):
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, disable=not enabled, leave=False, file=sys.stderr)
    except ImportError:  # pragma: no cover
        return None


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"bad --shard {text!r}; expected i/n with 0 <= i < n, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"bad --shard {text!r}; expected i/n with 0 <= i < n, e.g. 0/4")
    return i, n


def settings_for(
    spec: BenchmarkSpec,
    frames: int | None,
    fps: float,
    max_pixels: int,
    cache_dir: Path,
    max_new_tokens: int | None,
) -> Settings:
    if spec.sampling == "all":  # VIUBench: every frame of each clip (48), whatever --frames says
        frames = None
    return Settings(
        frames=frames if frames is not None else spec.default_frames,
        fps=fps,
        max_pixels=max_pixels,
        sampling=spec.sampling,
        max_new_tokens=max_new_tokens or spec.max_new_tokens,
        cache_dir=str(cache_dir),
    )


def run_benchmark(
    spec: BenchmarkSpec,
    backend: Backend,
    settings: Settings,
    out_dir: Path,
    *,
    data: str | None = None,
    video_root: str | None = None,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Answer and score one benchmark; returns its results entry, config entry and counts."""
    cache_dir = out_dir / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        items = load_items(
            spec,
            data=data,
            video_root=video_root,
            cache_dir=cache_dir,
            spill_dir=cache_dir if backend.needs_video else None,
            keep_bytes=False,
        )
    except DatasetUnavailable as exc:
        return {"unavailable": str(exc)}
    original = len(items)
    if limit is not None and limit < len(items):
        # N items spread evenly over the id-sorted list, so a quick run still covers every subtype / config
        items = [items[(k * len(items)) // limit] for k in range(limit)]
    i, n = shard
    items = items[i::n]
    cache = _load_cache(cache_dir, spec.name)
    cache_file = cache_dir / (f"{spec.name}.jsonl" if n == 1 else f"{spec.name}.shard-{i}-of-{n}.jsonl")
    keys = {it.id: item_key(spec, it, backend, settings) for it in items}
    todo = [it for it in items if keys[it.id] not in cache]
    bar = _progress(len(todo), spec.name, progress)
    started = time.time()
    with cache_file.open("a") as fh:
        for item in todo:
            output, error = None, item.error
            if error is None:
                try:
                    output = backend.generate(item, settings)
                except Exception as exc:  # one bad item never stops the run
                    msg = str(exc).splitlines()[0] if str(exc) else ""
                    error = f"{type(exc).__name__}: {msg}"[:300]
            entry = {"key": keys[item.id], "id": item.id, "output": output, "error": error}
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            cache[entry["key"]] = entry
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    scored = []
    sample_lines = []
    reasons: dict[str, int] = {}
    for doc_id, item in enumerate(items):
        entry = cache[keys[item.id]]
        res = score_item(item, entry["output"], entry["error"])
        scored.append((item, res))
        if res["status"] == "failed":
            reason = str(res.get("reason", ""))
            reasons[reason.split(":")[0]] = reasons.get(reason.split(":")[0], 0) + 1
        sample_lines.append(
            {
                "doc_id": doc_id,
                "id": item.id,
                "target": item.answer,
                "prompt": item.prompt,
                "resps": entry["output"],
                **res,
                **({"subtype": item.meta["subtype"]} if "subtype" in item.meta else {}),
            }
        )
    metrics = benchmark_metrics(spec, scored)
    n_failed = sum(r["status"] == "failed" for _, r in scored)
    n_unparsed = sum(r["status"] == "unparsed" for _, r in scored)
    suffix = "" if n == 1 else f".shard-{i}-of-{n}"
    with (out_dir / f"samples_{spec.name}{suffix}.jsonl").open("w") as fh:
        for line in sample_lines:
            fh.write(json.dumps(line, default=str) + "\n")
    entry: dict[str, Any] = {"alias": spec.title}
    for metric, value in metrics.items():
        entry[f"{metric},none"] = round(value, 4)
        entry[f"{metric}_stderr,none"] = "N/A"
    entry.update(
        {"n_items": len(items), "n_failed": n_failed, "n_unparsed": n_unparsed, "failure_reasons": reasons}
    )
    if n_failed:
        first = next(r.get("reason") for _, r in scored if r["status"] == "failed")
        log(f"[{spec.name}] {n_failed} of {len(items)} items failed and score 0; first reason: {first}")
    config = {
        "task": spec.name,
        "dataset_path": spec.hub_id,
        "dataset_configs": list(spec.configs),
        "test_split": spec.split,
        "data": data
        or (spec.default_local if spec.default_local and Path(spec.default_local).exists() else spec.hub_id),
        "video_source": spec.video_source,
        "video_root": video_root,
        "frames": settings.frames,
        "fps": settings.fps,
        "max_pixels": settings.max_pixels,
        "sampling": "every frame of each clip"
        if settings.sampling == "all"
        else f"fps {settings.fps} capped at {settings.frames} frames",
        "prompt": PROMPTS[spec.prompt],
        "parser": {
            "mc": "tasks.extract.extract_choice",
            "grounding": "tasks.extract.extract_interval",
            "order": "tasks.extract.extract_order",
            "viubench": "tasks.parsing (strict) via tasks.rewards.viubench_score",
        }[spec.kind],
        "metrics": list(spec.metrics),
        "primary_metric": spec.primary,
        "generation_kwargs": {"max_new_tokens": settings.max_new_tokens, "do_sample": False},
        **backend.describe(),
        "protocol": spec.protocol,
        "verified": spec.verified,
        "seconds": round(time.time() - started, 2),
    }
    return {
        "results": entry,
        "config": config,
        "n_samples": {"original": original, "effective": len(items)},
        "higher_is_better": dict.fromkeys(metrics, True),
    }


def evaluate(
    benchmarks: str | list[str],
    backend: Backend,
    out_dir: str | Path,
    *,
    frames: int | None = None,
    fps: float = 2.0,
    max_pixels: int = 512 * 512,
    max_new_tokens: int | None = None,
    data: dict[str, str] | None = None,
    video_root: str | None = None,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    chart: bool = True,
    log=print,
) -> dict[str, Any]:
    """Run benchmarks and write results.json, samples and the chart; returns the results dict."""
    specs = resolve(benchmarks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = data or {}
    unknown = set(data) - set(BENCHMARKS)
    if unknown:
        raise ValueError(
            f"--data names unknown benchmark {sorted(unknown)[0]!r}; known: {', '.join(BENCHMARKS)}"
        )
    results: dict[str, Any] = {
        "results": {},
        "configs": {},
        "versions": {},
        "n-samples": {},
        "higher_is_better": {},
        "unavailable": {},
    }
    for spec in specs:
        settings = settings_for(spec, frames, fps, max_pixels, out / "cache", max_new_tokens)
        if frames is not None and spec.sampling == "all" and frames != spec.default_frames:
            log(
                f"[{spec.name}] note: evaluated on every frame of its clips ({spec.default_frames}), as the paper; --frames {frames} applies to the other benchmarks"
            )
        got = run_benchmark(
            spec, backend, settings, out, data=data.get(spec.name), video_root=video_root, limit=limit,
            shard=shard, progress=progress, log=log,
        )  # fmt: skip
        if "unavailable" in got:
            log(f"[{spec.name}] skipped: {got['unavailable']}")
            results["unavailable"][spec.name] = got["unavailable"]
            continue
        results["results"][spec.name] = got["results"]
        results["configs"][spec.name] = got["config"]
        results["versions"][spec.name] = spec.version
        results["n-samples"][spec.name] = got["n_samples"]
        results["higher_is_better"][spec.name] = got["higher_is_better"]
    desc = backend.describe()
    results["config"] = {
        **desc,
        "frames": frames if frames is not None else "per benchmark (32; VIUBench every frame = 48)",
        "fps": fps,
        "max_pixels": max_pixels,
        "limit": limit,
        "shard": f"{shard[0]}/{shard[1]}",
        "benchmarks": [s.name for s in specs],
    }
    results["environment"] = environment()
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    name = "results.json" if shard[1] == 1 else f"results.shard-{shard[0]}-of-{shard[1]}.json"
    write_json(out / name, results)
    if chart and results["results"] and shard[1] == 1:
        try:
            plot_chart(results, out / "chart.png")
        except Exception as exc:  # pragma: no cover - a chart must not lose the results
            log(f"chart not written: {exc}")
    return results


def list_benchmarks() -> str:
    lines = []
    for spec in BENCHMARKS.values():
        where = spec.hub_id or "(local: --data)"
        configs = "" if spec.configs == (None,) else f" [{len(spec.configs)} configs]"
        lines.append(
            f"{spec.name:<15}{spec.title:<22}{where}{configs} split={spec.split} videos={spec.video_source}"
        )
        lines.append(f"{'':<15}metrics: {', '.join(spec.metrics)}")
        lines.append(f"{'':<15}protocol: {spec.protocol}")
        lines.append(f"{'':<15}verified: {spec.verified}")
    return "\n".join(lines)


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line naming the bad value (no usage dump)."""

    def error(self, message: str):  # type: ignore[override]
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="eval/run.py",
        description="Score a model on VIUBench and the paper's 16 video benchmarks (greedy, fps 2 capped at "
        "--frames, <= --max-pixels per frame). Writes results.json, samples_<bench>.jsonl and chart.png.",
    )
    p.add_argument(
        "--model",
        help="model id or path; 'random' (Random Guess row) or 'oracle' (ground truth)",
    )
    p.add_argument(
        "--list", action="store_true", help="list the benchmarks (Hub id, split, metrics, protocol) and exit"
    )
    p.add_argument(
        "--benchmarks", default="viubench", help=f"comma-separated, or 'all': {', '.join(BENCHMARKS)}"
    )
    p.add_argument(
        "--backend", default="auto", choices=["auto", "transformers", "openai", "random", "oracle"]
    )
    p.add_argument("--frames", type=int, default=None, help="max frames per video (default 32; VIUBench 48)")
    p.add_argument("--fps", type=float, default=2.0, help="sampling rate before the frame cap (default 2)")
    p.add_argument(
        "--max-pixels", type=int, default=512 * 512, help="max pixels per frame (default 262144 = 512x512)"
    )
    p.add_argument(
        "--max-new-tokens", type=int, default=None, help="override the per-benchmark generation length"
    )
    p.add_argument("--out", default="outputs/eval", help="output folder (default outputs/eval)")
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="BENCH=PATH",
        help="local copy of a benchmark (repeatable)",
    )
    p.add_argument("--video-root", default=None, help="folder holding the benchmark videos (found by name)")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="only N items of each benchmark, spread evenly over its ids (quick runs)",
    )
    p.add_argument(
        "--shard", default=None, help="i/n: answer every n-th item starting at i (parallel workers)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random backend")
    p.add_argument("--revision", default=None, help="model revision (transformers)")
    p.add_argument(
        "--dtype", default="auto", help="torch dtype for transformers (auto, bfloat16, float16, float32)"
    )
    p.add_argument("--device", default=None, help="torch device (default cuda if available)")
    p.add_argument("--api-base", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key", default=None, help="API key (default $OPENAI_API_KEY)")
    p.add_argument(
        "--openai-video", default="frames", choices=["frames", "video_url"], help="how videos are sent"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-chart", action="store_true", help="no chart.png")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print(list_benchmarks())
        return 0
    if not args.model:
        print("error: --model is required (a model id or path, 'random' or 'oracle')", file=sys.stderr)
        return 2
    try:
        specs = resolve(args.benchmarks)
        shard = parse_shard(args.shard)
        if args.frames is not None and args.frames < 1:
            raise ValueError(f"bad --frames {args.frames}; expected a positive integer")
        if args.max_pixels < 28 * 28:
            raise ValueError(f"bad --max-pixels {args.max_pixels}; expected at least 784")
        if args.fps <= 0:
            raise ValueError(f"bad --fps {args.fps}; expected a positive number")
        if args.limit is not None and args.limit < 1:
            raise ValueError(f"bad --limit {args.limit}; expected a positive integer")
        data = {}
        for spec_text in args.data:
            if "=" not in spec_text:
                raise ValueError(f"bad --data {spec_text!r}; expected BENCH=PATH")
            name, path = spec_text.split("=", 1)
            data[resolve(name)[0].name] = path
        if args.video_root and not Path(args.video_root).is_dir():
            raise ValueError(f"bad --video-root {args.video_root!r}: not a folder")
        backend = make_backend(
            args.model, args.backend, seed=args.seed, revision=args.revision, dtype=args.dtype, device=args.device,
            api_base=args.api_base, api_key=args.api_key, video_mode=args.openai_video,
        )  # fmt: skip
    except (ValueError, OSError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    results = evaluate(
        [s.name for s in specs], backend, args.out, frames=args.frames, fps=args.fps, max_pixels=args.max_pixels,
        max_new_tokens=args.max_new_tokens, data=data, video_root=args.video_root, limit=args.limit, shard=shard,
        progress=not args.no_progress, chart=not args.no_chart,
    )  # fmt: skip
    print(format_tables(results))
    out = Path(args.out)
    name = "results.json" if shard[1] == 1 else f"results.shard-{shard[0]}-of-{shard[1]}.json"
    print(
        f"\nwrote {out / name}"
        + (f" and {out / 'chart.png'}" if (out / "chart.png").exists() and shard[1] == 1 else "")
    )
    if not results["results"]:
        print(
            "error: no benchmark could be run: " + "; ".join(results["unavailable"].values()), file=sys.stderr
        )
        return 1
    return 0


__all__ = ["asdict", "evaluate", "main", "run_benchmark"]
