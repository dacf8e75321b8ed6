"""The checks of one row in memory, without decoding: ids, per-clip lists, prompts, the source id, clip
names, and the answer re-derived from ``params`` (:mod:`.answers`). A build worker can run them on the row
it just rendered; ``verify_repo`` runs them on every row of a dataset."""

from __future__ import annotations

import json
import math
import re

from videossr.tasks.prompts import SYSTEM_PROMPT, VIDEO_TOKEN
from videossr.tasks.sample import TASK_NAMES

from ..schema import clip_filename
from .answers import TASK_CHECKS, Add


def check_row(row: dict, add: Add) -> bool:
    """All no-decoding checks of one row; ``add(check, message)`` records a problem. True if the answer
    was re-derived from the params."""
    rid = row.get("id")
    if not isinstance(rid, str) or not rid:
        add("ids", f"id {rid!r} is empty or not a string")
    task = row.get("task")
    if "task" in row and task not in TASK_NAMES:
        add("answer", f"unknown task {task!r}")
    check_clip_lists(row, add)
    check_prompts(row, add)
    if "source" in row:
        bad = bad_source_id(row.get("source"))
        if bad:
            add("source", f"source id {row.get('source')!r} {bad}")
    for i, v in enumerate(row.get("videos") or []):
        path = (v or {}).get("path")
        if isinstance(rid, str) and path != clip_filename(rid, i):
            add("clips", f"clip {i} path {path!r}, expected {clip_filename(rid, i)!r}")
    return check_answer(row, add)


def clip_list_lengths(row: dict) -> dict[str, int]:
    return {
        c: len(row[c]) for c in ("videos", "fps", "num_frames", "frame_times") if isinstance(row.get(c), list)
    }


def check_clip_lists(row: dict, add: Add) -> None:
    """One entry per clip in every per-clip column, each a sane value."""
    lengths = clip_list_lengths(row)
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


def check_prompts(row: dict, add: Add) -> None:
    """One ``<video>`` marker per clip, and the tasks' system prompt."""
    question, lengths = row.get("question"), clip_list_lengths(row)
    if isinstance(question, str) and lengths:
        markers = question.count(VIDEO_TOKEN)
        n_clips = next(iter(lengths.values()))
        if markers != n_clips:
            add("question", f"the question has {markers} {VIDEO_TOKEN} markers for {n_clips} clips")
    if "system" in row and row.get("system") != SYSTEM_PROMPT:
        add("question", f"system prompt {str(row.get('system'))[:60]!r} is not the task system prompt")


def check_answer(row: dict, add: Add) -> bool:
    """The answer re-derived from ``params`` by the row's task (True when that ran to the end)."""
    task = row.get("task")
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


def check_video_bytes(row: dict, add: Add) -> None:
    for i, v in enumerate(row.get("videos") or []):
        if not (v or {}).get("bytes"):
            add("clips", f"clip {i} has no video bytes")


def bad_source_id(source: object) -> str | None:
    """Why ``source`` is not a valid source id (None when it is): ids are relative and stay in their root."""
    if not isinstance(source, str) or not source:
        return "is empty or not a string"
    if source.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", source):
        return "is an absolute path"
    if ".." in re.split(r"[/\\]", source):
        return "escapes its root ('..')"
    return None
