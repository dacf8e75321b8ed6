"""Submit results to the Hub: the model card's ``model-index`` through a pull request, and a VIUBench
leaderboard entry (per subtype, per task and Overall, as Table 1).

Each metric carries the settings it was measured at (frames, fps, pixels per frame) in its own ``args`` and
``config``, so results at 32, 48 and 64 frames stay apart however runs are merged (the model-index groups
metrics by dataset, and a dataset's ``args`` would be shared by all of them). A benchmark is listed under its
Hub dataset id and revision; one without a Hub id is left out of the model-index and reported. The pull
request also adds the run's results.json under ``eval_results/videossr/``, which each entry's source links to.

A second submission while the first pull request is still open is pushed onto that pull request, so its
README keeps the first submission's results; once merged, the next submission starts from main's README.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .paper import TABLE1_COLUMNS, TABLE1_LABELS
from .registry import BENCHMARKS
from .results import load_results, metric_values

if TYPE_CHECKING:
    from huggingface_hub import EvalResult, HfApi, ModelCard
    from huggingface_hub.community import Discussion

TASK_TYPE = "video-text-to-text"
PR_TITLE = "Add VideoSSR eval results"
RESULTS_FOLDER = "eval_results/videossr"
SOURCE_NAME = "VideoSSR eval"


@dataclass
class Submission:
    """What :func:`submit` did (or, with ``dry_run``, would do)."""

    diff: str
    pr_url: str | None = None
    base_revision: str | None = None  # where the README was read: None (main) or an open PR's refs/pr/N
    left_out: dict[str, str] = field(default_factory=dict)  # benchmark -> why it is not in the model-index
    leaderboard: str | None = None
    leaderboard_pr: str | None = None


def metric_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings a metric was measured at: frames, fps (absent when every frame is used), pixels."""
    keys = ("frames", "fps", "max_pixels")
    return {k: config[k] for k in keys if config.get(k) is not None}


def source_url(repo: str) -> str:
    from huggingface_hub import constants

    return f"{constants.ENDPOINT}/{repo}/tree/main/{RESULTS_FOLDER}"


def eval_results(results: dict[str, Any], repo: str) -> tuple[list[EvalResult], dict[str, str]]:
    """One ``EvalResult`` per benchmark and metric, and the benchmarks left out (with the reason)."""
    from huggingface_hub import EvalResult

    out: list[EvalResult] = []
    left_out: dict[str, str] = {}
    for bench, entry in results["results"].items():
        spec = BENCHMARKS.get(bench)
        config = results.get("configs", {}).get(bench, {})
        hub_id = config.get("dataset_path", spec.hub_id if spec else None)
        if not hub_id:
            left_out[bench] = "no Hub dataset id (its scores stay in results.json)"
            continue
        configs = config.get("dataset_configs") or []
        settings = metric_settings(config)
        label = f" ({settings['frames']} frames)" if "frames" in settings else ""
        for metric, value in metric_values(entry).items():
            out.append(
                EvalResult(
                    task_type=TASK_TYPE,
                    task_name=spec.domain if spec else "Video understanding",
                    dataset_type=hub_id,
                    dataset_name=entry.get("alias") or (spec.title if spec else bench),
                    dataset_config=configs[0] if len(configs) == 1 and configs[0] else None,
                    dataset_split=config.get("test_split"),
                    dataset_revision=config.get("dataset_revision"),
                    metric_type=metric,
                    metric_name=f"{metric}{label}",
                    metric_value=round(float(value), 2),
                    metric_config=",".join(f"{k}={v}" for k, v in settings.items()) or None,
                    metric_args=settings or None,
                    source_name=SOURCE_NAME,
                    source_url=source_url(repo),
                )
            )
    return out, left_out


def same_result(a: EvalResult, b: EvalResult) -> bool:
    """The same benchmark data, metric and settings: a newer value replaces the older one."""
    return (*a.unique_identifier, a.metric_type, a.metric_args) == (
        *b.unique_identifier,
        b.metric_type,
        b.metric_args,
    )


def merged_card(card: ModelCard, fresh: list[EvalResult], model_name: str) -> ModelCard:
    """A copy of ``card`` whose model-index keeps every other result and holds ``fresh``."""
    from huggingface_hub import ModelCard

    new = ModelCard(str(card))
    kept = [old for old in (new.data.eval_results or []) if not any(same_result(old, f) for f in fresh)]
    new.data.eval_results = kept + fresh
    if not new.data.model_name:
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


def open_submission(api: HfApi, repo: str) -> Discussion | None:
    """The newest pull request of an earlier submission to ``repo`` that is still open (or a draft, the status
    of pull requests opened through the API), if any."""
    prs = [
        d
        for d in api.get_repo_discussions(repo, discussion_type="pull_request", discussion_status="all")
        if d.is_pull_request and d.status in ("open", "draft") and d.title == PR_TITLE
    ]
    return max(prs, key=lambda d: d.num) if prs else None


def read_card(api: HfApi, repo: str, revision: str | None) -> ModelCard:
    """The README of ``repo`` at ``revision`` (a fresh card when there is none); ValueError if unreadable."""
    from huggingface_hub import ModelCard
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = api.hf_hub_download(repo, "README.md", revision=revision)
    except EntryNotFoundError:
        return ModelCard(f"---\n{{}}\n---\n\n# {repo.split('/')[-1]}\n")
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        return ModelCard(text)
    except ValueError as exc:
        where = f"{repo}@{revision}" if revision else repo
        reason = str(exc).splitlines()[0][:200]
        raise ValueError(
            f"README.md of {where} has metadata huggingface_hub cannot read ({reason}); fix it on the Hub "
            "first (nothing was changed)"
        ) from None


def leaderboard_entry(results: dict[str, Any], model: str) -> dict[str, Any] | None:
    """The VIUBench row of Table 1: 9 subtypes, 3 task averages and Overall (percent)."""
    r = results["results"].get("viubench")
    if r is None:
        return None
    config = results.get("configs", {}).get("viubench", {})
    counts = results.get("item_counts", {}).get("viubench", {})
    return {
        "model": model,
        "model_revision": config.get("model_revision"),
        "scores": {label: r.get(f"{col},none") for col, label in zip(TABLE1_COLUMNS, TABLE1_LABELS)},
        "columns": dict(zip(TABLE1_LABELS, TABLE1_COLUMNS)),
        "frames": config.get("frames"),
        "max_pixels": config.get("max_pixels"),
        "n_items": counts.get("n_items"),
        "n_failed": counts.get("n_failed"),
        "n_unparsed": counts.get("n_unparsed"),
        "backend": config.get("backend"),
        "date": results.get("date"),
        "environment": results.get("environment"),
    }


def results_file_name(results: dict[str, Any]) -> str:
    """``eval_results/videossr/<date>_<content hash>.json``: the same results always land in the same file."""
    text = json.dumps(results, sort_keys=True, default=str)
    date = str(results.get("date", ""))[:10] or "undated"
    return f"{RESULTS_FOLDER}/{date}_{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"


def _push_card(api: HfApi, repo: str, card: ModelCard, results: dict[str, Any], pr: Discussion | None) -> str:
    """Commit the README and the results file: onto the open pull request, or as a new one."""
    from huggingface_hub import CommitOperationAdd

    operations = [
        CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode()),
        CommitOperationAdd(
            path_in_repo=results_file_name(results),
            path_or_fileobj=(json.dumps(results, indent=2, default=str) + "\n").encode(),
        ),
    ]
    benches = ", ".join(results["results"])
    message = f"VideoSSR eval results: {benches}"[:72]
    if pr is not None:
        api.create_commit(repo, operations, commit_message=message, revision=pr.git_reference)
        return pr.url
    commit = api.create_commit(
        repo,
        operations,
        commit_message=PR_TITLE,
        commit_description=f"Scores of `eval/run.py` (VideoSSR) on {benches}; the settings of each metric "
        f"are in its args, and the full results are in `{RESULTS_FOLDER}/`.",
        create_pr=True,
    )
    return str(commit.pr_url or commit.commit_url)


def _leaderboard(api: HfApi, entry: dict[str, Any], repo: str, leaderboard_repo: str) -> str:
    commit = api.upload_file(
        path_or_fileobj=json.dumps(entry, indent=2).encode(),
        path_in_repo=f"entries/{repo.replace('/', '__')}.json",
        repo_id=leaderboard_repo,
        repo_type="dataset",
        commit_message=f"VIUBench entry: {repo}",
        create_pr=True,
    )
    return str(commit.pr_url or commit.commit_url)


def submit(
    results_path: str | Path,
    repo: str,
    *,
    dry_run: bool = False,
    token: str | None = None,
    leaderboard_repo: str | None = None,
    api: HfApi | None = None,
    out: Callable[[str], None] = print,
) -> Submission:
    """Put the results into ``repo``'s model-index by pull request (with ``dry_run``: print the diff)."""
    from huggingface_hub import HfApi

    results = load_results(results_path)
    api = api or HfApi(token=token)
    pr = open_submission(api, repo)
    card = read_card(api, repo, pr.git_reference if pr else None)
    fresh, left_out = eval_results(results, repo)
    new = merged_card(card, fresh, model_name=repo.split("/")[-1])
    report = Submission(card_diff(str(card), str(new), repo), base_revision=pr.git_reference if pr else None)
    report.left_out = left_out
    for bench, reason in left_out.items():
        out(f"[{bench}] not in the model-index: {reason}")
    entry = leaderboard_entry(results, repo)
    if entry is not None:
        folder = Path(results_path) if Path(results_path).is_dir() else Path(results_path).parent
        report.leaderboard = str(folder / "viubench_leaderboard_entry.json")
        Path(report.leaderboard).write_text(json.dumps(entry, indent=2) + "\n")
    if dry_run:
        out(report.diff or "(the model card already holds these results)")
        if entry is not None:
            out(f"VIUBench leaderboard entry written to {report.leaderboard} (not submitted: --dry-run)")
        return report
    if not fresh:
        out("no result has a Hub dataset id; nothing to put in the model-index")
    elif not report.diff:
        out("the model card already holds these results; nothing to submit")
    else:
        report.pr_url = _push_card(api, repo, new, results, pr)
        verb = "updated the open pull request" if pr else "opened a pull request"
        out(f"{verb} on {repo}: {report.pr_url}")
    if entry is not None and leaderboard_repo:
        report.leaderboard_pr = _leaderboard(api, entry, repo, leaderboard_repo)
        out(f"opened a pull request on the VIUBench leaderboard {leaderboard_repo}: {report.leaderboard_pr}")
    return report
