"""results.json files as eval/run.py writes them, without running a model (for the submit and lmms-eval
tests)."""

from __future__ import annotations

from pathlib import Path

from videossr.eval.backends import RandomBackend
from videossr.eval.evaluator import benchmark_config, hub_origin, settings_for
from videossr.eval.registry import BENCHMARKS
from videossr.eval.results import BenchmarkRun, ItemCounts, results_document, write_json


def write_results(folder: Path, frames: int, benches: tuple[str, ...], value: float = 50.0) -> Path:
    """``folder/results.json`` for these benchmarks at ``frames``: every metric at ``value``, 9 items each,
    and the configs the evaluator records for data read from the Hub."""
    runs = {}
    for name in benches:
        spec = BENCHMARKS[name]
        settings = settings_for(spec, frames, 2.0, 512 * 512, folder / "cache", None)
        config = benchmark_config(spec, settings, RandomBackend(), hub_origin(spec), None)
        metrics = dict.fromkeys(spec.metrics, value)
        stderrs = {m: (1.0 if i == 0 else None) for i, m in enumerate(metrics)}
        runs[name] = BenchmarkRun(spec.title, spec.version, metrics, stderrs, config, ItemCounts(9), 9)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "results.json", results_document(runs, {}, {"model": "m"}))
    return folder / "results.json"
