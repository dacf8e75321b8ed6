"""The repositories behind tests/hub_endpoint.py: git-like commits, LFS objects, branches and pull requests,
held in memory.

A commit is a full snapshot (path -> blob); blobs are shared between commits, so a snapshot costs one dict.
Object ids follow git where clients compare them: a blob's id is git's sha1 of its content (of its LFS
pointer for LFS files) and an LFS file is also known by the sha256 of its content.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

# Paths stored as LFS whatever their size, as the Hub's default .gitattributes does; larger files too.
LFS_SUFFIXES = (
    ".parquet",
    ".arrow",
    ".png",
    ".jpg",
    ".jpeg",
    ".mp4",
    ".webm",
    ".bin",
    ".safetensors",
    ".pt",
    ".zip",
    ".tar",
    ".gz",
    ".npy",
    ".npz",
    ".pkl",
)
REGULAR_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BRANCH = "main"


class HubError(Exception):
    """An error the endpoint answers with ``status`` and the Hub's ``X-Error-Code`` (when it has one)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def is_lfs_path(path: str, size: int, sample: bytes) -> bool:
    """The upload mode the endpoint assigns: LFS for data suffixes, big files and binary content."""
    return path.lower().endswith(LFS_SUFFIXES) or size > REGULAR_MAX_BYTES or b"\0" in sample


@dataclass(frozen=True)
class Blob:
    data: bytes = field(repr=False)
    lfs: bool

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def pointer(self) -> bytes:
        spec = "version https://git-lfs.github.com/spec/v1"
        return f"{spec}\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()

    @cached_property
    def oid(self) -> str:
        """git's object id: of the content, or of the LFS pointer for LFS files."""
        return git_blob_oid(self.pointer if self.lfs else self.data)

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self.oid

    @property
    def remote_oid(self) -> str:
        """What preupload reports as a file's ``oid`` (the client compares it to its own hash of the file)."""
        return self.sha256 if self.lfs else self.oid


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    message: str
    author: str
    date: str
    files: dict[str, Blob]
    changed: tuple[str, ...] = ()  # paths added or deleted by this commit, in operation order


@dataclass
class Discussion:
    num: int
    title: str
    author: str
    is_pr: bool
    created_at: str
    events: list[dict] = field(default_factory=list)
    status: str = "open"
    base: str = DEFAULT_BRANCH  # the branch a pull request targets
    merge_commit: str | None = None


_ids = itertools.count(1)


def _commit_oid(parent: str | None, title: str, files: dict[str, Blob]) -> str:
    h = hashlib.sha1(f"{parent}\n{title}\n{next(_ids)}".encode())
    for path in sorted(files):
        h.update(f"{path}\0{files[path].oid}\n".encode())
    return h.hexdigest()


@dataclass
class Repo:
    type: str  # model | dataset | space
    id: str
    private: bool
    created_at: str = field(default_factory=now)
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    discussions: list[Discussion] = field(default_factory=list)
    lfs: set[str] = field(default_factory=set)  # sha256 of the LFS objects uploaded to this repo

    def __post_init__(self) -> None:
        gitattributes = Blob(
            b"".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n".encode() for s in LFS_SUFFIXES), lfs=False
        )
        files = {".gitattributes": gitattributes}
        first = Commit(
            _commit_oid(None, "initial commit", files),
            None,
            "initial commit",
            "",
            "system",
            now(),
            files,
            (".gitattributes",),
        )
        self.commits[first.oid] = first
        self.branches[DEFAULT_BRANCH] = first.oid

    @property
    def namespace(self) -> str:
        return self.id.split("/")[0]

    def head(self, revision: str = DEFAULT_BRANCH) -> Commit:
        """A branch, ``refs/heads/<branch>``, ``refs/pr/<n>``, or a full or 7+ character commit id."""
        revision = revision.removeprefix("refs/heads/")
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision.startswith("refs/pr/") and revision[8:].isdigit():
            ref = f"refs/pr/{int(revision[8:])}"
            if ref in self.branches:
                return self.commits[self.branches[ref]]
        if len(revision) >= 7 and all(c in "0123456789abcdef" for c in revision):
            found = [c for oid, c in self.commits.items() if oid.startswith(revision)]
            if len(found) == 1:
                return found[0]
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def history(self, revision: str) -> list[Commit]:
        out, commit = [], self.head(revision)
        while commit is not None:
            out.append(commit)
            commit = self.commits.get(commit.parent) if commit.parent else None
        return out

    def apply(
        self, base: Commit, ops: list[tuple[str, str, Blob | None]], title: str, message: str, author: str
    ) -> Commit:
        """A new commit on top of ``base``: ops are ``("add", path, blob)``, ``("delete", path, None)`` or
        ``("delete-folder", path, None)``."""
        files = dict(base.files)
        for kind, path, blob in ops:
            if kind == "add":
                if any(p.startswith(path + "/") for p in files):
                    raise HubError(400, f"{path} is a folder in the repository", None)
                files[path] = blob  # type: ignore[assignment]
            elif kind == "delete":
                if path not in files:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            else:
                inside = [p for p in files if p.startswith(path.rstrip("/") + "/")]
                if not inside:
                    raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in inside:
                    del files[p]
        commit = Commit(
            _commit_oid(base.oid, title, files),
            base.oid,
            title,
            message,
            author,
            now(),
            files,
            tuple(p for _, p, _ in ops),
        )
        self.commits[commit.oid] = commit
        return commit

    def open_discussion(self, title: str, author: str, *, is_pr: bool, description: str) -> Discussion:
        d = Discussion(len(self.discussions) + 1, title, author, is_pr, now())
        d.events.append(comment_event(author, description))
        self.discussions.append(d)
        if is_pr:
            self.branches[f"refs/pr/{d.num}"] = self.branches[DEFAULT_BRANCH]
        return d

    def discussion(self, num: int) -> Discussion:
        if not 1 <= num <= len(self.discussions):
            raise HubError(404, f"Discussion {num} not found", None)
        return self.discussions[num - 1]

    def merge(self, d: Discussion, author: str) -> Commit:
        """Apply the pull request's changes (its files that differ from where it started) onto its base."""
        if not d.is_pr or d.status not in ("open", "draft"):
            raise HubError(400, f"Discussion {d.num} is not an open pull request", None)
        pr_head = self.head(f"refs/pr/{d.num}")
        start = next(c for c in self.history(f"refs/pr/{d.num}") if c.oid not in self._pr_only(d))
        ops: list[tuple[str, str, Blob | None]] = []
        for path, blob in pr_head.files.items():
            if start.files.get(path) is not blob:
                ops.append(("add", path, blob))
        base = self.head(d.base)
        ops += [("delete", p, None) for p in start.files if p not in pr_head.files and p in base.files]
        merged = self.apply(base, ops, f"Merge pull request #{d.num}: {d.title}", "", author)
        self.branches[d.base] = merged.oid
        d.status, d.merge_commit = "merged", merged.oid
        d.events.append(event("status-change", author, {"status": "merged"}))
        return merged

    def _pr_only(self, d: Discussion) -> set[str]:
        return {e["data"]["oid"] for e in d.events if e["type"] == "commit"}


def event(kind: str, author: str, data: dict) -> dict:
    return {
        "id": f"{next(_ids):024x}",
        "type": kind,
        "createdAt": now(),
        "author": {"name": author},
        "data": data,
    }


def comment_event(author: str, text: str) -> dict:
    return event("comment", author, {"edited": False, "hidden": False, "latest": {"raw": text, "html": text}})
