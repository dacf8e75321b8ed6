"""The build: sources -> probe -> split -> per-source work units (plan) -> run on the cluster -> re-draw
what failed -> finalize each dataset into its Hub-layout folder.

The driver only schedules and counts (:mod:`.driver`); workers do all decoding, encoding and checking of rows
(:mod:`.unit`) and write their rows to a part file under ``<out>/.videossr-work/<dataset>/parts/``
(:mod:`.parts`), then the shards from the parts as the units they take finish (:mod:`.shard_tasks`). A unit or
a shard whose files read back whole is not redone, so re-running the same command resumes, and because every
random choice is seeded from ``(seed, dataset, sample index)`` (:mod:`.plan`) the final dataset is the same
as an uninterrupted run's, whichever worker ran what. Before anything is written the build checks where it
writes (:mod:`.output`) and takes each dataset's lock (:mod:`.lock`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .checks import MachineFacts, Problem, verify_repo
from .checks.dataset import warm_up
from .checks.rendered import RowChecks
from .config import BuildConfig
from .driver import Cluster, cluster_threads, iter_units, probe_all, worker_start_method
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
from .preview_plan import PreviewPicker
from .probe_cache import ProbeCache
from .recipes import Recipe
from .remote import is_url
from .shard_tasks import PreviewJob, ShardJob, ShardPlanner, preview_of, write_shard
from .shards import ROW_GROUP_BYTES
from .sources import Skipped, Source, dedupe, discover
from .unit import run_unit

if TYPE_CHECKING:
    from distributed import Future as DaskFuture

PROBE_CACHE = Path(CACHE_DIR) / "probe.jsonl"  # under --out-dir, beside the dataset folders
SHARD_PRIORITY = 1 << 40  # shards and previews run before any queued unit (units count down from theirs)

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
    verify: bool = False,
) -> BuildResult:
    """Build every recipe's dataset folder under ``config.out_dir`` (``<out>/<recipe name>``). Every row is
    checked as it is rendered (verify's row and clip checks); with ``verify``, the checks that need the whole
    dataset then run on each dataset folder too, on a worker (``DatasetResult.report``).

    Refuses (:class:`~.output.OutputRefused`, nothing written) a folder it did not make and an output that
    overlaps the sources; raises :class:`~.lock.BuildLocked` when another build is writing a dataset."""
    say = on_progress or (lambda msg: print(msg, flush=True))
    t0 = time.monotonic()
    source_inputs = list(source_inputs)
    folders = output_folders(recipes, Path(config.out_dir))
    with Stages(config, say, verify) as stages:  # the cluster starts while the sources are listed
        pairs, skipped = discover(source_inputs)
        local = [p for _, p in pairs if isinstance(p, Path)]
        inputs = [s for s in source_inputs if not is_url(s)]
        check_sources_apart(Path(config.out_dir), folders.values(), inputs, local)
        with dataset_locks(folders.values()):
            fault_point("locked")
            for folder in folders.values():
                check_replaceable(folder)  # again: the folder may have appeared before the lock was taken
                recover(folder)
            say(f"[build] {len(pairs)} candidate source videos ({len(skipped)} skipped while listing)")
            sources = stages.probe(pairs, skipped, min_source_frames(recipes))
            assignment = split_sources(sources, recipes)
            for recipe in recipes:
                folder, assigned = folders[recipe.name], assignment[recipe.name]
                units = stages.plan(recipe, assigned, folder)
                with stages.progress(recipe) as bar:
                    work = stages.run(recipe, units, assigned, folder, bar)
                skipped += work.outcome.failed_sources
                stages.finalize(recipe, folder, work, skipped)
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


@dataclass
class DatasetWork:
    """What the driver keeps of a dataset while its units run: what they gave (folded in), the shards cut
    so far, the preview's rows found so far and, once found, the preview being drawn."""

    outcome: DatasetOutcome
    planner: ShardPlanner
    picker: PreviewPicker
    drawing: tuple[PreviewJob, DaskFuture] | None = None


class Stages:
    """The build's stages, with the cluster they run on (started in the background as the block is entered)
    and the driver thread that writes each dataset's folder while the workers run the next dataset's units.
    Leaving the block closes everything."""

    def __init__(self, config: BuildConfig, say: Callable[[str], None], verify: bool = False) -> None:
        self.config, self.say, self.verify = config, say, verify
        self.warm: DaskFuture | None = None  # the whole-dataset checks' imports, done on an idle worker
        self.starting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videossr-cluster")
        method = None if config.scheduler else worker_start_method(config.worker_start)
        if method == "fork":  # first, while nothing a fork would copy (threads, files, children) exists
            self._cluster: Future[Cluster] = Future()
            self._cluster.set_result(Cluster(config, method))
        else:  # in the background, while the sources are listed and probed
            self._cluster = self.starting.submit(Cluster, config, method)
        self.finalizer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videossr-finalize")
        self.finalizing: list[Future[DatasetResult]] = []
        self.versions = self.finalizer.submit(tool_versions)  # for the manifests

    @property
    def cluster(self) -> Cluster:
        return self._cluster.result()

    def __enter__(self) -> Stages:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.starting.shutdown(wait=True)
        if self._cluster.exception() is None:
            self.cluster.close()  # first: a writer waiting on a shard then stops waiting
        self.finalizer.shutdown(wait=True, cancel_futures=True)

    def probe(
        self, pairs: list[tuple[str, Path | str]], skipped: list[Skipped], min_frames: int
    ) -> list[Source]:
        """The usable, distinct sources; the others are added to ``skipped``."""
        cache = ProbeCache(Path(self.config.out_dir) / PROBE_CACHE)
        local = self.config.scheduler is None  # a remote cluster's files may not be here

        def starting() -> bool:
            return local and not self._cluster.done()

        probed = probe_all(
            lambda: self.cluster.client, pairs, skipped, self.config, min_frames, cache, starting=starting
        )
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

    def run(
        self, recipe: Recipe, units: list[Unit], sources: list[Source], folder: Path, bar: tqdm
    ) -> DatasetWork:
        """Run the units (each checks its rows as it renders them), writing the shards and drawing the
        preview as soon as the units they take are done. Samples whose source turned out undecodable are
        re-drawn from the sources that worked, so the recipe's counts hold; the bad source stays reported.
        Deterministic: the same sources fail."""
        shards = work_area(folder) / "shards"
        work = DatasetWork(
            DatasetOutcome(),
            ShardPlanner(shards, self.config.max_shard_bytes, ROW_GROUP_BYTES, self.submit_shard),
            PreviewPicker(units, shards),
        )
        run = partial(run_unit, checks=RowChecks.for_folder(folder))
        self.run_units(work, units, 0, bar, run)
        failed = {s.unit for s in work.outcome.failed}
        if failed and work.outcome.good:
            lookup = {src.id: src for src in sources}
            jobs = [j for u in units if u.key in failed for j in u.jobs]
            good = sorted(work.outcome.good)
            retry_units = regroup_units(jobs, [lookup[g] for g in good], units[0])
            self.say(
                f"[build] {recipe.name}: {len(jobs)} samples of {len(failed)} undecodable sources re-drawn "
                f"from {len(good)} good sources"
            )
            work.picker.moved_to(retry_units)
            self.run_units(work, retry_units, len(units), bar, run, more=True)
        work.outcome.settle(redrawn=bool(failed and work.outcome.good))
        # Samples rejected on every draw at their source (e.g. ChannelSwap on a grey video) had one more
        # chance at a fallback source inside their unit; those rejected there too stay reported.
        if work.outcome.moved:
            self.say(
                f"[build] {recipe.name}: {work.outcome.moved} samples rejected at their source re-drawn from "
                "another source"
            )
        return work

    def run_units(
        self,
        work: DatasetWork,
        units: list[Unit],
        first: int,
        bar: tqdm,
        run: Callable[[Unit], UnitSummary],
        *,
        more: bool = False,
    ) -> None:
        """Run ``units`` (positions ``first``... of the dataset's plan); take each summary as it comes."""
        client = self.cluster.client
        threads = cluster_threads(client)
        finished = iter_units(client, units, bar, self.config.retries, more=more, run=run)
        for done, (k, summary) in enumerate(finished, 1):
            work.outcome.add(summary)
            work.planner.add(first + k, units[k].part_path, summary)
            work.picker.add(first + k, summary)
            if len(units) - done < threads:
                self.idle(work)

    def idle(self, work: DatasetWork | None = None) -> None:
        """A worker has no unit left to run: it draws the preview if its rows are known, and imports what
        the final checks need (once), which costs more than they do."""
        if work is not None and work.drawing is None and work.picker.job is not None:
            work.drawing = (work.picker.job, self.submit_preview(work.picker.job))
        if self.verify and self.warm is None:
            self.warm = self.cluster.client.submit(warm_up, pure=False, priority=SHARD_PRIORITY - 1)

    def check(self, results: list[DatasetResult]) -> None:
        """The whole-dataset checks of every dataset folder (each against the other for overlap), on the
        worker that imported what they need; each report, with what the units found checking their rows,
        goes into the dataset's result."""
        client = self.cluster.client
        folders = [r.out_dir for r in results]
        # On the warmed worker once its imports are done (a worker that would import them again takes
        # longer than the wait); on any worker if the warm-up failed or its worker is gone.
        placement = {}
        if self.warm is not None:
            with contextlib.suppress(Exception):
                self.warm.result()
                where = list(client.who_has(self.warm).get(self.warm.key, ()))
                if where:
                    placement = {"workers": where, "allow_other_workers": True}
        futures = [
            client.submit(
                verify_repo,
                r.out_dir,
                other=next((o for o in folders if o != r.out_dir), None),
                rows=False,
                progress=False,
                machines=(MachineFacts.here(),),
                pure=False,
                priority=SHARD_PRIORITY,
                **placement,
            )
            for r in results
        ]
        for result, report in zip(results, client.gather(futures)):
            report.problems = [Problem(*p) for p in result.problems] + report.problems
            for what, n in result.checks.items():
                report.count(what, n)
            result.report = report

    def submit_shard(self, job: ShardJob) -> DaskFuture:
        """A shard to write, ahead of the units still queued (it only waits on units that are done)."""
        return self.cluster.client.submit(
            write_shard, job, pure=False, retries=self.config.retries, priority=SHARD_PRIORITY
        )

    def finalize(self, recipe: Recipe, folder: Path, work: DatasetWork, skipped: list[Skipped]) -> None:
        """Cut the last shards and draw the preview if not drawn yet (on the workers, side by side), and
        queue the dataset's folder to be written once they are done (on the driver's writer thread)."""
        shards = work.planner.finish()
        preview = work.planner.preview()  # the rows the finished dataset's preview shows
        early = work.drawing is not None and work.drawing[0] == preview
        drawn = work.drawing[1] if early else self.submit_preview(preview)
        manifest = build_manifest(recipe, self.config, work.outcome, skipped, self.versions.result())
        out = Path(self.config.out_dir) / recipe.name
        self.say(f"[build] {recipe.name}: writing {work.outcome.rows} rows to {out.name}/")
        keep = {job.key for job, _ in shards} | {preview.path.stem}
        futures = [f for _, f in shards]
        work_dir = preview.path.parent
        job = FinalizeJob(recipe, out, folder, manifest, work.outcome, work_dir, keep, futures, drawn)
        self.finalizing.append(self.finalizer.submit(self._finalize, job))

    def submit_preview(self, job: PreviewJob) -> DaskFuture:
        return self.cluster.client.submit(preview_of, job, pure=False, priority=SHARD_PRIORITY)

    def _finalize(self, job: FinalizeJob) -> DatasetResult:
        result = finalize_dataset(job)
        shutil.rmtree(work_area(job.folder) / "frames", ignore_errors=True)
        return result

    def results(self) -> list[DatasetResult]:
        """Every dataset's result, in recipe order, once its folder is written; then the cluster is closed."""
        self.idle()
        results = []
        for future in self.finalizing:
            results.append(future.result())
            self.say(f"[build] {results[-1].name}: {results[-1].built} rows written")
        if self.verify:
            self.check(results)
        self.cluster.close()
        return results


def result_dict(result: BuildResult) -> dict[str, Any]:
    return {
        "datasets": [{**asdict(d), "out_dir": str(d.out_dir)} for d in result.datasets],
        "skipped_sources": [s.to_dict() for s in result.skipped_sources],
        "num_sources": result.num_sources,
        "seconds": round(result.seconds, 1),
    }
