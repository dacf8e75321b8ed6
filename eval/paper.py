"""The paper's reported numbers, for comparison: Table 1 (VIUBench), Tables 2-3 (downstream benchmarks at
32, 48 and 64 frames) and Tables 6-7 (R@0.3/0.5/0.7 of the grounding benchmarks).

``paper_numbers(model, frames)`` gives ``{bench: {metric: value}}``; VIUBench's are at its fixed 48 frames.
The Random Guess row is the scheme of :class:`~videossr.eval.backends.RandomBackend`.
"""

from __future__ import annotations

TABLE1_COLUMNS = (
    "counting/easy",
    "counting/hard",
    "grounding/ChannelSwap",
    "grounding/Rotate180",
    "grounding/ZoomOut",
    "grounding/Mirror",
    "grounding/Shuffle",
    "jigsaw/easy",
    "jigsaw/hard",
    "counting",
    "grounding",
    "jigsaw",
    "overall",
)
TABLE1_LABELS = (
    "C-E",
    "C-H",
    "Chan",
    "Rot",
    "ZOut",
    "Mirr",
    "Shuf",
    "J-E",
    "J-H",
    "Cnt",
    "Grd",
    "Jig",
    "Overall",
)


def _rows(table: str) -> dict[tuple[str, ...], tuple[float, ...]]:
    """``name | name2 | v v v ...`` lines -> ``{(name, name2): (v, ...)}`` (a table that reads as one)."""
    out = {}
    for line in table.strip().splitlines():
        *keys, values = (part.strip() for part in line.split("|"))
        out[tuple(keys)] = tuple(float(v) for v in values.split())
    return out


# Table 1, in TABLE1_COLUMNS order.
_T1 = _rows("""
Random Guess | 11.1  6.3 25.9 25.4 25.4 25.2 25.2  0.1 0.0  8.7 25.4  0.1 16.1
Qwen3-VL-8B  | 13.8  7.7 50.1 53.4 21.4 13.6 14.1  1.3 0.0 10.7 30.5  0.7 19.5
VideoSSR-8B  | 29.0 24.6 88.7 89.0 94.4 67.8 41.0 24.3 8.0 26.8 76.2 16.2 51.9
""")
VIUBENCH_TABLE1 = {model: dict(zip(TABLE1_COLUMNS, row)) for (model,), row in _T1.items()}

# Tables 2-3: each benchmark's primary metric, in _T23_BENCHES order.
_T23_BENCHES = (
    "mvbench",
    "tempcompass",
    "aotbench",
    "vinoground",
    "videomme",
    "lvbench",
    "longvideobench",
    "cgbench",
    "qvhighlights",
    "activitynet",
    "charades",
    "tacos",
    "videommmu",
    "videott",
    "vcrbench",
    "cvbench",
)
_T23 = _rows("""
Qwen3-VL-8B | 32 | 66.9 74.9 59.8 45.2 64.1 39.6 58.6 40.1 43.7 36.5 50.3 22.4 58.2 41.8  7.4 61.8
Qwen3-VL-8B | 48 | 67.6 74.8 60.2 45.0 66.0 41.5 60.0 41.7 46.4 38.4 50.0 25.9 58.5 43.0  7.4 61.5
Qwen3-VL-8B | 64 | 67.8 74.8 60.7 45.0 66.4 43.0 61.3 42.6 48.6 39.8 49.2 28.1 58.8 44.0  8.8 61.6
VideoSSR-8B | 32 | 68.6 75.7 60.5 55.6 65.2 41.5 59.6 40.2 59.6 42.1 52.1 23.1 59.9 44.2 10.7 63.5
VideoSSR-8B | 48 | 68.8 75.8 61.7 55.6 66.7 42.9 61.1 42.5 61.1 43.0 51.1 27.7 60.0 44.9 15.3 63.8
VideoSSR-8B | 64 | 68.9 75.7 61.8 55.6 67.6 44.0 61.5 43.4 62.6 43.7 49.9 30.6 60.9 45.8 17.8 63.3
""")

# Tables 6-7: R@0.3 / R@0.5 / R@0.7 per grounding benchmark.
_TG = _rows("""
Qwen3-VL-8B | 32 | qvhighlights | 62.3 42.5 24.2
Qwen3-VL-8B | 32 | activitynet  | 52.3 34.5 18.3
Qwen3-VL-8B | 32 | charades     | 76.5 58.1 27.9
Qwen3-VL-8B | 32 | tacos        | 34.7 19.2  7.1
Qwen3-VL-8B | 48 | qvhighlights | 64.4 46.5 30.3
Qwen3-VL-8B | 48 | activitynet  | 54.3 36.4 21.0
Qwen3-VL-8B | 48 | charades     | 76.6 56.1 26.9
Qwen3-VL-8B | 48 | tacos        | 39.0 24.0 10.7
Qwen3-VL-8B | 64 | qvhighlights | 64.5 48.6 33.9
Qwen3-VL-8B | 64 | activitynet  | 55.6 38.6 23.0
Qwen3-VL-8B | 64 | charades     | 77.1 54.2 25.5
Qwen3-VL-8B | 64 | tacos        | 42.0 26.6 12.3
VideoSSR-8B | 32 | qvhighlights | 83.3 66.0 43.4
VideoSSR-8B | 32 | activitynet  | 63.0 41.4 21.5
VideoSSR-8B | 32 | charades     | 78.2 60.6 30.8
VideoSSR-8B | 32 | tacos        | 34.1 19.8  7.4
VideoSSR-8B | 48 | qvhighlights | 83.5 66.9 48.3
VideoSSR-8B | 48 | activitynet  | 63.2 42.3 22.7
VideoSSR-8B | 48 | charades     | 79.0 59.9 27.5
VideoSSR-8B | 48 | tacos        | 40.0 24.7 12.3
VideoSSR-8B | 64 | qvhighlights | 83.7 68.0 49.7
VideoSSR-8B | 64 | activitynet  | 63.3 42.7 24.2
VideoSSR-8B | 64 | charades     | 78.7 57.6 24.2
VideoSSR-8B | 64 | tacos        | 43.8 28.1 14.4
""")
_PRIMARY = {
    "vinoground": "text_score",
    "qvhighlights": "mIoU",
    "activitynet": "mIoU",
    "charades": "mIoU",
    "tacos": "mIoU",
}

MODELS = ("Qwen3-VL-8B", "VideoSSR-8B")


def paper_numbers(model: str, frames: int) -> dict[str, dict[str, float]]:
    """``{bench: {metric: value}}`` the paper reports for ``model`` at ``frames`` (empty when none)."""
    out: dict[str, dict[str, float]] = {}
    if model in VIUBENCH_TABLE1:
        out["viubench"] = dict(VIUBENCH_TABLE1[model])
    row = _T23.get((model, str(frames)))
    if row:
        for bench, value in zip(_T23_BENCHES, row):
            out[bench] = {_PRIMARY.get(bench, "accuracy"): value}
        for (m, f, bench), (r3, r5, r7) in _TG.items():
            if (m, f) == (model, str(frames)):
                out[bench].update({"R@0.3": r3, "R@0.5": r5, "R@0.7": r7})
    return out
