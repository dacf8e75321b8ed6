"""Bounded inputs (issue 17): probe before hashing, caps with one-line errors, and every odd path a skip
reason or a clear error, never a traceback and never an id that names a user."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _build_helpers import cli
from _reliability_helpers import H264, lavfi
from videossr.build import cli as build_cli
from videossr.build.probe import WHOLE_HASH_BYTES, content_hash, probe_source
from videossr.build.sources import Skipped, Source, SourcesError, discover


def _bytes_read() -> int:
    """Bytes this process has read through read() calls so far."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


@pytest.fixture
def clips(mini_corpus: Path) -> Path:
    """Two short videos (``a.mp4``, ``b.mp4``) to copy into odd places."""
    return mini_corpus


def _odd_sources(root: Path, clips: Path) -> dict[str, Path]:
    """A folder and a list file with every odd path the issue names."""
    src, lists, outside = root / "src", root / "lists", root / "outside"
    for folder in (src, lists / "inside", outside, root / "home" / getpass.getuser() / "private"):
        folder.mkdir(parents=True)
    shutil.copy(clips / "a.mp4", src / "good.mp4")
    shutil.copy(clips / "b.mp4", src / "..mp4")
    shutil.copy(clips / "b.mp4", src / "...mp4")
    shutil.copy(clips / "b.mp4", outside / "secret.mp4")
    (src / "link_out.mp4").symlink_to(outside / "secret.mp4")
    (src / "dir_out").symlink_to(outside)
    (src / "notes.txt").write_text("not a source")
    shutil.copy(clips / "b.mp4", lists / "inside" / "c.mp4")
    shutil.copy(clips / "a.mp4", root / "home" / getpass.getuser() / "private" / "holiday.mp4")
    (lists / "inside" / "folder.mp4").mkdir()
    entries = [
        "../src/good.mp4",  # outside the list's folder: a hashed id
        str(root / "home" / getpass.getuser() / "private" / "holiday.mp4"),  # absolute, outside
        "inside/c.mp4",
        str(lists / "inside" / "c.mp4"),  # absolute, inside: the same id as the line above
        "clip.xyz",
        "missing.mp4",
        "inside/folder.mp4",
        "inside/..mp4",
        "bad\0name.mp4",
    ]
    listing = lists / "sources.txt"
    listing.write_text("\n".join(entries) + "\n")
    return {"folder": src, "list": listing}


def test_odd_paths_become_skip_reasons_and_no_id_names_a_user_or_a_folder(clips, tmp_path):
    odd = _odd_sources(tmp_path, clips)
    pairs, skipped = discover([odd["folder"], odd["list"]])
    ids = dict(pairs)
    reasons = {s.source: s.reason for s in skipped}
    assert "good" in ids and "inside/c" in ids
    external = sorted(sid for sid in ids if sid.startswith("external/"))
    assert len(external) == 2 and all(len(sid) == len("external/") + 16 for sid in external)
    for sid in ids:
        assert getpass.getuser() not in sid and str(tmp_path) not in sid and ".." not in sid.split("/")
        assert not sid.startswith("/")
    assert "gives no source id" in reasons["..mp4"] and "gives no source id" in reasons["...mp4"]
    assert (
        "outside the source folder" in reasons["link_out"]
        and "outside the source folder" in reasons["dir_out"]
    )
    assert reasons["inside/c"].startswith("duplicate source id")
    assert "not a video file name" in reasons["clip"] and "does not exist" in reasons["missing"]
    assert "is not a file" in reasons["inside/folder"]
    assert "gives no source id" in reasons["sources.txt:8"] and "NUL" in reasons["sources.txt:9"]
    for s in skipped:
        assert getpass.getuser() + "/" not in s.source + s.reason and str(tmp_path) not in s.source + s.reason


def test_a_build_over_odd_paths_reports_them_and_uses_the_rest(clips, tmp_path):
    odd = _odd_sources(tmp_path, clips)
    out = tmp_path / "out"
    summary = tmp_path / "summary.json"
    sources = ["--sources", str(odd["folder"]), str(odd["list"])]
    what = ["--datasets", "videossr-30k", "--num-samples", "4", "--out-dir", str(out)]
    args = [*sources, *what, "--workers", "1", "--no-progress", "--no-verify"]
    done = subprocess.run(
        cli(*args),
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VIDEOSSR_BUILD_SUMMARY": str(summary)},
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    manifest = json.loads((out / "videossr-30k" / "build_manifest.json").read_text())
    reasons = {s["source"]: s["reason"] for s in manifest["skipped_sources"]}
    assert {"..mp4", "...mp4", "link_out", "dir_out", "clip", "missing", "sources.txt:8"} <= set(reasons)
    assert manifest["num_rows"] == 4 and len(manifest["sources"]) == 2  # two distinct contents
    pairs, listed = discover([odd["folder"], odd["list"]])
    assert {sid for sid, _ in pairs} | {s.source for s in listed} == set(manifest["sources"]) | set(reasons)
    text = (out / "videossr-30k" / "build_manifest.json").read_text() + summary.read_text().replace(
        str(out), ""
    )
    assert getpass.getuser() + "/" not in text and str(tmp_path) not in text


def test_a_sources_argument_is_a_folder_a_video_or_a_list_file(clips, tmp_path, capsys):
    movie = tmp_path / "movie.m4v"  # a video extension: a source, never read as a list
    shutil.copy(clips / "a.mp4", movie)
    pairs, skipped = discover([movie])
    assert pairs == [("movie", movie)] and not skipped
    assert isinstance(probe_source("movie", movie, min_frames=54), Source)
    garbage = tmp_path / "noise.m4v"
    garbage.write_bytes(os.urandom(4096))
    result = probe_source("noise", garbage, min_frames=54)
    assert isinstance(result, Skipped) and result.reason.startswith("not a readable video")
    (tmp_path / "movie.xyz").write_bytes(os.urandom(4096))
    binary_list = tmp_path / "videos.txt"
    binary_list.write_bytes(b"clip.mp4\n\xff\xfe\x00binary")
    for bad, needle in ((tmp_path / "movie.xyz", "nor a list file"), (binary_list, "must be UTF-8 text")):
        with pytest.raises(SourcesError, match=needle):
            discover([bad])
        with pytest.raises(SystemExit) as info:
            build_cli.main(["--sources", str(bad), "--out-dir", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert info.value.code == 2 and "Traceback" not in err
        (line,) = [x for x in err.splitlines() if x.startswith("python build/run.py: error:")]
        assert needle in line and bad.name in line
    assert not (tmp_path / "out").exists()


def test_a_file_is_probed_before_it_is_hashed_and_a_huge_one_is_hashed_by_samples(clips, tmp_path):
    """A 1 TB sparse file that is no video is skipped after the decoder's look at its header (none of its
    bytes read here); a 1 TB video is hashed from 64 sampled blocks; a small file is hashed whole."""
    junk = tmp_path / "junk.mp4"
    with open(junk, "wb") as f:
        f.truncate(1 << 40)
    before = _bytes_read()
    result = probe_source("junk", junk, min_frames=54, timeout=60)
    assert isinstance(result, Skipped) and result.reason.startswith("not a readable video")
    assert _bytes_read() - before < 1 << 20
    big = tmp_path / "big.mp4"
    shutil.copy(clips / "a.mp4", big)
    with open(big, "r+b") as f:
        f.truncate(1 << 40)
    before = _bytes_read()
    source = probe_source("big", big, min_frames=54, timeout=60)
    assert isinstance(source, Source) and source.num_frames == 192
    assert _bytes_read() - before < 2 * WHOLE_HASH_BYTES
    with open(big, "r+b") as f:  # a byte of the last block changes the hash
        f.seek((1 << 40) - 10)
        f.write(b"x")
    assert content_hash(big) != source.content_hash
    small = clips / "a.mp4"
    assert content_hash(small) == hashlib.blake2b(small.read_bytes(), digest_size=16).hexdigest()


def test_a_source_over_the_pixel_limit_is_skipped_with_a_reason(tmp_path, capsys):
    huge = lavfi(tmp_path / "huge.mp4", "color=c=gray:size=8192x8192:rate=24", 0.125, H264)
    result = probe_source("huge", huge, min_frames=2)
    assert result == Skipped("huge", "too large: 8192x8192 > limit 7680x4320")
    small = lavfi(tmp_path / "small.mp4", "testsrc2=size=160x120:rate=24", 3, H264)
    assert isinstance(probe_source("small", small, min_frames=2, max_source_pixels=160 * 120), Source)
    result = probe_source("small", small, min_frames=2, max_source_pixels=128 * 96)
    assert result == Skipped("small", "too large: 160x120 > limit 12288 pixels")


def _entry(task: str, subtype: str, count, **params) -> dict:
    return {"task": task, "subtype": subtype, "count": count, **({"params": params} if params else {})}


BAD_ARGUMENTS = [
    (["--num-samples", "10000001"], "--num-samples"),
    (["--num-samples", "videossr-30k=1000000000000"], "--num-samples"),
    (["--max-pixels", "4096x4096"], "--max-pixels"),
    (["--max-pixels", "0"], "--max-pixels"),
    (["--max-pixels", "-256x256"], "--max-pixels"),
    (["--max-source-pixels", "100000x100000"], "--max-source-pixels"),
]
BAD_RECIPES = [
    ({"mix": [_entry("counting", "easy", 10**12)]}, "outside"),
    ({"mix": [_entry("counting", "easy", "1e12")]}, "outside"),
    ({"mix": [_entry("counting", "easy", 6_000_000), _entry("jigsaw", "easy", 6_000_000)]}, "limit"),
    ({"mix": [_entry("counting", "easy", 1.5)]}, "whole number"),
    ({"mix": [_entry("counting", "easy", "lots")]}, "whole number"),
    ({"mix": [_entry("counting", "easy", True)]}, "whole number"),
    ({"mix": [_entry("jigsaw", "custom", 1, num_frames=6000, num_clips=6)]}, "frames per sample"),
    ({"num_frames": 100000}, "frames per sample"),
    ({"max_pixels": 10**9}, "max_pixels"),
]


def _one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        build_cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("python build/run.py: error:")]
    return line


@pytest.mark.parametrize(("args", "needle"), BAD_ARGUMENTS)
def test_caps_on_counts_and_pixels_are_one_line_errors(args, needle, tmp_path, capsys):
    assert needle in _one_error_line([*args, "--out-dir", str(tmp_path / "out")], capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("fields", "needle"), BAD_RECIPES)
def test_caps_in_a_recipe_file_are_one_line_errors(fields, needle, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({"name": "mix", "mix": [_entry("counting", "easy", 2)], **fields}))
    line = _one_error_line(["--recipe", str(recipe), "--out-dir", str(tmp_path / "out")], capsys)
    assert "--recipe" in line and needle in line
    assert not (tmp_path / "out").exists()
