"""The decode floor: decoding exactly the frames the build's plans need (the union per source, as the
build decodes it), nothing else, with the build's decoder in this process: the unavoidable cost of a
build."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
from videossr.build.config import BuildConfig
from videossr.build.decode_child import decode_frames
from videossr.build.frames import worker_sampler
from videossr.build.plan import min_source_frames, plan_units, sample_rng
from videossr.build.probe import probe_source
from videossr.build.recipes import MixEntry, Recipe
from videossr.build.source_frames import decodable_info, frame_indices
from videossr.build.sources import Source, discover
from videossr.build.unit import MAX_ATTEMPTS
from videossr.tasks import SampleRejected, TaskSpec, plan_sample

from .measure import all_up, cpu_self

FAMILIES = (("grounding", "ChannelSwap"), ("counting", "easy"), ("jigsaw", "easy"))
MAX_PIXELS = 256 * 256
FloorPlan = tuple[str, list[int], int, int]  # source path, frame indices, width, height


def bench_recipe(n_sources: int, per_family: int) -> Recipe:
    """``per_family`` samples of each task family per source: 48 frames, at most 256x256 pixels."""
    mix = tuple(MixEntry(TaskSpec(t, s), n_sources * per_family) for t, s in FAMILIES)
    return Recipe("bench", mix, max_pixels=MAX_PIXELS)


def floor_plans(sources_dir: Path, per_family: int, seed: int) -> list[FloorPlan]:
    """Per source: the union of frame indices the build's plans decode (same planning code, same seeds)."""
    pairs, _ = discover([sources_dir])
    min_frames = min_source_frames([bench_recipe(1, per_family)])  # as the build probes
    probed = (probe_source(sid, str(p), min_frames=min_frames) for sid, p in pairs)
    sources = [s for s in probed if isinstance(s, Source)]
    recipe = bench_recipe(len(sources), per_family)
    units = plan_units(recipe, sources, BuildConfig(seed=seed), Path("unused"))
    sampler = worker_sampler()
    out = []
    for unit in units:
        info = decodable_info(sampler, unit.source, unit.max_pixels)  # as run_unit plans
        wanted = []
        for job in unit.jobs:
            for attempt in range(MAX_ATTEMPTS):
                try:
                    plan = plan_sample(job.spec, info, sample_rng(seed, unit.dataset, job.index, attempt))
                except SampleRejected:
                    continue
                wanted.append(frame_indices(plan.times, info))
                break
        idx = np.unique(np.concatenate(wanted)).tolist() if wanted else []
        out.append((unit.source.path, idx, info.width, info.height))
    return out


def decode_floor_one(job: FloorPlan) -> float:
    """CPU seconds to decode one source's frames with the build's decoder, in this process (no child, no
    pipe: the pure decoding cost)."""
    path, idx, w, h = job
    c0 = cpu_self()
    decode_frames(path, idx, w, h)
    return cpu_self() - c0


def import_decoder() -> None:
    import av  # noqa: F401
    import decord  # noqa: F401
    import videossr.build.decode_child  # noqa: F401


def run_floor(plans: list[FloorPlan], workers: int) -> dict[str, float]:
    with mp.get_context("spawn").Pool(workers, initializer=import_decoder) as pool:
        all_up(pool, workers)
        t0 = time.perf_counter()
        per_source = list(pool.imap_unordered(decode_floor_one, plans, chunksize=1))
        wall = time.perf_counter() - t0
    return {"wall": wall, "cpu": sum(per_source), "frames": sum(len(p[1]) for p in plans)}


def clip_floors(repo: Path) -> dict[str, float]:
    """The CPU of encoding every clip of a built dataset again with the build's encoder and settings (its
    frames decoded first, off the clock), and of the checks' decode of every clip from memory: the encode
    floor, and what the build's own clip checks cost. In this process, one clip at a time."""
    import io

    import av
    import pyarrow.parquet as pq
    from videossr.build.checks.clips import check_clip_in_memory, clips_of_row
    from videossr.build.render import encode_clip

    manifest = json.loads((repo / "build_manifest.json").read_text())
    encode = check = 0.0
    clips = frames = 0
    for shard in sorted(repo.glob("data/*/*.parquet")):
        table = pq.read_table(shard, columns=["videos", "fps", "num_frames", "task", "params"])
        for row in table.to_pylist():
            for clip in clips_of_row(row):
                with av.open(io.BytesIO(clip.data)) as container:
                    rgb = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
                c0 = cpu_self()
                encode_clip(rgb, clip.fps or 1.0, crf=manifest["crf"], preset=manifest["x264_preset"])
                c1 = cpu_self()
                check_clip_in_memory(clip)
                encode, check = encode + c1 - c0, check + cpu_self() - c1
                clips, frames = clips + 1, frames + len(rgb)
    return {"encode_cpu": encode, "check_cpu": check, "clips": clips, "clip_frames": frames}
