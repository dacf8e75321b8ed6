"""Check a built dataset repo (a folder laid out as a Hub dataset) before anyone trains or evaluates on it.

Usage::

    python build/verify.py videossr-30k --other viubench      # exit 0 when clean, 1 with every problem listed
    python build/verify.py FOLDER --json                      # the report as JSON

or from Python: ``verify_repo(folder, other=None, decode=True, load=True) -> VerifyReport``.

What is checked (each problem names the row id / shard / file and what is wrong):

* **schema** - every shard's columns and Arrow types equal :func:`videossr.build.schema.features` (with the
  ``huggingface`` metadata that makes ``videos`` a list of ``Video``); unreadable shards.
* **clips** - ``len(videos) == len(fps) == len(num_frames) == len(frame_times)``; every ``frame_times`` list
  has ``num_frames`` entries; every clip decodes with the system's ffmpeg (the FFmpeg ``datasets``/torchcodec
  decode with; no torch needed; 16 clips per ffmpeg process, a clip that stops one is found and reported
  alone) to exactly ``num_frames`` frames of its stream's size; its stream, as the build's guarded decoder
  reads it (ffprobe's conventions), is H.264 yuv420p without rotation at a container rate equal to ``fps``
  (relative tolerance 1e-4); counting clips have the params ``frame_size``.
* **answers** - ``params`` is a JSON object with the keys its task needs; the answer parses with the task's
  strict parser and equals the answer re-derived from ``params`` (grounding interval, counting counts, jigsaw
  order); subtype/difficulty/clip counts/fps agree with ``params``; ``frame_times`` are the planned source
  frames (``source_indices / source_fps``; a grounding reorder in its params order, jigsaw clips in their shown
  order, and the answer's play order gives increasing times); counting layouts obey their limits; the system
  prompt and question are the task's; the question has one ``<video>`` marker per clip.
* **composition** - rows per task / subtype / difficulty and per config match ``build_manifest.json`` and the
  README's ``dataset_info``; the README ``configs`` globs match exactly the shards on disk; shard names carry
  the manifest fingerprint; ids are unique; source ids are relative (no ``..``) and the manifest's ``sources``
  list exactly the rows' sources; no row comes from a source or is a sample the manifest lists as skipped.
* **overlap** - no source id is in both FOLDER and ``--other`` (VideoSSR-30K vs VIUBench).
* **load** - ``load_dataset(FOLDER)`` (fresh temporary cache) loads every row and decodes the first clip.
* **leak** - no absolute path, user name, host name or token-like string in any row's text columns, video
  ``path``, the README, the manifest, the shards' schema metadata or any other published file (binary files:
  exact strings, tokens and PNG text chunks). Names that identify nobody (root, runner...) and the manifest's
  public ``repo_id`` are not leaks.

Exactly the files a push uploads are checked (``publish.ALLOWLIST``: README.md, build_manifest.json,
preview.png, ``data/**/*.parquet``); everything else in the folder (hidden work files such as ``.work/``,
stray files, symbolic links) is never uploaded and is listed as a note, not a problem. Problems make
``report.ok`` false and the CLI exit 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, this file's folder (build/, the videossr.build package) would be first on sys.path and
    # its modules could shadow installed packages: drop it (as build/run.py does).
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import getpass
import itertools
import json
import math
import os
import re
import socket
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from videossr.build.frames import DecodeError, FrameSampler
from videossr.build.publish import publishable
from videossr.build.render import FFmpegError, ProbeResult, run_ffmpeg
from videossr.build.repo import open_shard
from videossr.build.schema import COLUMNS, clip_filename
from videossr.tasks import counting, grounding, jigsaw
from videossr.tasks.parsing import parse_counts, parse_interval, parse_permutation
from videossr.tasks.perturbations import PERTURBATIONS
from videossr.tasks.prompts import (
    COUNTING_QUESTION,
    SYSTEM_PROMPT,
    VIDEO_TOKEN,
    grounding_question,
    jigsaw_question,
    single_video_question,
)
from videossr.tasks.sample import TASK_NAMES

MANIFEST = "build_manifest.json"
README = "README.md"
TEXT_COLUMNS = ("id", "task", "subtype", "difficulty", "system", "question", "answer", "source", "params")
FPS_REL_TOL = 1e-4  # ffmpeg stores the rate as a rational (limit_denominator(1e6)): far below this
TIME_ABS_TOL = 1e-6
BATCH_ROWS = 64
DECODE_TIMEOUT = 60.0  # seconds per clip
SHARD_NAME = re.compile(r"^train-(?P<fp>[0-9a-f]+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.parquet$")
LEFTOVER = re.compile(r"^(\.staging-|\.old-data-|\..*\.tmp-)")  # the writer's work names (repo.py)

# Leaks. Token-like strings: Hugging Face and GitHub tokens.
TOKEN_PATTERNS = (
    re.compile(r"hf_[A-Za-z0-9]{20,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
)
# Absolute paths: a common top-level folder after a '/' that does not continue a word or a relative path,
# a Windows drive or UNC path, a home-relative path, or a file:// URL.
_TOP_DIRS = (
    "home|Users|root|tmp|var|private|mnt|media|opt|srv|data|scratch|work|workspace|content|nfs|gpfs|lustre|"
    "run|etc|usr|dev|proc|sys|Volumes|cluster|shared|storage|net|export|lus|fsx|efs|kaggle|teamspace"
)
ABS_PATH_PATTERNS = (
    re.compile(rf"(?<![\w.~-])/(?:{_TOP_DIRS})/"),
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


# ----------------------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Problem:
    """One thing wrong: which check found it, where (row id / shard / file) and what."""

    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class VerifyReport:
    folder: str
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # what was checked, counted
    skipped: list[str] = field(default_factory=list)  # checks not run, and why
    notes: list[str] = field(default_factory=list)  # harmless findings (not problems)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, check: str, where: str, message: str) -> None:
        self.problems.append(Problem(check, where, message))

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def by_check(self) -> dict[str, int]:
        return dict(sorted(Counter(p.check for p in self.problems).items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "ok": self.ok,
            "num_problems": len(self.problems),
            "problems": [asdict(p) for p in self.problems],
            "checked": dict(sorted(self.checked.items())),
            "skipped": list(self.skipped),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 2),
        }

    def format(self) -> str:
        c = self.checked
        lines = [
            f"verify {self.folder}: {c.get('rows', 0)} rows in {c.get('shards', 0)} shards, "
            f"{c.get('clips_decoded', 0)} clips ({c.get('frames_decoded', 0)} frames) decoded, "
            f"{c.get('answers', 0)} answers re-derived, {c.get('configs', 0)} configs, "
            f"{c.get('files_scanned', 0)} files scanned for leaks ({self.seconds:.1f}s)"
        ]
        for s in self.skipped:
            lines.append(f"  not checked: {s}")
        for s in self.notes:
            lines.append(f"  note: {s}")
        if self.ok:
            lines.append("OK: no problems")
        else:
            kinds = ", ".join(f"{k} {n}" for k, n in self.by_check().items())
            lines.append(f"FAILED: {len(self.problems)} problem(s) ({kinds})")
            lines.extend(f"  - {p}" for p in self.problems)
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# Leaks


class LeakScanner:
    """Finds absolute paths, this machine's user and host names and token-like strings in text."""

    def __init__(self, folder: Path, allowed: tuple[str, ...] = ()) -> None:
        # Public names that may contain the user name (the Hub repo id "alice/videossr-30k").
        self.allowed = tuple(a for a in allowed if a)
        self.exact: list[tuple[str, str]] = []  # (needle, what)
        for what, value in (
            ("the dataset folder's absolute path", str(folder.resolve())),
            ("the home folder", os.path.expanduser("~")),
            ("the working folder", os.getcwd()),
        ):
            if value and value not in ("/", "~") and len(value) > 1:
                self.exact.append((value, what))
        for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN"):
            value = os.environ.get(var, "")
            if len(value) >= 8:
                self.exact.append((value, f"the value of ${var}"))
        self.names: list[tuple[re.Pattern[str], str]] = []
        try:
            user = getpass.getuser()
        except Exception:  # no user name available (some containers): nothing to look for
            user = ""
        host = socket.gethostname() or ""
        for value, what in (
            (user, "the user name"),
            (host, "the host name"),
            (host.split(".")[0], "the host name"),
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
                found.append(f"an absolute path ({_excerpt(text, m.start())!r})")
                break
        for pattern, what in self.names:
            m = pattern.search(text)
            if m:
                found.append(f"{what} ({_excerpt(text, m.start())!r})")
        return found


def _png_text(data: bytes) -> str:
    """The text chunks (tEXt, iTXt, zTXt) of a PNG file, joined; empty for anything else."""
    import struct
    import zlib

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


def _excerpt(text: str, at: int, width: int = 40) -> str:
    return text[max(0, at - 5) : at + width].replace("\n", " ")


# ----------------------------------------------------------------------------------------------------------
# Reading the repo


def _rel(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def _list_shards(folder: Path) -> list[Path]:
    """The shards a push uploads (publish.ALLOWLIST: ``data/**/*.parquet``, regular files, none hidden)."""
    return [f.local for f in publishable(folder).files if f.path.startswith("data/")]


def _read_readme(folder: Path, report: VerifyReport) -> dict[str, Any] | None:
    path = folder / README
    if not path.is_file():
        report.add("readme", README, "missing: the folder has no dataset card")
        return None
    text = path.read_text("utf-8", errors="replace")
    if not text.startswith("---"):
        report.add("readme", README, "has no YAML front matter (configs, dataset_info)")
        return None
    end = text.find("\n---", 3)
    if end < 0:
        report.add("readme", README, "YAML front matter is not closed by a '---' line")
        return None
    try:
        import yaml
    except ImportError:
        report.skipped.append("README YAML (configs, dataset_info): PyYAML is not installed")
        return None
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError as exc:
        report.add("readme", README, f"YAML front matter does not parse: {str(exc).splitlines()[0]}")
        return None
    if not isinstance(meta, dict):
        report.add("readme", README, "YAML front matter is not a mapping")
        return None
    return meta


def _read_manifest(folder: Path, report: VerifyReport) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        report.add("manifest", MANIFEST, "missing")
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.add("manifest", MANIFEST, f"is not valid JSON: {exc}")
        return None
    if not isinstance(manifest, dict):
        report.add("manifest", MANIFEST, "is not a JSON object")
        return None
    return manifest


def _expected_features() -> Any | None:
    try:
        from videossr.build.schema import features

        return features()
    except ImportError:
        return None


def _check_schema(schema: pa.Schema, where: str, expected: Any | None, report: VerifyReport) -> list[str]:
    """Compare a shard's schema to the row schema; return the expected columns it has."""
    names = schema.names
    present = [c for c in COLUMNS if c in names]
    for col in COLUMNS:
        if col not in names:
            report.add("schema", where, f"missing column {col!r}")
    for col in names:
        if col not in COLUMNS:
            report.add("schema", where, f"unexpected column {col!r}")
    if expected is None:
        return present
    want = expected.arrow_schema
    for col in present:
        got_t, want_t = schema.field(col).type, want.field(col).type
        if not got_t.equals(want_t):
            report.add("schema", where, f"column {col!r} has type {got_t}, expected {want_t}")
    if names != list(COLUMNS) and set(names) == set(COLUMNS):
        report.add("schema", where, f"columns are in the order {names}, expected {list(COLUMNS)}")
    meta = (schema.metadata or {}).get(b"huggingface")
    if meta is None:
        report.add(
            "schema", where, "no 'huggingface' schema metadata: datasets will not see `videos` as Video"
        )
    else:
        try:
            from datasets import Features

            got = Features.from_dict(json.loads(meta)["info"]["features"])
        except Exception as exc:  # metadata that datasets cannot read
            report.add("schema", where, f"'huggingface' schema metadata is unreadable: {exc}")
        else:
            if got != expected:
                diff = [k for k in set(got) | set(expected) if got.get(k) != expected.get(k)]
                report.add("schema", where, f"datasets features differ from the row schema in {sorted(diff)}")
    return present


# ----------------------------------------------------------------------------------------------------------
# Row checks (no decoding)


def _close(a: float, b: float, rel: float = FPS_REL_TOL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=TIME_ABS_TOL)


def _need(params: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if k not in params]
    if missing:
        raise KeyError(f"params lacks {', '.join(repr(k) for k in missing)}")


def _check_grounding(row: dict, params: dict, add: Callable[[str, str], None]) -> None:
    _need(params, "segment_start", "segment_length", "frame_step", "perturbation", "num_frames")
    start, length, step = (
        int(params["segment_start"]),
        int(params["segment_length"]),
        float(params["frame_step"]),
    )
    n = int(params["num_frames"])
    if row.get("subtype") != params["perturbation"]:
        add(
            "answer",
            f"subtype {row.get('subtype')!r} is not the params perturbation {params['perturbation']!r}",
        )
    if row.get("difficulty") != grounding.DIFFICULTY:
        add(
            "answer", f"difficulty {row.get('difficulty')!r}, expected {grounding.DIFFICULTY!r} for grounding"
        )
    if not (start >= 0 and length >= 1 and start + length <= n) or step <= 0:
        add("params", f"segment {start}+{length} of {n} frames, frame_step {step}: impossible")
    expected = grounding.format_interval(start * step, (start + length) * step)
    answer = row.get("answer")
    if parse_interval(answer) is None:
        add("answer", f"answer {answer!r} does not parse as a grounding interval")
    if answer != expected:
        add(
            "answer",
            f"answer {answer!r} != {expected!r} re-derived from params (segment {start}+{length}, step {step})",
        )
    _check_single_clip(row, params, n, add)
    pert = PERTURBATIONS.get(str(params["perturbation"]))
    if pert is not None:
        want_q = single_video_question(grounding_question(pert.description))
        if row.get("question") is not None and row.get("question") != want_q:
            add("question", "the question is not the grounding prompt of its perturbation")


def _check_single_clip(row: dict, params: dict, n: int, add: Callable[[str, str], None]) -> None:
    videos_n = _num_clips(row)
    if videos_n is not None and videos_n != 1:
        add("clips", f"{row.get('task')} has {videos_n} clips, expected 1")
    nf = row.get("num_frames")
    if isinstance(nf, list) and nf and nf[0] != n:
        add("params", f"num_frames {nf[0]} != params num_frames {n}")
    _check_fps_and_times(row, params, add)


def _num_clips(row: dict) -> int | None:
    for col in ("videos", "num_frames", "fps", "frame_times"):
        if isinstance(row.get(col), list):
            return len(row[col])
    return None


def _check_fps_and_times(row: dict, params: dict, add: Callable[[str, str], None]) -> None:
    step = params.get("frame_step")
    fps = row.get("fps")
    if isinstance(step, (int, float)) and step > 0 and isinstance(fps, list):
        for i, f in enumerate(fps):
            if isinstance(f, (int, float)) and not _close(f, 1.0 / step):
                add("params", f"clip {i} fps {f} != 1 / params frame_step ({1.0 / step:.6g})")
    times = row.get("frame_times")
    idx, sfps = params.get("source_indices"), params.get("source_fps")
    if not (
        isinstance(times, list) and isinstance(idx, list) and isinstance(sfps, (int, float)) and sfps > 0
    ):
        return
    flat = [t for clip in times if isinstance(clip, list) for t in clip]
    want = [i / sfps for i in idx]
    if isinstance(params.get("source_pts"), list) and len(params["source_pts"]) == len(idx):
        want = [float(t) for t in params["source_pts"]]  # variable frame rate: the decoder's real times
    if row.get("task") == "jigsaw":
        per, shown = params.get("frames_per_clip"), params.get("shown_order")
        if isinstance(per, int) and isinstance(shown, list) and all(isinstance(k, int) for k in shown):
            for pos, k in enumerate(shown):
                if pos < len(times) and isinstance(times[pos], list):
                    exp = want[k * per : (k + 1) * per]
                    if len(exp) != len(times[pos]) or not all(
                        _close(a, b, 1e-9) for a, b in zip(times[pos], exp)
                    ):
                        add(
                            "params",
                            f"clip {pos} frame_times are not source frames {k * per}..{(k + 1) * per - 1} of params",
                        )
        return
    if row.get("task") == "grounding":
        _check_grounding_times(flat, want, params, add)
    elif len(flat) != len(want) or not all(_close(a, b, 1e-9) for a, b in zip(flat, want)):
        add("params", "frame_times are not the source frames of params (source_indices / source_fps)")


def _segment_order(params: dict) -> list[int] | None:
    """The order a reorder perturbation shows the segment's frames in, from its params (None if unknown)."""
    if isinstance(params.get("order"), list):
        return [int(k) for k in params["order"]]
    held, runs = params.get("held_positions"), params.get("run_lengths")
    if isinstance(held, list) and isinstance(runs, list) and len(held) == len(runs):
        return [int(h) for h, r in zip(held, runs) for _ in range(int(r))]
    return None


def _check_grounding_times(flat: list[float], want: list[float], params: dict, add) -> None:
    """Outside the segment the clip shows the planned source frames; inside, a reorder shows them permuted."""
    start, length = int(params["segment_start"]), int(params["segment_length"])
    if len(flat) != len(want):
        add(
            "params", f"{len(flat)} frame_times for {len(want)} planned source frames (params source_indices)"
        )
        return
    seg = range(start, min(start + length, len(want)))
    expected = list(want)
    pert = PERTURBATIONS.get(str(params.get("perturbation")))
    kind = params.get("kind") or (pert.kind if pert else None)
    if kind == "reorder":
        order = _segment_order(params)
        if order is None:  # an unknown reorder: the segment shows some of its own frames
            allowed = [want[i] for i in seg]
            for i in seg:
                if not any(_close(flat[i], t, 1e-9) for t in allowed):
                    add("params", f"frame {i} time {flat[i]} is not a source frame of the segment")
                    return
                expected[i] = flat[i]
        elif len(order) != len(seg) or any(not 0 <= k < len(seg) for k in order):
            add("params", f"the segment order in params does not fit a segment of {len(seg)} frames")
            return
        else:
            for j, k in enumerate(order):
                expected[start + j] = want[start + k]
    bad = [i for i, (a, b) in enumerate(zip(flat, expected)) if not _close(a, b, 1e-9)]
    if bad:
        add(
            "params",
            f"frame_times differ from the source frames planned in params at frames {bad[:8]}"
            + (" (the segment order)" if all(i in seg for i in bad) else ""),
        )


def _check_counting(row: dict, params: dict, add: Callable[[str, str], None]) -> None:
    _need(params, "shapes", "counts", "max_frames_per_shape", "max_instances_per_frame", "num_frames")
    shapes = params["shapes"]
    if not isinstance(shapes, list) or not all(
        isinstance(s, dict) and "type" in s and "frame" in s for s in shapes
    ):
        raise KeyError("params 'shapes' is not a list of shapes with 'type' and 'frame'")
    derived = counting.counts(shapes)
    expected = counting.format_counts(derived)
    if list(params["counts"]) != list(derived):
        add("params", f"params counts {params['counts']} != {list(derived)} counted from params shapes")
    answer = row.get("answer")
    if parse_counts(answer) is None:
        add("answer", f"answer {answer!r} does not parse as 'c,s,t' counts")
    if answer != expected:
        add("answer", f"answer {answer!r} != {expected!r} counted from params shapes")
    unknown = sorted({str(s["type"]) for s in shapes} - set(counting.SHAPES))
    if unknown:
        add("params", f"unknown shape types {unknown}")
    n = int(params["num_frames"])
    mf, mi = int(params["max_frames_per_shape"]), int(params["max_instances_per_frame"])
    frames_of: dict[str, set[int]] = defaultdict(set)
    per_frame: Counter[tuple[str, int]] = Counter()
    for s in shapes:
        f = int(s["frame"])
        if not 0 <= f < n:
            add("params", f"a {s['type']} is on frame {f}, outside 0..{n - 1}")
        frames_of[s["type"]].add(f)
        per_frame[(s["type"], f)] += 1
    for t, fs in frames_of.items():
        if len(fs) > mf:
            add("params", f"{t}s are on {len(fs)} frames, more than max_frames_per_shape {mf}")
    for (t, f), k in per_frame.items():
        if k > mi:
            add("params", f"{k} {t}s on frame {f}, more than max_instances_per_frame {mi}")
    types = list(frames_of)
    for i, t in enumerate(types):
        for u in types[i + 1 :]:
            if frames_of[t] & frames_of[u]:
                add("params", f"{t}s and {u}s share frames {sorted(frames_of[t] & frames_of[u])}")
    size = params.get("frame_size")
    if isinstance(size, list) and len(size) == 2:
        w, h = size
        for s in shapes:
            if _outside(s, w, h):
                add("params", f"a {s['type']} on frame {s['frame']} is not fully inside the {w}x{h} frame")
    difficulty = next(
        (
            name
            for name, p in counting.PRESETS.items()
            if (p.max_frames_per_shape, p.max_instances_per_frame) == (mf, mi)
        ),
        "custom",
    )
    _check_levels(row, difficulty, add)
    if row.get("question") is not None and row.get("question") != single_video_question(COUNTING_QUESTION):
        add("question", "the question is not the counting prompt")
    _check_single_clip(row, params, n, add)


def _outside(shape: dict, w: float, h: float) -> bool:
    try:
        if shape["type"] == "circle":
            (cx, cy), r = shape["center"], shape["size"] / 2
            return cx - r < 0 or cy - r < 0 or cx + r > w or cy + r > h
        v = counting.shape_vertices(shape)
        return bool((v[:, 0] < 0).any() or (v[:, 1] < 0).any() or (v[:, 0] > w).any() or (v[:, 1] > h).any())
    except (KeyError, TypeError, ValueError):
        return True


def _check_levels(row: dict, difficulty: str, add: Callable[[str, str], None]) -> None:
    if row.get("difficulty") != difficulty:
        add("answer", f"difficulty {row.get('difficulty')!r}, but params make it {difficulty!r}")
    if row.get("subtype") not in (difficulty, "custom"):
        add("answer", f"subtype {row.get('subtype')!r}, expected {difficulty!r} or 'custom'")


def _check_jigsaw(row: dict, params: dict, add: Callable[[str, str], None]) -> None:
    _need(params, "shown_order", "num_clips", "frames_per_clip")
    shown, n, per = params["shown_order"], int(params["num_clips"]), int(params["frames_per_clip"])
    if not isinstance(shown, list) or sorted(shown) != list(range(n)):
        add("params", f"shown_order {shown} is not a permutation of 0..{n - 1}")
        return
    if shown == list(range(n)):
        add("params", "shown_order is the identity: the clips are not shuffled")
    expected = jigsaw.answer_from_shown_order(shown)
    answer = row.get("answer")
    if parse_permutation(answer, n) is None:
        add("answer", f"answer {answer!r} does not parse as an order of {n} clips")
    if answer != expected:
        add("answer", f"answer {answer!r} != {expected!r} re-derived from params shown_order {shown}")
    _check_levels(row, jigsaw.DIFFICULTY_BY_CLIPS.get(n, "custom"), add)
    k = _num_clips(row)
    if k is not None and k != n:
        add("clips", f"jigsaw has {k} clips, params num_clips is {n}")
    for i, f in enumerate(row.get("num_frames") or []):
        if f != per:
            add("params", f"clip {i} has num_frames {f}, params frames_per_clip is {per}")
    if "num_frames" in params and int(params["num_frames"]) != n * per:
        add("params", f"params num_frames {params['num_frames']} != num_clips {n} x frames_per_clip {per}")
    if row.get("question") is not None and 2 <= n <= 9 and row.get("question") != jigsaw_question(n):
        add("question", f"the question is not the {n}-clip jigsaw prompt")
    _check_fps_and_times(row, params, add)
    times = row.get("frame_times")
    if isinstance(times, list) and answer == expected and len(times) == n:
        restored = [t for p in jigsaw.restore_order(answer) for t in (times[p] or [])]
        if any(b <= a for a, b in itertools.pairwise(restored)):
            add("answer", "playing the clips in the answer's order does not give increasing frame_times")


TASK_CHECKS = {"grounding": _check_grounding, "counting": _check_counting, "jigsaw": _check_jigsaw}


def check_row(row: dict, add: Callable[[str, str], None]) -> bool:
    """All no-decoding checks of one row; ``add(check, message)`` records a problem. True if an answer was re-derived."""
    rid = row.get("id")
    if not isinstance(rid, str) or not rid:
        add("ids", f"id {rid!r} is empty or not a string")
    task = row.get("task")
    if "task" in row and task not in TASK_NAMES:
        add("answer", f"unknown task {task!r}")
    lengths = {
        c: len(row[c]) for c in ("videos", "fps", "num_frames", "frame_times") if isinstance(row.get(c), list)
    }
    if len(set(lengths.values())) > 1:
        add("clips", "per-clip lists differ in length: " + ", ".join(f"{c} {n}" for c, n in lengths.items()))
    if lengths and min(lengths.values()) == 0:
        add("clips", "the row has no clips")
    nf, ft = row.get("num_frames"), row.get("frame_times")
    if isinstance(nf, list):
        for i, n in enumerate(nf):
            if not isinstance(n, int) or n < 1:
                add("clips", f"clip {i} num_frames {n!r} is not a positive integer")
            elif isinstance(ft, list) and i < len(ft) and isinstance(ft[i], list) and len(ft[i]) != n:
                add("clips", f"clip {i} has {len(ft[i])} frame_times for {n} frames")
    for i, f in enumerate(row.get("fps") or []):
        if not isinstance(f, (int, float)) or not math.isfinite(f) or f <= 0:
            add("clips", f"clip {i} fps {f!r} is not a positive number")
    for i, times in enumerate(ft or []):
        if any(t is None or not math.isfinite(t) or t < 0 for t in times or []):
            add("clips", f"clip {i} frame_times hold negative or non-finite values")
    question = row.get("question")
    if isinstance(question, str) and lengths:
        markers = question.count(VIDEO_TOKEN)
        n_clips = next(iter(lengths.values()))
        if markers != n_clips:
            add("question", f"the question has {markers} {VIDEO_TOKEN} markers for {n_clips} clips")
    if "system" in row and row.get("system") != SYSTEM_PROMPT:
        add("question", f"system prompt {str(row.get('system'))[:60]!r} is not the task system prompt")
    source = row.get("source")
    if "source" in row:
        bad = _bad_source_id(source)
        if bad:
            add("source", f"source id {source!r} {bad}")
    for i, v in enumerate(row.get("videos") or []):
        path = (v or {}).get("path")
        if isinstance(rid, str) and path != clip_filename(rid, i):
            add("clips", f"clip {i} path {path!r}, expected {clip_filename(rid, i)!r}")
    if task not in TASK_CHECKS or "params" not in row:
        return False
    raw = row.get("params")
    try:
        params = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError as exc:
        add("params", f"params is not valid JSON ({exc.msg} at character {exc.pos})")
        return False
    if not isinstance(params, dict):
        add("params", f"params is not a JSON object: {str(raw)[:60]!r}")
        return False
    try:
        TASK_CHECKS[task](row, params, add)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        add("params", f"cannot re-derive the answer: {exc.args[0] if exc.args else type(exc).__name__}")
        return False
    return True


def _bad_source_id(source: object) -> str | None:
    if not isinstance(source, str) or not source:
        return "is empty or not a string"
    if source.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", source):
        return "is an absolute path"
    if ".." in re.split(r"[/\\]", source):
        return "escapes its root ('..')"
    return None


# ----------------------------------------------------------------------------------------------------------
# Decoding


DECODE_BATCH = 16  # clips per ffmpeg process: its start-up (~40 ms) was most of the time a clip took


def decoded_frame_sizes(paths: list[Path], timeout: float) -> list[list[int]]:
    """Decode every clip in ``paths`` with the system's ffmpeg, one process for them all (one decoder thread
    each), and return per clip the byte size of each decoded frame (ffmpeg's ``framecrc``, no conversion)."""
    args: list[str] = []
    for path in paths:
        args += ["-threads", "1", "-i", str(path)]
    for k, path in enumerate(paths):
        args += [
            "-map",
            f"{k}:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framecrc",
            str(path.with_suffix(".crc")),
        ]
    run_ffmpeg(args, timeout=timeout, what=f"decoding {len(paths)} clips")
    return [
        [int(line.split(",")[4]) for line in path.with_suffix(".crc").read_text().splitlines()
         if line.strip() and not line.startswith("#")]
        for path in paths
    ]  # fmt: skip


@dataclass
class _ClipJob:
    where: str
    index: int
    data: bytes
    num_frames: int | None
    fps: float | None
    frame_size: tuple[int, int] | None  # counting: the params frame size (w, h)


def _clip_problems(job: _ClipJob, facts: ProbeResult, sizes: list[int]) -> list[str]:
    """What is wrong with one clip, from its stream facts and the sizes of its decoded frames."""
    problems: list[str] = []
    n = len(sizes)
    if job.num_frames is not None and n != job.num_frames:
        problems.append(f"clip {job.index} decodes to {n} frames, the row says {job.num_frames}")
    if job.fps is not None and not _close(facts.fps, job.fps):
        problems.append(f"clip {job.index} is encoded at {facts.fps:.6g} fps, the row says {job.fps:.6g}")
    if facts.codec != "h264" or facts.pix_fmt != "yuv420p":
        problems.append(f"clip {job.index} is {facts.codec}/{facts.pix_fmt}, expected h264/yuv420p")
    elif any(size != facts.width * facts.height * 3 // 2 for size in sizes):
        problems.append(
            f"clip {job.index} has frames of another size than its stream's {facts.width}x{facts.height}"
        )
    if facts.rotation:
        problems.append(f"clip {job.index} carries rotation metadata ({facts.rotation} degrees)")
    if job.frame_size is not None and (facts.width, facts.height) != tuple(job.frame_size):
        problems.append(
            f"clip {job.index} is {facts.width}x{facts.height}, params frame_size is {job.frame_size[0]}x{job.frame_size[1]}"
        )
    return problems


def _decode_batch(jobs: list[_ClipJob], sampler: FrameSampler) -> list[tuple[_ClipJob, list[str], int]]:
    """Check a batch of clips: each clip's stream facts (codec, pixel format, fps, size, rotation) as the
    build's guarded decoder reads them (ffprobe's conventions), and every frame decoded by the system's ffmpeg,
    the FFmpeg ``datasets``/torchcodec use, in one process for the batch. Returns per clip its problems and
    the number of frames decoded."""
    out: dict[int, tuple[list[str], int]] = {}
    with tempfile.TemporaryDirectory(prefix="videossr-verify-") as tmp:
        paths, facts = {}, {}
        for k, job in enumerate(jobs):
            paths[k] = Path(tmp) / f"clip{k}.mp4"
            paths[k].write_bytes(job.data)
            try:
                facts[k] = sampler.probe(str(paths[k]), timeout=DECODE_TIMEOUT)
            except DecodeError as exc:
                out[k] = ([f"clip {job.index} does not decode: {exc}"], 0)
        todo = sorted(facts)
        sizes: dict[int, list[int] | Exception] = {}
        try:
            sizes.update(zip(todo, decoded_frame_sizes([paths[k] for k in todo], DECODE_TIMEOUT * len(todo))))
        except (FFmpegError, OSError, ValueError, IndexError):
            for k in todo:  # a clip that stops ffmpeg stops the batch: find it
                try:
                    sizes[k] = decoded_frame_sizes([paths[k]], DECODE_TIMEOUT)[0]
                except (FFmpegError, OSError, ValueError, IndexError) as exc:
                    sizes[k] = exc
    for k in todo:
        got = sizes[k]
        if isinstance(got, Exception):
            out[k] = ([f"clip {jobs[k].index} does not decode: {got}"], 0)
        else:
            out[k] = (_clip_problems(jobs[k], facts[k], got), len(got))
    return [(job, *out[k]) for k, job in enumerate(jobs)]


def _clip_jobs(row: dict, where: str) -> Iterator[_ClipJob]:
    nf, fps = row.get("num_frames") or [], row.get("fps") or []
    size = None
    if row.get("task") == "counting":
        try:
            fs = json.loads(row.get("params") or "").get("frame_size")
            size = (int(fs[0]), int(fs[1]))
        except (ValueError, TypeError, AttributeError, IndexError):
            size = None
    for i, v in enumerate(row.get("videos") or []):
        data = (v or {}).get("bytes")
        if not data:
            continue  # reported by the row checks
        yield _ClipJob(
            where=where,
            index=i,
            data=data,
            num_frames=nf[i] if i < len(nf) and isinstance(nf[i], int) else None,
            fps=fps[i] if i < len(fps) and isinstance(fps[i], (int, float)) else None,
            frame_size=size,
        )


class _Decoder:
    """Checks clips in batches on a thread pool (each thread with its own guarded decoder child; each batch
    decoded by one ffmpeg subprocess) with bounded memory."""

    def __init__(self, report: VerifyReport, workers: int, total: int, progress: bool) -> None:
        try:
            from tqdm import tqdm
        except ImportError:  # no progress bar, same checks
            progress = False

            def tqdm(*args: Any, **kwargs: Any) -> Any:
                return type("NoBar", (), {"update": lambda self, n=1: None, "close": lambda self: None})()

        self.report = report
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.limit = 2 * max(1, workers)  # batches in flight
        self.batch: list[_ClipJob] = []
        self.pending: list[Future] = []
        self.samplers: list[FrameSampler] = []
        self.local = threading.local()
        self.bar = tqdm(
            total=total, desc="verify: decoding clips", unit="clip", disable=not progress, leave=False
        )

    def _run(self, jobs: list[_ClipJob]) -> list[tuple[_ClipJob, list[str], int]]:
        sampler = getattr(self.local, "sampler", None)
        if sampler is None:
            sampler = self.local.sampler = FrameSampler(DECODE_TIMEOUT)
            self.samplers.append(sampler)
        return _decode_batch(jobs, sampler)

    def submit(self, job: _ClipJob) -> None:
        self.batch.append(job)
        if len(self.batch) >= DECODE_BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            self.pending.append(self.pool.submit(self._run, self.batch))
            self.batch = []
        if len(self.pending) >= self.limit:
            self._drain(self.limit // 2)

    def _drain(self, keep: int) -> None:
        while len(self.pending) > keep:
            for job, problems, n in self.pending.pop(0).result():
                self.report.count("clips_decoded")
                self.report.count("frames_decoded", n)
                for p in problems:
                    self.report.add("decode", job.where, p)
                self.bar.update(1)

    def close(self) -> None:
        try:
            self._flush()
            self._drain(0)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
            for sampler in self.samplers:
                sampler.close()
            self.bar.close()


# ----------------------------------------------------------------------------------------------------------
# Composition: manifest and README against the rows


def _glob(folder: Path, pattern: str) -> set[str]:
    """The files a README ``data_files`` pattern selects, resolved as ``datasets`` resolves them."""
    if pattern.startswith("/") or ".." in pattern.split("/"):
        return set()
    try:
        from datasets.data_files import resolve_pattern
    except ImportError:  # no datasets: pathlib's glob (the same for the patterns the card writes)
        return {_rel(p, folder) for p in folder.glob(pattern) if p.is_file()}
    try:
        found = resolve_pattern(pattern, base_path=str(folder))
    except FileNotFoundError:
        return set()
    return {Path(os.path.relpath(str(f).removeprefix("file://"), folder)).as_posix() for f in found}


def _check_composition(
    folder: Path,
    shards: list[str],
    shard_rows: dict[str, int],
    shard_keys: dict[str, Counter],
    rows_by: dict[str, Counter],
    sources: set[str],
    row_ids: set[str] | dict[str, str],
    manifest: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    expected_features: Any | None,
    report: VerifyReport,
) -> None:
    total = sum(shard_rows.values())
    by_dir: dict[str, list[str]] = defaultdict(list)
    for s in shards:
        parts = s.split("/")
        if len(parts) != 3 or parts[0] != "data":
            report.add("config", s, "a parquet file outside data/<task>-<subtype>/")
            continue
        by_dir[parts[1]].append(s)
    # Each data/<cfg>/ folder holds only rows of that task-subtype.
    fingerprints = set()
    for cfg, files in sorted(by_dir.items()):
        for s in files:
            wrong = {k: n for k, n in shard_keys[s].items() if k != cfg}
            if wrong:
                report.add("config", s, f"holds rows of other configs {dict(wrong)} (folder is {cfg!r})")
            m = SHARD_NAME.match(s.rsplit("/", 1)[-1])
            if not m:
                report.add("config", s, "shard name is not train-<fingerprint>-NNNNN-of-NNNNN.parquet")
                continue
            fingerprints.add(m["fp"])
            if int(m["n"]) != len(files) or int(m["i"]) >= len(files):
                report.add(
                    "config",
                    s,
                    f"shard numbering says {int(m['i'])} of {int(m['n'])}, the folder has {len(files)}",
                )
    report.count("configs", len(by_dir))

    if manifest is not None:
        fp = manifest.get("fingerprint")
        if fingerprints and fingerprints != {fp}:
            report.add("manifest", MANIFEST, f"fingerprint {fp!r}, shards carry {sorted(fingerprints)}")
        if manifest.get("num_rows") != total:
            report.add(
                "manifest", MANIFEST, f"num_rows {manifest.get('num_rows')!r}, the shards hold {total}"
            )
        counts = manifest.get("counts")
        if not isinstance(counts, dict):
            report.add("manifest", MANIFEST, "has no 'counts' (task, subtype, difficulty)")
        else:
            for kind in ("task", "subtype", "difficulty"):
                got, want = dict(rows_by[kind]), counts.get(kind)
                if not isinstance(want, dict):
                    report.add("manifest", MANIFEST, f"counts has no {kind!r} table")
                    continue
                for key in sorted(set(got) | set(want)):
                    if got.get(key, 0) != want.get(key, 0):
                        report.add(
                            "manifest",
                            MANIFEST,
                            f"counts.{kind}[{key!r}] is {want.get(key, 0)}, the shards hold {got.get(key, 0)} rows",
                        )
        configs = manifest.get("configs")
        if not isinstance(configs, dict):
            report.add("manifest", MANIFEST, "has no 'configs' (rows and shards per config)")
        else:
            for cfg in sorted(set(configs) | set(by_dir)):
                entry = configs.get(cfg)
                files = sorted(by_dir.get(cfg, []))
                rows = sum(shard_rows[s] for s in files)
                if not isinstance(entry, dict):
                    report.add("manifest", MANIFEST, f"configs lacks {cfg!r} (data/{cfg}/ holds {rows} rows)")
                    continue
                if entry.get("rows") != rows:
                    report.add(
                        "manifest",
                        MANIFEST,
                        f"configs[{cfg!r}].rows is {entry.get('rows')!r}, the shards hold {rows}",
                    )
                if sorted(entry.get("shards") or []) != files:
                    report.add(
                        "manifest",
                        MANIFEST,
                        f"configs[{cfg!r}].shards {sorted(entry.get('shards') or [])} != on disk {files}",
                    )
        listed = manifest.get("sources")
        if listed is not None:
            if not isinstance(listed, list):
                report.add("manifest", MANIFEST, "'sources' is not a list")
            else:
                for s in sorted(sources - set(listed)):
                    report.add("manifest", MANIFEST, f"source {s!r} has rows but is not in 'sources'")
                for s in sorted(set(listed) - sources):
                    report.add("manifest", MANIFEST, f"'sources' lists {s!r}, which has no rows")
                for s in listed:
                    bad = _bad_source_id(s)
                    if bad:
                        report.add("source", MANIFEST, f"source id {s!r} {bad}")
        for key in ("skipped", "skipped_sources"):
            skipped = manifest.get(key)
            if skipped is None:
                continue
            if not isinstance(skipped, list) or not all(
                isinstance(s, dict) and s.get("source") and s.get("reason") for s in skipped
            ):
                report.add("manifest", MANIFEST, f"'{key}' is not a list of {{source, reason}} with both set")
                continue
            for s in sorted({s["source"] for s in skipped} & sources):
                report.add("manifest", MANIFEST, f"source {s!r} is listed in '{key}' but has rows")
            n_skipped = manifest.get("num_sources_skipped")
            if key == "skipped_sources" and isinstance(n_skipped, int) and n_skipped != len(skipped):
                report.add(
                    "manifest", MANIFEST, f"num_sources_skipped {n_skipped} != {len(skipped)} in '{key}'"
                )
        n_used = manifest.get("num_sources_used")
        if isinstance(n_used, int) and n_used != len(sources):
            report.add(
                "manifest", MANIFEST, f"num_sources_used {n_used}, the rows come from {len(sources)} sources"
            )
        skipped_samples = manifest.get("skipped_samples")
        if isinstance(skipped_samples, list):
            for s in skipped_samples:
                if not (isinstance(s, dict) and s.get("id") and s.get("reason")):
                    report.add("manifest", MANIFEST, f"skipped_samples entry {s!r} lacks an id or a reason")
                elif s["id"] in row_ids:
                    report.add("manifest", MANIFEST, f"sample {s['id']!r} is listed as skipped but is a row")

    if meta is None:
        return
    if manifest is not None and meta.get("videossr_fingerprint") not in (None, manifest.get("fingerprint")):
        report.add(
            "readme",
            README,
            f"videossr_fingerprint {meta.get('videossr_fingerprint')!r} != manifest {manifest.get('fingerprint')!r}",
        )
    tasks = sorted({cfg.split("-", 1)[0] for cfg in by_dir})
    expected_sets: dict[str, set[str]] = {"default": set(shards)}
    for t in tasks:
        expected_sets[t] = {s for cfg, files in by_dir.items() if cfg.split("-", 1)[0] == t for s in files}
    for cfg, files in by_dir.items():
        expected_sets.setdefault(cfg, set(files))
    configs = meta.get("configs")
    if not isinstance(configs, list):
        report.add("readme", README, "YAML has no 'configs' list")
        configs = []
    names = [c.get("config_name") for c in configs if isinstance(c, dict)]
    for name, k in Counter(names).items():
        if k > 1:
            report.add("readme", README, f"config {name!r} is declared {k} times")
    defaults = [c.get("config_name") for c in configs if isinstance(c, dict) and c.get("default")]
    if configs and len(defaults) != 1:
        report.add("readme", README, f"exactly one config must be the default, found {defaults}")
    for name in sorted(set(expected_sets) - set(names)):
        report.add("readme", README, f"no config {name!r} for the shards {sorted(expected_sets[name])[:3]}")
    matched_rows: dict[str, int] = {}
    for c in configs:
        if not isinstance(c, dict):
            report.add("readme", README, f"config entry {c!r} is not a mapping")
            continue
        name = c.get("config_name")
        data_files = c.get("data_files")
        if isinstance(data_files, str):
            data_files = [{"split": "train", "path": data_files}]
        elif isinstance(data_files, dict):  # {split: pattern(s)}
            data_files = [{"split": k, "path": v} for k, v in data_files.items()]
        if not isinstance(data_files, list) or not data_files:
            report.add("readme", README, f"config {name!r} has no data_files")
            continue
        matched: set[str] = set()
        for df in data_files:
            paths = df.get("path") if isinstance(df, dict) else df
            for pattern in [paths] if isinstance(paths, str) else list(paths or []):
                hits = _glob(folder, str(pattern))
                if not hits:
                    report.add(
                        "readme", README, f"config {name!r}: data_files glob {pattern!r} matches no shard"
                    )
                elif not all(h.endswith(".parquet") for h in hits):
                    report.add(
                        "readme", README, f"config {name!r}: glob {pattern!r} matches non-parquet files"
                    )
                matched |= hits
        want = expected_sets.get(name)
        if want is None:
            report.add("readme", README, f"config {name!r} does not correspond to any data/ folder")
        elif matched and matched != want:
            extra, missing = sorted(matched - want), sorted(want - matched)
            report.add(
                "readme",
                README,
                f"config {name!r} globs match {len(matched)} shards, expected {len(want)}"
                + (f"; extra {extra[:3]}" if extra else "")
                + (f"; missing {missing[:3]}" if missing else ""),
            )
        matched_rows[name] = sum(shard_rows.get(s, 0) for s in matched)
    infos = meta.get("dataset_info")
    if isinstance(infos, dict):
        infos = [infos]
    if not isinstance(infos, list):
        report.add("readme", README, "YAML has no 'dataset_info'")
        return
    info_names = [i.get("config_name", "default") for i in infos if isinstance(i, dict)]
    for name in sorted(set(names) - set(info_names)):
        report.add("readme", README, f"dataset_info has no entry for config {name!r}")
    for info in infos:
        if not isinstance(info, dict):
            continue
        name = info.get("config_name", "default")
        splits = {s.get("name"): s for s in info.get("splits") or [] if isinstance(s, dict)}
        rows = (splits.get("train") or {}).get("num_examples")
        want = sum(shard_rows[s] for s in expected_sets.get(name, set()))
        if name not in expected_sets:
            report.add("readme", README, f"dataset_info entry {name!r} is not a config of the data")
        elif rows != want:
            report.add(
                "readme",
                README,
                f"dataset_info[{name!r}] num_examples is {rows!r}, its shards hold {want} rows",
            )
        if expected_features is not None and "features" in info:
            try:
                from datasets import Features

                ok = Features._from_yaml_list(info["features"]) == expected_features
            except Exception:
                ok = False
            if not ok:
                report.add("readme", README, f"dataset_info[{name!r}] features differ from the row schema")


# ----------------------------------------------------------------------------------------------------------
# load_dataset


def _check_load(folder: Path, report: VerifyReport, progress: bool) -> None:
    """``load_dataset(FOLDER)`` in a fresh cache, and the first clip through ``datasets.Video`` (torchcodec).
    Counts the rows it loaded as ``load_dataset_rows``; the caller compares them with the shards'."""
    try:
        import datasets
    except ImportError:
        report.skipped.append("load_dataset: the datasets package is not installed")
        return
    import importlib.util

    has_torchcodec = importlib.util.find_spec("torchcodec") is not None
    was_enabled = not datasets.are_progress_bars_disabled()
    if not progress:
        datasets.disable_progress_bars()
    try:
        with tempfile.TemporaryDirectory(prefix="videossr-verify-cache-") as cache:
            try:
                ds = datasets.load_dataset(
                    str(folder), split="train", cache_dir=cache, download_mode="force_redownload"
                )
            except Exception as exc:
                msg = str(exc).strip().splitlines()
                report.add(
                    "load",
                    ".",
                    f"load_dataset(FOLDER) fails: {type(exc).__name__}: {msg[0] if msg else ''}"[:500],
                )
                return
            report.count("load_dataset_rows", len(ds))
            if len(ds) == 0:
                return
            if not has_torchcodec:
                report.skipped.append("load_dataset: first clip not decoded (torchcodec is not installed)")
                return
            try:
                row = ds[0]
                decoder = row["videos"][0]
                n = (
                    int(decoder.metadata.num_frames)
                    if decoder.metadata.num_frames is not None
                    else len(decoder)
                )
                decoder[0]  # decode the first frame
            except Exception as exc:
                msg = str(exc).strip().splitlines()
                report.add(
                    "load",
                    str(ds[0]["id"]) if "id" in ds.column_names else ".",
                    f"datasets cannot decode the first clip: {msg[0] if msg else type(exc).__name__}",
                )
                return
            want = row["num_frames"][0] if row.get("num_frames") else None
            if want is not None and n != want:
                report.add(
                    "load",
                    str(row.get("id")),
                    f"datasets' decoder sees {n} frames in clip 0, the row says {want}",
                )
            report.count("load_dataset_clips_decoded")
    finally:
        if not progress and was_enabled:
            datasets.enable_progress_bars()


# ----------------------------------------------------------------------------------------------------------
# The whole check


def _sources_of(folder: Path) -> set[str]:
    out: set[str] = set()
    for shard in _list_shards(folder):
        try:
            pf = pq.ParquetFile(shard)
            if "source" in pf.schema_arrow.names:
                out |= {s for s in pf.read(columns=["source"]).column("source").to_pylist() if s}
        except Exception:
            continue
    manifest_path = folder / MANIFEST
    if manifest_path.is_file():
        try:
            listed = json.loads(manifest_path.read_text("utf-8")).get("sources")
            out |= {s for s in listed or [] if isinstance(s, str)}
        except (ValueError, AttributeError):
            pass
    return out


def verify_repo(
    folder: str | os.PathLike,
    *,
    other: str | os.PathLike | None = None,
    decode: bool = True,
    load: bool = True,
    workers: int | None = None,
    progress: bool | None = None,
) -> VerifyReport:
    """Check a built dataset folder; the report lists every problem found (``report.ok`` when none).

    ``other``: the sibling dataset (VIUBench for VideoSSR-30K and vice versa) that must share no source.
    ``decode``: decode every clip with ffmpeg. ``load``: run ``load_dataset`` on the folder.
    ``progress``: show a progress bar (default: when stderr is a terminal).
    """
    t0 = time.monotonic()
    folder = Path(folder)
    report = VerifyReport(folder=str(folder))
    if not folder.is_dir():
        report.add("files", str(folder), "is not a folder")
        report.seconds = time.monotonic() - t0
        return report
    if progress is None:
        progress = sys.stderr.isatty()
    workers = workers or min(os.cpu_count() or 1, 16)
    expected = _expected_features()
    if expected is None:
        report.skipped.append("schema types: the datasets package is not installed")
    manifest = _read_manifest(folder, report)
    repo_id = (manifest or {}).get("repo_id")
    scanner = LeakScanner(folder, allowed=(repo_id,) if isinstance(repo_id, str) else ())
    meta = _read_readme(folder, report)

    # What a push leaves out (publish.ALLOWLIST) is information, not a problem: it is never uploaded.
    published = publishable(folder)
    for entry in published.left_out:
        if LEFTOVER.match(entry.path.rstrip("/").rsplit("/", 1)[-1]):
            report.notes.append(
                f"{entry.path.rstrip('/')}: a leftover of an interrupted write (hidden, not published)"
            )
        else:
            report.notes.append(f"{entry.path}: not published ({entry.reason})")
    shard_paths = _list_shards(folder)
    shards = [_rel(p, folder) for p in shard_paths]
    if not shards:
        report.add("files", "data/", "no parquet shards")
    report.count("shards", len(shards))

    # load_dataset runs beside the checks below: its imports (datasets; torch for the first clip) take seconds
    # of one core while the clip decoding runs in ffmpeg and decoder processes.
    load_report = VerifyReport(folder=str(folder))
    loader = None
    if load and shards:
        loader = threading.Thread(target=_check_load, args=(folder, load_report, progress), daemon=True)
        loader.start()

    # Pass 1 (cheap): clip count for the progress bar.
    total_clips = 0
    if decode:
        for p in shard_paths:
            try:
                t = pq.read_table(p, columns=["num_frames"])
                total_clips += sum(len(x or []) for x in t.column("num_frames").to_pylist())
            except Exception:
                continue
    decoder = _Decoder(report, workers, total_clips, progress) if decode else None
    if not decode:
        report.skipped.append("clip decoding (--no-decode)")

    ids: dict[str, str] = {}
    shard_rows: dict[str, int] = {}
    shard_keys: dict[str, Counter] = {}
    rows_by: dict[str, Counter] = {"task": Counter(), "subtype": Counter(), "difficulty": Counter()}
    sources: set[str] = set()
    try:
        for path, rel in zip(shard_paths, shards):
            shard_rows[rel], shard_keys[rel] = 0, Counter()
            try:
                pf = open_shard(path)
            except Exception as exc:
                report.add("schema", rel, f"is not a readable parquet file: {exc}")
                continue
            present = _check_schema(pf.schema_arrow, rel, expected, report)
            meta_text = json.dumps(
                {
                    k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                    for k, v in (pf.schema_arrow.metadata or {}).items()
                }
            )
            for leak in scanner.find(meta_text):
                report.add("leak", rel, f"schema metadata contains {leak}")
            try:
                for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=present):
                    for row in batch.to_pylist():
                        _row(
                            row, rel, ids, shard_rows, shard_keys, rows_by, sources, scanner, decoder, report
                        )
            except Exception as exc:
                report.add("schema", rel, f"cannot read its rows: {type(exc).__name__}: {exc}")
    finally:
        if decoder is not None:
            decoder.close()

    _check_composition(
        folder, shards, shard_rows, shard_keys, rows_by, sources, set(ids), manifest, meta, expected, report
    )

    # Leaks in every published file other than the shards (their rows were scanned above).
    for f in published.files:
        p, rel = f.local, f.path
        if rel.startswith("data/"):
            continue
        try:
            data = p.read_bytes()
        except OSError as exc:
            report.add("files", rel, f"cannot be read: {exc}")
            continue
        report.count("files_scanned")
        try:
            leaks = scanner.find(data.decode("utf-8"))
        except UnicodeDecodeError:  # binary (preview.png): its text chunks fully, the rest for exact strings
            leaks = scanner.find(data.decode("latin-1"), binary=True)
            leaks += [f"{leak} in a text chunk" for leak in scanner.find(_png_text(data))]
        for leak in dict.fromkeys(leaks):
            report.add("leak", rel, f"contains {leak}")

    if other is not None:
        other = Path(other)
        if not other.is_dir():
            report.add("overlap", str(other), "--other is not a folder")
        elif other.resolve() == folder.resolve():
            report.add("overlap", str(other), "--other is the same folder")
        else:
            theirs = _sources_of(other)
            report.count("other_sources", len(theirs))
            for s in sorted(sources & theirs | (set((manifest or {}).get("sources") or []) & theirs)):
                report.add("overlap", f"source {s}", f"is used by both {folder.name} and {other.name}")

    if loader is not None:
        loader.join()
        loaded, total = load_report.checked.get("load_dataset_rows"), sum(shard_rows.values())
        if loaded is not None and loaded != total:
            report.add("load", ".", f"load_dataset(FOLDER) gives {loaded} rows, the shards hold {total}")
        report.problems += load_report.problems
        report.skipped += load_report.skipped
        for what, n in load_report.checked.items():
            report.count(what, n)
    elif not load:
        report.skipped.append("load_dataset (--no-load)")
    report.count("sources", len(sources))
    report.seconds = time.monotonic() - t0
    return report


def _row(
    row: dict,
    shard: str,
    ids: dict[str, str],
    shard_rows: dict[str, int],
    shard_keys: dict[str, Counter],
    rows_by: dict[str, Counter],
    sources: set[str],
    scanner: LeakScanner,
    decoder: _Decoder | None,
    report: VerifyReport,
) -> None:
    rid = row.get("id")
    where = f"row {rid} ({shard})"
    report.count("rows")
    shard_rows[shard] += 1
    if isinstance(rid, str):
        if rid in ids:
            report.add("ids", where, f"duplicate id (also in {ids[rid]})")
        else:
            ids[rid] = shard
    task, subtype, difficulty = row.get("task"), row.get("subtype"), row.get("difficulty")
    shard_keys[shard][f"{task}-{subtype}"] += 1
    rows_by["task"][str(task)] += 1
    rows_by["subtype"][f"{task}/{subtype}"] += 1
    rows_by["difficulty"][f"{task}/{difficulty}"] += 1
    if isinstance(row.get("source"), str):
        sources.add(row["source"])
    if check_row(row, lambda check, message: report.add(check, where, message)):
        report.count("answers")
    for col in TEXT_COLUMNS:
        value = row.get(col)
        if isinstance(value, str):
            for leak in scanner.find(value):
                report.add("leak", where, f"column {col!r} contains {leak}")
    for i, v in enumerate(row.get("videos") or []):
        path = (v or {}).get("path")
        if isinstance(path, str):
            leaks = scanner.find(path)
            for leak in leaks:
                report.add("leak", where, f"clip {i} path contains {leak}")
            if not leaks and (path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path)):
                report.add("leak", where, f"clip {i} path {path!r} is absolute")
        if not (v or {}).get("bytes"):
            report.add("clips", where, f"clip {i} has no video bytes")
    if decoder is not None:
        for job in _clip_jobs(row, where):
            decoder.submit(job)


# ----------------------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="build/verify.py",
        description=(
            "Check a built VideoSSR dataset folder (Hub layout): schema; every clip decodes with its stated "
            "frame count and fps; every answer parses and re-derives from params; composition matches "
            "build_manifest.json and the README's configs/dataset_info; README globs match the shards; unique "
            "ids; no source shared with --other; load_dataset works; no absolute path, user/host name or token "
            "in rows, card or manifest. Exit 0 when clean, 1 when any problem is found (all are listed)."
        ),
    )
    p.add_argument("folder", help="the dataset folder (README.md, build_manifest.json, data/)")
    p.add_argument("--other", metavar="FOLDER2", help="the sibling dataset that must share no source id")
    p.add_argument("--no-decode", action="store_true", help="skip decoding every clip with ffmpeg")
    p.add_argument("--no-load", action="store_true", help="skip the load_dataset(FOLDER) check")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="parallel decoders (default: CPU count, at most 16)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not Path(args.folder).is_dir():
        p.error(f"argument folder: {args.folder!r} is not a folder")
    if args.other is not None and not Path(args.other).is_dir():
        p.error(f"argument --other: {args.other!r} is not a folder")
    if args.workers is not None and args.workers < 1:
        p.error("argument --workers: must be at least 1")
    report = verify_repo(
        args.folder,
        other=args.other,
        decode=not args.no_decode,
        load=not args.no_load,
        workers=args.workers,
        progress=False if (args.quiet or args.json) else None,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
