"""The eval loop: load items, answer them (cached, resumable, sharded), score them and write the outputs.

Outputs in the output folder::

    results.json                    lmms-eval's keys (see :mod:`.results`)
    samples_<bench>.jsonl           per item: id, prompt, target, raw output, parsed answer, score, status
    chart.png                       this model next to the paper's Qwen3-VL-8B and VideoSSR-8B
    cache/<bench>[.shard-i-of-n].jsonl   raw outputs, keyed by item and settings (what makes runs resumable)

A ``shard=(i, n)`` run answers every n-th item and writes ``results.shard-i-of-n.json``; a final run without
a shard on the same folder reuses all shards' caches and writes the full results.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .backends import Backend, Settings
from .items import DatasetUnavailable, Item, LoadedBenchmark, load_benchmark
from .registry import BENCHMARKS, PROMPTS, BenchmarkSpec, resolve
from .report import plot_chart
from .results import BenchmarkRun, ItemCounts, results_document, results_filename, write_json
from .sampling_error import metric_stderrs
from .scoring import benchmark_metrics, score_item

PARSERS = {
    "mc": "tasks.extract.extract_choice",
    "grounding": "tasks.extract.extract_interval",
    "order": "tasks.extract.extract_order",
    "viubench": "tasks.parsing (strict) via tasks.rewards.viubench_score",
}


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
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, file=sys.stderr)


def settings_for(
    spec: BenchmarkSpec,
    frames: int | None,
    fps: float,
    max_pixels: int,
    cache_dir: Path,
    max_new_tokens: int | None,
) -> Settings:
    """The sampling and decoding of one benchmark; VIUBench always sees every frame of each clip (48)."""
    if spec.sampling == "all":
        frames = None
    return Settings(
        frames=frames if frames is not None else spec.default_frames,
        fps=fps,
        max_pixels=max_pixels,
        sampling=spec.sampling,
        max_new_tokens=max_new_tokens or spec.max_new_tokens,
        cache_dir=str(cache_dir),
    )


def _answer(
    items: list[Item],
    keys: dict[str, str],
    cache: dict[str, dict],
    cache_file: Path,
    backend: Backend,
    settings: Settings,
    progress: bool,
) -> None:
    """Ask the backend for every item not in the cache, appending each answer to the cache as it comes."""
    todo = [it for it in items if keys[it.id] not in cache]
    bar = _progress(len(todo), cache_file.stem, progress)
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
            bar.update(1)
    bar.close()


def _score(
    items: list[Item], keys: dict[str, str], cache: dict[str, dict]
) -> tuple[list[tuple[Item, dict]], list[dict], ItemCounts]:
    """Per item: its score and sample line; and the counts of failed and unparsed items by reason."""
    scored, lines = [], []
    counts = ItemCounts(n_items=len(items))
    for doc_id, item in enumerate(items):
        entry = cache[keys[item.id]]
        res = score_item(item, entry["output"], entry["error"])
        scored.append((item, res))
        if res["status"] == "failed":
            counts.n_failed += 1
            reason = str(res.get("reason", "")).split(":")[0]
            counts.failure_reasons[reason] = counts.failure_reasons.get(reason, 0) + 1
        elif res["status"] == "unparsed":
            counts.n_unparsed += 1
        lines.append(
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
    return scored, lines, counts


def hub_origin(spec: BenchmarkSpec) -> str | None:
    """How the loader names a release read from the Hub (``hub_id@revision``); None without a Hub id."""
    return f"{spec.hub_id}@{spec.revision}" if spec.hub_id else None


def benchmark_config(
    spec: BenchmarkSpec, settings: Settings, backend: Backend, origin: str | None, video_root: str | None
) -> dict[str, Any]:
    """results.json's ``configs[bench]``: what was read (``origin``: the loader's name for the release),
    how it was sampled, prompted, parsed and answered. The revision is recorded for data read from the Hub."""
    return {
        "task": spec.name,
        "dataset_path": spec.hub_id,
        "dataset_revision": spec.revision if origin == hub_origin(spec) else None,
        "dataset_configs": list(spec.configs),
        "test_split": spec.split,
        "data": origin,
        "video_source": spec.video_source,
        "video_root": video_root,
        "frames": settings.frames,
        "fps": settings.fps if settings.sampling != "all" else None,
        "max_pixels": settings.max_pixels,
        "sampling": "every frame of each clip"
        if settings.sampling == "all"
        else f"fps {settings.fps} capped at {settings.frames} frames",
        "prompt": PROMPTS[spec.prompt],
        "parser": PARSERS[spec.kind],
        "metrics": list(spec.metrics),
        "primary_metric": spec.primary,
        "generation_kwargs": {"max_new_tokens": settings.max_new_tokens, "do_sample": False},
        **backend.describe(),
        "protocol": spec.protocol,
        "verified": spec.verified,
    }


def _load(
    spec: BenchmarkSpec,
    data: str | None,
    video_root: str | None,
    cache_dir: Path,
    needs_video: bool,
    log: Callable[[str], None],
) -> LoadedBenchmark:
    """The benchmark's items (clips spilled to the cache only for backends that watch them), with the rows
    left out of the evaluated subset and the loader's notes said aloud."""
    loaded = load_benchmark(
        spec,
        data=data,
        video_root=video_root,
        cache_dir=cache_dir,
        spill_dir=cache_dir if needs_video else None,
        keep_bytes=False,
    )
    for reason, count in loaded.excluded.items():
        log(f"[{spec.name}] {count} row(s) outside the evaluated subset: {reason}")
    for note in loaded.notes:
        log(f"[{spec.name}] {note}")
    return loaded


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
    log: Callable[[str], None] = print,
) -> BenchmarkRun:
    """Answer and score one benchmark; raises :class:`DatasetUnavailable` when its data cannot be read."""
    cache_dir = out_dir / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    loaded = _load(spec, data, video_root, cache_dir, backend.needs_video, log)
    items = loaded.items
    n_original = len(items)
    if limit is not None and limit < len(items):
        # N items spread evenly over the id-sorted list, so a quick run still covers every subtype / config
        items = [items[(k * len(items)) // limit] for k in range(limit)]
    i, n = shard
    items = items[i::n]
    cache = _load_cache(cache_dir, spec.name)
    suffix = "" if n == 1 else f".shard-{i}-of-{n}"
    keys = {it.id: item_key(spec, it, backend, settings) for it in items}
    started = time.time()
    _answer(items, keys, cache, cache_dir / f"{spec.name}{suffix}.jsonl", backend, settings, progress)
    scored, lines, counts = _score(items, keys, cache)
    counts.excluded, counts.notes = dict(loaded.excluded), list(loaded.notes)
    with (out_dir / f"samples_{spec.name}{suffix}.jsonl").open("w") as fh:
        fh.writelines(json.dumps(line, default=str) + "\n" for line in lines)
    if counts.n_failed:
        first = next(r.get("reason") for _, r in scored if r["status"] == "failed")
        log(
            f"[{spec.name}] {counts.n_failed} of {len(items)} items failed and score 0; first reason: {first}"
        )
    config = benchmark_config(spec, settings, backend, loaded.source, video_root)
    config["seconds"] = round(time.time() - started, 2)
    return BenchmarkRun(
        title=spec.title,
        version=spec.version,
        metrics=benchmark_metrics(spec, scored),
        stderrs=metric_stderrs(spec, scored),
        config=config,
        counts=counts,
        n_original=n_original,
    )


def _write_outputs(results: dict[str, Any], out: Path, shard: tuple[int, int], chart: bool, log) -> None:
    write_json(out / results_filename(shard), results)
    if chart and results["results"] and shard[1] == 1:
        try:
            plot_chart(results, out / "chart.png")
        except Exception as exc:  # a chart must never lose the results
            log(f"chart not written: {exc}")


def evaluate(
    benchmarks: str | list[str],
    backend: Backend,
    out_dir: str | Path,
    *,
    frames: int | None = None,
    fps: float = Settings.fps,
    max_pixels: int = Settings.max_pixels,
    max_new_tokens: int | None = None,
    data: dict[str, str] | None = None,
    video_root: str | None = None,
    limit: int | None = None,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    chart: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run benchmarks and write results.json, the samples and the chart; returns the results document."""
    specs = resolve(benchmarks)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = data or {}
    unknown = set(data) - set(BENCHMARKS)
    if unknown:
        known = ", ".join(BENCHMARKS)
        raise ValueError(f"--data names unknown benchmark {sorted(unknown)[0]!r}; known: {known}")
    runs: dict[str, BenchmarkRun] = {}
    unavailable: dict[str, str] = {}
    common = {"video_root": video_root, "limit": limit, "shard": shard, "progress": progress, "log": log}
    for spec in specs:
        settings = settings_for(spec, frames, fps, max_pixels, out / "cache", max_new_tokens)
        if frames is not None and spec.sampling == "all" and frames != spec.default_frames:
            log(
                f"[{spec.name}] note: evaluated on every frame of its clips ({spec.default_frames}), as the "
                f"paper; --frames {frames} applies to the other benchmarks"
            )
        try:
            runs[spec.name] = run_benchmark(spec, backend, settings, out, data=data.get(spec.name), **common)
        except DatasetUnavailable as exc:
            log(f"[{spec.name}] skipped: {exc}")
            unavailable[spec.name] = str(exc)
    config = {
        **backend.describe(),
        "frames": frames if frames is not None else "per benchmark (32; VIUBench every frame = 48)",
        "fps": fps,
        "max_pixels": max_pixels,
        "limit": limit,
        "shard": f"{shard[0]}/{shard[1]}",
        "benchmarks": [s.name for s in specs],
    }
    results = results_document(runs, unavailable, config)
    _write_outputs(results, out, shard, chart, log)
    return results
