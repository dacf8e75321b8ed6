"""Submit results to the Hub: the model card's ``model-index`` (huggingface_hub ``ModelCard`` / ``EvalResult``)
through a pull request, and a VIUBench leaderboard entry (per subtype, per task and Overall, as Table 1)."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any

from .paper import TABLE1_COLUMNS, TABLE1_LABELS
from .registry import BENCHMARKS

TASK_TYPE = "video-text-to-text"
SOURCE_NAME = "VideoSSR eval (eval/run.py)"


def load_results(path: str | Path) -> dict[str, Any]:
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
    return data


def eval_results(results: dict[str, Any]) -> list:
    """One ``EvalResult`` per benchmark and metric, tagged with the frames / pixels it was measured at."""
    from huggingface_hub import EvalResult

    out = []
    for bench, entry in results["results"].items():
        spec = BENCHMARKS.get(bench)
        config = results.get("configs", {}).get(bench, {})
        frames = config.get("frames")
        for key, value in entry.items():
            if not key.endswith(",none") or "_stderr" in key or not isinstance(value, (int, float)):
                continue
            metric = key.split(",")[0]
            out.append(
                EvalResult(
                    task_type=TASK_TYPE,
                    task_name="Video understanding",
                    dataset_type=(spec.hub_id if spec and spec.hub_id else f"videossr/{bench}"),
                    dataset_name=spec.title if spec else bench,
                    dataset_split=config.get("test_split"),
                    dataset_args={
                        "frames": frames,
                        "fps": config.get("fps"),
                        "max_pixels": config.get("max_pixels"),
                    },
                    metric_type=metric,
                    metric_name=f"{metric} ({frames} frames)" if frames else metric,
                    metric_value=round(float(value), 2),
                )
            )
    return out


def _same(a, b) -> bool:
    return (a.dataset_type, a.dataset_split, a.metric_type, a.metric_name) == (
        b.dataset_type,
        b.dataset_split,
        b.metric_type,
        b.metric_name,
    )


def updated_card(card, results: dict[str, Any], model_name: str):
    """A copy of ``card`` whose model-index holds the new results (replacing the same benchmark/metric/frames)."""
    from huggingface_hub import ModelCard

    new = ModelCard(str(card))
    fresh = eval_results(results)
    kept = [old for old in (new.data.eval_results or []) if not any(_same(old, f) for f in fresh)]
    new.data.eval_results = kept + fresh
    if not getattr(new.data, "model_name", None):
        new.data.model_name = model_name
    return new


def card_diff(old: str, new: str, repo: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            f"{repo}/README.md (Hub)",
            f"{repo}/README.md (new)",
        )
    )


def leaderboard_entry(results: dict[str, Any], model: str) -> dict[str, Any] | None:
    """The VIUBench row of Table 1: 9 subtypes, 3 task averages and Overall (percent)."""
    r = results["results"].get("viubench")
    if r is None:
        return None
    config = results.get("configs", {}).get("viubench", {})
    scores = {label: r.get(f"{col},none") for col, label in zip(TABLE1_COLUMNS, TABLE1_LABELS)}
    return {
        "model": model,
        "model_revision": config.get("model_revision"),
        "scores": scores,
        "columns": dict(zip(TABLE1_LABELS, TABLE1_COLUMNS)),
        "frames": config.get("frames"),
        "max_pixels": config.get("max_pixels"),
        "n_items": r.get("n_items"),
        "n_failed": r.get("n_failed"),
        "n_unparsed": r.get("n_unparsed"),
        "backend": config.get("backend"),
        "date": results.get("date"),
        "environment": results.get("environment"),
    }


def submit(
    results_path: str | Path,
    repo: str,
    *,
    dry_run: bool = False,
    token: str | None = None,
    leaderboard_repo: str | None = None,
    out=print,
) -> dict[str, Any]:
    """Update the model card through a PR (or print the diff) and write/submit the VIUBench entry."""
    from huggingface_hub import HfApi, ModelCard, ModelCardData

    results = load_results(results_path)
    try:
        card = ModelCard.load(repo, token=token)
    except Exception as exc:  # a repo without a card gets a fresh one
        if (
            "404" not in str(exc)
            and "not found" not in str(exc).lower()
            and "EntryNotFound" not in type(exc).__name__
        ):
            raise
        card = ModelCard.from_template(
            ModelCardData(), template_str="---\n{{ card_data }}\n---\n\n# {{ model_id }}\n", model_id=repo
        )
    new = updated_card(card, results, model_name=repo.split("/")[-1])
    diff = card_diff(str(card), str(new), repo)
    report: dict[str, Any] = {"diff": diff, "pr_url": None, "leaderboard": None}
    entry = leaderboard_entry(results, repo)
    if entry is not None:
        path = Path(results_path)
        path = (path if path.is_dir() else path.parent) / "viubench_leaderboard_entry.json"
        path.write_text(json.dumps(entry, indent=2) + "\n")
        report["leaderboard"] = str(path)
    if dry_run:
        out(diff or "(the model card already holds these results)")
        if entry is not None:
            out(f"VIUBench leaderboard entry written to {report['leaderboard']} (not submitted: --dry-run)")
        return report
    if not diff:
        out("the model card already holds these results; nothing to submit")
    else:
        commit = new.push_to_hub(
            repo,
            token=token,
            commit_message="Add VideoSSR eval results to model-index",
            commit_description="Scores from `eval/run.py` (VideoSSR); settings per benchmark are in the metric args.",
            create_pr=True,
        )
        report["pr_url"] = str(getattr(commit, "pr_url", None) or commit)
        out(f"opened a pull request on {repo}: {report['pr_url']}")
    if entry is not None and leaderboard_repo:
        api = HfApi(token=token)
        name = repo.replace("/", "__")
        commit = api.upload_file(
            path_or_fileobj=json.dumps(entry, indent=2).encode(),
            path_in_repo=f"entries/{name}.json",
            repo_id=leaderboard_repo,
            repo_type="dataset",
            commit_message=f"VIUBench entry: {repo}",
            create_pr=True,
        )
        report["leaderboard_pr"] = str(getattr(commit, "pr_url", None) or commit)
        out(
            f"opened a pull request on the VIUBench leaderboard {leaderboard_repo}: {report['leaderboard_pr']}"
        )
    return report


def main(argv: list[str] | None = None) -> int:
    from .runner import OneLineParser

    p = OneLineParser(
        prog="eval/submit.py",
        description="Write eval/run.py results into a model card's model-index (opens a PR) and a VIUBench "
        "leaderboard entry (per subtype, per task and Overall).",
    )
    p.add_argument("results", metavar="RESULTS", help="results.json (or the --out folder of eval/run.py)")
    p.add_argument("--repo", required=True, help="model repo on the Hub, e.g. user/VideoSSR-8B")
    p.add_argument(
        "--dry-run", action="store_true", help="print the model-card diff; change nothing on the Hub"
    )
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one)")
    p.add_argument("--leaderboard-repo", default=None, help="dataset repo collecting VIUBench entries (PR)")
    args = p.parse_args(argv)
    if args.repo.count("/") != 1 or not all(args.repo.split("/")):
        print(f"error: bad --repo {args.repo!r}; expected owner/name", file=sys.stderr)
        return 2
    try:
        submit(
            args.results,
            args.repo,
            dry_run=args.dry_run,
            token=args.token,
            leaderboard_repo=args.leaderboard_repo,
        )
    except ValueError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(
            f"error: Hub request failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            file=sys.stderr,
        )
        return 1
    return 0
