"""The write routes of tests/hub_endpoint.py: preupload, the LFS basic transfer, commits (to a branch or as a
pull request) and discussions."""

from __future__ import annotations

import base64
import hashlib
import json

from _hub_repos import Blob, Discussion, HubError, Repo, comment_event, event, is_lfs_path
from _hub_routes import PREFIX, Call, prefix_type

DISCUSSIONS_PER_PAGE = 50


def preupload(call: Call) -> None:
    repo = call.repo(write=not call.flag("create_pr"))
    commit = repo.head(call.match["rev"])
    files = []
    for f in (call.json_body() or {}).get("files", []):
        sample = base64.b64decode(f.get("sample") or "")
        existing = commit.files.get(f["path"])
        files.append(
            {
                "path": f["path"],
                "uploadMode": "lfs" if is_lfs_path(f["path"], f["size"], sample) else "regular",
                "shouldIgnore": False,
                "oid": existing.remote_oid if existing else None,
            }
        )
    call.reply({"files": files, "commitOid": commit.oid})


def lfs_batch(call: Call) -> None:
    repo = call.repo(write=True)
    body = call.json_body() or {}
    if body.get("operation") != "upload" or "basic" not in (body.get("transfers") or ["basic"]):
        raise HubError(400, "only basic uploads are served")
    objects = []
    for obj in body.get("objects", []):
        out = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
        if obj["oid"] not in repo.lfs:
            href = f"{call.hub.url}/lfs-objects/{PREFIX[repo.type]}{repo.id}/{obj['oid']}"
            out["actions"] = {"upload": {"href": href, "header": {}}, "verify": {"href": href, "header": {}}}
        objects.append(out)
    call.reply(
        {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
        content_type="application/vnd.git-lfs+json",
    )


def lfs_put(call: Call) -> None:
    """The basic transfer's upload URL (as a signed storage URL: no Authorization header comes with it)."""
    kind, oid = prefix_type(call.match.get("prefix")), call.match["oid"]
    repo = call.hub.repos.get((kind, f"{call.match['ns']}/{call.match['name']}"))
    if repo is None:
        raise HubError(404, "no such upload")
    if hashlib.sha256(call.body).hexdigest() != oid:
        raise HubError(400, f"the content does not hash to {oid}")
    with call.hub.lock:
        call.hub.lfs[oid] = call.body
        repo.lfs.add(oid)
    call.detail = (oid,)


def lfs_verify(call: Call) -> None:
    repo = call.repo(write=True)
    body = call.json_body() or {}
    if body.get("oid") not in repo.lfs or len(call.hub.lfs[body["oid"]]) != body.get("size"):
        raise HubError(404, f"object {body.get('oid')} was not uploaded")
    call.reply({"message": "ok"})


def commit(call: Call) -> None:
    create_pr = call.flag("create_pr")
    repo = call.repo(write=not create_pr)
    user = call.user() or "anonymous"
    lines = [json.loads(line) for line in call.body.decode().splitlines() if line.strip()]
    header = next((line["value"] for line in lines if line.get("key") == "header"), None)
    if not header or not header.get("summary"):
        raise HubError(400, "a commit needs a header with a summary")
    ops = [
        _operation(repo, call.hub.lfs, line["key"], line["value"])
        for line in lines
        if line.get("key") != "header"
    ]
    call.hub.gate_commit()
    with call.hub.lock:
        rev = call.match["rev"]
        base = repo.head(rev)
        parent = header.get("parentCommit")
        if parent and not base.oid.startswith(parent):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        pr = None
        if create_pr:
            if rev.removeprefix("refs/heads/") not in repo.branches:
                raise HubError(400, f"a pull request targets a branch, not {rev}")
            pr = repo.open_discussion(
                header["summary"], user, is_pr=True, description=header.get("description") or ""
            )
            pr.base, ref = rev.removeprefix("refs/heads/"), f"refs/pr/{pr.num}"
        else:
            ref = rev.removeprefix("refs/heads/")
            if ref not in repo.branches:
                raise HubError(400, f"{rev} is not a branch or a pull request")
        new = repo.apply(base, ops, header["summary"], header.get("description") or "", user)
        repo.branches[ref] = new.oid
        if ref.startswith("refs/pr/"):
            pr = pr or repo.discussion(int(ref[8:]))
            pr.events.append(event("commit", user, {"subject": new.title, "oid": new.oid}))
    call.detail = new.changed
    url = call.repo_url(repo)
    call.reply(
        {
            "commitUrl": f"{url}/commit/{new.oid}",
            "commitOid": new.oid,
            "success": True,
            "pullRequestUrl": f"{url}/discussions/{pr.num}" if create_pr and pr else None,
        }
    )


def _operation(
    repo: Repo, lfs_store: dict[str, bytes], key: str, value: dict
) -> tuple[str, str, Blob | None]:
    path = str(value.get("path", "")).strip("/")
    if not path or any(part in ("", ".", "..") for part in path.split("/")):
        raise HubError(400, f"invalid path {path!r}")
    if key == "file":
        return "add", path, Blob(base64.b64decode(value["content"]), lfs=False)
    if key == "lfsFile":
        if value.get("oid") not in repo.lfs:
            raise HubError(400, f"Your push was rejected: the LFS object of {path} was never uploaded")
        return "add", path, Blob(lfs_store[value["oid"]], lfs=True)
    if key in ("deletedFile", "deletedFolder"):
        return ("delete" if key == "deletedFile" else "delete-folder"), path, None
    raise HubError(400, f"unknown commit operation {key!r}")


# -- discussions and pull requests ------------------------------------------------------------------------


def _discussion_json(repo: Repo, d: Discussion) -> dict:
    return {
        "num": d.num,
        "title": d.title,
        "author": {"name": d.author},
        "createdAt": d.created_at,
        "status": d.status,
        "isPullRequest": d.is_pr,
        "repo": {"name": repo.id, "type": repo.type},
    }


def list_discussions(call: Call) -> None:
    repo = call.repo()
    kind, status, author = call.param("type"), call.param("status"), call.param("author")
    found = [
        d
        for d in reversed(repo.discussions)
        if (kind in (None, "all") or (kind == "pull_request") == d.is_pr)
        and (status in (None, "all") or d.status == status)
        and (author is None or d.author == author)
    ]
    start = int(call.param("p") or 0) * DISCUSSIONS_PER_PAGE
    page = found[start : start + DISCUSSIONS_PER_PAGE]
    call.reply(
        {
            "discussions": [_discussion_json(repo, d) for d in page],
            "count": len(found),
            "start": start,
            "numClosedDiscussions": sum(d.status != "open" for d in found),
        }
    )


def create_discussion(call: Call) -> None:
    repo = call.repo()
    user = call.user()
    if user is None:
        raise HubError(401, "You must be authenticated to open a discussion")
    body = call.json_body() or {}
    with call.hub.lock:
        d = repo.open_discussion(
            str(body.get("title", "")),
            user,
            is_pr=bool(body.get("pullRequest")),
            description=str(body.get("description", "")),
        )
        if d.is_pr:
            d.status = "draft"
    call.reply({"num": d.num, "url": f"{call.repo_url(repo)}/discussions/{d.num}"})


def discussion_details(call: Call) -> None:
    repo = call.repo()
    d = repo.discussion(int(call.match["num"]))
    out = {**_discussion_json(repo, d), "events": d.events, "diff": ""}
    if d.is_pr:
        out["changes"] = {"base": f"refs/heads/{d.base}", "mergeCommitId": d.merge_commit}
        out["filesWithConflicts"] = []
    call.reply(out)


def change_discussion(call: Call) -> None:
    repo = call.repo()
    user = call.user()
    if user is None:
        raise HubError(401, "You must be authenticated")
    d, action, body = repo.discussion(int(call.match["num"])), call.match["action"], call.json_body() or {}
    with call.hub.lock:
        if action == "comment":
            d.events.append(comment_event(user, str(body.get("comment", ""))))
            call.reply({"newMessage": d.events[-1]})
        elif action == "title":
            d.events.append(event("title-change", user, {"from": d.title, "to": body.get("title")}))
            d.title = str(body.get("title"))
            call.reply({"newTitle": d.events[-1]})
        elif action == "status":
            if not call.can_write(user, repo.namespace) and user != d.author:
                raise HubError(403, "only the author or the repo's owners change a discussion's status")
            d.status = str(body.get("status"))
            d.events.append(event("status-change", user, {"status": d.status}))
            call.reply({"newStatus": d.events[-1]})
        else:
            if not call.can_write(user, repo.namespace):
                raise HubError(403, "You don't have the rights to merge this pull request")
            repo.merge(d, user)
            call.reply({})
