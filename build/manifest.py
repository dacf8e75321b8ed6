"""What a dataset's units gave, folded in as they finish (:class:`DatasetOutcome`), the build manifest that
records it with the settings and tool versions, and the finalize job that writes the dataset folder from the
shards the workers wrote (:func:`finalize_dataset`)."""

from __future__ import annotations

import importlib.metadata as md
import platform
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videossr import __version__

from .config import BuildConfig
from .parts import SkippedSample, UnitSummary
from .recipes import Recipe
from .render import encoder_version, ffmpeg_version
from .repo import link_repo
from .shard_tasks import prune_shards
from .sources import Skipped

if TYPE_CHECKING:
    from distributed import Future

    from .checks import VerifyReport

VERSIONED_PACKAGES = (
    "numpy",
    "pillow",
    "av",
    "decord",
    "dask",
    "distributed",
    "pyarrow",
    "datasets",
    "huggingface_hub",
)


def tool_versions() -> dict[str, str]:
    """The versions that decide a dataset's bytes, recorded in its manifest."""
    versions = {
        "videossr": __version__,
        "python": platform.python_version(),
        "ffmpeg": ffmpeg_version(),
        "encoder": encoder_version(),
    }
    for pkg in VERSIONED_PACKAGES:
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = "not installed"
    return versions


@dataclass
class DatasetOutcome:
    """What a dataset's units gave, folded in as their summaries arrive (:meth:`add`), so the driver keeps no
    summary: rows, the sources they come from, the samples no draw could give, the units whose source gave
    nothing (kept until :meth:`settle`: their samples may be re-drawn elsewhere) and what the checks of the
    rows counted and found."""

    rows: int = 0
    moved: int = 0  # samples made at a fallback source
    sources: set[str] = field(default_factory=set)  # the sources the rows come from
    good: set[str] = field(default_factory=set)  # the sources of the units that gave rows
    skipped: list[SkippedSample] = field(default_factory=list)
    failed: list[UnitSummary] = field(default_factory=list)  # units whose source gave nothing, unsettled
    failed_sources: list[Skipped] = field(default_factory=list)  # settled: re-drawn ones first
    checks: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, summary: UnitSummary) -> None:
        if summary.source_error:
            self.failed.append(summary)
        else:
            self.good.add(summary.source)
            self._fold(summary)

    def _fold(self, summary: UnitSummary) -> None:
        self.rows += len(summary.rows)
        self.moved += len(summary.moved)
        if set(summary.rows) - set(summary.moved):
            self.sources.add(summary.source)
        self.sources.update(summary.moved.values())
        self.skipped += summary.skipped_samples
        self.checks.update(summary.checks)
        self.problems += [(str(c), str(w), str(m)) for c, w, m in summary.problems]

    def settle(self, redrawn: bool) -> None:
        """The units whose source gave nothing: their samples were re-drawn from other sources
        (``redrawn``: only the sources are reported), or they count as they are."""
        failed, self.failed = self.failed, []
        if redrawn:
            self.failed_sources += [Skipped(s.source, s.source_error or "") for s in failed]
            return
        for summary in failed:
            self._fold(summary)
        reasons = sorted({s.source: s.source_error or "" for s in failed}.items())
        self.failed_sources += [Skipped(source, reason) for source, reason in reasons]

    @property
    def skipped_samples(self) -> list[dict[str, str]]:
        return sorted((x.to_dict() for x in self.skipped), key=lambda x: x["id"])

    @property
    def used_sources(self) -> list[str]:
        return sorted(self.sources)


def build_manifest(
    recipe: Recipe,
    config: BuildConfig,
    outcome: DatasetOutcome,
    skipped: list[Skipped],
    versions: dict[str, str],
) -> dict[str, Any]:
    """The dataset's ``build_manifest.json`` before the writer adds what the shards hold. ``skipped``: every
    source skipped so far in the build, whichever dataset found it."""
    used = outcome.used_sources
    return {
        "dataset": recipe.name,
        "pretty_name": recipe.pretty_name or recipe.name,
        "role": recipe.role,
        "recipe_name": recipe.name,
        "recipe": recipe.describe(),
        "seed": config.seed,
        "crf": config.crf,
        "x264_preset": config.preset,
        "num_frames": recipe.num_frames,
        "max_pixels": recipe.max_pixels,
        "span": "5%-95% of each source's duration",
        "requested": recipe.total,
        "skipped_samples": outcome.skipped_samples,
        "sources": used,
        "num_sources_used": len(used),
        "skipped_sources": [s.to_dict() for s in sorted(set(skipped), key=lambda s: (s.source, s.reason))],
        "num_sources_skipped": len(set(skipped)),
        "versions": versions,
    }


@dataclass
class DatasetResult:
    name: str
    out_dir: Path
    requested: int
    built: int
    skipped_samples: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    fingerprint: str = ""
    checks: dict[str, int] = field(default_factory=dict)  # what the checks of the rows counted
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # and found: (check, where, message)
    report: VerifyReport | None = None  # every check's findings, when the build ran the whole-dataset ones


@dataclass(frozen=True)
class FinalizeJob:
    """One dataset's folder, from its shards written by the workers: their futures in name order, and the
    preview's."""

    recipe: Recipe
    out_dir: Path  # the folder as the user named it (``<out>/<dataset>``)
    folder: Path  # the checked dataset folder that is written
    manifest: dict[str, Any]
    outcome: DatasetOutcome
    work: Path  # the work area's shard folder
    keep: set[str]  # the names (stems) of the files there this build uses
    shards: list[Future]
    preview: Future


def finalize_dataset(job: FinalizeJob) -> DatasetResult:
    """Driver side: once the workers have written the shards and the preview, write the dataset folder
    (shards linked in, card, preview, manifest) and drop the work area's shards of earlier builds."""
    written = [f.result() for f in job.shards]
    summary = link_repo(
        written, job.folder, dataset_name=job.recipe.name, manifest=job.manifest, preview=job.preview.result()
    )
    prune_shards(job.work, job.keep)
    return DatasetResult(
        name=job.recipe.name,
        out_dir=job.out_dir,
        requested=job.recipe.total,
        built=summary.num_rows,
        skipped_samples=job.outcome.skipped_samples,
        sources=job.outcome.used_sources,
        fingerprint=summary.fingerprint,
        checks=dict(sorted(job.outcome.checks.items())),
        problems=job.outcome.problems,
    )
