"""The driver's side of the cluster: a Dask client on a local cluster (or a given scheduler), the sources
probed in batches, and work units submitted a window at a time while their progress is counted.

The driver only schedules and counts; workers do all decoding and encoding (:mod:`.unit`).
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from .config import BuildConfig
from .frames import close_worker_sampler
from .heap import apply_heap_settings
from .parts import UnitSummary, finished_summary
from .plan import Unit
from .probe import MAX_SOURCE_PIXELS, probe_source
from .probe_cache import ProbeCache
from .remote import is_url
from .sources import Skipped, Source
from .unit import run_unit

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

# Units submitted to Dask at once, at least (8 per worker thread on larger clusters): every submitted task
# costs the driver (Dask's client and scheduler) memory, so a window keeps the driver flat however many
# units there are.
UNITS_IN_FLIGHT = 256
# Dask's statistical profiler samples every worker's stack and its monitors wake the event loop often: a
# steady cost on every worker that the build's own cluster does without.
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.tick.interval": "1s",
    # A unit allocates and frees frame buffers of a few to tens of MB again and again (decoded frames, clips,
    # perturbed copies). Dask starts workers with glibc's trim threshold at 64 KiB, and glibc's own
    # defaults hand buffers this large back to the system too: each reuse then page-faults every page
    # again (about a tenth of a unit's CPU, in system time). Buffers up to 64 MB come from the heap and up
    # to 256 MB of freed heap is kept. The decode child inherits the setting from its worker.
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(64 << 20),
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(256 << 20),
}


class ClusterError(Exception):
    """The given scheduler cannot be used (unreachable, or its workers run several threads)."""


def worker_start_method(requested: str = "auto") -> str | None:
    """How the build's own worker processes start (``BuildConfig.worker_start``): for ``"auto"``, ``"fork"``
    on Linux from a process that runs no other thread; else ``None`` (Dask's configured method, ``spawn`` by
    default).

    A forked worker is a copy of the driver with its imports done, so it does not import distributed, PyAV,
    pyarrow and the build again (about half a second of CPU per worker, a tenth of a small build's CPU). A
    fork copies only the calling thread and any lock another thread holds stays held in the copy, so it is
    used only while this process has one thread, before the build opens a file or starts a child."""
    if requested != "auto" or sys.platform != "linux" or threading.active_count() != 1:
        return None
    return "fork"


class Cluster:
    """A Dask client on a LocalCluster (one single-threaded worker process per core) or a given scheduler.

    ``start_method``: how the LocalCluster's workers start (see :func:`worker_start_method`); a worker that
    dies later is started again by Dask's configured method, since by then the driver holds locks and
    pipes a fork would copy."""

    def __init__(self, config: BuildConfig, start_method: str | None = None) -> None:
        from distributed import Client

        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.cluster: LocalCluster | None = None
        self.closed = False
        if config.scheduler:
            try:
                self.client = Client(config.scheduler)
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at --scheduler {config.scheduler} ({exc}): start it "
                    "(`dask scheduler`) or give its address as tcp://HOST:PORT"
                ) from None
            check_single_threaded(self.client, config.scheduler)
        else:
            self.cluster = local_cluster(config.workers or os.cpu_count() or 1, start_method)
            self.client = Client(self.cluster)
            if start_method == "fork":
                self.client.run(apply_heap_settings)  # a forked worker's heap began as the driver's
            from .quick_exit import QuickExit

            self.client.register_plugin(QuickExit())

    def close(self) -> None:
        """Close the client and our cluster (once; later calls do nothing)."""
        if self.closed:
            return
        self.closed = True
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def local_cluster(workers: int, start_method: str | None) -> LocalCluster:
    """The build's own cluster: ``workers`` single-threaded worker processes started by ``start_method``
    (None: Dask's configured method), with the build's worker settings (``QUIET_DASK``)."""
    import dask
    from distributed import LocalCluster

    settings = dict(QUIET_DASK)
    if start_method is not None:
        settings["distributed.worker.multiprocessing-method"] = start_method
    if start_method == "fork":  # the build's modules are imported; PyAV is imported only where it encodes
        import av  # noqa: F401  (imported by every worker, so once here)
    with dask.config.set(settings):  # the worker processes take the config they start with
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # The scheduler's HTTP endpoints on a free port: never another build's.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        )


def check_single_threaded(client: Client, address: str) -> None:
    """Raise :class:`ClusterError` when a worker of the scheduler at ``address`` runs more than one thread: a
    worker process has one decode child and one download cache, which one unit at a time may use."""
    workers = client.scheduler_info().get("workers", {})
    crowded = sorted(a for a, w in workers.items() if w.get("nthreads", 1) > 1)
    if crowded:
        client.close()
        raise ClusterError(
            f"{len(crowded)} worker(s) of --scheduler {address} run more than one thread "
            f"(e.g. {crowded[0]}): the build runs one unit per worker process; start them with "
            "`dask worker ADDRESS --nthreads 1` (and --nworkers N for N processes per machine)"
        )


def cluster_threads(client: Client) -> int:
    """Worker threads of the cluster now (0 if the scheduler cannot say)."""
    try:
        return sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values())
    except Exception:  # an old or unreachable scheduler: the floor of the window applies
        return 0


def run_units(
    client: Client,
    units: list[Unit],
    bar: tqdm,
    retries: int,
    *,
    more: bool = False,
    window: int | None = None,
    run: Callable[[Unit], UnitSummary] = run_unit,
) -> list[UnitSummary]:
    """Every unit's summary (see :func:`iter_units`), in the order they finish."""
    return [s for _, s in iter_units(client, units, bar, retries, more=more, window=window, run=run)]


def iter_units(
    client: Client,
    units: list[Unit],
    bar: tqdm,
    retries: int,
    *,
    more: bool = False,
    window: int | None = None,
    run: Callable[[Unit], UnitSummary] = run_unit,
) -> Iterator[tuple[int, UnitSummary]]:
    """Run units on the cluster with ``run`` and yield ``(position in units, summary)`` as each finishes;
    finished ones are read back, not run, and come first. Units are submitted in plan order with falling
    priority, at most ``window`` at a time (default: ``UNITS_IN_FLIGHT``, or 8 per worker thread), so the
    driver holds a window of futures whatever the number of units. ``more``: these are extra units
    (re-draws), so the progress bar's total grows by their samples."""
    from distributed import as_completed

    if more:
        bar.total += sum(len(u.jobs) for u in units)
        bar.refresh()
    totals = {"done": 0, "skipped": 0}

    def count(summary: UnitSummary) -> None:
        totals["done"] += len(summary.rows)
        totals["skipped"] += len(summary.skipped_samples)
        bar.update(len(summary.rows) + len(summary.skipped_samples))
        bar.set_postfix(totals)

    todo = []
    for k, u in enumerate(units):
        done = finished_summary(u.key, u.part_path, u.marker_path)
        if done is None:
            todo.append(k)
        else:
            count(done)
            yield k, done
    window = window or max(UNITS_IN_FLIGHT, 8 * cluster_threads(client))
    queued = iter(enumerate(todo))
    running = as_completed(loop=client.loop)
    position: dict[str, int] = {}

    def submit(how_many: int) -> None:
        for i, k in itertools.islice(queued, how_many):
            future = client.submit(run, units[k], pure=False, retries=retries, priority=len(todo) - i)
            position[future.key] = k
            running.add(future)

    submit(window)
    for fut in running:
        summary = fut.result()
        count(summary)
        k = position.pop(fut.key)
        fut.release()
        submit(1)
        yield k, summary


def probe_batch(
    pairs: list[tuple[str, str]],
    min_frames: int,
    timeout: float = 60.0,
    max_source_pixels: int = MAX_SOURCE_PIXELS,
) -> list[Source | Skipped]:
    """Worker side: probe a batch of sources (batched to keep Dask's task count reasonable)."""
    return [
        probe_source(sid, path, min_frames=min_frames, timeout=timeout, max_source_pixels=max_source_pixels)
        for sid, path in pairs
    ]


def probe_all(
    cluster: Callable[[], Client],
    pairs: list[tuple[str, Path | str]],
    skipped: list[Skipped],
    config: BuildConfig,
    min_frames: int,
    cache: ProbeCache,
    *,
    starting: Callable[[], bool] = lambda: False,
) -> list[Source]:
    """Probe the sources, those an earlier run probed (unchanged files) from ``cache``. While ``starting()``
    (the cluster is still coming up) local files are probed in this process; the rest on the cluster
    (``cluster()`` is its client, once up). Returns the usable ones; the others are added to ``skipped``."""
    probed: list[Source] = []
    to_probe: list[tuple[str, Path | str]] = []
    for sid, path in pairs:
        hit = cache.get(sid, path, min_frames, config.max_source_pixels)
        if hit is not None:
            probed.append(hit)
        else:
            to_probe.append((sid, path))
    here = []
    while to_probe and not is_url(str(to_probe[-1][1])) and starting():
        here.append(to_probe.pop())
        probed += keep_probed(
            probe_batch([(sid, str(p)) for sid, p in here[-1:]], **probe_options(config, min_frames)),
            skipped,
            cache,
        )
    if here:
        close_worker_sampler()  # this process probes no more
    client = cluster()
    # Batches of at most 16 (few Dask tasks), but at least ~4 per worker so no worker probes alone.
    n_workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = max(1, min(16, -(-len(to_probe) // (4 * n_workers))))
    batches = [[(s, str(p)) for s, p in to_probe[i : i + size]] for i in range(0, len(to_probe), size)]
    futures = client.map(
        probe_batch, batches, **probe_options(config, min_frames), pure=False, retries=config.retries
    )
    # In order; each batch is remembered as it comes in, so an interrupted probe phase keeps its work.
    for future in futures:
        probed += keep_probed(future.result(), skipped, cache)
        future.release()
    return probed


def probe_options(config: BuildConfig, min_frames: int) -> dict[str, float | int]:
    return {
        "min_frames": min_frames,
        "timeout": config.decode_timeout,
        "max_source_pixels": config.max_source_pixels,
    }


def keep_probed(results: list[Source | Skipped], skipped: list[Skipped], cache: ProbeCache) -> list[Source]:
    """The usable sources of a batch of probes, remembered in ``cache``; the others are added to
    ``skipped``."""
    fresh = [r for r in results if isinstance(r, Source)]
    skipped += [r for r in results if isinstance(r, Skipped)]
    cache.add(fresh)
    return fresh
