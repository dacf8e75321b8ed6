"""A build's shards, written in parallel while its units run: the driver cuts each config's rows into shards
in plan order as units finish (:class:`ShardPlanner`), and a worker writes each shard from the units' parts
(:func:`write_shard`) into the dataset's work area. A shard that is already written there (its marker and
file read back whole) is not written again, so re-running a finished build rewrites no shard. The dataset
folder then takes the shards under their fingerprinted names (:func:`.repo.link_repo`).

A shard holds the rows of one config from a run of consecutive units in plan order, in id order; the next
unit whose rows would take it over the size limit starts the next shard. The cut depends only on the plan
and the units' rows, never on which worker finished what first, so the bytes are the same on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from .faults import fault_point
from .output import fsync_dir, fsync_file, write_durable
from .parts import UnitSummary, iter_part_rows
from .preview import preview_configs, preview_png
from .shards import ROW_GROUP_ROWS, ShardFile, ShardStats, returning_allocator

if TYPE_CHECKING:
    from distributed import Future

SHARD_LAYOUT = 1  # bump when write_shard gives other bytes for the same rows


@dataclass(frozen=True)
class ShardJob:
    """One shard to write: the rows ``ids`` of ``config`` from the units' ``parts``, into ``folder``."""

    config: str
    parts: tuple[str, ...]
    ids: tuple[str, ...]
    folder: str
    row_group_bytes: int

    @property
    def key(self) -> str:
        """What the shard holds, hashed (parts are named by their unit's key)."""
        described = [
            SHARD_LAYOUT,
            self.config,
            [Path(p).stem for p in self.parts],
            list(self.ids),
            self.row_group_bytes,
            ROW_GROUP_ROWS,
        ]
        return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:20]

    @property
    def path(self) -> Path:
        return Path(self.folder) / f"{self.key}.parquet"

    @property
    def marker_path(self) -> Path:
        return Path(self.folder) / f"{self.key}.json"


@dataclass(frozen=True)
class WrittenShard:
    """A shard in the work area and what it holds."""

    config: str
    path: str
    stats: ShardStats


def finished_shard(job: ShardJob) -> WrittenShard | None:
    """The shard ``job`` already written by an earlier run (its marker and file whole and agreeing), or
    None."""
    try:
        data = json.loads(job.marker_path.read_bytes())
        if data.get("key") != job.key:
            return None
        stats = ShardStats(**data["stats"])
        if pq.ParquetFile(job.path).metadata.num_rows != stats.rows:
            return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, pa.ArrowException):
        return None
    return WrittenShard(job.config, str(job.path), stats)


def write_shard(job: ShardJob) -> WrittenShard:
    """Worker side: write the shard of ``job`` (rows in id order), synced, then its marker; or return the
    one an earlier run wrote."""
    done = finished_shard(job)
    if done is not None:
        return done
    fault_point("shard")
    job.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.path.with_name(f".{job.path.name}.tmp-{os.getpid()}")
    try:
        with returning_allocator():
            shard = ShardFile(tmp, job.row_group_bytes)
            try:
                for row in iter_part_rows([Path(p) for p in job.parts], list(job.ids)):
                    shard.add(row)
            finally:
                stats = shard.close()
        fsync_file(tmp)
        os.replace(tmp, job.path)
    finally:
        tmp.unlink(missing_ok=True)
    write_durable(job.marker_path, json.dumps({"key": job.key, "stats": asdict(stats)}).encode())
    fsync_dir(job.path.parent)
    return WrittenShard(job.config, str(job.path), stats)


@dataclass
class OpenShard:
    """The shard of a config being filled on the driver: its units' parts, its row ids and their size."""

    parts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    num_bytes: int = 0


UnitRows = list[tuple[str, list[str], int]]  # per config of a unit: (config, its row ids, their size)


def unit_rows(summary: UnitSummary) -> UnitRows:
    """What the planner keeps of a unit's summary."""
    out = []
    for config in sorted(set(summary.row_configs)):
        at = summary.positions(config)
        out.append((config, [summary.rows[k] for k in at], sum(summary.row_bytes[k] for k in at)))
    return out


@dataclass(frozen=True)
class PreviewJob:
    """The rows the dataset's preview shows, each ``(its unit's part, its id)``, and the work folder."""

    rows: tuple[tuple[str, str], ...]
    folder: str

    @property
    def path(self) -> Path:
        names = json.dumps([[Path(part).stem, rid] for part, rid in self.rows]).encode()
        return Path(self.folder) / f"preview-{hashlib.sha256(names).hexdigest()[:20]}.png"


class ShardPlanner:
    """Cuts each config's rows into shards as units finish, taking the units in plan order (those that finish
    early wait, as their row ids, for the ones before them), and hands each shard to ``submit`` as soon as
    it is cut. Only the shards being filled, those waiting units and each config's first row are held."""

    def __init__(
        self,
        folder: Path,
        max_bytes: int,
        row_group_bytes: int,
        submit: Callable[[ShardJob], Future],
    ) -> None:
        self.folder, self.max_bytes, self.row_group_bytes = folder, max_bytes, row_group_bytes
        self.submit = submit
        self.waiting: dict[int, tuple[str, UnitRows]] = {}
        self.next = 0
        self.open: dict[str, OpenShard] = {}
        self.first: dict[str, tuple[str, str]] = {}  # config -> (its smallest row id, the part holding it)
        self.jobs: list[tuple[str, ShardJob, Future]] = []  # in the order cut

    def add(self, position: int, part: Path, summary: UnitSummary) -> None:
        """The unit at ``position`` in plan order finished with ``summary``; its part is ``part``."""
        self.waiting[position] = (str(part), unit_rows(summary))
        while self.next in self.waiting:
            self._take(*self.waiting.pop(self.next))
            self.next += 1

    def _take(self, part: str, rows: UnitRows) -> None:
        for config, ids, size in rows:
            shard = self.open.get(config)
            if shard is not None and shard.num_bytes + size > self.max_bytes:
                self._cut(config)
            shard = self.open.setdefault(config, OpenShard())
            shard.parts.append(part)
            shard.ids += ids
            shard.num_bytes += size
            self.first[config] = min(self.first.get(config, (min(ids), part)), (min(ids), part))

    def _cut(self, config: str) -> None:
        shard = self.open.pop(config)
        job = ShardJob(
            config, tuple(shard.parts), tuple(sorted(shard.ids)), str(self.folder), self.row_group_bytes
        )
        self.jobs.append((config, job, self.submit(job)))

    def finish(self) -> list[tuple[ShardJob, Future]]:
        """Cut the last shard of every config; every shard's job and future, in the order of the shards'
        names (config, then the order cut). Every unit must have been added."""
        if self.waiting:
            raise RuntimeError(f"units {sorted(self.waiting)[:3]} finished but units before them did not")
        for config in sorted(self.open):
            self._cut(config)
        ordered = sorted(self.jobs, key=lambda job: job[0])  # stable: a config's shards stay in order
        return [(job, future) for _, job, future in ordered]

    def preview(self) -> PreviewJob:
        """The preview's rows: the first row (by id) of the first configs of each task (see
        :func:`.preview.preview_configs`), known once every unit is added."""
        chosen = preview_configs(sorted(self.first))
        return PreviewJob(tuple((self.first[c][1], self.first[c][0]) for c in chosen), str(self.folder))


def preview_of(job: PreviewJob) -> bytes | None:
    """Worker side: the dataset's preview picture (PNG) of ``job``'s rows, read from the units' parts; kept
    in the work area, so a re-run does not draw it again."""
    try:
        return job.path.read_bytes()
    except OSError:
        pass
    rows = [dict(next(iter(iter_part_rows([Path(part)], [rid])))) for part, rid in job.rows]
    png = preview_png(rows)
    if png is not None:
        job.path.parent.mkdir(parents=True, exist_ok=True)
        write_durable(job.path, png)
    return png


def prune_shards(folder: Path, keep: set[str]) -> None:
    """Remove from the work area's shard folder every file whose stem is not in ``keep``: shards and previews
    of earlier builds, and what a crash left half-written (the dataset folder has its own links to its
    shards)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.is_file() and path.name.split(".", 1)[0] not in keep:
            path.unlink(missing_ok=True)
