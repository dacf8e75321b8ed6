"""Publishing, in process: the allowlist, the gate, and the Hub calls against a strict stand-in for the pinned
``HfApi`` (``create_autospec``: a method or keyword the installed client lacks fails the test)."""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
from pathlib import Path
from unittest import mock

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import RepoFile, RepoUrl
from videossr.build import hub_upload, publish
from videossr.build.hub_upload import PushError, Retry, is_transient, push_all
from videossr.build.publish import allowlisted, gate, publishable, push_command, repo_ids

REPO = Path(__file__).resolve().parent.parent
TOKEN = "hf_" + "Q" * 34


def _http_error(status: int, message: str = "") -> HfHubHTTPError:
    response = httpx2.Response(status, request=httpx2.Request("POST", "https://hub.test/api/x"))
    return HfHubHTTPError(message or f"{status} error", response=response, server_message=message or None)


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _dataset(root: Path, shards: int = 5) -> Path:
    _write(root / "README.md", b"---\nconfigs: []\n---\n# card\n")
    _write(root / "build_manifest.json", b'{"a": 1}\n')
    _write(root / "preview.png", b"\x89PNG\r\n\x1a\n....")
    for i in range(shards):
        _write(
            root / "data" / f"cfg-{i % 2}" / f"train-{i:05d}.parquet", f"PAR1 shard {i}".encode() * (i + 1)
        )
    return root


def test_publishable_is_exactly_the_allowlist(tmp_path):
    root = _dataset(tmp_path / "ds", shards=2)
    _write(root / "data" / "cfg-0" / "deep" / "more.parquet")
    _write(root / "data" / "cfg-0" / "notes.txt")
    _write(root / "data" / "cfg-0" / ".train.parquet.tmp-12")
    _write(root / "data" / ".hidden" / "x.parquet")
    _write(root / ".env", f"HF_TOKEN={TOKEN}".encode())
    _write(root / ".videossr-cache" / "probe.jsonl", b'{"path": "/home/someone/v.mp4"}')
    _write(root / ".work" / "parts" / "u1.parquet")
    _write(root / "stray.parquet")
    _write(root / "preview.png.bak")
    outside = _write(tmp_path / "secret.parquet", b"not part of the dataset")
    os.symlink(outside, root / "data" / "cfg-1" / "linked.parquet")
    os.symlink(tmp_path, root / "data" / "linked-folder")
    os.symlink(outside, root / "README.md.link")
    os.mkfifo(root / "data" / "cfg-1" / "pipe.parquet")
    contents = publishable(root)
    assert [f.path for f in contents.files] == [
        "README.md",
        "build_manifest.json",
        "data/cfg-0/deep/more.parquet",
        "data/cfg-0/train-00000.parquet",
        "data/cfg-1/train-00001.parquet",
        "preview.png",
    ]
    assert all(f.size == f.local.stat().st_size for f in contents.files)
    assert {(e.path, e.reason) for e in contents.left_out} == {
        (".env", "hidden"),
        (".videossr-cache/", "hidden"),
        (".work/", "hidden"),
        ("README.md.link", "a symbolic link"),
        ("data/.hidden/", "hidden"),
        ("data/cfg-0/.train.parquet.tmp-12", "hidden"),
        ("data/cfg-0/notes.txt", "not a parquet shard"),
        ("data/cfg-1/linked.parquet", "a symbolic link"),
        ("data/cfg-1/pipe.parquet", "not a regular file"),
        ("data/linked-folder", "a symbolic link"),
        ("preview.png.bak", "not on the allowlist"),
        ("stray.parquet", "not on the allowlist"),
    }
    assert contents.missing() == []
    assert publishable(tmp_path / "ds" / "data").missing() == [
        "README.md",
        "build_manifest.json",
        "data/**/*.parquet",
    ]


def test_allowlist_patterns():
    yes = ["README.md", "build_manifest.json", "preview.png", "data/a.parquet", "data/a/b/c/d.parquet"]
    no = [
        "readme.md",
        "data/a.txt",
        "data/.a.parquet",
        ".data/a.parquet",
        "x/data/a.parquet",
        "data",
        "a.parquet",
    ]
    assert [allowlisted(p) for p in yes] == [True] * len(yes)
    assert [allowlisted(p) for p in no] == [False] * len(no)
    assert allowlisted("data", folder=True) and allowlisted("data/a/b", folder=True)
    assert not allowlisted(".work", folder=True) and not allowlisted("data/.staging", folder=True)
    assert publish.ALLOWLIST == ("README.md", "build_manifest.json", "preview.png", "data/**/*.parquet")


def _calls_on_api(path: Path) -> list[tuple[str, int, list[str]]]:
    """Every ``api.<method>(...)`` call in a module: the method, positional count and keyword names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "api"
        ):
            found.append((node.func.attr, len(node.args), [k.arg for k in node.keywords if k.arg]))
    return found


def test_every_hub_method_publishing_calls_exists_with_those_keywords():
    calls = [c for name in ("publish.py", "hub_upload.py") for c in _calls_on_api(REPO / "build" / name)]
    assert {c[0] for c in calls} >= {"whoami", "create_repo", "list_repo_tree", "create_commit"}
    for method, positional, keywords in calls:
        assert hasattr(HfApi, method), f"HfApi.{method} does not exist in the installed huggingface_hub"
        signature = inspect.signature(getattr(HfApi, method))
        signature.bind(object(), *([None] * positional), **dict.fromkeys(keywords))  # raises TypeError
    for name, kwargs in (
        ("CommitOperationAdd", ("path_in_repo", "path_or_fileobj")),
        ("CommitOperationDelete", ("path_in_repo",)),
    ):
        cls = {"CommitOperationAdd": CommitOperationAdd, "CommitOperationDelete": CommitOperationDelete}[name]
        assert set(kwargs) <= set(inspect.signature(cls).parameters)
    assert not hasattr(mock.create_autospec(HfApi, instance=True), "upload_large_folder")


def _api(remote: list[RepoFile] | None = None, user: str = "me", orgs: tuple[str, ...] = ()) -> mock.Mock:
    """The strict stand-in, holding one remote repo's files: commits change what the tree lists."""
    api = mock.create_autospec(HfApi, instance=True)
    api.token = TOKEN
    api.whoami.return_value = {
        "name": user,
        "orgs": [{"name": o} for o in orgs],
        "auth": {"accessToken": {"role": "write"}},
    }
    api.create_repo.side_effect = lambda repo_id, **kw: RepoUrl(f"https://huggingface.co/datasets/{repo_id}")
    files = {f.path: f for f in remote or []}

    def commit(repo_id: str, operations: list, **kw: object) -> None:
        for op in operations:
            if isinstance(op, CommitOperationDelete):
                del files[op.path_in_repo]
            else:
                files[op.path_in_repo] = _remote_lfs(op.path_in_repo, Path(op.path_or_fileobj).read_bytes())

    api.create_commit.side_effect = commit
    api.list_repo_tree.side_effect = lambda *a, **kw: iter(list(files.values()))
    return api


def _remote_lfs(path: str, data: bytes) -> RepoFile:
    return RepoFile(
        path=path,
        size=len(data),
        oid="0" * 40,
        lfs={"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130},
    )


def _remote_regular(path: str, data: bytes) -> RepoFile:
    oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return RepoFile(path=path, size=len(data), oid=oid)


def _committed(api: mock.Mock) -> list[tuple[str, list[str], list[str]]]:
    out = []
    for c in api.create_commit.call_args_list:
        ops = c.kwargs["operations"]
        adds = [o.path_in_repo for o in ops if isinstance(o, CommitOperationAdd)]
        deletes = [o.path_in_repo for o in ops if isinstance(o, CommitOperationDelete)]
        out.append((c.kwargs["commit_message"], adds, deletes))
    return out


def test_push_sends_only_what_the_hub_lacks_shards_first_in_bounded_commits(tmp_path):
    root = _dataset(tmp_path / "videossr-30k")
    shard = sorted(p.relative_to(root).as_posix() for p in root.glob("data/*/*.parquet"))
    remote = [
        _remote_lfs(shard[0], (root / shard[0]).read_bytes()),  # same content: kept
        _remote_lfs(shard[1], b"X" * (root / shard[1]).stat().st_size),  # same size, other content: re-sent
        _remote_regular("README.md", (root / "README.md").read_bytes()),  # same content: kept
        _remote_lfs("data/cfg-0/train-old.parquet", b"old"),  # a shard the build no longer has
        _remote_regular(".gitattributes", b"*.parquet filter=lfs\n"),
    ]
    api = _api(remote)
    lines: list[str] = []
    results = push_all(
        {"videossr-30k": publishable(root)},
        "me",
        private=True,
        api=api,
        retry=Retry(backoff=0, out=lines.append),
        max_files=2,
        out=lines.append,
    )
    assert [name for name, *_ in api.mock_calls[:2]] == ["whoami", "create_repo"]
    api.create_repo.assert_called_once_with(
        "me/videossr-30k", repo_type="dataset", private=True, exist_ok=True
    )
    assert _committed(api) == [
        ("Add data shards (1/2)", [shard[1], shard[2]], []),
        ("Add data shards (2/2)", [shard[3], shard[4]], []),
        (
            "Update the dataset card, manifest and preview",
            ["build_manifest.json", "preview.png"],
            ["data/cfg-0/train-old.parquet"],
        ),
    ]
    assert all(c.kwargs["repo_type"] == "dataset" for c in api.create_commit.call_args_list)
    (result,) = results
    assert (result.uploaded, result.unchanged, result.deleted, result.commits) == (6, 2, 1, 3)
    assert result.url == "https://huggingface.co/datasets/me/videossr-30k"


def test_a_file_larger_than_the_byte_bound_gets_its_own_commit(tmp_path):
    files = [publish.LocalFile(f"data/s{i}.parquet", tmp_path, size) for i, size in enumerate((5, 5, 20, 5))]
    groups = hub_upload.batches(files, max_files=8, max_bytes=10)
    assert [[f.path for f in g] for g in groups] == [
        ["data/s0.parquet", "data/s1.parquet"],
        ["data/s2.parquet"],
        ["data/s3.parquet"],
    ]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (httpx2.ConnectError("connection reset by peer"), True),
        (httpx2.ReadTimeout("timed out"), True),
        (_http_error(503), True),
        (_http_error(429), True),
        (RuntimeError("Error while uploading 'x' to the Hub."), False),
        (AttributeError("'HfApi' object has no attribute 'upload_large_folder'"), False),
        (TypeError("create_commit() got an unexpected keyword argument"), False),
        (_http_error(401), False),
        (_http_error(403), False),
        (_http_error(404), False),
        (ValueError("Invalid metadata in README.md"), False),
    ],
)
def test_only_transient_failures_are_retried(error, transient):
    attempts: list[int] = []

    def call() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise error
        return "done"

    lines: list[str] = []
    if transient:
        assert Retry(retries=2, backoff=0, out=lines.append)("commit", call) == "done"
        assert len(attempts) == 2 and "retrying" in lines[0]
    else:
        with pytest.raises(PushError, match="commit failed: ") as info:
            Retry(retries=2, backoff=0, out=lines.append)("commit", call)
        assert len(attempts) == 1 and not lines
        assert "after" not in str(info.value)
    assert is_transient(error) is transient


def test_a_wrapped_connection_error_is_transient_and_retries_run_out(tmp_path):
    try:
        try:
            raise httpx2.ConnectError("reset")
        except httpx2.ConnectError as exc:
            raise RuntimeError("Error while uploading 'data/x.parquet' to the Hub.") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    api = _api()
    api.create_repo.side_effect = _http_error(502)
    with pytest.raises(PushError, match=r"creating me/x failed after 3 attempts: HTTP 502"):
        hub_upload.push_dataset(
            api,
            publishable(_dataset(tmp_path / "x", 1)),
            "me/x",
            private=False,
            retry=Retry(retries=2, backoff=0, out=lambda s: None),
        )
    assert api.create_repo.call_count == 3


def test_nothing_is_created_when_the_account_check_fails(tmp_path):
    contents = {"videossr-30k": publishable(_dataset(tmp_path / "videossr-30k", 1))}
    cases = [
        (_api(), "other", "cannot write to the namespace 'other'"),
        (_api(user="me", orgs=("lab",)), "lab/videossr-30k", None),
    ]
    api = _api()
    api.whoami.side_effect = _http_error(401, "Invalid user token.")
    cases.append((api, "me", "the Hub rejected the token"))
    api = _api()
    api.whoami.return_value = {"name": "me", "auth": {"accessToken": {"role": "read"}}}
    cases.append((api, "me", "read-only"))
    for api, target, error in cases:
        if error is None:
            _push(contents, target, api)
            api.create_repo.assert_called_once()
            continue
        with pytest.raises(PushError, match=error):
            _push(contents, target, api)
        api.create_repo.assert_not_called()
        api.create_commit.assert_not_called()


def _push(contents: dict, target: str, api: mock.Mock) -> list:
    return push_all(contents, target, private=False, api=api, retry=Retry(backoff=0), out=lambda s: None)


def test_failures_never_show_the_token(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    api = _api()
    api.create_commit.side_effect = _http_error(403, f"token {TOKEN} may not write here")
    with pytest.raises(PushError) as info:
        push_all(
            {"d": publishable(_dataset(tmp_path / "d", 1))},
            "me",
            private=False,
            api=api,
            retry=Retry(backoff=0),
        )
    assert "HTTP 403" in str(info.value) and TOKEN not in str(info.value)
    assert "<token>" in str(info.value)
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err


def test_gate_refuses_unverified_or_failed_datasets():
    assert gate(None, ["a"], allow_unverified=False) == "verify was skipped (--no-verify)"
    assert (
        gate({"a": 0, "b": 2}, ["a", "b"], allow_unverified=False)
        == "verify found problems in b (2 problem(s))"
    )
    assert gate({"a": 0, "b": 0}, ["a", "b"], allow_unverified=False) is None
    assert gate(None, ["a"], allow_unverified=True) is None
    assert gate({"a": 3}, ["a"], allow_unverified=True) is None


@pytest.mark.parametrize("verify", [None, {"videossr-30k": 1}])
def test_a_refused_push_touches_no_hub(tmp_path, capsys, verify):
    root = _dataset(tmp_path / "videossr-30k", 1)
    with mock.patch("huggingface_hub.HfApi", autospec=True) as api_cls:
        code = push_command(
            [("videossr-30k", root)],
            "me",
            private=False,
            dry_run=False,
            verify=verify,
            allow_unverified=False,
        )
    assert code == 1 and api_cls.mock_calls == []
    err = capsys.readouterr().err
    assert (
        err.startswith("error: not pushing: ") and "--push-unverified" in err and len(err.splitlines()) == 1
    )


def test_repo_ids_for_namespaces_and_full_ids():
    assert repo_ids(["videossr-30k", "viubench"], "me") == {
        "videossr-30k": "me/videossr-30k",
        "viubench": "me/viubench",
    }
    assert repo_ids(["viubench"], "me/my-bench") == {"viubench": "me/my-bench"}
    assert repo_ids(["viubench"], None) == {"viubench": "<your account>/viubench"}
    assert repo_ids(["viubench"], None, account="me") == {"viubench": "me/viubench"}
    with pytest.raises(ValueError, match="not a valid Hub repo id"):
        repo_ids(["viubench"], None, account="bad--name")
    for bad in (["videossr-30k", "viubench"], "me/one-repo"), (["viubench"], "me/bad..name"), (["x"], "-me"):
        with pytest.raises(ValueError):
            repo_ids(*bad)


def test_a_file_the_hub_does_not_show_after_the_push_is_an_error(tmp_path):
    api = _api()
    commit = api.create_commit.side_effect
    api.create_commit.side_effect = lambda repo_id, operations, **kw: commit(
        repo_id, [op for op in operations if op.path_in_repo != "preview.png"], **kw
    )
    with pytest.raises(
        PushError,
        match=r"after the push, preview\.png on me/d is missing \(re-run the same command to resume",
    ):
        _push({"d": publishable(_dataset(tmp_path / "d", 1))}, "me", api)
