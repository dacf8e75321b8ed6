"""Reading a dataset folder as a push sees it: the published files, the shards, the card's YAML and the
manifest. Each reader records what makes a file unreadable as a problem and returns ``None`` then."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..publish import Publishable, publishable
from .report import VerifyReport

MANIFEST = "build_manifest.json"
README = "README.md"
LEFTOVER = re.compile(r"^(\.staging-|\.old-data-|\..*\.tmp-)")  # the writer's work names (repo.py)


def relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def list_shards(folder: Path, published: Publishable | None = None) -> list[Path]:
    """The shards a push uploads (publish.ALLOWLIST: ``data/**/*.parquet``, regular files, none hidden)."""
    published = published or publishable(folder)
    return [f.local for f in published.files if f.path.startswith("data/")]


def note_unpublished(published: Publishable, report: VerifyReport) -> None:
    """What a push leaves out is information, not a problem: it is never uploaded."""
    for entry in published.left_out:
        if LEFTOVER.match(entry.path.rstrip("/").rsplit("/", 1)[-1]):
            report.notes.append(
                f"{entry.path.rstrip('/')}: a leftover of an interrupted write (hidden, not published)"
            )
        else:
            report.notes.append(f"{entry.path}: not published ({entry.reason})")


def read_readme(folder: Path, report: VerifyReport) -> dict[str, Any] | None:
    """The dataset card's YAML front matter."""
    path = folder / README
    if not path.is_file():
        report.add("readme", README, "missing: the folder has no dataset card")
        return None
    text = path.read_text("utf-8", errors="replace")
    if not text.startswith("---"):
        report.add("readme", README, "has no YAML front matter (configs, dataset_info)")
        return None
    end = text.find("\n---", 3)
    if end < 0:
        report.add("readme", README, "YAML front matter is not closed by a '---' line")
        return None
    try:
        import yaml
    except ImportError:
        report.skipped.append("README YAML (configs, dataset_info): PyYAML is not installed")
        return None
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError as exc:
        report.add("readme", README, f"YAML front matter does not parse: {str(exc).splitlines()[0]}")
        return None
    if not isinstance(meta, dict):
        report.add("readme", README, "YAML front matter is not a mapping")
        return None
    return meta


def read_manifest(folder: Path, report: VerifyReport) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        report.add("manifest", MANIFEST, "missing")
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.add("manifest", MANIFEST, f"is not valid JSON: {exc}")
        return None
    if not isinstance(manifest, dict):
        report.add("manifest", MANIFEST, "is not a JSON object")
        return None
    return manifest


def sources_of(folder: Path) -> set[str]:
    """Every source id a dataset folder uses: its rows' and its manifest's (unreadable parts ignored)."""
    out: set[str] = set()
    for shard in list_shards(folder):
        try:
            pf = pq.ParquetFile(shard)
            if "source" in pf.schema_arrow.names:
                out |= {s for s in pf.read(columns=["source"]).column("source").to_pylist() if s}
        except Exception:
            continue
    manifest_path = folder / MANIFEST
    if manifest_path.is_file():
        try:
            listed = json.loads(manifest_path.read_text("utf-8")).get("sources")
            out |= {s for s in listed or [] if isinstance(s, str)}
        except (ValueError, AttributeError):
            pass
    return out
