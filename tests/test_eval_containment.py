"""eval stays inside its data: a row cannot point a backend at a file outside the dataset's folder or
--video-root, and archives are opened only in the dataset's own folder, only for their video members, within
a size cap, never writing outside the extraction folder."""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest
from _benchmark_fixtures import clip_bytes
from videossr.eval.archives import extract_videos, safe_member_name
from videossr.eval.items import load_benchmark
from videossr.eval.registry import BENCHMARKS

VIU = BENCHMARKS["viubench"]
MME = BENCHMARKS["videomme"]


def viu_row(rid: str, path: str) -> dict:
    return {
        "id": rid,
        "videos": [{"bytes": None, "path": path}],
        "question": "<video>How many?",
        "answer": "1,2,3",
        "task": "counting",
        "subtype": "easy",
        "system": "",
        "fps": [4.0],
        "num_frames": [8],
        "params": "{}",
    }


def mme_row(qid: str, video: str) -> dict:
    return {
        "question_id": qid,
        "videoID": video,
        "question": "How many?",
        "options": ["A. 1", "B. 2"],
        "answer": "B",
        "duration": "short",
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_path_only_clips_must_stay_in_the_dataset_folder_or_video_root(tmp_path):
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(clip_bytes(2.0))
    root = tmp_path / "clips"
    (root / "r.mp4").parent.mkdir()
    (root / "r.mp4").write_bytes(clip_bytes(2.0))
    data = tmp_path / "viu" / "test.jsonl"
    (data.parent / "inside.mp4").parent.mkdir(parents=True)
    (data.parent / "inside.mp4").write_bytes(clip_bytes(2.0))
    rows = [
        viu_row("abs", str(secret)),
        viu_row("up", "../secret.mp4"),
        viu_row("etc", "/etc/hostname"),
        viu_row("in", "inside.mp4"),
        viu_row("root", str(root / "r.mp4")),
    ]
    write_jsonl(data, rows)
    loaded = load_benchmark(VIU, data=str(data), video_root=str(root), cache_dir=tmp_path / "cache")
    items = {it.id: it for it in loaded.items}
    for rid in ("abs", "up", "etc"):
        assert "not a file inside the dataset folder or --video-root" in items[rid].error
        assert items[rid].videos[0].path is None
    assert items["in"].error is None and Path(items["in"].videos[0].path).name == "inside.mp4"
    assert items["root"].error is None and items["root"].videos[0].path == str(root / "r.mp4")


def test_symlinks_and_dotdot_names_leading_out_are_not_found(tmp_path):
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(clip_bytes(2.0))
    folder = tmp_path / "mme"
    (folder / "data").mkdir(parents=True)
    os.symlink(outside, folder / "data" / "link.mp4")
    (folder / "data" / "real.mp4").write_bytes(clip_bytes(2.0))
    write_jsonl(
        folder / "test.jsonl", [mme_row("1", "link"), mme_row("2", "../outside"), mme_row("3", "real")]
    )
    items = {it.id: it for it in load_benchmark(MME, data=str(folder), cache_dir=tmp_path / "c").items}
    assert "video not found: link" in items["1"].error
    assert "leaves the dataset folder" in items["2"].error
    assert items["3"].error is None


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def test_archives_only_from_the_dataset_folder_not_its_parent(tmp_path):
    _zip(tmp_path / "parent.zip", {"data/p.mp4": clip_bytes(2.0)})
    data = write_jsonl(tmp_path / "mme" / "test.jsonl", [mme_row("1", "p")])
    _zip(data.parent / "beside.zip", {"data/p.mp4": clip_bytes(2.0)})
    loaded = load_benchmark(MME, data=str(data), cache_dir=tmp_path / "cache")
    assert "video not found: p" in loaded.items[0].error  # a single file's folder is never unpacked
    assert not (tmp_path / "cache" / "videos").exists()
    folder = data.parent  # the same folder given as the dataset: its own archive is used
    loaded = load_benchmark(MME, data=str(folder), cache_dir=tmp_path / "cache")
    assert loaded.items[0].error is None and "/videos/videomme/" in loaded.items[0].videos[0].path


def test_zip_slip_links_and_non_video_members_are_skipped_and_counted(tmp_path):
    folder = tmp_path / "release"
    members = {
        "../../escape.mp4": b"x",
        "/abs.mp4": b"x",
        "C:/drive.mp4": b"x",
        "ok/v.mp4": clip_bytes(2.0),
        "notes.txt": b"hello",
        "ok/cover.jpg": b"jpg",
    }
    archive = _zip(folder / "videos.zip", members)
    with zipfile.ZipFile(archive, "a") as zf:  # a symlink member named like a video
        link = zipfile.ZipInfo("ok/link.mp4")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
    dest = tmp_path / "out"
    result = extract_videos(folder, dest, (folder.resolve(), dest.resolve()), max_bytes=10**9)
    written = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert [w.split("/", 1)[1] for w in written if not w.endswith(".json")] == ["ok/v.mp4"]
    assert not (tmp_path / "escape.mp4").exists() and not list(tmp_path.parent.glob("escape.mp4"))
    assert sorted(result.notes) == [
        "videos.zip: skipped 1 member(s): not a regular file",
        "videos.zip: skipped 2 member(s): not a video",
        "videos.zip: skipped 3 member(s): unsafe path",
    ]
    assert [safe_member_name(n) for n in ("a/../b.mp4", "./a//b.mp4", "a\\b.mp4")] == [None, "a/b.mp4", None]


def test_tar_links_devices_and_traversal_are_skipped(tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    with tarfile.open(folder / "v.tar.gz", "w:gz") as tf:
        for name, kind in (
            ("good/a.mp4", tarfile.REGTYPE),
            ("bad/link.mp4", tarfile.SYMTYPE),
            ("../up.mp4", tarfile.REGTYPE),
            ("dev.mp4", tarfile.CHRTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            data = clip_bytes(2.0) if kind == tarfile.REGTYPE else b""
            info.size, info.linkname = len(data), "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            tf.addfile(info, io.BytesIO(data))
    dest = tmp_path / "out"
    result = extract_videos(folder, dest, (folder.resolve(),), max_bytes=10**9)
    files = [p for p in dest.rglob("*.mp4")]
    assert [p.name for p in files] == ["a.mp4"] and not (tmp_path / "up.mp4").exists()
    assert "v.tar.gz: skipped 2 member(s): not a regular file" in result.notes
    assert "v.tar.gz: skipped 1 member(s): unsafe path" in result.notes


def test_archives_over_the_size_cap_are_left_alone(tmp_path):
    folder = tmp_path / "mme"
    write_jsonl(folder / "test.jsonl", [mme_row("1", "big")])
    _zip(folder / "videos_chunked_01.zip", {"data/big.mp4": clip_bytes(2.0)})
    loaded = load_benchmark(MME, data=str(folder), cache_dir=tmp_path / "cache", max_extract_bytes=100)
    assert "video not found: big" in loaded.items[0].error
    (note,) = loaded.notes
    assert note.startswith("videos_chunked_01.zip: not extracted") and "extraction cap" in note
    assert not list((tmp_path / "cache").rglob("*.mp4"))


def test_member_bigger_than_its_declared_size_is_not_extracted(tmp_path):
    folder = tmp_path / "release"
    archive = _zip(folder / "v.zip", {"data/a.mp4": b"\0" * 5000})
    raw = bytearray(archive.read_bytes())
    central = raw.rindex(b"PK\x01\x02")  # the central directory entry: declare 100 bytes instead of 5000
    raw[central + 24 : central + 28] = struct.pack("<I", 100)
    archive.write_bytes(bytes(raw))
    dest = tmp_path / "out"
    result = extract_videos(folder, dest, (folder.resolve(),), max_bytes=10**9)
    assert not list(dest.rglob("*.mp4"))
    assert len(result.notes) == 1 and result.notes[0].startswith("v.zip: not extracted")


@pytest.mark.parametrize("name", ["../x.mp4", "/x.mp4", "a/../../x.mp4", "", "c:/x.mp4", "a\\..\\x.mp4"])
def test_unsafe_member_names(name):
    assert safe_member_name(name) is None
