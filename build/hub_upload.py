"""The Hub side of ``build/run.py --push``, on the methods of the pinned huggingface_hub (``HfApi.whoami``,
``create_repo``, ``list_repo_tree``, ``create_commit``).

Everything is checked before any repo is created: the token works and may write to each target namespace, the
repo ids are valid. Then, per dataset: create the repo if missing, list what the remote already holds, and
commit only the files that are missing or differ, data shards first in bounded commits (``COMMIT_MAX_FILES``,
``COMMIT_MAX_BYTES``), the card, manifest and preview last (with the deletion of shards the local build no
longer has), so an interrupted push leaves complete commits and a re-run sends only what is missing. Only
transient failures (connection errors, HTTP 408/429/5xx) are retried. No message carries the token.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .publish import LocalFile, Publishable, human, repo_ids

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

COMMIT_MAX_FILES = 8
COMMIT_MAX_BYTES = 2 * 1000**3
RETRIES = 3
BACKOFF_SECONDS = 5.0
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
TOKEN = re.compile(r"hf_[A-Za-z0-9]{8,}")
T = TypeVar("T")


class PushError(Exception):
    """A push that cannot go on; the message says what failed and what to do."""


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    url: str
    uploaded: int  # files sent
    uploaded_bytes: int
    unchanged: int  # files already on the Hub with the same content
    deleted: int  # shards on the Hub the local build no longer has
    commits: int


def _transport_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):  # huggingface_hub 2.x uses httpx2; earlier releases httpx
        try:
            found.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def is_transient(exc: BaseException) -> bool:
    """A connection error or an HTTP 408/429/5xx, also when wrapped (the client wraps LFS upload errors in a
    RuntimeError). Programming errors (AttributeError, TypeError...) and other HTTP errors never are."""
    from huggingface_hub.errors import HfHubHTTPError

    transport = _transport_errors()
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, HfHubHTTPError):
            return seen.response is not None and seen.response.status_code in TRANSIENT_STATUS
        if isinstance(seen, transport):
            return True
        if not isinstance(seen, RuntimeError):
            return False
        seen = seen.__cause__ or seen.__context__
    return False


def explain(exc: BaseException) -> str:
    """One line about a failure, with any token masked."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        first_line = (str(exc).splitlines() or [""])[0]
        text = f"HTTP {exc.response.status_code}: {exc.server_message or first_line}"
    else:
        cause = exc.__cause__ or exc.__context__
        text = f"{type(exc).__name__}: {exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
    text = " ".join(text.split())
    from huggingface_hub import get_token

    token = get_token()
    if token:
        text = text.replace(token, "<token>")
    return TOKEN.sub("hf_<masked>", text)[:500]


@dataclass(frozen=True)
class Retry:
    """Runs a Hub call, retried ``retries`` times on transient failures (waits ``backoff``, then twice as long
    each time); any other failure, or the last, becomes a ``PushError``."""

    retries: int = RETRIES
    backoff: float = BACKOFF_SECONDS
    out: Callable[[str], None] = print

    def __call__(self, what: str, call: Callable[[], T]) -> T:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                return call()
            except Exception as exc:
                if not is_transient(exc) or attempt == self.retries:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise PushError(f"{what} failed{tries}: {explain(exc)}") from None
                self.out(f"[push] {what}: {explain(exc)}; retrying in {delay:.0f}s")
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")


def check_account(api: HfApi, repo_namespaces: set[str] | None) -> str:
    """The account the token belongs to, after checking that it may write to every namespace."""
    from huggingface_hub import get_token
    from huggingface_hub.errors import HfHubHTTPError

    if getattr(api, "token", None) is None and get_token() is None:
        raise PushError("no Hub token: set HF_TOKEN or run `hf auth login` (a token with write access)")
    try:
        me = api.whoami()
    except HfHubHTTPError as exc:
        if exc.response is not None and exc.response.status_code == 401:
            raise PushError(
                "the Hub rejected the token (HF_TOKEN or `hf auth login`): log in again"
            ) from None
        raise PushError(f"could not check the Hub account: {explain(exc)}") from None
    except Exception as exc:
        raise PushError(f"could not reach the Hub to check the account: {explain(exc)}") from None
    name = str(me.get("name"))
    role = ((me.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise PushError(f"the token of {name} is read-only: create one with write access")
    orgs = {str(o.get("name")) for o in me.get("orgs") or []}
    denied = sorted((repo_namespaces or set()) - {name} - orgs)
    if denied:
        member = ", ".join(sorted(orgs)) or "no organization"
        raise PushError(f"the token's account {name} cannot write to the namespace {denied[0]!r} ({member})")
    return name


def same_content(local: LocalFile, remote: RepoFile | None) -> bool:
    """Whether the Hub already holds ``local`` (same size, then the same sha256 or git blob id)."""
    if remote is None or remote.size != local.size:
        return False
    if remote.lfs is not None:
        digest = hashlib.sha256()
        with open(local.local, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest() == remote.lfs.sha256
    data = local.local.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == remote.blob_id


def batches(files: list[LocalFile], max_files: int, max_bytes: int) -> list[list[LocalFile]]:
    """Consecutive groups of at most ``max_files`` files and ``max_bytes`` bytes (a larger file alone)."""
    out: list[list[LocalFile]] = []
    for f in files:
        if out and len(out[-1]) < max_files and sum(x.size for x in out[-1]) + f.size <= max_bytes:
            out[-1].append(f)
        else:
            out.append([f])
    return out


def remote_files(api: HfApi, repo_id: str, retry: Retry) -> dict[str, RepoFile]:
    from huggingface_hub.hf_api import RepoFile

    entries = retry(
        f"listing {repo_id}", lambda: list(api.list_repo_tree(repo_id, repo_type="dataset", recursive=True))
    )
    return {e.path: e for e in entries if isinstance(e, RepoFile)}


def _commit(
    api: HfApi, repo_id: str, adds: list[LocalFile], deletes: list[str], message: str, retry: Retry
) -> None:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    def once() -> object:
        # Fresh operations on every attempt: create_commit marks the ones it was given as used.
        ops: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=str(f.local)) for f in adds
        ]
        ops += [CommitOperationDelete(path_in_repo=p) for p in deletes]
        return api.create_commit(repo_id, operations=ops, commit_message=message, repo_type="dataset")

    retry(f"commit to {repo_id} ({message})", once)


def push_dataset(
    api: HfApi,
    contents: Publishable,
    repo_id: str,
    *,
    private: bool,
    retry: Retry,
    max_files: int = COMMIT_MAX_FILES,
    max_bytes: int = COMMIT_MAX_BYTES,
    out: Callable[[str], None] = print,
) -> PushResult:
    """Create ``repo_id`` if missing and commit what it lacks of ``contents``: shards in bounded batches,
    then the card, manifest and preview with the deletion of shards the local build no longer has."""
    url = str(
        retry(
            f"creating {repo_id}",
            lambda: api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True),
        )
    )
    remote = remote_files(api, repo_id, retry)
    todo = [f for f in contents.files if not same_content(f, remote.get(f.path))]
    local = {f.path for f in contents.files}
    stale = sorted(p for p in remote if p.startswith("data/") and p.endswith(".parquet") and p not in local)
    shards = [f for f in todo if f.path.startswith("data/")]
    card = [f for f in todo if not f.path.startswith("data/")]
    groups = batches(shards, max_files, max_bytes)
    name = contents.folder.name
    out(
        f"[push] {name} -> {repo_id}: {len(todo)} of {len(contents.files)} files to upload "
        f"({human(sum(f.size for f in todo))}), {len(contents.files) - len(todo)} already there"
    )
    for i, group in enumerate(groups, 1):
        out(
            f"[push] {name}: commit {i}/{len(groups)}: {len(group)} shards, "
            f"{human(sum(f.size for f in group))}"
        )
        _commit(api, repo_id, group, [], f"Add data shards ({i}/{len(groups)})", retry)
    if card or stale:
        what = ", ".join(f.path for f in card) + (f"; delete {len(stale)} old shards" if stale else "")
        out(f"[push] {name}: last commit: {what}")
        _commit(api, repo_id, card, stale, "Update the dataset card, manifest and preview", retry)
    _check_remote(api, contents, repo_id, retry)
    commits = len(groups) + bool(card or stale)
    return PushResult(
        repo_id,
        url,
        len(todo),
        sum(f.size for f in todo),
        len(contents.files) - len(todo),
        len(stale),
        commits,
    )


def _check_remote(api: HfApi, contents: Publishable, repo_id: str, retry: Retry) -> None:
    """After the push: every allowlisted file is on the Hub with its local size."""
    remote = remote_files(api, repo_id, retry)
    for f in contents.files:
        there = remote.get(f.path)
        if there is None or there.size != f.size:
            found = "missing" if there is None else f"{there.size:,} B, not {f.size:,} B"
            raise PushError(f"after the push, {f.path} on {repo_id} is {found}")


def push_all(
    contents: dict[str, Publishable],
    target: str | None,
    *,
    private: bool,
    api: HfApi | None = None,
    retry: Retry | None = None,
    max_files: int = COMMIT_MAX_FILES,
    max_bytes: int = COMMIT_MAX_BYTES,
    progress: bool = True,
    out: Callable[[str], None] = print,
) -> list[PushResult]:
    """Check the account and every target first (nothing is created when a check fails), then push each
    dataset folder."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import disable_progress_bars

    if not progress:
        disable_progress_bars()
    api = api or HfApi()
    retry = retry or Retry(out=out)
    try:
        targets = repo_ids(list(contents), target)
    except ValueError as exc:
        raise PushError(str(exc)) from None
    namespaces = {r.split("/")[0] for r in targets.values()} if target else None
    account = check_account(api, namespaces)
    if not target:
        targets = repo_ids(list(contents), None, account=account)
    results = []
    for name, repo_id in targets.items():
        try:
            result = push_dataset(
                api,
                contents[name],
                repo_id,
                private=private,
                retry=retry,
                max_files=max_files,
                max_bytes=max_bytes,
                out=out,
            )
        except PushError as exc:
            raise PushError(
                f"{exc} (re-run the same command to resume: what is on the Hub is kept)"
            ) from None
        out(
            f"[push] {name} -> {result.url} ({result.commits} commits, "
            f"{result.uploaded} files uploaded, {result.unchanged} unchanged, "
            f"{result.deleted} old shards deleted)"
        )
        results.append(result)
    return results
