"""What the build is compared with: the paper's released layout re-implemented (a frame folder of JPEGs and
a parquet of frame paths), and, from a checkout of the paper's repository, its released pipeline itself."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .floor import import_decoder
from .measure import cpu_children

FRAMES = 48


def frame_folder_one(job: tuple[str, str, int, int]) -> list[dict[str, Any]]:
    """One source in the frame-folder layout: decord decodes 48 frames at native resolution, written as JPEG
    files (quality 95); each grounding sample perturbs its segment's JPEGs with PIL and writes them as new
    JPEGs, each counting sample draws shapes on a few frames and writes those as new JPEGs, jigsaw only
    lists paths."""
    import decord
    from PIL import Image

    path, out_dir, seed, samples_per_family = job
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    n = len(reader)
    start, end = int(n * 0.05), int(n * 0.95)
    interval = (end - start) // FRAMES
    frames = reader.get_batch([start + i * interval for i in range(FRAMES)]).asnumpy()
    names = []
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(out / f"{i}.jpg", quality=95)
        names.append(str(out / f"{i}.jpg"))
    rows = []
    for k in range(samples_per_family):
        rows.append(_grounding_row(names, out, k, rng))
        rows.append(_counting_row(names, out, k, rng))
        # jigsaw: 6 clips of 8 frame paths, shuffled
        order = list(range(6))
        rng.shuffle(order)
        shown = [p for c in order for p in names[c * 8 : (c + 1) * 8]]
        rows.append(
            {"task": "jigsaw", "frames": shown, "answer": "".join(str(order.index(c) + 1) for c in range(6))}
        )
    return rows


def _grounding_row(names: list[str], out: Path, k: int, rng: random.Random) -> dict[str, Any]:
    """ChannelSwap: t perturbed frames written as new JPEGs (PIL's default quality, as the paper)."""
    from PIL import Image

    t = rng.randint(8, 16)
    s = rng.randint(0, FRAMES - t)
    paths = list(names)
    for i in range(s, s + t):
        with Image.open(names[i]) as img:
            r, g, b = img.convert("RGB").split()
            new = out / f"{i}_channelswap{k}.jpg"
            Image.merge("RGB", (b, g, r)).save(new)
        paths[i] = str(new)
    return {"task": "grounding", "frames": paths, "answer": f"{s}-{s + t}"}


def _counting_row(names: list[str], out: Path, k: int, rng: random.Random) -> dict[str, Any]:
    """Shapes drawn on a few frames, written as new JPEGs (quality 95)."""
    import numpy as np
    from PIL import Image, ImageDraw

    paths = list(names)
    for i in rng.sample(range(FRAMES), rng.randint(3, 6)):
        pil = Image.fromarray(np.asarray(Image.open(names[i]).convert("RGB")).copy())
        draw = ImageDraw.Draw(pil)
        w, h = pil.size
        for _ in range(rng.randint(1, 3)):
            size = rng.randint(int(min(w, h) * 0.2), int(min(w, h) * 0.4))
            cx, cy = rng.randint(size, w - size), rng.randint(size, h - size)
            box = (cx - size // 2, cy - size // 2, cx + size // 2, cy + size // 2)
            draw.ellipse(box, fill=(200, 80, 60))
        new = out / f"{i}_shape{k}.jpg"
        pil.save(new, quality=95)
        paths[i] = str(new)
    return {"task": "counting", "frames": paths, "answer": "1,0,0"}


def run_frame_folder(sources: Path, out: Path, workers: int) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    videos = sorted(sources.glob("*.mp4"))
    jobs = [(str(v), str(out / "frames" / v.stem), i, 1) for i, v in enumerate(videos)]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(workers, initializer=import_decoder) as pool:
        rows = [r for rs in pool.imap(frame_folder_one, jobs, chunksize=1) for r in rs]
    pq.write_table(pa.Table.from_pylist(rows), out / "train.parquet")
    wall = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"wall": wall, "rows": len(rows), "bytes": size}


def patched_script(reference: Path, name: str, out: Path, values: dict[str, Any]) -> Path:
    """A copy of one of the paper's task scripts with its path constants pointed at this run (the scripts
    configure themselves with module-level constants); written under ``out``, never into the project."""
    text = (reference / "pretext_tasks" / name).read_text()
    for key, value in values.items():
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value!r}", text, count=1, flags=re.M)
        if count != 1:
            raise SystemExit(f"--reference-repo: {name} has no `{key} = ...` line to point at this run")
    path = out / "scripts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _reference_stages(
    reference: Path, sources: Path, out: Path, workers: int, num_videos: int
) -> list[tuple[str, list[str]]]:
    """The command of each stage of the paper's pipeline, pointed at ``sources`` and writing under ``out``."""
    frames, fps_json, parquet_dir = out / "frames", out / "fps.json", out / "parquet"
    sampler = reference / "pretext_tasks" / "sample_frames.py"
    sample_frames = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('sf', {str(sampler)!r})\n"
        "m = importlib.util.module_from_spec(spec); sys.modules['sf'] = m; spec.loader.exec_module(m)\n"
        f"m.VIDEO_DIRS = [{str(sources)!r}]; m.OUTPUT_BASE_DIR = {str(frames)!r}\n"
        f"m.JSON_OUTPUT_PATH = {str(fps_json)!r}; m.NUM_WORKER = {workers}\n"
        "m.main()\n"
    )
    common = {
        "VIDEO_BASE_DIR": str(frames),
        "FPS_JSON_PATH": str(fps_json),
        "LOCAL_SAVE_DIR": str(parquet_dir),
        "START_INDEX": 0,
        "END_INDEX": num_videos,
    }
    grounding = patched_script(reference, "grounding.py", out, {**common, "PERTURBATION_TYPE": "ChannelSwap"})
    return [
        ("sample_frames", [sys.executable, "-c", sample_frames]),
        ("grounding", [sys.executable, str(grounding)]),
        ("counting", [sys.executable, str(patched_script(reference, "counting.py", out, common))]),
        ("jigsaw", [sys.executable, str(patched_script(reference, "jigsaw.py", out, common))]),
    ]


def run_reference(
    reference: Path, sources: Path, out: Path, workers: int, num_videos: int
) -> dict[str, float]:
    """The paper's released pipeline pointed at the corpus: ``pretext_tasks/sample_frames.py`` (48 JPEG frames
    per video, ``workers`` processes), then ``grounding.py`` (ChannelSwap), ``counting.py`` and ``jigsaw.py``
    (perturbed JPEGs next to the frames, a parquet of frame paths each), one sample per video and task as in
    the build. Timed per stage, with the CPU of every process they ran; bytes are everything they write."""
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    times: dict[str, float] = {}
    c0 = cpu_children()
    t0 = time.perf_counter()
    for name, cmd in _reference_stages(reference, sources, out, workers, num_videos):
        t = time.perf_counter()
        env = {**os.environ, "HF_DATASETS_OFFLINE": "1"}
        proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(
                f"--reference-repo: the paper's {name} stage failed: {proc.stderr.strip()[-400:]}"
            )
        times[name] = time.perf_counter() - t
    wall = time.perf_counter() - t0
    cpu = cpu_children() - c0
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "parquet").glob("*.parquet"))
    if not rows:
        raise SystemExit(
            "--reference-repo: the paper's scripts wrote no samples (see their output under the work dir)"
        )
    data = [p for p in out.rglob("*") if p.is_file() and "scripts" not in p.relative_to(out).parts]
    frames_bytes = sum(p.stat().st_size for p in (out / "frames").rglob("*.jpg") if "_" not in p.name)
    return {
        "wall": wall,
        "cpu": cpu,
        "frames_wall": times["sample_frames"],
        "rows": rows,
        "bytes": sum(p.stat().st_size for p in data),
        "frames_bytes": frames_bytes,
    }
