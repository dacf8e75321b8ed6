"""The read routes of tests/hub_endpoint.py (and ``Call``, the request they answer), one function per Hub
API call the pinned clients make."""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import yaml
from _hub_repos import DEFAULT_BRANCH, Blob, Commit, HubError, Repo

if TYPE_CHECKING:
    from hub_endpoint import HubEndpoint

TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
BAD_TOKEN = "Invalid credentials in Authorization header"


class Call:
    """One request: what came in (``match`` holds the route's named groups) and the answer being built."""

    def __init__(
        self,
        hub: HubEndpoint,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        self.hub, self.method, self.path, self.query, self.body = hub, method, path, query, body
        self.request_headers = {k.lower(): v for k, v in headers.items()}
        self.match: dict[str, str] = {}
        self.status, self.out, self.detail = 200, b"", ()
        self.headers: dict[str, str] = {}

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def flag(self, name: str) -> bool:
        return (self.param(name) or "").lower() in ("1", "true")

    def json_body(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise HubError(400, "the body is not JSON") from None

    def reply(self, obj: Any, status: int = 200, content_type: str = "application/json") -> None:
        self.status, self.out = status, json.dumps(obj).encode()
        self.headers["Content-Type"] = content_type

    def error(self, err: HubError) -> None:
        self.reply({"error": err.message}, err.status)
        self.headers["X-Error-Message"] = err.message.encode("ascii", "replace").decode()
        if err.code:
            self.headers["X-Error-Code"] = err.code

    def user(self) -> str | None:
        auth = self.request_headers.get("authorization", "")
        if not auth:
            return None
        token = auth.removeprefix("Bearer ").strip()
        if token not in self.hub.tokens:
            raise HubError(401, BAD_TOKEN)
        return self.hub.tokens[token]

    def can_write(self, user: str | None, namespace: str) -> bool:
        return user is not None and (user == namespace or namespace in self.hub.users.get(user, []))

    def repo(self, *, write: bool = False) -> Repo:
        """The repo the route names, as the caller may see it: 404 RepoNotFound for a missing repo or a
        private one the caller cannot read, 401/403 for a write without the rights."""
        kind = TYPES[self.match["types"]] if "types" in self.match else prefix_type(self.match.get("prefix"))
        repo_id = f"{self.match['ns']}/{self.match['name']}"
        user = self.user()
        with self.hub.lock:
            repo = self.hub.repos.get((kind, repo_id))
        if repo is None or (repo.private and not self.can_write(user, repo.namespace)):
            raise HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        if write and user is None:
            raise HubError(401, "You must be authenticated to write to a repository")
        if write and not self.can_write(user, repo.namespace):
            raise HubError(403, f"You don't have the rights to write to {repo_id}")
        return repo

    def repo_url(self, repo: Repo) -> str:
        return f"{self.hub.url}/{PREFIX[repo.type]}{repo.id}"


def prefix_type(prefix: str | None) -> str:
    return {"datasets/": "dataset", "spaces/": "space"}.get(prefix or "", "model")


# -- account and repos ------------------------------------------------------------------------------------


def whoami(call: Call) -> None:
    user = call.user()
    if user is None:
        raise HubError(401, "You must be authenticated")
    orgs = [{"type": "org", "name": o, "fullname": o} for o in call.hub.users[user]]
    call.reply(
        {
            "type": "user",
            "name": user,
            "fullname": user,
            "orgs": orgs,
            "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}},
        }
    )


def create_repo(call: Call) -> None:
    body = call.json_body() or {}
    user = call.user()
    if user is None:
        raise HubError(401, "You must be authenticated to create a repository")
    kind, name = body.get("type") or "model", str(body.get("name") or "")
    namespace = body.get("organization") or user
    if kind not in PREFIX or not NAME.match(name) or name in (".", "..") or ".." in name:
        raise HubError(400, f"Invalid repository name or type: {name!r} ({kind})")
    if not call.can_write(user, namespace):
        raise HubError(
            403, f"You don't have the rights to create a repository under the namespace {namespace}"
        )
    repo_id = f"{namespace}/{name}"
    with call.hub.lock:
        if (kind, repo_id) in call.hub.repos:
            url = call.repo_url(call.hub.repos[(kind, repo_id)])
            call.reply({"error": "You already created this repo", "url": url}, 409)
            return
        repo = Repo(kind, repo_id, private=body.get("visibility") == "private" or body.get("private") is True)
        call.hub.repos[(kind, repo_id)] = repo
    call.reply({"url": call.repo_url(repo), "name": repo_id, "id": repo_id})


def validate_yaml(call: Call) -> None:
    content = str((call.json_body() or {}).get("content", ""))
    errors = []
    meta: Any = {}
    m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.S)
    if m:
        try:
            meta = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            errors.append(f"Invalid YAML: {exc}")
    if not errors and not isinstance(meta, dict):
        errors.append("The metadata must be a mapping")
    for i, cfg in enumerate((meta.get("configs") or []) if isinstance(meta, dict) else []):
        if not isinstance(cfg, dict) or not isinstance(cfg.get("config_name"), str):
            errors.append(f'"configs[{i}]" must be a mapping with a string "config_name"')
    call.reply({"errors": [{"message": e} for e in errors], "warnings": []}, 400 if errors else 200)


def repo_info(call: Call) -> None:
    repo = call.repo()
    commit = repo.head(call.match.get("rev", DEFAULT_BRANCH))
    blobs = call.flag("blobs")
    siblings = [{"rfilename": p, **(_file_meta(b) if blobs else {})} for p, b in sorted(commit.files.items())]
    call.reply(
        {
            "_id": repo.id,
            "id": repo.id,
            "author": repo.namespace,
            "sha": commit.oid,
            "createdAt": repo.created_at,
            "lastModified": commit.date,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }
    )


def _file_meta(blob: Blob) -> dict:
    meta: dict[str, Any] = {"size": len(blob.data), "blobId": blob.oid}
    if blob.lfs:
        meta["lfs"] = {"sha256": blob.sha256, "size": len(blob.data), "pointerSize": len(blob.pointer)}
    return meta


# -- listing ----------------------------------------------------------------------------------------------


def _last_commit(repo: Repo, commit: Commit, path: str) -> dict:
    def state(c: Commit) -> list:
        return sorted((p, b.oid) for p, b in c.files.items() if p == path or p.startswith(path + "/"))

    mine, found = state(commit), commit
    for older in repo.history(commit.oid)[1:]:
        if state(older) != mine:
            break
        found = older
    return {"id": found.oid, "title": found.title, "date": found.date}


def _entry(repo: Repo, commit: Commit, path: str, expand: bool) -> dict | None:
    blob = commit.files.get(path)
    if blob is not None:
        out: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": len(blob.data), "path": path}
        if blob.lfs:
            out["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": len(blob.pointer)}
        if expand:
            out["securityFileStatus"] = {
                "status": "safe",
                "avScan": {"virusFound": False},
                "pickleImportScan": None,
            }
    else:
        inside = sorted((p, b.oid) for p, b in commit.files.items() if p.startswith(path + "/"))
        if not inside:
            return None
        oid = hashlib.sha1(json.dumps(inside).encode()).hexdigest()
        out = {"type": "directory", "oid": oid, "size": 0, "path": path}
    if expand:
        out["lastCommit"] = _last_commit(repo, commit, path)
    return out


def _children(commit: Commit, folder: str, recursive: bool) -> list[str]:
    prefix = f"{folder}/" if folder else ""
    paths: set[str] = set()
    for p in commit.files:
        if not p.startswith(prefix):
            continue
        parts = p[len(prefix) :].split("/")
        depth = len(parts) if recursive else 1
        paths.update(prefix + "/".join(parts[: i + 1]) for i in range(depth))
    return sorted(paths, key=lambda p: (p.count("/"), p not in commit.files, p))


def tree(call: Call) -> None:
    repo = call.repo()
    commit = repo.head(call.match["rev"])
    folder = call.match.get("file", "").strip("/")
    if folder and (folder in commit.files or _entry(repo, commit, folder, False) is None):
        raise HubError(404, f"{folder} does not exist on {call.match['rev']}", "EntryNotFound")
    expand = call.flag("expand")
    paths = _children(commit, folder, call.flag("recursive"))
    start = int(call.param("cursor") or 0)
    page = paths[start : start + call.hub.page_size]
    call.reply([_entry(repo, commit, p, expand) for p in page])
    if start + call.hub.page_size < len(paths):
        query = f"recursive={call.param('recursive') or 'false'}&expand={call.param('expand') or 'false'}"
        nxt = f"{call.hub.url}{quote(call.path)}?{query}&cursor={start + call.hub.page_size}"
        call.headers["Link"] = f'<{nxt}>; rel="next"'


def paths_info(call: Call) -> None:
    repo = call.repo()
    commit = repo.head(call.match["rev"])
    form = parse_qs(call.body.decode())
    expand = (form.get("expand", ["false"])[0]).lower() == "true"
    entries = [_entry(repo, commit, p.strip("/"), expand) for p in form.get("paths", [])]
    call.reply([e for e in entries if e is not None])


def commits(call: Call) -> None:
    repo = call.repo()
    call.reply(
        [
            {
                "id": c.oid,
                "title": c.title,
                "message": c.message,
                "authors": [{"user": c.author}],
                "date": c.date,
            }
            for c in repo.history(call.match["rev"])
        ]
    )


# -- downloads --------------------------------------------------------------------------------------------


def resolve(call: Call) -> None:
    repo = call.repo()
    commit = repo.head(call.match["rev"])
    blob = commit.files.get(call.match["file"])
    if blob is None:
        call.headers["X-Repo-Commit"] = commit.oid
        raise HubError(404, f"Entry not found: {call.match['file']}", "EntryNotFound")
    data, total = blob.data, len(blob.data)
    call.headers.update(
        {
            "ETag": f'"{blob.etag}"',
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
    )
    if blob.lfs:
        call.headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(total)})
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", call.request_headers.get("range", ""))
    if m and (m.group(1) or m.group(2)):
        if m.group(1):
            start, end = int(m.group(1)), min(int(m.group(2) or total - 1), total - 1)
        else:
            start, end = max(0, total - int(m.group(2))), total - 1
        if start >= total or start > end:
            call.headers["Content-Range"] = f"bytes */{total}"
            raise HubError(416, "Range Not Satisfiable")
        call.status, data = 206, data[start : end + 1]
        call.headers["Content-Range"] = f"bytes {start}-{end}/{total}"
    call.out = data
