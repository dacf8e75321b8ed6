"""Shared helpers for the verify tests: small valid dataset repos and ways to break copies of them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from videossr.build.repo import write_samples_repo
from videossr.tasks import (
    Sample,
    SampleRejected,
    TaskSpec,
    VideoInfo,
    make_sample,
    plan_sample,
    resolve_secondary,
)

ROOT = Path(__file__).resolve().parent.parent
VERIFY = ROOT / "build" / "verify.py"
WIDTH, HEIGHT, SOURCE_FPS, SOURCE_FRAMES = 64, 48, 24.0, 240

# (task, subtype, source id): every task, a reorder perturbation, two sources
MAIN_ROWS = (
    ("grounding", "ChannelSwap", "cooking/a"),
    ("grounding", "ChannelSwap", "sports/b"),
    ("grounding", "Shuffle", "sports/b"),
    ("counting", "easy", "cooking/a"),
    ("jigsaw", "easy", "sports/b"),
)
OTHER_ROWS = (
    ("grounding", "Mirror", "nature/c"),
    ("counting", "easy", "nature/c"),
)


def source_frames(times: np.ndarray, seed: int) -> np.ndarray:
    """Moving colour gradients: every frame differs from its neighbours and R differs from B."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    out = np.empty((len(times), HEIGHT, WIDTH, 3), dtype=np.uint8)
    for k, t in enumerate(np.asarray(times, dtype=np.float64)):
        out[k, ..., 0] = (xs * 4 + t * 90 + seed * 17) % 256
        out[k, ..., 1] = (ys * 5 + t * 45) % 256
        out[k, ..., 2] = (255 - xs * 3 - ys * 2 + t * 130) % 256
    return out


def make_samples(
    rows: tuple[tuple[str, str, str], ...] | list[tuple[str, str, str]],
    seed: int = 0,
    params: dict[str, dict] | None = None,
) -> list[tuple[str, str, Sample]]:
    """``(id, source, Sample)`` for each ``(task, subtype, source)``; ``params``: TaskSpec overrides by
    task/subtype."""
    info = VideoInfo(
        duration=SOURCE_FRAMES / SOURCE_FPS,
        fps=SOURCE_FPS,
        num_frames=SOURCE_FRAMES,
        width=WIDTH,
        height=HEIGHT,
    )
    other = VideoInfo(duration=8.0, fps=30.0, num_frames=240, width=80, height=60)  # Swap's second video
    out = []
    for i, (task, subtype, source) in enumerate(rows):
        src_seed = sum(map(ord, source))
        spec = TaskSpec(task, subtype, dict((params or {}).get(f"{task}/{subtype}", {})))
        for attempt in range(50):
            rng = np.random.default_rng([seed, i, attempt])
            plan = plan_sample(spec, info, rng)
            secondary = None
            if plan.needs_secondary:
                times = resolve_secondary(plan, other)
                secondary = np.roll(source_frames(times, src_seed + 1), 7, axis=2)
            try:
                sample = make_sample(plan, source_frames(plan.times, src_seed), secondary)
            except SampleRejected:
                continue
            break
        else:
            raise RuntimeError(f"no valid {task}/{subtype} sample in 50 attempts")
        out.append((f"{task}-{subtype}-{i:06d}", source, sample))
    return out


def write_repo(out: Path, rows: tuple[tuple[str, str, str], ...], name: str, seed: int = 0) -> Path:
    samples = make_samples(rows, seed)
    manifest = {
        "recipe_name": name,
        "seed": seed,
        "sources": sorted({src for _, src, _ in samples}),
        "skipped_sources": [{"source": "bad/zero", "reason": "empty file (0 bytes)"}],
    }
    write_samples_repo(samples, out, dataset_name=name, manifest=manifest)
    return out


def copy_repo(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def shards(folder: Path) -> list[Path]:
    return sorted(folder.glob("data/*/*.parquet"))


def edit_rows(
    folder: Path, edit: Callable[[dict], None], where: Callable[[dict], bool] = lambda r: True
) -> list[str]:
    """Apply ``edit`` in place to the rows matching ``where``; rewrite their shards; return the edited ids."""
    edited = []
    for shard in shards(folder):
        table = pq.read_table(shard)
        rows = table.to_pylist()
        hit = False
        for row in rows:
            if where(row):
                edit(row)
                edited.append(row["id"])
                hit = True
        if hit:
            pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), shard)
    assert edited, "no row matched"
    return edited


def first_id(folder: Path, task: str) -> str:
    for shard in shards(folder):
        for rid, t in zip(*pq.read_table(shard, columns=["id", "task"]).to_pydict().values()):
            if t == task:
                return rid
    raise AssertionError(f"no {task} row")


def drop_column(folder: Path, column: str) -> None:
    for shard in shards(folder):
        table = pq.read_table(shard)
        pq.write_table(table.drop_columns([column]), shard)


def edit_manifest(folder: Path, edit: Callable[[dict], None]) -> None:
    path = folder / "build_manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFY), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def problems_of(report, check: str) -> list[str]:
    return [str(p) for p in report.problems if p.check == check]
