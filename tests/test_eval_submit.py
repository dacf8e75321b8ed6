"""eval/submit.py: the model-index update and pull request, checked through mocks of huggingface_hub."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from huggingface_hub import ModelCard
from videossr.eval import hub_submit
from videossr.eval.registry import VIUBENCH_SUBTYPES

CARD = "---\nlicense: apache-2.0\n---\n\n# My model\n"


@pytest.fixture
def results_dir(tmp_path):
    res = {
        "results": {
            "viubench": {
                "alias": "VIUBench",
                **{f"{k},none": 50.0 for k in (*VIUBENCH_SUBTYPES, "counting", "grounding", "jigsaw")},
                "overall,none": 50.0,
                "overall_stderr,none": "N/A",
                "n_items": 18,
                "n_failed": 0,
                "n_unparsed": 1,
            },
            "charades": {"alias": "Charades-STA", "mIoU,none": 52.1, "R@0.5,none": 60.6, "n_items": 3},
        },
        "configs": {
            "viubench": {
                "frames": 48,
                "fps": 2.0,
                "max_pixels": 262144,
                "test_split": "train",
                "backend": "transformers",
                "model_revision": "abc",
            },
            "charades": {"frames": 32, "fps": 2.0, "max_pixels": 262144, "test_split": "test"},
        },
        "date": "2026-11-23",
    }
    (tmp_path / "results.json").write_text(json.dumps(res))
    return tmp_path


def test_dry_run_shows_diff_and_touches_nothing(results_dir, capsys):
    with (
        mock.patch("huggingface_hub.ModelCard.load", return_value=ModelCard(CARD)) as load,
        mock.patch("huggingface_hub.ModelCard.push_to_hub") as push,
    ):
        report = hub_submit.submit(results_dir / "results.json", "me/model", dry_run=True)
    load.assert_called_once_with("me/model", token=None)
    push.assert_not_called()
    out = capsys.readouterr().out
    assert "+model-index:" in out and "type: overall" in out and "mIoU (32 frames)" in out
    entry = json.loads((results_dir / "viubench_leaderboard_entry.json").read_text())
    assert entry["scores"]["Overall"] == 50.0 and list(entry["scores"])[:2] == ["C-E", "C-H"]
    assert report["pr_url"] is None


def test_submit_opens_a_pr_and_leaderboard_pr(results_dir):
    commit = mock.Mock(pr_url="https://huggingface.co/me/model/discussions/1")
    with (
        mock.patch("huggingface_hub.ModelCard.load", return_value=ModelCard(CARD)),
        mock.patch("huggingface_hub.ModelCard.push_to_hub", return_value=commit) as push,
        mock.patch("huggingface_hub.HfApi.upload_file", autospec=True, return_value=commit) as upload,
    ):
        report = hub_submit.submit(results_dir, "me/model", leaderboard_repo="videossr/viubench-leaderboard")
    push.assert_called_once()
    args, kwargs = push.call_args
    assert args[0] == "me/model" and kwargs["create_pr"] is True
    upload.assert_called_once()
    kw = upload.call_args.kwargs
    assert (
        kw["repo_id"] == "videossr/viubench-leaderboard"
        and kw["repo_type"] == "dataset"
        and kw["create_pr"] is True
    )
    assert kw["path_in_repo"] == "entries/me__model.json"
    assert report["pr_url"].endswith("/discussions/1")


def test_existing_results_are_replaced_not_duplicated(results_dir):
    res = hub_submit.load_results(results_dir)
    first = hub_submit.updated_card(ModelCard(CARD), res, "model")
    again = hub_submit.updated_card(first, res, "model")
    assert len(again.data.eval_results) == len(first.data.eval_results) == 15
    assert hub_submit.card_diff(str(first), str(again), "me/model") == ""


def test_cli_errors(tmp_path, capsys):
    assert hub_submit.main([str(tmp_path / "none.json"), "--repo", "me/model"]) == 2
    assert "bad RESULTS" in capsys.readouterr().err
    assert hub_submit.main([str(tmp_path), "--repo", "nomodel"]) == 2
    assert "bad --repo 'nomodel'" in capsys.readouterr().err
