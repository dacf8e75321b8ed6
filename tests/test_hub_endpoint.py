"""tests/hub_endpoint.py answers the pinned huggingface_hub client as the Hub does: each test drives the
real client in a child process (it reads HF_ENDPOINT at import) and checks what it got and what the endpoint
holds."""

from __future__ import annotations

import hashlib
import threading

from hub_endpoint import HubEndpoint, run_client

DATASET_CLIENT = """
import io, json
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, HfFileSystem, hf_hub_download
from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError,
                                    RevisionNotFoundError)
api, out = HfApi(), {}
def error(call):
    try:
        call()
    except Exception as exc:
        return [type(exc).__name__, getattr(getattr(exc, "response", None), "status_code", None)]
    return None
out["me"] = api.whoami()["name"]
out["url"] = str(api.create_repo("ns/d", repo_type="dataset", private=True))
out["exist_ok"] = str(api.create_repo("ns/d", repo_type="dataset", exist_ok=True))
out["duplicate"] = error(lambda: api.create_repo("ns/d", repo_type="dataset"))
out["foreign_namespace"] = error(lambda: api.create_repo("other/d", repo_type="dataset"))
big = bytes(range(256)) * 4000
readme = b"---\\nlicense: mit\\n---\\n# d\\n"
ops = [CommitOperationAdd("README.md", readme), CommitOperationAdd("data/a/x.parquet", io.BytesIO(big)),
       CommitOperationAdd("data/b/y.txt", b"hello"), CommitOperationAdd("data/b/z.txt", b"bye")]
first = api.create_commit("ns/d", ops, commit_message="first", repo_type="dataset")
out["tree"] = sorted([e.path, type(e).__name__, e.lfs.sha256 if getattr(e, "lfs", None) else None]
                     for e in api.list_repo_tree("ns/d", repo_type="dataset", recursive=True))
out["top"] = sorted(e.path for e in api.list_repo_tree("ns/d", repo_type="dataset"))
out["paths_info"] = sorted([e.path, type(e).__name__] for e in
                           api.get_paths_info("ns/d", ["README.md", "data", "missing"], repo_type="dataset"))
out["download"] = open(hf_hub_download("ns/d", "data/a/x.parquet", repo_type="dataset"), "rb").read() == big
with HfFileSystem().open("datasets/ns/d/data/a/x.parquet", "rb") as f:
    f.seek(1000)
    out["range"] = f.read(10) == big[1000:1010]
same = api.create_commit("ns/d", [CommitOperationAdd("README.md", readme)], commit_message="again",
                         repo_type="dataset")
out["unchanged_is_no_commit"] = same.oid == first.oid
second = api.create_commit("ns/d", [CommitOperationDelete("data/b/")], commit_message="drop b",
                           repo_type="dataset")
out["old_revision_files"] = sorted(api.list_repo_files("ns/d", repo_type="dataset", revision=first.oid))
out["head"] = [api.dataset_info("ns/d").sha == second.oid, api.dataset_info("ns/d", revision=first.oid).sha]
out["first"] = first.oid
out["commits"] = [c.title for c in api.list_repo_commits("ns/d", repo_type="dataset")]
bad_card = CommitOperationAdd("README.md", b"---\\na: [\\n---\\n")
out["bad_yaml"] = error(lambda: api.create_commit("ns/d", [bad_card],
                                                  commit_message="x", repo_type="dataset"))
out["no_revision"] = error(lambda: api.dataset_info("ns/d", revision="nope"))
out["no_entry"] = error(lambda: hf_hub_download("ns/d", "missing.txt", repo_type="dataset"))
out["no_repo"] = error(lambda: api.dataset_info("ns/absent"))
out["private_to_others"] = error(lambda: HfApi(token=OTHER).dataset_info("ns/d"))
out["bad_token"] = error(lambda: HfApi(token="hf_" + "x" * 30).whoami())
print(json.dumps(out))
"""


def test_dataset_repos_commits_listing_and_downloads(hub: HubEndpoint, tmp_path):
    hub.page_size = 2  # the recursive tree spans several pages
    code = DATASET_CLIENT.replace("OTHER", repr(hub.token_for("other")))
    out = run_client(hub, str(tmp_path / "home"), code)
    big = bytes(range(256)) * 4000
    assert out["me"] == "ns" and out["url"] == out["exist_ok"] == f"{hub.url}/datasets/ns/d"
    assert out["duplicate"] == ["HfHubHTTPError", 409] and out["foreign_namespace"] == ["HfHubHTTPError", 403]
    assert out["tree"] == [
        [".gitattributes", "RepoFile", None],
        ["README.md", "RepoFile", None],
        ["data", "RepoFolder", None],
        ["data/a", "RepoFolder", None],
        ["data/a/x.parquet", "RepoFile", hashlib.sha256(big).hexdigest()],
        ["data/b", "RepoFolder", None],
        ["data/b/y.txt", "RepoFile", None],
        ["data/b/z.txt", "RepoFile", None],
    ]
    assert len([r for r in hub.requests("tree") if r.status == 200]) > 4  # pages followed
    assert out["top"] == [".gitattributes", "README.md", "data"]
    assert out["paths_info"] == [["README.md", "RepoFile"], ["data", "RepoFolder"]]
    assert out["download"] and out["range"] and out["unchanged_is_no_commit"]
    assert out["old_revision_files"] == [
        ".gitattributes",
        "README.md",
        "data/a/x.parquet",
        "data/b/y.txt",
        "data/b/z.txt",
    ]
    assert out["head"] == [True, out["first"]]
    assert out["commits"] == ["drop b", "first", "initial commit"]
    assert out["bad_yaml"] == ["ValueError", None]
    assert out["no_revision"] == ["RevisionNotFoundError", 404]
    assert out["no_entry"] == ["RemoteEntryNotFoundError", 404]
    assert out["no_repo"] == out["private_to_others"] == ["RepositoryNotFoundError", 404]
    assert out["bad_token"] == ["HfHubHTTPError", 401]
    # The LFS file went through the batch API and a basic PUT; the small ones inline in the commit.
    assert [r.detail for r in hub.requests("lfs-upload")] == [(hashlib.sha256(big).hexdigest(),)]
    assert hub.files("ns/d") == {"README.md": b"---\nlicense: mit\n---\n# d\n", "data/a/x.parquet": big}
    assert hub.repo("ns/d").private


MODEL_CLIENT = """
import json
from huggingface_hub import HfApi, ModelCard, hf_hub_download
api, out = HfApi(), {}
api.create_repo("ns/m")
card = b"---\\nlicense: mit\\n---\\n# m\\n"
api.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id="ns/m")
card = ModelCard.load("ns/m")
card.data.tags = ["videossr"]
pr = card.push_to_hub("ns/m", create_pr=True, commit_message="Add eval results")
out["pr"] = [pr.pr_num, pr.pr_revision, pr.pr_url]
out["main_readme"] = open(hf_hub_download("ns/m", "README.md")).read()
out["pr_readme"] = open(hf_hub_download("ns/m", "README.md", revision=pr.pr_revision)).read()
out["listed"] = [[d.num, d.title, d.is_pull_request, d.status] for d in api.get_repo_discussions("ns/m")]
api.comment_discussion("ns/m", pr.pr_num, "looks right")
details = api.get_discussion_details("ns/m", pr.pr_num)
out["details"] = [details.target_branch, [e.type for e in details.events]]
api.merge_pull_request("ns/m", pr.pr_num)
out["merged"] = [api.get_discussion_details("ns/m", pr.pr_num).status,
                 open(hf_hub_download("ns/m", "README.md")).read() == out["pr_readme"]]
print(json.dumps(out))
"""


def test_model_repo_pull_requests_and_discussions(hub: HubEndpoint, tmp_path):
    out = run_client(hub, str(tmp_path / "home"), MODEL_CLIENT)
    assert out["pr"] == [1, "refs/pr/1", f"{hub.url}/ns/m/discussions/1"]
    assert "tags" not in out["main_readme"] and "videossr" in out["pr_readme"]
    assert out["listed"] == [[1, "Add eval results", True, "open"]]
    assert out["details"] == ["refs/heads/main", ["comment", "commit", "comment"]]
    assert out["merged"] == ["merged", True]
    assert "videossr" in hub.files("ns/m", "model")["README.md"].decode()


def test_interrupted_commit_is_held_then_refused(hub: HubEndpoint, tmp_path):
    hub.interrupt_after_commits(1)
    code = """
import json
from huggingface_hub import HfApi
api = HfApi()
api.create_repo("ns/d", repo_type="dataset")
api.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id="ns/d", repo_type="dataset")
try:
    api.upload_file(path_or_fileobj=b"two", path_in_repo="b.txt", repo_id="ns/d", repo_type="dataset")
    print(json.dumps("committed"))
except Exception as exc:
    print(json.dumps(exc.response.status_code))
"""
    threading.Timer(0.5, lambda: hub.interrupted.wait(60) and hub.release()).start()
    assert run_client(hub, str(tmp_path / "home"), code) == 503
    assert hub.interrupted.is_set()
    assert hub.files("ns/d") == {"a.txt": b"one"}
