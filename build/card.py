"""Render the dataset card (README.md) from ``videossr/cards/dataset_card.md.j2`` with Hub YAML metadata.

The YAML holds ``configs`` (default, per task, per task/subtype; shard paths carry the content fingerprint)
and exact ``dataset_info`` (features, rows and bytes per config), so ``load_dataset(FOLDER)`` never serves
stale rows after a rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from videossr.cards import DATASET_CARD, render

from .schema import COLUMN_DOCS, COLUMNS, features_yaml

if TYPE_CHECKING:
    from .shards import RepoSummary

_TYPES = {
    "videos": "list[Video]",
    "fps": "list[float64]",
    "num_frames": "list[int32]",
    "frame_times": "list[list[float64]]",
}


class _NoAliasDumper(yaml.SafeDumper):
    """The Hub's YAML reader should not have to resolve anchors: write repeated lists out in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
    for limit, name in bounds:
        if n < limit:
            return name
    return "1M<n<10M"


def yaml_metadata(summary: RepoSummary, manifest: dict[str, Any], pretty_name: str) -> dict[str, Any]:
    fp = summary.fingerprint
    configs: list[dict[str, Any]] = [
        {
            "config_name": "default",
            "default": True,
            "data_files": [{"split": "train", "path": f"data/*/train-{fp}-*.parquet"}],
        }
    ]
    for task in summary.tasks:
        configs.append(
            {
                "config_name": task,
                "data_files": [{"split": "train", "path": f"data/{task}-*/train-{fp}-*.parquet"}],
            }
        )
    for cfg in sorted(summary.configs):
        configs.append(
            {
                "config_name": cfg,
                "data_files": [{"split": "train", "path": f"data/{cfg}/train-{fp}-*.parquet"}],
            }
        )
    feature_yaml = features_yaml()

    def info(name: str, rows: int, nbytes: int) -> dict[str, Any]:
        return {
            "config_name": name,
            "features": feature_yaml,
            "splits": [{"name": "train", "num_bytes": nbytes, "num_examples": rows}],
            "download_size": nbytes,
            "dataset_size": nbytes,
        }

    infos = [info("default", summary.num_rows, summary.num_bytes)]
    for task, cfgs in summary.tasks.items():
        infos.append(
            info(
                task,
                sum(summary.configs[c].rows for c in cfgs),
                sum(summary.configs[c].num_bytes for c in cfgs),
            )
        )
    for cfg, stats in sorted(summary.configs.items()):
        infos.append(info(cfg, stats.rows, stats.num_bytes))
    return {
        "license": manifest.get("license", "other"),
        "license_name": manifest.get("license_name", "source-video-licences"),
        "license_details": (
            "The generation code and card are Apache-2.0; every video keeps the licence of its source video."
        ),
        "pretty_name": pretty_name,
        "task_categories": ["video-text-to-text"],
        "language": ["en"],
        "size_categories": [size_category(summary.num_rows)],
        "tags": ["video", "self-supervised", "rlvr", "grpo", "videossr", "synthetic-labels"],
        "configs": configs,
        "dataset_info": infos,
        "videossr_fingerprint": fp,
    }


def render_card(
    summary: RepoSummary, manifest: dict[str, Any], *, dataset_name: str, has_preview: bool
) -> str:
    pretty = manifest.get("pretty_name") or dataset_name
    meta = yaml_metadata(summary, manifest, pretty)
    counts = manifest.get("counts", {})
    rows = []
    for key, n in counts.get("subtype", {}).items():
        task, subtype = key.split("/", 1)
        difficulty = "none" if task == "grounding" else subtype
        rows.append({"task": task, "subtype": subtype, "difficulty": difficulty, "rows": n})
    settings = [
        ("recipe", manifest.get("recipe_name", "custom")),
        ("seed", manifest.get("seed", "")),
        ("frames per sample", manifest.get("num_frames", 48)),
        ("max pixels per frame", manifest.get("max_pixels", "")),
        ("sampled part of each source", manifest.get("span", "5%-95% of the duration")),
        ("video codec", f"H.264 yuv420p BT.709, CRF {manifest.get('crf', '')}"),
        ("source videos used", manifest.get("num_sources_used", "")),
        ("source videos skipped", manifest.get("num_sources_skipped", 0)),
        ("videossr version", manifest.get("versions", {}).get("videossr", "")),
    ]
    return render(
        DATASET_CARD,
        yaml_header=yaml.dump(
            meta, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=1000
        ).rstrip(),
        pretty_name=pretty,
        role=manifest.get("role", ""),
        has_preview=has_preview,
        num_rows=summary.num_rows,
        composition_rows=rows,
        repo_id=manifest.get("repo_id") or dataset_name,
        columns=[{"name": c, "type": _TYPES.get(c, "string"), "doc": COLUMN_DOCS[c]} for c in COLUMNS],
        examples=manifest.get("examples", []),
        settings=settings,
        crf=manifest.get("crf", ""),
        license_note="Apache-2.0",
    )


def write_card(
    out_dir: Path, summary: RepoSummary, manifest: dict[str, Any], *, dataset_name: str, has_preview: bool
) -> None:
    from .repo import atomic_write_text

    atomic_write_text(
        Path(out_dir) / "README.md",
        render_card(summary, manifest, dataset_name=dataset_name, has_preview=has_preview),
    )
