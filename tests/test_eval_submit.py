"""eval/submit.py: the model-index (per-metric settings, real dataset ids and revisions, a source link), the
pull request, and the merge of a second submission, through ``create_autospec(HfApi, instance=True)`` (each
call is checked against huggingface_hub's real signatures) backed by a small in-memory model of a Hub repo."""

from __future__ import annotations

import dataclasses
import inspect
import json
from datetime import datetime, timezone
from pathlib import Path
from unittest.mock import create_autospec

import pytest
import yaml
from _results_helpers import write_results
from huggingface_hub import CommitOperationAdd, EvalResult, HfApi, ModelCard
from huggingface_hub.community import Discussion
from huggingface_hub.errors import EntryNotFoundError
from huggingface_hub.hf_api import CommitInfo
from videossr.eval import hub
from videossr.eval.registry import BENCHMARKS

REPO = "me/model"
HUB = {name: spec.hub_id for name, spec in BENCHMARKS.items()}
CARD = "---\nlicense: apache-2.0\n---\n\n# My model\n\nSome words.\n"


class FakeRepo:
    """Files per revision and the pull requests of one model repo, driven through an autospec'd HfApi."""

    def __init__(self, tmp: Path, readme: str | None = CARD) -> None:
        self.tmp = tmp
        self.files: dict[str, dict[str, bytes]] = {
            "main": {} if readme is None else {"README.md": readme.encode()}
        }
        self.prs: list[Discussion] = []
        self.api = create_autospec(HfApi, instance=True)
        self.api.get_repo_discussions.side_effect = lambda repo_id, **kw: iter(list(self.prs))
        self.api.hf_hub_download.side_effect = self._download
        self.api.create_commit.side_effect = self._commit
        self.api.upload_file.side_effect = lambda **kw: self._info(kw["repo_id"], pr=True)

    def _download(self, repo_id: str, filename: str, *, revision: str | None = None, **kw) -> str:
        files = self.files[revision or "main"]
        if filename not in files:
            raise EntryNotFoundError(f"404: {filename} not in {repo_id}@{revision}")
        path = self.tmp / f"download-{len(list(self.tmp.iterdir()))}"
        path.write_bytes(files[filename])
        return str(path)

    def _info(self, repo_id: str, pr: bool) -> CommitInfo:
        url = f"https://huggingface.co/{repo_id}/discussions/{len(self.prs)}" if pr else None  # the newest PR
        return CommitInfo(f"https://huggingface.co/{repo_id}/commit/abc", "m", "", "abc", pr_url=url)

    def _commit(self, repo_id, operations, *, commit_message, revision=None, create_pr=None, **kw):
        assert len(commit_message) <= 72
        if create_pr:
            num = len(self.prs) + 1
            self.prs.append(
                Discussion(
                    title=commit_message,
                    status="draft",
                    num=num,
                    repo_id=repo_id,
                    repo_type="model",
                    author="me",
                    is_pull_request=True,
                    created_at=datetime.now(timezone.utc),
                    endpoint="https://huggingface.co",
                )
            )
            revision = f"refs/pr/{num}"
            self.files[revision] = dict(self.files["main"])
        for op in operations:
            assert isinstance(op, CommitOperationAdd)
            self.files[revision or "main"][op.path_in_repo] = op.path_or_fileobj
        return self._info(repo_id, pr=bool(create_pr))

    def merge(self, num: int) -> None:
        self.files["main"] = dict(self.files[f"refs/pr/{num}"])
        self.prs[num - 1].status = "merged"

    def model_index(self, revision: str) -> list[dict]:
        text = self.files[revision]["README.md"].decode()
        return yaml.safe_load(text.split("---")[1])["model-index"][0]["results"]


def _metrics(results: list[dict], dataset: str) -> list[dict]:
    return [m for r in results if r["dataset"]["type"] == dataset for m in r["metrics"]]


def test_dry_run_shows_the_diff_and_writes_nothing_to_the_hub(tmp_path, capsys):
    repo = FakeRepo(tmp_path)
    path = write_results(tmp_path / "run", 32, ("viubench", "charades"))
    report = hub.submit(path, REPO, dry_run=True, api=repo.api, out=print)
    repo.api.create_commit.assert_not_called()
    repo.api.upload_file.assert_not_called()
    out = capsys.readouterr().out
    assert "+model-index:" in out and "mIoU (32 frames)" in out and "overall (48 frames)" in out
    assert report.pr_url is None and report.diff
    entry = json.loads(Path(report.leaderboard).read_text())
    assert entry["scores"]["Overall"] == 50.0 and list(entry["scores"])[:2] == ["C-E", "C-H"]
    assert entry["n_items"] == 9


def test_submit_opens_a_pull_request_whose_readme_carries_the_model_index(tmp_path):
    repo = FakeRepo(tmp_path)
    report = hub.submit(write_results(tmp_path / "a", 32, ("viubench", "charades")), REPO, api=repo.api)
    assert report.pr_url.endswith("/discussions/1") and repo.prs[0].title == hub.PR_TITLE
    assert repo.files["main"]["README.md"] == CARD.encode()  # main untouched until the PR is merged
    readme = repo.files["refs/pr/1"]["README.md"].decode()
    assert "Some words." in readme and "license: apache-2.0" in readme
    results = repo.model_index("refs/pr/1")
    charades = next(r for r in results if r["dataset"]["type"] == HUB["charades"])
    assert charades["dataset"]["revision"] == BENCHMARKS["charades"].revision
    assert charades["source"] == {"url": hub.source_url(REPO), "name": hub.SOURCE_NAME}
    miou = next(m for m in charades["metrics"] if m["type"] == "mIoU")
    assert (
        miou["args"] == {"frames": 32, "fps": 2.0, "max_pixels": 262144}
        and miou["name"] == "mIoU (32 frames)"
    )
    viu = _metrics(results, HUB["viubench"])
    assert {m["args"]["frames"] for m in viu} == {48} and all("fps" not in m["args"] for m in viu)
    stored = [f for f in repo.files["refs/pr/1"] if f.startswith(hub.RESULTS_FOLDER)]
    assert len(stored) == 1 and "charades" in json.loads(repo.files["refs/pr/1"][stored[0]])["results"]


def test_a_second_submission_merges_into_the_open_pull_request(tmp_path):
    repo = FakeRepo(tmp_path)
    hub.submit(write_results(tmp_path / "a", 32, ("charades",)), REPO, api=repo.api)
    report = hub.submit(write_results(tmp_path / "b", 32, ("viubench", "videomme")), REPO, api=repo.api)
    assert len(repo.prs) == 1 and report.base_revision == "refs/pr/1"
    assert repo.api.create_commit.call_args.kwargs["revision"] == "refs/pr/1"
    results = repo.model_index("refs/pr/1")
    assert {r["dataset"]["type"] for r in results} == {
        HUB["charades"],
        HUB["viubench"],
        HUB["videomme"],
    }
    assert len([f for f in repo.files["refs/pr/1"] if f.startswith(hub.RESULTS_FOLDER)]) == 2


def test_after_a_merge_the_next_submission_starts_from_main(tmp_path):
    repo = FakeRepo(tmp_path)
    hub.submit(write_results(tmp_path / "a", 32, ("charades",)), REPO, api=repo.api)
    repo.merge(1)
    hub.submit(write_results(tmp_path / "b", 48, ("videomme",)), REPO, api=repo.api)
    assert repo.prs[-1].num == 2
    assert {r["dataset"]["type"] for r in repo.model_index("refs/pr/2")} == {
        HUB["charades"],
        HUB["videomme"],
    }


def test_32_48_64_frame_results_stay_apart_and_a_rerun_replaces_only_its_own(tmp_path):
    repo = FakeRepo(tmp_path)
    for frames in (32, 48, 64):
        hub.submit(
            write_results(tmp_path / str(frames), frames, ("charades",), value=frames), REPO, api=repo.api
        )
    hub.submit(write_results(tmp_path / "again", 48, ("charades",), value=99.0), REPO, api=repo.api)
    miou = [m for m in _metrics(repo.model_index("refs/pr/1"), HUB["charades"]) if m["type"] == "mIoU"]
    assert sorted((m["args"]["frames"], m["value"]) for m in miou) == [(32, 32.0), (48, 99.0), (64, 64.0)]
    assert all(m["name"] == f"mIoU ({m['args']['frames']} frames)" for m in miou)


def test_benchmarks_without_a_hub_id_are_left_out_and_reported(tmp_path, capsys):
    repo = FakeRepo(tmp_path)
    report = hub.submit(
        write_results(tmp_path / "a", 32, ("qvhighlights", "charades")), REPO, api=repo.api, out=print
    )
    assert (
        set(report.left_out) == {"qvhighlights"}
        and "[qvhighlights] not in the model-index" in capsys.readouterr().out
    )
    types = {r["dataset"]["type"] for r in repo.model_index("refs/pr/1")}
    assert types == {HUB["charades"]} and not any(t.startswith("videossr/") for t in types)


def test_resubmitting_the_same_results_changes_nothing(tmp_path, capsys):
    repo = FakeRepo(tmp_path)
    path = write_results(tmp_path / "a", 32, ("charades",))
    hub.submit(path, REPO, api=repo.api)
    report = hub.submit(path, REPO, api=repo.api, out=print)
    assert report.diff == "" and report.pr_url is None and repo.api.create_commit.call_count == 1
    assert "already holds these results" in capsys.readouterr().out


def test_a_repo_without_a_readme_gets_a_fresh_card(tmp_path):
    repo = FakeRepo(tmp_path, readme=None)
    hub.submit(write_results(tmp_path / "a", 32, ("charades",)), REPO, api=repo.api)
    card = ModelCard(repo.files["refs/pr/1"]["README.md"].decode())
    assert card.data.model_name == "model" and len(card.data.eval_results) == 4


def test_an_unreadable_model_index_is_never_overwritten(tmp_path):
    broken = "---\nmodel-index:\n- name: m\n  results:\n  - task: {}\n---\n\n# x\n"
    repo = FakeRepo(tmp_path, readme=broken)
    with pytest.raises(ValueError, match=r"README\.md of me/model has metadata huggingface_hub cannot read"):
        hub.submit(write_results(tmp_path / "a", 32, ("charades",)), REPO, api=repo.api)
    repo.api.create_commit.assert_not_called()


def test_leaderboard_entry_is_proposed_by_pull_request(tmp_path):
    repo = FakeRepo(tmp_path)
    report = hub.submit(
        write_results(tmp_path / "a", 32, ("viubench",)),
        REPO,
        api=repo.api,
        leaderboard_repo="videossr/board",
    )
    kw = repo.api.upload_file.call_args.kwargs
    assert (kw["repo_id"], kw["repo_type"], kw["create_pr"]) == ("videossr/board", "dataset", True)
    assert kw["path_in_repo"] == "entries/me__model.json" and report.leaderboard_pr


def test_every_hub_call_matches_the_pinned_huggingface_hub(tmp_path):
    """The calls made bind to huggingface_hub's own signatures (autospec raises on a wrong keyword too)."""
    repo = FakeRepo(tmp_path)
    hub.submit(write_results(tmp_path / "a", 32, ("viubench",)), REPO, api=repo.api, leaderboard_repo="o/b")
    hub.submit(write_results(tmp_path / "b", 48, ("charades",)), REPO, api=repo.api)
    called = set()
    for name, args, kwargs in repo.api.mock_calls:
        inspect.signature(getattr(HfApi, name)).bind(repo.api, *args, **kwargs)
        called.add(name)
    assert called == {"get_repo_discussions", "hf_hub_download", "create_commit", "upload_file"}
    for attr in ("git_reference", "url", "is_pull_request", "status", "title", "num"):
        assert hasattr(repo.prs[0], attr)
    for cls, used in (
        (CommitInfo, {"pr_url", "commit_url"}),
        (CommitOperationAdd, {"path_in_repo", "path_or_fileobj"}),
        (EvalResult, {"dataset_revision", "dataset_config", "metric_args", "metric_config", "source_url"}),
    ):
        assert used <= {f.name for f in dataclasses.fields(cls)}, cls
    assert "content" in inspect.signature(ModelCard.__init__).parameters
