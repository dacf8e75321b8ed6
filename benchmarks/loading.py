"""The built dataset as a trainer reads it: every clip decoded to model-ready uint8 ``(T, 3, H, W)``
tensors with torchcodec (the decoder ``datasets.Video`` and ``train/`` use), and the verify pass the build
runs after itself."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path

from .measure import all_up, cpu_self


def load_init() -> None:
    import torch
    from torchcodec.decoders import VideoDecoder  # noqa: F401

    torch.set_num_threads(1)


def load_chunk(job: tuple[str, int, int, int]) -> tuple[int, float]:
    """Decode every clip of rows [lo, hi) of one row group to uint8 (T, 3, H, W) tensors."""
    import pyarrow.parquet as pq
    from torchcodec.decoders import VideoDecoder

    shard, group, lo, hi = job
    c0 = cpu_self()
    table = pq.ParquetFile(shard).read_row_group(group, columns=["videos", "num_frames"]).slice(lo, hi - lo)
    for videos, counts in zip(table.column("videos").to_pylist(), table.column("num_frames").to_pylist()):
        for video, n in zip(videos, counts):
            dec = VideoDecoder(video["bytes"], seek_mode="exact")
            batch = dec.get_frames_at(indices=list(range(dec.metadata.num_frames or n))).data
            if batch.shape[0] != n:
                raise RuntimeError(f"clip {video['path']} decoded to {batch.shape[0]} frames, not {n}")
    return hi - lo, cpu_self() - c0


def run_load(repo: Path, workers: int, rows_per_task: int = 4) -> dict[str, float]:
    """Rows per second in ``workers`` processes, counted from when the processes are up (their one-time
    torch import is left out)."""
    import pyarrow.parquet as pq

    jobs = []
    for shard in sorted(repo.glob("data/**/*.parquet")):
        meta = pq.ParquetFile(shard).metadata
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            jobs += [(str(shard), g, lo, min(n, lo + rows_per_task)) for lo in range(0, n, rows_per_task)]
    with mp.get_context("spawn").Pool(workers, initializer=load_init) as pool:
        all_up(pool, workers)
        t0 = time.perf_counter()
        done = list(pool.imap_unordered(load_chunk, jobs, chunksize=1))
        wall = time.perf_counter() - t0
    rows = sum(r for r, _ in done)
    cpu = sum(c for _, c in done)
    return {"wall": wall, "rows": rows, "cpu_per_row": cpu / rows, "rows_per_s": rows / wall}


def run_verify(repo: Path, workers: int) -> dict[str, float]:
    """``build/verify.py`` on the built repo, in a fresh process, as ``build/run.py`` runs it after a build
    (every clip decoded, every answer re-derived, ``load_dataset``): the rest of the main job's time."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "videossr.build.checks", str(repo), "--workers", str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"verify failed on the bench repo:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return {"wall": wall}
