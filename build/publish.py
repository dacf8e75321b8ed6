"""Publish built dataset folders to the Hugging Face Hub: exactly the allowlisted files, after verify passed.

``ALLOWLIST`` is the one definition of what leaves the machine: push, ``--push --dry-run`` and verify's leak
scan all read a folder through :func:`publishable`. Everything else in the folder (the build's ``.work/``,
caches, dotfiles such as ``.env``, stray files, symbolic links) is listed as left out and never uploaded.
The Hub side (account check, batched resumable commits) is :mod:`videossr.build.hub_upload`.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ALLOWLIST = ("README.md", "build_manifest.json", "preview.png", "data/**/*.parquet")
REQUIRED = ("README.md", "build_manifest.json")  # a built folder has both (preview.png is optional)
ACCOUNT = "<your account>"  # the namespace a bare --push resolves to (from the token, at push time)


@dataclass(frozen=True)
class LocalFile:
    path: str  # in the repo (POSIX, relative)
    local: Path
    size: int


@dataclass(frozen=True)
class LeftOut:
    path: str  # relative; a folder ends with "/"
    reason: str


@dataclass
class Publishable:
    """What push uploads from a folder, and what it leaves out (with why)."""

    folder: Path
    files: list[LocalFile] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def num_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def missing(self) -> list[str]:
        have = {f.path for f in self.files}
        out = [name for name in REQUIRED if name not in have]
        if not any(f.path.startswith("data/") for f in self.files):
            out.append("data/**/*.parquet")
        return out


def _match(pattern: list[str], parts: list[str], prefix: bool = False) -> bool:
    """Glob match of path segments: ``**`` spans any number of segments, ``*`` stays within one; a hidden
    segment (leading ``.``) never matches. ``prefix``: whether ``parts`` is a folder that may hold a match."""
    if any(p.startswith(".") for p in parts):
        return False
    if not pattern:
        return not parts
    if not parts:
        return prefix
    if pattern[0] == "**":
        return _match(pattern[1:], parts, prefix) or _match(pattern, parts[1:], prefix)
    return fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:], parts[1:], prefix)


def allowlisted(rel: str, *, folder: bool = False) -> bool:
    """Whether the relative POSIX path ``rel`` is allowlisted (``folder``: may hold allowlisted files)."""
    parts = rel.split("/")
    return any(_match(p.split("/"), parts, prefix=folder) for p in ALLOWLIST)


def _reason(rel: str, is_dir: bool) -> str:
    name = rel.rsplit("/", 1)[-1]
    if name.startswith("."):
        return "hidden"
    if rel.startswith("data/") and not is_dir:
        return "not a parquet shard"
    return "not on the allowlist"


def publishable(folder: str | os.PathLike) -> Publishable:
    """Walk ``folder`` (symbolic links are never followed): the allowlisted regular files, sorted, and the
    entries left out. A folder that cannot hold allowlisted files is one entry, not walked."""
    out = Publishable(Path(folder))

    def walk(path: Path, rel: str) -> None:
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            name = f"{rel}{entry.name}"
            if entry.is_symlink():
                out.left_out.append(LeftOut(name, "a symbolic link"))
            elif entry.is_dir(follow_symlinks=False):
                if allowlisted(name, folder=True):
                    walk(Path(entry.path), f"{name}/")
                else:
                    out.left_out.append(LeftOut(f"{name}/", _reason(name, True)))
            elif not entry.is_file(follow_symlinks=False):
                out.left_out.append(LeftOut(name, "not a regular file"))
            elif allowlisted(name):
                out.files.append(LocalFile(name, Path(entry.path), entry.stat(follow_symlinks=False).st_size))
            else:
                out.left_out.append(LeftOut(name, _reason(name, False)))

    walk(out.folder, "")
    return out


def repo_ids(datasets: list[str], target: str | None, account: str = ACCOUNT) -> dict[str, str]:
    """``--push`` with nothing: ``<account>/<dataset>``; ``--push NS``: ``NS/<dataset>``; ``--push NS/NAME``
    (one dataset only): exactly that repo. Raises ``ValueError`` naming a bad repo id."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if target and "/" in target:
        if len(datasets) != 1:
            raise ValueError(
                f"{target} names one repo but {len(datasets)} datasets are built; give a namespace"
            )
        out = {datasets[0]: target}
    else:
        out = {d: f"{target or account}/{d}" for d in datasets}
    for repo_id in out.values():
        if account == ACCOUNT and not target:
            continue  # the account is resolved from the token at push time
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            raise ValueError(f"{repo_id!r} is not a valid Hub repo id: {str(exc).splitlines()[0]}") from None
    return out


def human(num_bytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if num_bytes < 1000 or unit == "GB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    return ""


def describe(name: str, repo_id: str, contents: Publishable, private: bool) -> list[str]:
    """Lines listing what a push of ``contents`` to ``repo_id`` sends: every file with its size, what is left
    out."""
    lines = [f"{name} -> {repo_id} ({'private' if private else 'public'} dataset repo, created if missing)"]
    width = max((len(f"{f.size:,}") for f in contents.files), default=1)
    lines += [f"  {f.size:>{width},} B  {f.path}" for f in contents.files]
    lines.append(f"  {len(contents.files)} files, {contents.num_bytes:,} B ({human(contents.num_bytes)})")
    lines += [f"  left out: {e.path} ({e.reason})" for e in contents.left_out]
    return lines


def gate(verify: dict[str, int] | None, names: list[str], allow_unverified: bool) -> str | None:
    """Why a push must not happen (``None`` when it may): verify skipped, or problems found."""
    if allow_unverified:
        return None
    if verify is None:
        return "verify was skipped (--no-verify)"
    bad = [f"{n} ({verify[n]} problem(s))" for n in names if verify.get(n, 0)]
    return f"verify found problems in {', '.join(bad)}" if bad else None


def push_command(
    datasets: list[tuple[str, Path]],
    target: str | None,
    *,
    private: bool,
    dry_run: bool,
    verify: dict[str, int] | None,
    allow_unverified: bool,
    progress: bool = True,
    out: Callable[[str], None] = print,
) -> int:
    """``build/run.py --push``: refuse (1) when the gate says no, print the plan on ``--dry-run``, else push
    every dataset; 0 when all went well."""
    names = [n for n, _ in datasets]
    contents = {n: publishable(folder) for n, folder in datasets}
    for n, c in contents.items():
        if c.missing():
            print(
                f"error: {n} is not a built dataset folder: {', '.join(c.missing())} missing", file=sys.stderr
            )
            return 1
    refused = gate(verify, names, allow_unverified)
    if dry_run:
        out("\n[push] dry run: nothing is created or uploaded")
        for n, repo_id in repo_ids(names, target).items():
            out("\n".join(f"[push] {line}" for line in describe(n, repo_id, contents[n], private)))
        out("[push] a file already on the Hub with the same content is not uploaded again")
        if refused:
            out(f"[push] a real push would be refused: {refused} (--push-unverified overrides)")
        return 0
    if refused:
        print(
            f"error: not pushing: {refused}. Fix the dataset and re-run, or pass --push-unverified to "
            "publish it anyway. Nothing was created on the Hub.",
            file=sys.stderr,
        )
        return 1
    from .hub_upload import PushError, push_all

    try:
        push_all(contents, target, private=private, progress=progress, out=out)
    except PushError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
