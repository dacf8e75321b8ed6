"""``python eval/submit.py`` end to end through the real huggingface_hub client against a Hub-compatible
endpoint (tests/hub_endpoint.py): it opens a pull request whose README carries the model-index, a second
submission of other benchmarks lands on that pull request with the first one's results kept, and after a
merge the next submission starts from main."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _results_helpers import write_results
from hub_endpoint import HubEndpoint, run_client
from videossr.eval.registry import BENCHMARKS

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
MODEL = "ns/my-model"
CARD = "---\nlicense: apache-2.0\n---\n\n# My model\n\nHow to use it.\n"


@pytest.fixture
def model_repo(hub: HubEndpoint, tmp_path) -> HubEndpoint:
    code = (
        "import json; from huggingface_hub import HfApi; api = HfApi(); "
        f"api.create_repo({MODEL!r}); "
        f"api.upload_file(path_or_fileobj={CARD.encode()!r}, path_in_repo='README.md', repo_id={MODEL!r}); "
        "print(json.dumps('ok'))"
    )
    run_client(hub, str(tmp_path / "home"), code)
    return hub


def submit(hub: HubEndpoint, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **hub.client_env(str(home))}
    cmd = [sys.executable, str(REPO / "eval" / "submit.py"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def model_index(hub: HubEndpoint, revision: str) -> list[dict]:
    readme = hub.files(MODEL, "model", revision=revision)["README.md"].decode()
    return yaml.safe_load(readme.split("---")[1])["model-index"][0]["results"]


def _datasets(results: list[dict]) -> set[str]:
    return {r["dataset"]["type"] for r in results}


def test_submissions_open_one_pull_request_and_merge_into_it(model_repo, tmp_path):
    hub, home = model_repo, tmp_path / "home"
    first = write_results(tmp_path / "first", 32, ("charades", "qvhighlights"))
    proc = submit(hub, home, str(first), "--repo", MODEL)
    assert proc.returncode == 0, proc.stderr
    assert "opened a pull request" in proc.stdout and "[qvhighlights] not in the model-index" in proc.stdout
    pr = hub.repo(MODEL, "model").discussion(1)
    assert pr.is_pr and pr.title == "Add VideoSSR eval results"
    assert hub.files(MODEL, "model")["README.md"] == CARD.encode()  # main changes only when merged
    results = model_index(hub, "refs/pr/1")
    assert _datasets(results) == {BENCHMARKS["charades"].hub_id}
    charades = results[0]
    assert charades["dataset"]["revision"] == BENCHMARKS["charades"].revision
    assert charades["source"]["url"].endswith(f"/{MODEL}/tree/main/eval_results/videossr")
    assert {m["args"]["frames"] for m in charades["metrics"]} == {32}
    readme = hub.files(MODEL, "model", revision="refs/pr/1")["README.md"].decode()
    assert "How to use it." in readme and "license: apache-2.0" in readme

    second = write_results(tmp_path / "second", 48, ("charades", "videomme"), value=60.0)
    proc = submit(hub, home, str(second), "--repo", MODEL)
    assert proc.returncode == 0, proc.stderr
    assert "updated the open pull request" in proc.stdout
    assert len(hub.repo(MODEL, "model").discussions) == 1
    results = model_index(hub, "refs/pr/1")
    assert _datasets(results) == {BENCHMARKS["charades"].hub_id, BENCHMARKS["videomme"].hub_id}
    charades = next(r for r in results if r["dataset"]["type"] == BENCHMARKS["charades"].hub_id)
    miou = sorted((m["args"]["frames"], m["value"]) for m in charades["metrics"] if m["type"] == "mIoU")
    assert miou == [(32, 50.0), (48, 60.0)]  # 32- and 48-frame results side by side
    stored = [p for p in hub.files(MODEL, "model", revision="refs/pr/1") if p.startswith("eval_results/")]
    assert len(stored) == 2

    commits = len(hub.requests("commit"))
    proc = submit(hub, home, str(second), "--repo", MODEL, "--dry-run")
    assert proc.returncode == 0 and "already holds these results" in proc.stdout
    assert len(hub.requests("commit")) == commits


def test_after_a_merge_the_next_submission_starts_from_main(model_repo, tmp_path):
    hub, home = model_repo, tmp_path / "home"
    assert (
        submit(hub, home, str(write_results(tmp_path / "a", 32, ("charades",))), "--repo", MODEL).returncode
        == 0
    )
    code = f"from huggingface_hub import HfApi; HfApi().merge_pull_request({MODEL!r}, 1); print('1')"
    run_client(hub, str(home), code)
    proc = submit(hub, home, str(write_results(tmp_path / "b", 32, ("videomme",))), "--repo", MODEL)
    assert proc.returncode == 0 and "opened a pull request" in proc.stdout, proc.stderr
    assert len(hub.repo(MODEL, "model").discussions) == 2
    assert _datasets(model_index(hub, "refs/pr/2")) == {
        BENCHMARKS["charades"].hub_id,
        BENCHMARKS["videomme"].hub_id,
    }


def test_a_missing_repo_is_a_one_line_error(hub, tmp_path):
    proc = submit(
        hub, tmp_path / "home", str(write_results(tmp_path / "a", 32, ("charades",))), "--repo", "ns/none"
    )
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "Hub request failed" in proc.stderr and "RepositoryNotFound" in proc.stderr
