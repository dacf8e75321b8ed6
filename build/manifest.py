"""What a dataset's units gave, gathered after its re-draws (:class:`DatasetOutcome`), the build manifest
that records it with the settings and tool versions, and the finalize job that writes the dataset folder
from the parts (:func:`finalize_dataset`)."""

from __future__ import annotations

import importlib.metadata as md
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from videossr import __version__

from .config import BuildConfig
from .parts import UnitSummary, iter_part_rows
from .recipes import Recipe
from .render import encoder_version, ffmpeg_version
from .repo import finalize_repo
from .sources import Skipped

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
    """The summaries of a dataset's units whose rows count (sorted by unit), once the samples of sources that
    did not decode are re-drawn elsewhere; ``redrawn``: the units those samples came from."""

    summaries: list[UnitSummary]
    redrawn: list[UnitSummary] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [rid for s in self.summaries for rid in s.rows]

    @property
    def moved(self) -> dict[str, str]:
        """Samples made at a fallback source: sample id -> that source."""
        return {sid: to for s in self.summaries for sid, to in s.moved.items()}

    @property
    def skipped_samples(self) -> list[dict[str, str]]:
        return sorted((x.to_dict() for s in self.summaries for x in s.skipped_samples), key=lambda x: x["id"])

    @property
    def failed_sources(self) -> list[Skipped]:
        """Sources that gave nothing (re-drawn ones first), each with the reason."""
        failed = sorted({s.source: s.source_error for s in self.summaries if s.source_error}.items())
        return [Skipped(s.source, s.source_error or "") for s in self.redrawn] + [Skipped(*f) for f in failed]

    @property
    def used_sources(self) -> list[str]:
        """The sources the rows come from."""
        own = {s.source for s in self.summaries if set(s.rows) - set(s.moved)}
        return sorted(own | set(self.moved.values()))


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


@dataclass(frozen=True)
class FinalizeJob:
    """One dataset's rows, from its parts into its Hub-layout folder."""

    recipe: Recipe
    out_dir: Path  # the folder as the user named it (``<out>/<dataset>``)
    folder: Path  # the checked dataset folder that is written
    parts: list[Path]
    ids: list[str]
    manifest: dict[str, Any]
    skipped_samples: list[dict[str, Any]]
    sources: list[str]


def finalize_dataset(job: FinalizeJob, max_shard_bytes: int, progress: bool) -> DatasetResult:
    """Driver side: write the dataset folder (shards, card, preview, manifest) from the units' parts."""
    rows = tqdm(
        iter_part_rows(job.parts, job.ids),
        total=len(job.ids),
        desc=f"{job.recipe.name}: writing",
        unit="row",
        disable=not progress,
        dynamic_ncols=True,
        leave=False,
    )
    summary = finalize_repo(
        rows, job.folder, dataset_name=job.recipe.name, manifest=job.manifest, max_shard_bytes=max_shard_bytes
    )
    return DatasetResult(
        name=job.recipe.name,
        out_dir=job.out_dir,
        requested=job.recipe.total,
        built=summary.num_rows,
        skipped_samples=job.skipped_samples,
        sources=job.sources,
        fingerprint=summary.fingerprint,
    )
