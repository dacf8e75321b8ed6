"""A Hub-compatible HTTP endpoint on 127.0.0.1 for tests: the real huggingface_hub and datasets clients talk
to it through ``HF_ENDPOINT``.

It serves what the pinned clients call (read from their source): whoami, repo create (``private``,
``exist_ok`` as a 409), YAML validation, preupload (regular vs LFS), the LFS batch API with the basic
transfer, ndjson commits (to a branch or as a pull request: ``refs/pr/N``), repo info by revision, the tree
(recursive, paginated with a ``Link`` header), paths-info, commit listing, resolve (HEAD / GET / Range with
ETag, X-Repo-Commit, X-Linked-*), and discussions / pull requests (list, details, comment, status, merge).
Errors carry the Hub's ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound); a bad token gets
a 401.

Every request is logged (``endpoint.log``). A client process needs ``endpoint.client_env(home)``:
``HF_HUB_DISABLE_XET=1`` keeps the upload on the LFS protocol this endpoint speaks (hf_xet is installed, and
the client uploads through Xet whenever it is importable).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from _hub_repos import DEFAULT_BRANCH, HubError, Repo
from _hub_routes import (
    Call,
    commits,
    create_repo,
    paths_info,
    repo_info,
    resolve,
    tree,
    validate_yaml,
    whoami,
)
from _hub_writes import (
    change_discussion,
    commit,
    create_discussion,
    discussion_details,
    lfs_batch,
    lfs_put,
    lfs_verify,
    list_discussions,
    preupload,
)

_API = r"/api/(?P<types>models|datasets|spaces)/(?P<ns>[^/]+)/(?P<name>[^/]+)"
_FILES = r"/(?P<prefix>datasets/|spaces/)?(?P<ns>[^/]+)/(?P<name>[^/]+)"
_LFS = r"/lfs-objects/(?P<prefix>datasets/|spaces/)?(?P<ns>[^/]+)/(?P<name>[^/]+)/(?P<oid>[0-9a-f]{64})"
ROUTES: list[tuple[str, str, str, Callable[[Call], None]]] = [
    ("GET", r"/api/whoami-v2", "whoami", whoami),
    ("POST", r"/api/repos/create", "create-repo", create_repo),
    ("POST", r"/api/validate-yaml", "validate-yaml", validate_yaml),
    ("GET", rf"{_API}(?:/revision/(?P<rev>[^/]+))?", "repo-info", repo_info),
    ("GET", rf"{_API}/tree/(?P<rev>[^/]+)(?:/(?P<file>.+))?", "tree", tree),
    ("POST", rf"{_API}/paths-info/(?P<rev>[^/]+)", "paths-info", paths_info),
    ("GET", rf"{_API}/commits/(?P<rev>[^/]+)", "commits", commits),
    ("POST", rf"{_API}/preupload/(?P<rev>[^/]+)", "preupload", preupload),
    ("POST", rf"{_API}/commit/(?P<rev>[^/]+)", "commit", commit),
    ("GET", rf"{_API}/discussions", "discussions", list_discussions),
    ("POST", rf"{_API}/discussions", "create-discussion", create_discussion),
    ("GET", rf"{_API}/discussions/(?P<num>\d+)", "discussion", discussion_details),
    (
        "POST",
        rf"{_API}/discussions/(?P<num>\d+)/(?P<action>comment|title|status|merge)",
        "change-discussion",
        change_discussion,
    ),
    ("POST", rf"{_FILES}\.git/info/lfs/objects/batch", "lfs-batch", lfs_batch),
    ("PUT", _LFS, "lfs-upload", lfs_put),
    ("POST", _LFS, "lfs-verify", lfs_verify),
    ("GET|HEAD", rf"{_FILES}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", "resolve", resolve),
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # unquoted, without the query
    action: str  # the route's name: "commit", "preupload", "lfs-upload", "resolve", ...
    status: int
    repo: str | None = None  # "ns/name" when the route names one
    detail: tuple[str, ...] = ()  # the paths a commit added or deleted; the LFS oid of an upload


class HubEndpoint:
    """``with HubEndpoint() as hub:`` serves on ``hub.url``; ``hub.token`` writes to the ``ns`` namespace."""

    def __init__(self, users: dict[str, list[str]] | None = None, page_size: int = 1000) -> None:
        self.users = users or {"ns": []}  # user -> organizations
        self.tokens = {f"hf_endpoint_token_{u}": u for u in self.users}
        self.token = next(iter(self.tokens))
        self.page_size = page_size
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> content
        self.log: list[Request] = []
        self.lock = threading.RLock()
        self._commit_budget: int | None = None
        self.interrupted = threading.Event()  # a commit is being held (see interrupt_after_commits)
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HubEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def client_env(self, home: str, token: str | None = "default") -> dict[str, str]:
        """The environment of a client process that talks to this endpoint (``HF_HOME`` in ``home``)."""
        env = {
            "HF_ENDPOINT": self.url,
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            "HF_HOME": home,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_ETAG_TIMEOUT": "30",
        }
        if token:
            env["HF_TOKEN"] = self.token if token == "default" else token
        return env

    def token_for(self, user: str) -> str:
        return next(t for t, u in self.tokens.items() if u == user)

    # -- for assertions ---------------------------------------------------------------------------------

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def files(
        self, repo_id: str, repo_type: str = "dataset", revision: str = DEFAULT_BRANCH
    ) -> dict[str, bytes]:
        repo = self.repo(repo_id, repo_type)
        assert repo is not None, f"no {repo_type} repo {repo_id}"
        return {p: b.data for p, b in repo.head(revision).files.items() if p != ".gitattributes"}

    def requests(self, action: str) -> list[Request]:
        return [r for r in self.log if r.action == action]

    def interrupt_after_commits(self, n: int) -> None:
        """Accept ``n`` more commits, then hold the next one (``interrupted`` is set) until ``release()``,
        and answer it 503 without applying it: a push cut off mid-way."""
        self._commit_budget = n
        self.interrupted.clear()
        self._release.clear()

    def release(self) -> None:
        self._commit_budget = None
        self._release.set()

    def gate_commit(self) -> None:
        """Called by the commit route before it applies a commit (see ``interrupt_after_commits``)."""
        if self._commit_budget is None:
            return
        if self._commit_budget > 0:
            self._commit_budget -= 1
            return
        self.interrupted.set()
        self._release.wait(timeout=120)
        raise HubError(503, "the endpoint was told to cut this push off")


def _handler(hub: HubEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet: the requests go to hub.log
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            url = urlsplit(self.path)
            call = Call(
                hub, self.command, url.path, parse_qs(url.query), dict(self.headers.items()), self._body()
            )
            action, func = _route(self.command, url.path, call)
            try:
                func(call)
            except HubError as err:
                call.error(err)
            except Exception as err:  # a bug in a route: answer 500 so that the test sees it
                call.error(HubError(500, f"{type(err).__name__}: {err}"))
            repo = f"{call.match['ns']}/{call.match['name']}" if "ns" in call.match else None
            with hub.lock:
                hub.log.append(
                    Request(self.command, unquote(url.path), action, call.status, repo, call.detail)
                )
            self._send(call)

        def _send(self, call: Call) -> None:
            self.send_response(call.status)
            for k, v in call.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(call.out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(call.out)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve

    return Handler


def _route(method: str, path: str, call: Call) -> tuple[str, Callable[[Call], None]]:
    """The route's name and function (``call.match`` set to its named groups, unquoted)."""
    for methods, pattern, action, func in ROUTES:
        m = re.fullmatch(pattern, path)
        if m and method in methods.split("|"):
            call.match = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
            return action, func
    return "unknown", _no_route


def _no_route(call: Call) -> None:
    raise HubError(404, f"no route for {call.method} {call.path}")


def run_client(
    hub: HubEndpoint, home: str, code: str, token: str | None = "default", timeout: float = 120
) -> Any:
    """Run ``code`` in a fresh Python process that talks to ``hub`` (huggingface_hub reads its settings at
    import); the JSON it prints on its last line is returned. Raises with the process's output on failure."""
    env = {**os.environ, **hub.client_env(home, token)}
    if not token:
        env.pop("HF_TOKEN", None)
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"client failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])
