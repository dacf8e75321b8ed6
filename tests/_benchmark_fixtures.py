"""Real-layout benchmark fixtures (tests/fixtures/benchmarks/<bench>/) made ready to load.

Each fixture holds ``FIXTURE.md`` (the official loader it mirrors), ``release/`` (the release's text files as
published), ``tables/`` (rows of the parquet files to write), ``malformed/`` (files overlaid for the
malformed-item test) and ``fixture.json``: where ``--data`` and ``--video-root`` point, which videos,
archives and parquet files to make, and how many items to expect.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "benchmarks"


@dataclass(frozen=True)
class BuiltFixture:
    bench: str
    root: Path
    data: Path  # what --data names
    video_root: Path | None
    items: int
    excluded: int
    failed: int  # rows that must become failed items


def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if (p / "fixture.json").is_file())


def manifest(bench: str) -> dict:
    return json.loads((FIXTURES / bench / "fixture.json").read_text())


@functools.lru_cache(maxsize=8)
def clip_bytes(seconds: float, suffix: str = ".mp4") -> bytes:
    """A tiny synthetic clip (4 fps, 32x32) of ``seconds``, H.264; remuxed when the name asks for AVI/MKV."""
    import numpy as np
    from _eval_helpers import _frames
    from videossr.build.render import encode_clip, ffmpeg_exe

    n = max(1, round(seconds * 4))
    data = encode_clip(_frames(np.random.default_rng(n), n, 32, 32), 4.0)
    if suffix == ".mp4":
        return data
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, "in.mp4"), Path(tmp, f"out{suffix}")
        src.write_bytes(data)
        cmd = [ffmpeg_exe(), "-v", "error", "-i", str(src), "-c", "copy", str(out)]
        subprocess.run(cmd, capture_output=True, check=True, timeout=60)
        return out.read_bytes()


def _write_video(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip_bytes(seconds, path.suffix.lower()))


def _videos(spec: dict) -> dict[str, float]:
    videos = spec.get("videos", {})
    return dict.fromkeys(videos, 2.0) if isinstance(videos, list) else dict(videos)


def _parquet(dest: Path, table: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dest.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(json.loads(table.read_text())), dest)


def _archive(dest: Path, members: list[str]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.suffix == ".zip":
        with zipfile.ZipFile(dest, "w") as zf:
            for name in members:
                zf.writestr(name, clip_bytes(2.0))
        return
    with tarfile.open(dest, "w") as tf:
        for name in members:
            data = clip_bytes(2.0)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def build_fixture(bench: str, dest: Path, malformed: bool = False) -> BuiltFixture:
    """Copy a fixture into ``dest`` (overlaying ``malformed/`` if asked) and make its binary files."""
    src = FIXTURES / bench
    spec = manifest(bench)
    if spec.get("builder") == "viubench":
        return _build_viubench(dest, spec, malformed)
    dest.mkdir(parents=True, exist_ok=True)
    # fresh modification times: datasets keys its cache of a local file on its name and mtime
    for part in ("release", "tables"):
        if (src / part).is_dir():
            shutil.copytree(src / part, dest / part, dirs_exist_ok=True, copy_function=shutil.copy)
    if malformed and (src / "malformed").is_dir():
        shutil.copytree(src / "malformed", dest, dirs_exist_ok=True, copy_function=shutil.copy)
    (dest / "release").mkdir(exist_ok=True)
    for target, table in spec.get("parquet", {}).items():
        _parquet(dest / target, dest / table)
    for target, members in spec.get("archives", {}).items():
        _archive(dest / target, members)
    for rel, seconds in _videos(spec).items():
        _write_video(dest / rel, seconds)
    counts = spec["malformed"] if malformed else {"items": spec["items"], "failed": 0}
    return BuiltFixture(
        bench=bench,
        root=dest,
        data=dest / spec["data"],
        video_root=dest / spec["video_root"] if spec.get("video_root") else None,
        items=counts["items"],
        excluded=spec.get("excluded", 0),
        failed=counts["failed"],
    )


def _build_viubench(dest: Path, spec: dict, malformed: bool) -> BuiltFixture:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from _eval_helpers import make_viubench

    make_viubench(dest / "release", per_subtype=1, seed=0)
    if malformed:  # one row loses its answer
        path = sorted((dest / "release").rglob("*.parquet"))[0]
        rows = pq.read_table(path).to_pylist()
        rows[0]["answer"] = None
        pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(path)), path)
    counts = spec["malformed"] if malformed else {"items": spec["items"], "failed": 0}
    return BuiltFixture("viubench", dest, dest / "release", None, counts["items"], 0, counts["failed"])
