"""Check the VIUBench task inside lmms-eval's own environment (run by ``make lmms-eval-check``).

    python integrations/lmms_eval/check.py --viubench FOLDER --results RUN_DIR [--project-site DIR]

``RUN_DIR`` is the output folder of ``python eval/run.py --model random --benchmarks viubench --data
viubench=FOLDER``. Through lmms-eval 0.7.3's own code, this script checks that

1. its TaskManager indexes the task from its folder (``--include_path``) and loads it through a YAML
   that includes it with ``dataset_path`` set to FOLDER (as docs/evaluation.md tells users), and every
   document gives one existing clip file per ``<video>`` marker (plain and chat prompts);
2. its ``process_results`` and the task's aggregations score the ground truth at 100 on all 13 columns;
3. they score the project's random answers (``samples_viubench.jsonl``) at the figures of the project's
   ``results.json``;
4. its table printer (``lmms_eval.utils.make_table``) renders the project's ``results.json`` (and the
   files given with ``--render``), with a row per benchmark.

It prints a JSON report and exits 1 on any mismatch. ``--project-site`` adds the project's environment
(its ``.pth`` files) so that ``videossr.tasks`` imports, as a user's ``pip install -e`` would.
"""

from __future__ import annotations

import argparse
import json
import os
import site
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-3  # results.json rounds to 4 decimals


def load_task(folder: Path, scratch: Path):
    """The task as a user points it at a built folder: a YAML that includes viubench.yaml and sets
    ``dataset_path``, indexed by TaskManager next to the task folder itself (``--include_path``)."""
    from lmms_eval.tasks import TaskManager, get_task_dict

    local = scratch / "viubench_local.yaml"
    include = HERE / "viubench" / "viubench.yaml"
    local.write_text(f"include: {include}\ntask: viubench_local\ndataset_path: {folder.resolve()}\n")
    manager = TaskManager(verbosity="ERROR", include_path=[str(HERE), str(scratch)], include_defaults=False)
    missing = {"viubench", "viubench_local"} - set(manager.all_tasks)
    if missing:
        raise SystemExit(f"TaskManager did not index {sorted(missing)} from {HERE} and {scratch}")
    return get_task_dict(["viubench_local"], manager)["viubench_local"]


def score(task, docs: list[dict], answers: list[str]) -> dict[str, float]:
    """Each document's answer through the task's process_results, then each metric's aggregation."""
    per_metric: dict[str, list] = {}
    for doc, answer in zip(docs, answers):
        for metric, value in task.process_results(doc, [answer]).items():
            per_metric.setdefault(metric, []).append(value)
    aggregations = task.aggregation()
    return {metric: float(aggregations[metric](values)) for metric, values in per_metric.items()}


def check_documents(task, docs: list[dict]) -> list[str]:
    problems = []
    for doc in docs:
        markers = doc["question"].count("<video>")
        paths = task.doc_to_visual(doc)
        if len(paths) != markers or not all(Path(p).is_file() and Path(p).stat().st_size > 0 for p in paths):
            problems.append(f"{doc['id']}: {len(paths)} clip files for {markers} <video> markers")
        messages = task.config.doc_to_messages(doc)
        videos = [c for m in messages for c in m["content"] if c["type"] == "video"]
        if len(videos) != markers or "<video>" in task.doc_to_text(doc):
            problems.append(f"{doc['id']}: chat prompt has {len(videos)} clips for {markers} markers")
    return problems


def compare_random(task, docs: list[dict], run_dir: Path) -> tuple[dict[str, float], list[str]]:
    """The project's random answers scored by lmms-eval, and where they differ from the project's figures."""
    lines = (run_dir / "samples_viubench.jsonl").read_text().splitlines()
    answers = {sample["id"]: sample["resps"] for sample in map(json.loads, lines)}
    missing = [doc["id"] for doc in docs if doc["id"] not in answers]
    problems = [f"no project answer for {len(missing)} documents, e.g. {missing[:3]}"] if missing else []
    random = score(task, docs, [answers.get(doc["id"], "") for doc in docs])
    expected = json.loads((run_dir / "results.json").read_text())["results"]["viubench"]
    for metric, value in random.items():
        want = expected.get(f"{metric},none")
        if want is None or abs(value - want) > TOLERANCE:
            problems.append(f"random {metric}: lmms-eval {value:.4f}, project {want}")
    return random, problems


def render_tables(paths: list[Path]) -> tuple[dict[str, str], list[str]]:
    """lmms-eval's make_table of each results.json, and the benchmarks it has no row for."""
    from lmms_eval.utils import make_table

    tables, problems = {}, []
    for path in paths:
        results = json.loads(path.read_text())
        aliases = [entry["alias"] for entry in results["results"].values()]
        tables[str(path)] = make_table(results)  # it pops each alias from the entries
        problems += [f"make_table: no row for {a} in {path}" for a in aliases if a not in tables[str(path)]]
    return tables, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the VIUBench task in lmms-eval's environment.")
    parser.add_argument("--viubench", required=True, type=Path, help="a built VIUBench folder")
    parser.add_argument("--results", required=True, type=Path, help="eval/run.py --model random output")
    parser.add_argument("--project-site", help="the project environment's site-packages (its .pth files)")
    parser.add_argument("--render", action="append", default=[], type=Path, help="another results.json")
    args = parser.parse_args(argv)
    if args.project_site:
        site.addsitedir(args.project_site)
    with tempfile.TemporaryDirectory() as scratch:
        task = load_task(args.viubench, Path(scratch))
    docs = list(task.test_docs())
    problems = check_documents(task, docs)
    oracle = score(task, docs, [doc["answer"] for doc in docs])
    problems += [f"oracle {m} = {v:.4f}, expected 100" for m, v in oracle.items() if abs(v - 100.0) > 1e-9]
    random, mismatches = compare_random(task, docs, args.results)
    tables, missing_rows = render_tables([args.results / "results.json", *args.render])
    report = {
        "lmms_eval": _version("lmms_eval"),
        "av": _version("av"),
        "documents": len(docs),
        "oracle": oracle,
        "random": random,
        "tables": tables,
        "problems": problems + mismatches + missing_rows,
    }
    print(tables[str(args.results / "results.json")])  # lmms-eval's own rendering of the project's results
    print(json.dumps(report, indent=2))
    return 1 if report["problems"] else 0


def _version(package: str) -> str | None:
    import importlib.metadata as md

    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return None


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
