"""A contact sheet of a few samples per task (frames, question and answer), referenced by the dataset card."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .render import decode_clip_in_memory

THUMB_H = 72
FRAMES_PER_ROW = 8
ROWS_PER_TASK = 2
TEXT_W = 420


def preview_configs(configs: list[str]) -> list[str]:
    """The configs the preview shows (``configs`` in name order): the first ``ROWS_PER_TASK`` of each task."""
    shown: dict[str, int] = {}
    out = []
    for config in configs:
        task = config.split("-", 1)[0]
        if shown.get(task, 0) < ROWS_PER_TASK:
            shown[task] = shown.get(task, 0) + 1
            out.append(config)
    return out


def pick_rows(out_dir: Path) -> list[dict]:
    """The rows the preview shows, read from the dataset folder ``out_dir``: of each config
    :func:`preview_configs` picks, its first row by id (the first row of its first shard). Picked on the
    small columns; only the picked rows' videos are read, so the preview costs the same however large the
    dataset."""
    import pyarrow.parquet as pq

    shards: dict[str, Path] = {}
    for shard in sorted(Path(out_dir).glob("data/*/*.parquet")):
        shards.setdefault(shard.parent.name, shard)
    out = []
    columns = ["id", "task", "subtype", "question", "answer", "videos", "params"]
    for config in preview_configs(sorted(shards)):
        pf = pq.ParquetFile(shards[config])
        if pf.metadata.num_rows:
            out.append(pf.read_row_group(0, columns=columns).slice(0, 1).to_pylist()[0])
    return out


def _spread(count: int, n: int = FRAMES_PER_ROW) -> list[int]:
    """``n`` frame positions spread evenly over ``count`` frames, the first and last included."""
    return np.linspace(0, count - 1, n).round().astype(int).tolist()


def _ends(count: int) -> list[int]:
    return [0, count - 1]


def _strip(frames: np.ndarray, n: int) -> Image.Image:
    idx = _spread(len(frames), n)
    h, w = frames.shape[1:3]
    tw = max(1, int(w * THUMB_H / h))
    tiles = [Image.fromarray(frames[i]).resize((tw, THUMB_H)) for i in idx]
    strip = Image.new("RGB", (tw * n + 2 * (n - 1), THUMB_H), (255, 255, 255))
    for k, tile in enumerate(tiles):
        strip.paste(tile, (k * (tw + 2), 0))
    return strip


def render_preview(rows: list[dict]) -> Image.Image | None:
    if not rows:
        return None
    font = ImageFont.load_default()
    # Every clip shown, decoded in this process (the clips are this tool's own).
    shown = [row["videos"] if row["task"] == "jigsaw" else row["videos"][:1] for row in rows]
    panels = []
    for row, videos in zip(rows, shown):
        if row["task"] == "jigsaw":  # the first and last frame of each clip
            frames = np.concatenate([decode_clip_in_memory(v["bytes"], _ends) for v in videos])
            strip = _strip(frames, min(len(frames), FRAMES_PER_ROW * 2))
        else:  # the frames the strip shows
            strip = _strip(decode_clip_in_memory(videos[0]["bytes"], _spread), FRAMES_PER_ROW)
        question = row["question"].replace("<video>", "").strip().splitlines()[-1]
        text = [
            f"{row['task']} / {row['subtype']}",
            f"answer: {row['answer']}",
            *textwrap.wrap(question, 70)[:4],
        ]
        panel = Image.new(
            "RGB", (strip.width + TEXT_W + 16, max(THUMB_H, 14 * len(text)) + 12), (255, 255, 255)
        )
        panel.paste(strip, (6, 6))
        draw = ImageDraw.Draw(panel)
        for k, line in enumerate(text):
            draw.text((strip.width + 14, 6 + 14 * k), line, fill=(0, 0, 0) if k else (20, 60, 160), font=font)
        panels.append(panel)
    width = max(p.width for p in panels)
    sheet = Image.new("RGB", (width, sum(p.height for p in panels) + 2 * len(panels)), (230, 230, 230))
    y = 0
    for p in panels:
        sheet.paste(p, (0, y))
        y += p.height + 2
    return sheet


def preview_png(rows: list[dict]) -> bytes | None:
    """The preview picture of ``rows`` (:func:`pick_rows`), as PNG bytes; None when there is none."""
    sheet = render_preview(rows)
    if sheet is None:
        return None
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")  # not optimize=True: much slower for a few bytes
    return buf.getvalue()
