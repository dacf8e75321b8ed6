"""The build: sources -> probe -> split -> per-source work units (plan) -> run on the cluster -> re-draw
what failed -> finalize each dataset into its Hub-layout folder.

The driver only schedules and counts (:mod:`.driver`); workers do all decoding and encoding (:mod:`.unit`)
and write their rows to a part file under ``<out>/.videossr-work/<dataset>/parts/`` (:mod:`.parts`). A unit
whose part and marker read back whole is not redone, so re-running the same command resumes, and because
every random choice is seeded from ``(seed, dataset, sample index)`` (:mod:`.plan`) the final dataset is the
same as an uninterrupted run's, whichever worker ran what. Before anything is written the build checks where
it writes (:mod:`.output`) and takes each dataset's lock (:mod:`.lock`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from tqdm.auto import tqdm

from .config import BuildConfig
from .driver import Cluster, probe_all, run_units
from .faults import fault_point
from .lock import dataset_locks
from .manifest import (
    DatasetOutcome,
    DatasetResult,
    FinalizeJob,
    build_manifest,
    finalize_dataset,
    tool_versions,
)
from .output import (
    CACHE_DIR,
    OutputRefused,
    check_replaceable,
    check_sources_apart,
    dataset_folder,
    recover,
    work_area,
)
from .parts import UnitSummary
from .plan import Unit, min_source_frames, plan_units, regroup_units, split_sources
from .probe_cache import ProbeCache
from .recipes import Recipe
from .sources import Skipped, Source, dedupe, discover

PROBE_CACHE = Path(CACHE_DIR) / "probe.jsonl"  # under --out-dir, beside the dataset folders

__all__ = ["BuildConfig", "BuildResult", "DatasetResult", "build", "result_dict"]


@dataclass
class BuildResult:
    datasets: list[DatasetResult]
    skipped_sources: list[Skipped]
    num_sources: int
    seconds: float


def build(
    recipes: list[Recipe],
    source_inputs: Iterable[str | os.PathLike],
    config: BuildConfig,
    *,
    on_progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build every recipe's dataset folder under ``config.out_dir`` (``<out>/<recipe name>``).

    Refuses (:class:`~.output.OutputRefused`, nothing written) a folder it did not make and an output that
    overlaps the sources; raises :class:`~.lock.BuildLocked` when another build is writing a dataset."""
    say = on_progress or (lambda msg: print(msg, flush=True))
    t0 = time.monotonic()
    source_inputs = list(source_inputs)
    folders = output_folders(recipes, Path(config.out_dir))
    pairs, skipped = discover(source_inputs)
    check_sources_apart(Path(config.out_dir), folders.values(), source_inputs, [p for _, p in pairs])
    with dataset_locks(folders.values()):
        fault_point("locked")
        for folder in folders.values():
            check_replaceable(folder)  # again: the folder may have appeared before the lock was taken
            recover(folder)
        say(f"[build] {len(pairs)} candidate source videos ({len(skipped)} skipped while listing)")
        with Stages(config, say) as stages:
            sources = stages.probe(pairs, skipped, min_source_frames(recipes))
            assignment = split_sources(sources, recipes)
            for recipe in recipes:
                folder, assigned = folders[recipe.name], assignment[recipe.name]
                units = stages.plan(recipe, assigned, folder)
                with stages.progress(recipe) as bar:
                    summaries = stages.run(units, bar)
                    outcome, units = stages.redraw(recipe, units, summaries, assigned, bar)
                skipped += outcome.failed_sources
                stages.finalize(recipe, folder, units, outcome, skipped)
            datasets = stages.results()
    return BuildResult(
        datasets=datasets,
        skipped_sources=sorted(set(skipped), key=lambda s: (s.source, s.reason)),
        num_sources=len(pairs),
        seconds=time.monotonic() - t0,
    )


def output_folders(recipes: list[Recipe], out_dir: Path) -> dict[str, Path]:
    """Each recipe's dataset folder, checked before anything is written: a valid name, inside ``out_dir``,
    absent or made by this tool (raises :class:`~.output.OutputRefused` or ``ValueError``)."""
    folders: dict[str, Path] = {}
    for recipe in recipes:
        if recipe.name in folders:
            raise OutputRefused(f"dataset {recipe.name} is listed twice: each dataset is built once")
        folders[recipe.name] = dataset_folder(out_dir, recipe.name)
        check_replaceable(folders[recipe.name])
    return folders


class Stages:
    """The build's stages, with the cluster they run on and the driver thread that writes each dataset's
    folder while the workers run the next dataset's units. The cluster is closed as soon as the last units
    are done; leaving the block closes everything."""

    def __init__(self, config: BuildConfig, say: Callable[[str], None]) -> None:
        self.config, self.say = config, say
        self.cluster = Cluster(config)
        self.finalizer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videossr-finalize")
        self.finalizing: list[Future[DatasetResult]] = []
        self.versions = self.finalizer.submit(tool_versions)  # for the manifests

    def __enter__(self) -> Stages:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cluster.close()
        self.finalizer.shutdown(wait=True, cancel_futures=True)

    def probe(self, pairs: list[tuple[str, Path]], skipped: list[Skipped], min_frames: int) -> list[Source]:
        """The usable, distinct sources; the others are added to ``skipped``."""
        cache = ProbeCache(Path(self.config.out_dir) / PROBE_CACHE)
        probed = probe_all(self.cluster.client, pairs, skipped, self.config, min_frames, cache)
        sources, dupes = dedupe(probed)
        skipped += dupes
        earlier = f" ({cache.hits} probed by an earlier run)" if cache.hits else ""
        self.say(f"[build] {len(sources)} usable sources{earlier}, {len(skipped)} skipped")
        return sources

    def plan(self, recipe: Recipe, sources: list[Source], folder: Path) -> list[Unit]:
        shutil.rmtree(work_area(folder) / "frames", ignore_errors=True)  # units leave frames for fallbacks
        units = plan_units(recipe, sources, self.config, work_area(folder) / "parts")
        self.say(
            f"[build] {recipe.name}: {recipe.total} samples from {len(sources)} sources in {len(units)} units"
        )
        return units

    def progress(self, recipe: Recipe) -> tqdm:
        disable = not self.config.progress
        return tqdm(total=recipe.total, desc=recipe.name, unit="sample", disable=disable, dynamic_ncols=True)

    def run(self, units: list[Unit], bar: tqdm, *, more: bool = False) -> list[UnitSummary]:
        return run_units(self.cluster.client, units, bar, self.config.retries, more=more)

    def redraw(
        self,
        recipe: Recipe,
        units: list[Unit],
        summaries: list[UnitSummary],
        sources: list[Source],
        bar: tqdm,
    ) -> tuple[DatasetOutcome, list[Unit]]:
        """Samples whose source turned out undecodable are re-drawn from the sources that worked, so the
        recipe's counts hold; the bad source stays reported. Deterministic: the same sources fail. Returns
        what the units gave and every unit whose part holds rows of the dataset."""
        failed = {s.unit for s in summaries if s.source_error}
        good = sorted({s.source for s in summaries if not s.source_error})
        if failed and good:
            lookup = {src.id: src for src in sources}
            jobs = [j for u in units if u.key in failed for j in u.jobs]
            retry_units = regroup_units(jobs, [lookup[g] for g in good], units[0])
            self.say(
                f"[build] {recipe.name}: {len(jobs)} samples of {len(failed)} undecodable sources re-drawn "
                f"from {len(good)} good sources"
            )
            summaries = summaries + self.run(retry_units, bar, more=True)
            units = units + retry_units
        redrawn = [s for s in summaries if s.unit in failed and good]
        kept = sorted((s for s in summaries if not (s.unit in failed and good)), key=lambda s: s.unit)
        outcome = DatasetOutcome(kept, redrawn)
        # Samples rejected on every draw at their source (e.g. ChannelSwap on a grey video) had one more
        # chance at a fallback source inside their unit; those rejected there too stay reported.
        if outcome.moved:
            self.say(
                f"[build] {recipe.name}: {len(outcome.moved)} samples rejected at their source re-drawn from "
                "another source"
            )
        return outcome, units

    def finalize(
        self, recipe: Recipe, folder: Path, units: list[Unit], outcome: DatasetOutcome, skipped: list[Skipped]
    ) -> None:
        """Queue the dataset's folder to be written from its parts (on the driver's writer thread)."""
        manifest = build_manifest(recipe, self.config, outcome, skipped, self.versions.result())
        shutil.rmtree(work_area(folder) / "frames", ignore_errors=True)
        out = Path(self.config.out_dir) / recipe.name
        ids = outcome.ids
        self.say(f"[build] {recipe.name}: writing {len(ids)} rows to {out.name}/")
        parts = sorted({u.part_path for u in units})
        job = FinalizeJob(
            recipe, out, folder, parts, ids, manifest, outcome.skipped_samples, outcome.used_sources
        )
        self.finalizing.append(
            self.finalizer.submit(finalize_dataset, job, self.config.max_shard_bytes, self.config.progress)
        )

    def results(self) -> list[DatasetResult]:
        """Every dataset's result, in recipe order, once its folder is written (closing the cluster first)."""
        self.cluster.close()
        return [f.result() for f in self.finalizing]


def result_dict(result: BuildResult) -> dict[str, Any]:
    return {
        "datasets": [{**asdict(d), "out_dir": str(d.out_dir)} for d in result.datasets],
        "skipped_sources": [s.to_dict() for s in result.skipped_sources],
        "num_sources": result.num_sources,
        "seconds": round(result.seconds, 1),
    }
