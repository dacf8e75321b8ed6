"""Each task's answer re-derived from the row's ``params``, and the params checked against the row: its
clips, frame rates, frame times, difficulty and question. No decoding.

Every check gets ``add(check, message)`` to record a problem; a ``KeyError``/``TypeError``/``ValueError``
means the params lack what the re-derivation needs (the caller reports it).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from videossr.tasks import counting, grounding, jigsaw
from videossr.tasks.parsing import parse_counts, parse_interval, parse_permutation
from videossr.tasks.perturbations import PERTURBATIONS
from videossr.tasks.prompts import (
    COUNTING_QUESTION,
    grounding_question,
    jigsaw_question,
    single_video_question,
)

Add = Callable[[str, str], None]
FPS_REL_TOL = 1e-4  # ffmpeg stores the rate as a rational (limit_denominator(1e6)): far below this
TIME_ABS_TOL = 1e-6


def close(a: float, b: float, rel: float = FPS_REL_TOL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=TIME_ABS_TOL)


def need(params: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if k not in params]
    if missing:
        raise KeyError(f"params lacks {', '.join(repr(k) for k in missing)}")


def num_clips(row: dict) -> int | None:
    for col in ("videos", "num_frames", "fps", "frame_times"):
        if isinstance(row.get(col), list):
            return len(row[col])
    return None


def check_grounding(row: dict, params: dict, add: Add) -> None:
    need(params, "segment_start", "segment_length", "frame_step", "perturbation", "num_frames")
    start, length = int(params["segment_start"]), int(params["segment_length"])
    step, n = float(params["frame_step"]), int(params["num_frames"])
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
            f"answer {answer!r} != {expected!r} re-derived from params "
            f"(segment {start}+{length}, step {step})",
        )
    check_single_clip(row, params, n, add)
    pert = PERTURBATIONS.get(str(params["perturbation"]))
    if pert is not None:
        want_q = single_video_question(grounding_question(pert.description))
        if row.get("question") is not None and row.get("question") != want_q:
            add("question", "the question is not the grounding prompt of its perturbation")


def check_single_clip(row: dict, params: dict, n: int, add: Add) -> None:
    videos_n = num_clips(row)
    if videos_n is not None and videos_n != 1:
        add("clips", f"{row.get('task')} has {videos_n} clips, expected 1")
    nf = row.get("num_frames")
    if isinstance(nf, list) and nf and nf[0] != n:
        add("params", f"num_frames {nf[0]} != params num_frames {n}")
    check_fps_and_times(row, params, add)


def planned_times(params: dict) -> list[float] | None:
    """The source times of the planned frames (``source_indices / source_fps``, or the decoder's own times
    of a variable-frame-rate source); None when params do not say."""
    idx, sfps = params.get("source_indices"), params.get("source_fps")
    if not (isinstance(idx, list) and isinstance(sfps, (int, float)) and sfps > 0):
        return None
    if isinstance(params.get("source_pts"), list) and len(params["source_pts"]) == len(idx):
        return [float(t) for t in params["source_pts"]]
    return [i / sfps for i in idx]


def check_fps_and_times(row: dict, params: dict, add: Add) -> None:
    step = params.get("frame_step")
    fps = row.get("fps")
    if isinstance(step, (int, float)) and step > 0 and isinstance(fps, list):
        for i, f in enumerate(fps):
            if isinstance(f, (int, float)) and not close(f, 1.0 / step):
                add("params", f"clip {i} fps {f} != 1 / params frame_step ({1.0 / step:.6g})")
    times, want = row.get("frame_times"), planned_times(params)
    if not isinstance(times, list) or want is None:
        return
    if row.get("task") == "jigsaw":
        check_jigsaw_times(times, want, params, add)
        return
    flat = [t for clip in times if isinstance(clip, list) for t in clip]
    if row.get("task") == "grounding":
        check_grounding_times(flat, want, params, add)
    elif len(flat) != len(want) or not all(close(a, b, 1e-9) for a, b in zip(flat, want)):
        add("params", "frame_times are not the source frames of params (source_indices / source_fps)")


def check_jigsaw_times(times: list, want: list[float], params: dict, add: Add) -> None:
    """Each shown clip holds the source frames of the original clip it is."""
    per, shown = params.get("frames_per_clip"), params.get("shown_order")
    if not (isinstance(per, int) and isinstance(shown, list) and all(isinstance(k, int) for k in shown)):
        return
    for pos, k in enumerate(shown):
        if pos < len(times) and isinstance(times[pos], list):
            exp = want[k * per : (k + 1) * per]
            if len(exp) != len(times[pos]) or not all(close(a, b, 1e-9) for a, b in zip(times[pos], exp)):
                add(
                    "params",
                    f"clip {pos} frame_times are not source frames {k * per}..{(k + 1) * per - 1} of params",
                )


def segment_order(params: dict) -> list[int] | None:
    """The order a reorder perturbation shows the segment's frames in, from its params (None if unknown)."""
    if isinstance(params.get("order"), list):
        return [int(k) for k in params["order"]]
    held, runs = params.get("held_positions"), params.get("run_lengths")
    if isinstance(held, list) and isinstance(runs, list) and len(held) == len(runs):
        return [int(h) for h, r in zip(held, runs) for _ in range(int(r))]
    return None


def check_grounding_times(flat: list[float], want: list[float], params: dict, add: Add) -> None:
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
        order = segment_order(params)
        if order is None:  # an unknown reorder: the segment shows some of its own frames
            allowed = [want[i] for i in seg]
            for i in seg:
                if not any(close(flat[i], t, 1e-9) for t in allowed):
                    add("params", f"frame {i} time {flat[i]} is not a source frame of the segment")
                    return
                expected[i] = flat[i]
        elif len(order) != len(seg) or any(not 0 <= k < len(seg) for k in order):
            add("params", f"the segment order in params does not fit a segment of {len(seg)} frames")
            return
        else:
            for j, k in enumerate(order):
                expected[start + j] = want[start + k]
    bad = [i for i, (a, b) in enumerate(zip(flat, expected)) if not close(a, b, 1e-9)]
    if bad:
        add(
            "params",
            f"frame_times differ from the source frames planned in params at frames {bad[:8]}"
            + (" (the segment order)" if all(i in seg for i in bad) else ""),
        )


def check_counting(row: dict, params: dict, add: Add) -> None:
    need(params, "shapes", "counts", "max_frames_per_shape", "max_instances_per_frame", "num_frames")
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
    check_counting_layout(shapes, n, mf, mi, add)
    size = params.get("frame_size")
    if isinstance(size, list) and len(size) == 2:
        w, h = size
        for s in shapes:
            if outside(s, w, h):
                add("params", f"a {s['type']} on frame {s['frame']} is not fully inside the {w}x{h} frame")
    limits = {
        name: (p.max_frames_per_shape, p.max_instances_per_frame) for name, p in counting.PRESETS.items()
    }
    check_levels(row, next((name for name, lim in limits.items() if lim == (mf, mi)), "custom"), add)
    if row.get("question") is not None and row.get("question") != single_video_question(COUNTING_QUESTION):
        add("question", "the question is not the counting prompt")
    check_single_clip(row, params, n, add)


def check_counting_layout(shapes: list[dict], n: int, mf: int, mi: int, add: Add) -> None:
    """Shapes on frames of the clip, within the per-shape and per-frame limits, no two types on a frame."""
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


def outside(shape: dict, w: float, h: float) -> bool:
    try:
        if shape["type"] == "circle":
            (cx, cy), r = shape["center"], shape["size"] / 2
            return cx - r < 0 or cy - r < 0 or cx + r > w or cy + r > h
        v = counting.shape_vertices(shape)
        return bool((v[:, 0] < 0).any() or (v[:, 1] < 0).any() or (v[:, 0] > w).any() or (v[:, 1] > h).any())
    except (KeyError, TypeError, ValueError):
        return True


def check_levels(row: dict, difficulty: str, add: Add) -> None:
    if row.get("difficulty") != difficulty:
        add("answer", f"difficulty {row.get('difficulty')!r}, but params make it {difficulty!r}")
    if row.get("subtype") not in (difficulty, "custom"):
        add("answer", f"subtype {row.get('subtype')!r}, expected {difficulty!r} or 'custom'")


def check_jigsaw(row: dict, params: dict, add: Add) -> None:
    need(params, "shown_order", "num_clips", "frames_per_clip")
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
    check_levels(row, jigsaw.DIFFICULTY_BY_CLIPS.get(n, "custom"), add)
    k = num_clips(row)
    if k is not None and k != n:
        add("clips", f"jigsaw has {k} clips, params num_clips is {n}")
    for i, f in enumerate(row.get("num_frames") or []):
        if f != per:
            add("params", f"clip {i} has num_frames {f}, params frames_per_clip is {per}")
    if "num_frames" in params and int(params["num_frames"]) != n * per:
        add("params", f"params num_frames {params['num_frames']} != num_clips {n} x frames_per_clip {per}")
    if row.get("question") is not None and 2 <= n <= 9 and row.get("question") != jigsaw_question(n):
        add("question", f"the question is not the {n}-clip jigsaw prompt")
    check_fps_and_times(row, params, add)
    times = row.get("frame_times")
    if isinstance(times, list) and answer == expected and len(times) == n:
        restored = [t for p in jigsaw.restore_order(answer) for t in (times[p] or [])]
        if any(b <= a for a, b in itertools.pairwise(restored)):
            add("answer", "playing the clips in the answer's order does not give increasing frame_times")


TASK_CHECKS: dict[str, Callable[[dict, dict, Add], None]] = {
    "grounding": check_grounding,
    "counting": check_counting,
    "jigsaw": check_jigsaw,
}
