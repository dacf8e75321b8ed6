"""results.json: the keys lmms-eval writes, so its tools (and anyone who reads its files) can read ours.

Shape (lmms-eval's ``evaluator.simple_evaluate`` plus its tracker's top-level fields)::

    results           {bench: {"alias": title, "<metric>,none": value, "<metric>_stderr,none": se | "N/A"}}
    group_subtasks    {bench: []}                  every benchmark is a task of its own
    configs           {bench: {...}}               data, revision, frames, fps, pixels, prompt, parser, model
    versions          {bench: version}
    n-shot            {bench: 0}
    higher_is_better  {bench: {metric: true}}
    n-samples         {bench: {"original": n, "effective": n}}
    git_hash, date

and what lmms-eval has no key for, kept out of the metric dicts so every value there is a metric:
``item_counts`` (items, failed, unparsed, failure reasons, rows outside the evaluated subset, loader notes),
``unavailable`` (benchmarks that could not be read, with the reason), ``config`` (the run's settings) and
``environment`` (package versions).
Values are percentages; standard errors come from :mod:`.sampling_error`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LMMS_EVAL_KEYS = (
    "results",
    "group_subtasks",
    "configs",
    "versions",
    "n-shot",
    "higher_is_better",
    "n-samples",
)
FILTER = "none"  # lmms-eval's filter name in "<metric>,<filter>"


@dataclass
class ItemCounts:
    """How a benchmark's items ended: answered and parsed, unparsed (scored 0) or failed (scored 0); and
    the rows left out of the evaluated subset (by reason, not in ``n_items``) and the loader's notes."""

    n_items: int = 0
    n_failed: int = 0
    n_unparsed: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class BenchmarkRun:
    """One benchmark's share of results.json."""

    title: str
    version: str
    metrics: dict[str, float]
    stderrs: dict[str, float | None]
    config: dict[str, Any]
    counts: ItemCounts
    n_original: int

    def results_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"alias": self.title}
        for metric, value in self.metrics.items():
            se = self.stderrs.get(metric)
            entry[f"{metric},{FILTER}"] = round(float(value), 4)
            entry[f"{metric}_stderr,{FILTER}"] = "N/A" if se is None else round(float(se), 4)
        return entry


def results_document(
    runs: dict[str, BenchmarkRun], unavailable: dict[str, str], config: dict[str, Any]
) -> dict[str, Any]:
    """The whole results.json for these benchmark runs."""
    return {
        "results": {b: r.results_entry() for b, r in runs.items()},
        "group_subtasks": {b: [] for b in runs},
        "configs": {b: r.config for b, r in runs.items()},
        "versions": {b: r.version for b, r in runs.items()},
        "n-shot": dict.fromkeys(runs, 0),
        "higher_is_better": {b: dict.fromkeys(r.metrics, True) for b, r in runs.items()},
        "n-samples": {b: {"original": r.n_original, "effective": r.counts.n_items} for b, r in runs.items()},
        "item_counts": {b: asdict(r.counts) for b, r in runs.items()},
        "unavailable": dict(unavailable),
        "config": config,
        "environment": environment(),
        "git_hash": git_hash(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def metric_values(entry: dict[str, Any]) -> dict[str, float]:
    """``{metric: value}`` of one ``results[bench]`` entry (stderr keys and the alias left out)."""
    out = {}
    for key, value in entry.items():
        metric, _, _ = key.partition(",")
        if "," in key and not metric.endswith("_stderr") and isinstance(value, (int, float)):
            out[metric] = float(value)
    return out


def results_filename(shard: tuple[int, int]) -> str:
    i, n = shard
    return "results.json" if n == 1 else f"results.shard-{i}-of-{n}.json"


def environment() -> dict[str, str | None]:
    """Versions of Python and the packages that decide a score."""
    import importlib.metadata as md

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("videossr", "transformers", "torch", "torchcodec", "datasets", "huggingface_hub"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return versions


def git_hash() -> str | None:
    """The short commit of the checkout the code runs from (None outside a git checkout)."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def load_results(path: str | Path) -> dict[str, Any]:
    """A results.json (or the ``--out`` folder holding one) written by ``eval/run.py``; ValueError if not."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise ValueError(
            f"bad RESULTS {str(path)!r}: no such file (expected a results.json from eval/run.py)"
        )
    try:
        data = json.loads(path.read_text())
    except ValueError:
        raise ValueError(f"bad RESULTS {str(path)!r}: not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict) or not data["results"]:
        raise ValueError(
            f"bad RESULTS {str(path)!r}: no 'results' (expected a results.json from eval/run.py)"
        )
    for bench, entry in data["results"].items():
        if not isinstance(entry, dict) or not metric_values(entry):
            raise ValueError(f"bad RESULTS {str(path)!r}: results[{bench!r}] holds no metric")
    return data
