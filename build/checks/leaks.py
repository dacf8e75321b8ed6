"""Leaks: absolute paths, this machine's user and host names and token-like strings in published text.

Names that identify nobody (root, runner...) and public names given as ``allowed`` (the manifest's Hub
``repo_id``) are not leaks. Binary files are searched for exact strings and tokens only, plus the text
chunks of a PNG file.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import socket
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

# The row columns that hold text.
TEXT_COLUMNS = ("id", "task", "subtype", "difficulty", "system", "question", "answer", "source", "params")
# Token-like strings: Hugging Face and GitHub tokens.
TOKEN_PATTERNS = (
    re.compile(r"hf_[A-Za-z0-9]{20,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
)
# Absolute paths: a common top-level folder after a '/' that does not continue a word or a relative path,
# a Windows drive or UNC path, a home-relative path, or a file:// URL.
TOP_DIRS = (
    "home|Users|root|tmp|var|private|mnt|media|opt|srv|data|scratch|work|workspace|content|nfs|gpfs|lustre|"
    "run|etc|usr|dev|proc|sys|Volumes|cluster|shared|storage|net|export|lus|fsx|efs|kaggle|teamspace"
)
ABS_PATH_PATTERNS = (
    re.compile(rf"(?<![\w.~-])/(?:{TOP_DIRS})/"),
    re.compile(r"(?<![\w])[A-Za-z]:\\[^\s\\]"),
    re.compile(r"(?<![\w\\])\\\\[\w.-]+\\"),
    re.compile(r"(?<![\w/])~/[\w.-]"),
    re.compile(r"file://", re.IGNORECASE),
)
# Account and host names that identify nobody (CI runners, containers): not flagged as leaks.
GENERIC_NAMES = frozenset(
    [
        "root",
        "user",
        "admin",
        "ubuntu",
        "debian",
        "nobody",
        "runner",
        "jovyan",
        "vscode",
        "codespace",
        "builder",
        "build",
        "docker",
        "node",
        "app",
        "localhost",
        "ci",
        "test",
        "runneradmin",
        "server",
        "host",
        "machine",
        "sandbox",
        "main",
        "data",
        "worker",
        "master",
        "default",
        "home",
    ]
)
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN")


def _this_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name available (some containers): nothing to look for
        return ""


@dataclass(frozen=True)
class MachineFacts:
    """What would identify a machine in published text: its home and working folders, user and host names.
    A build worker scans the rows it renders for its own machine's and for the driver's (on a cluster they
    differ)."""

    home: str
    cwd: str
    user: str
    host: str

    @classmethod
    def here(cls) -> MachineFacts:
        return cls(os.path.expanduser("~"), os.getcwd(), _this_user(), socket.gethostname() or "")


class LeakScanner:
    """Finds absolute paths, user and host names and token-like strings in text.

    ``user`` and ``host`` default to this machine's; ``allowed`` are public names that may contain them
    (the Hub repo id ``alice/videossr-30k``); ``machines``: other machines whose folders and names are
    looked for too (the build driver's, in a worker).
    """

    def __init__(
        self,
        folder: Path,
        allowed: tuple[str, ...] = (),
        *,
        user: str | None = None,
        host: str | None = None,
        machines: tuple[MachineFacts, ...] = (),
    ) -> None:
        self.allowed = tuple(a for a in allowed if a)
        self.exact: list[tuple[str, str]] = []  # (needle, what)
        here = MachineFacts.here()
        here = MachineFacts(
            here.home, here.cwd, here.user if user is None else user, here.host if host is None else host
        )
        folders = [("the dataset folder's absolute path", str(folder.resolve()))]
        for machine in (here, *machines):
            folders += [("the home folder", machine.home), ("the working folder", machine.cwd)]
        for what, value in folders:
            if value and value not in ("/", "~") and len(value) > 1 and (value, what) not in self.exact:
                self.exact.append((value, what))
        for var in TOKEN_VARIABLES:
            value = os.environ.get(var, "")
            if len(value) >= 8:
                self.exact.append((value, f"the value of ${var}"))
        self.names: list[tuple[re.Pattern[str], str]] = []
        for machine in (here, *machines):
            for value, what in (
                (machine.user, "the user name"),
                (machine.host, "the host name"),
                (machine.host.split(".")[0], "the host name"),
            ):
                if len(value) >= 3 and value.lower() not in GENERIC_NAMES:
                    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])")
                    if all(p.pattern != pattern.pattern for p, _ in self.names):
                        self.names.append((pattern, what))

    def find(self, text: str, *, binary: bool = False) -> list[str]:
        """What leaks in ``text`` (empty when nothing), each with a short excerpt (tokens masked).

        ``binary``: text decoded from binary data, where only exact strings and tokens are looked for (the
        path and name patterns would match random bytes).
        """
        found = []
        for needle, what in self.exact:
            if needle in text:
                found.append(f"{what} ({'<masked>' if 'TOKEN' in what else needle!r})")
        for pattern in TOKEN_PATTERNS:
            m = pattern.search(text)
            if m:
                found.append(f"a token-like string ({m.group(0)[:5]}…, {len(m.group(0))} characters)")
        if binary:
            return found
        for allowed in self.allowed:
            text = text.replace(allowed, " ")
        for pattern in ABS_PATH_PATTERNS:
            m = pattern.search(text)
            if m:
                found.append(f"an absolute path ({excerpt(text, m.start())!r})")
                break
        for pattern, what in self.names:
            m = pattern.search(text)
            if m:
                found.append(f"{what} ({excerpt(text, m.start())!r})")
        return found


def row_leaks(row: dict, scanner: LeakScanner) -> list[str]:
    """What leaks in one row's text columns and clip paths, one message each."""
    found = []
    for col in TEXT_COLUMNS:
        value = row.get(col)
        if isinstance(value, str):
            found += [f"column {col!r} contains {leak}" for leak in scanner.find(value)]
    for i, video in enumerate(row.get("videos") or []):
        path = (video or {}).get("path")
        if not isinstance(path, str):
            continue
        leaks = scanner.find(path)
        found += [f"clip {i} path contains {leak}" for leak in leaks]
        if not leaks and (path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path)):
            found.append(f"clip {i} path {path!r} is absolute")
    return found


def file_leaks(data: bytes, scanner: LeakScanner) -> list[str]:
    """What leaks in one published file's bytes: all of it when it is text; in a binary file (the preview
    picture) exact strings and tokens, and a PNG's text chunks in full."""
    try:
        leaks = scanner.find(data.decode("utf-8"))
    except UnicodeDecodeError:
        leaks = scanner.find(data.decode("latin-1"), binary=True)
        leaks += [f"{leak} in a text chunk" for leak in scanner.find(png_text(data))]
    return [f"contains {leak}" for leak in dict.fromkeys(leaks)]


def png_text(data: bytes) -> str:
    """The text chunks (tEXt, iTXt, zTXt) of a PNG file, joined; empty for anything else."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ""
    out, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt":
            out.append(body.decode("latin-1"))
        elif kind in (b"zTXt", b"iTXt"):
            key, _, rest = body.partition(b"\x00")
            text = rest[1:] if kind == b"zTXt" else rest[2:].split(b"\x00", 2)[-1]
            compressed = (kind == b"zTXt") or (len(rest) > 0 and rest[0] == 1)
            with contextlib.suppress(zlib.error):
                text = zlib.decompress(text) if compressed else text
            out.append(key.decode("latin-1") + " " + text.decode("utf-8", "replace"))
        pos += 12 + length
    return "\n".join(out)


def excerpt(text: str, at: int, width: int = 40) -> str:
    return text[max(0, at - 5) : at + width].replace("\n", " ")
