"""Each way of breaking a valid repo is reported by verify as exactly that problem, and the CLI fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _verify_helpers import (
    copy_repo,
    drop_column,
    edit_manifest,
    edit_rows,
    first_id,
    problems_of,
    run_cli,
    shards,
)
from videossr.build.checks import check_clips, clips_of_row, verify_repo
from videossr.build.frames import FrameSampler
from videossr.build.render import FFmpegError, decode_all_frames, encode_clip, run_ffmpeg
from videossr.build.shards import iter_repo_rows


@pytest.fixture
def repos(verify_repos: tuple[Path, Path]) -> tuple[Path, Path]:
    return verify_repos


@pytest.fixture
def broken(repos, tmp_path: Path) -> Path:
    return copy_repo(repos[0], tmp_path / "repo")


def _verify(folder: Path, **kw):
    kw.setdefault("decode", False)
    kw.setdefault("load", False)
    return verify_repo(folder, progress=False, **kw)


def _only(report, check: str) -> list[str]:
    """The problems of ``check``; fails if any other check complained."""
    assert not report.ok, "the corruption was not detected"
    others = [str(p) for p in report.problems if p.check != check]
    assert not others, others
    return problems_of(report, check)


def test_truncated_clip(broken: Path) -> None:
    rid = first_id(broken, "counting")

    def cut(row: dict) -> None:
        data = row["videos"][0]["bytes"]
        row["videos"][0]["bytes"] = data[: len(data) // 2]

    edit_rows(broken, cut, lambda r: r["id"] == rid)
    found = _only(_verify(broken, decode=True), "decode")
    assert len(found) == 1 and rid in found[0] and "clip 0" in found[0], found


def test_clip_with_wrong_frame_count(broken: Path) -> None:
    rid = first_id(broken, "grounding")

    def drop_last_frame(row: dict) -> None:
        frames = decode_all_frames(row["videos"][0]["bytes"])
        row["videos"][0]["bytes"] = encode_clip(frames[:-1], row["fps"][0])

    edit_rows(broken, drop_last_frame, lambda r: r["id"] == rid)
    found = _only(_verify(broken, decode=True), "decode")
    assert len(found) == 1 and rid in found[0] and "decodes to 47 frames, the row says 48" in found[0], found


def test_clip_encoded_at_the_wrong_fps(broken: Path) -> None:
    rid = first_id(broken, "counting")

    def re_encode(row: dict) -> None:
        frames = decode_all_frames(row["videos"][0]["bytes"])
        row["videos"][0]["bytes"] = encode_clip(frames, row["fps"][0] * 2)

    edit_rows(broken, re_encode, lambda r: r["id"] == rid)
    found = _only(_verify(broken, decode=True), "decode")
    assert len(found) == 1 and "fps" in found[0] and rid in found[0], found


def test_broken_clips_are_each_reported_and_every_clip_counted(broken: Path) -> None:
    """Clips are decoded many to an ffmpeg process: an unreadable clip and a cut one are reported as such,
    and every other clip is still decoded and counted."""
    rows = list(iter_repo_rows(broken))
    rid_garbage, rid_cut = [r["id"] for r in rows if r["task"] == "grounding"][:2]

    def spoil(row: dict) -> None:
        data = row["videos"][0]["bytes"]
        row["videos"][0]["bytes"] = b"not a video" * 100 if row["id"] == rid_garbage else data[:3000]

    edit_rows(broken, spoil, lambda r: r["id"] in (rid_garbage, rid_cut))
    report = _verify(broken, decode=True)
    found = _only(report, "decode")
    assert len(found) == 2, found
    by_id = {rid: [f for f in found if f"row {rid} " in f] for rid in (rid_garbage, rid_cut)}
    assert "clip 0 does not decode" in by_id[rid_garbage][0]
    assert "the row says 48" in by_id[rid_cut][0]
    assert report.checked["clips_decoded"] == sum(len(r["videos"]) for r in rows)
    frames_cut = int(by_id[rid_cut][0].split("decodes to ")[1].split()[0])
    total = sum(sum(r["num_frames"]) for r in rows)
    assert report.checked["frames_decoded"] == total - 48 - (48 - frames_cut)


def test_a_clip_that_stops_the_batchs_ffmpeg_is_found_and_reported_alone(repos) -> None:
    """One ffmpeg process decodes a batch of clips; when it fails (here: it refuses one clip), each clip is
    decoded again alone, so only that clip is reported and the others are checked in full."""
    rows = list(iter_repo_rows(repos[0]))
    clips = [(row["id"], clip) for row in rows for clip in clips_of_row(row)]
    refused_id, refused = clips[1][0], clips[1][1].data
    batches: list[int] = []

    def ffmpeg_refusing_one_clip(args: list[str], **kw) -> bytes:
        inputs = [args[i + 1] for i, a in enumerate(args) if a == "-i"]
        batches.append(len(inputs))
        if any(Path(f).read_bytes() == refused for f in inputs):
            raise FFmpegError("ffmpeg failed decoding clips: Invalid data found when processing input")
        return run_ffmpeg(args, **kw)

    sampler = FrameSampler(60)
    try:
        results = check_clips([clip for _, clip in clips], sampler, ffmpeg=ffmpeg_refusing_one_clip)
    finally:
        sampler.close()
    assert batches == [len(clips)] + [1] * len(clips)
    problems = {rid: r.problems for (rid, _), r in zip(clips, results) if r.problems}
    assert list(problems) == [refused_id]
    assert problems[refused_id] == [
        f"clip {clips[1][1].index} does not decode: ffmpeg failed decoding clips: "
        "Invalid data found when processing input"
    ]
    assert sum(r.frames for r in results) == sum(c.num_frames for _, c in clips) - clips[1][1].num_frames


def test_clip_in_another_pixel_format(broken: Path) -> None:
    from videossr.build.render import run_ffmpeg

    rid = first_id(broken, "grounding")

    def re_encode(row: dict) -> None:
        frames = decode_all_frames(row["videos"][0]["bytes"])
        _, h, w, _ = frames.shape
        raw = [
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            f"{row['fps'][0]}",
            "-i",
            "pipe:0",
        ]
        yuv444 = [
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv444p",
            "-movflags",
            "frag_keyframe+empty_moov",
            "-f",
            "mp4",
        ]
        row["videos"][0]["bytes"] = run_ffmpeg([*raw, *yuv444, "pipe:1"], input_bytes=frames.tobytes())

    edit_rows(broken, re_encode, lambda r: r["id"] == rid)
    found = _only(_verify(broken, decode=True), "decode")
    assert len(found) == 1 and rid in found[0] and "h264/yuv444p, expected h264/yuv420p" in found[0], found


def test_clip_with_rotation_metadata(broken: Path, tmp_path: Path) -> None:
    """A player would turn this clip: its stream carries a display matrix (read by the build's decoder)."""
    from videossr.build.render import run_ffmpeg

    rid = first_id(broken, "jigsaw")

    def rotate(row: dict) -> None:
        src, dst = tmp_path / "in.mp4", tmp_path / "out.mp4"
        src.write_bytes(row["videos"][2]["bytes"])
        run_ffmpeg(["-i", str(src), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(dst)])
        row["videos"][2]["bytes"] = dst.read_bytes()

    edit_rows(broken, rotate, lambda r: r["id"] == rid)
    found = _only(_verify(broken, decode=True), "decode")
    assert len(found) == 1 and rid in found[0] and "clip 2 carries rotation metadata" in found[0], found


@pytest.mark.parametrize(
    ("task", "answer", "expected"),
    [
        ("counting", "9,9,9", "counted from params shapes"),
        ("grounding", "0.0-0.5", "re-derived from params"),
        ("jigsaw", None, "re-derived from params shown_order"),
    ],
)
def test_wrong_answer_vs_params(broken: Path, task: str, answer: str | None, expected: str) -> None:
    rid = first_id(broken, task)

    def wrong(row: dict) -> None:
        # jigsaw: another valid order (the answer reversed), so only the re-derivation can catch it
        row["answer"] = answer if answer is not None else row["answer"][::-1]

    edit_rows(broken, wrong, lambda r: r["id"] == rid)
    found = _only(_verify(broken), "answer")
    assert len(found) == 1 and rid in found[0] and expected in found[0], found


def test_unparseable_answer(broken: Path) -> None:
    rid = first_id(broken, "grounding")
    edit_rows(broken, lambda r: r.update(answer="about 3 seconds"), lambda r: r["id"] == rid)
    found = _only(_verify(broken), "answer")
    assert any("does not parse" in f for f in found), found


def test_malformed_params_json(broken: Path) -> None:
    rid = first_id(broken, "counting")
    edit_rows(broken, lambda r: r.update(params=r["params"][:-7]), lambda r: r["id"] == rid)
    found = _only(_verify(broken), "params")
    assert len(found) == 1 and rid in found[0] and "params is not valid JSON" in found[0], found


def test_params_missing_a_key(broken: Path) -> None:
    rid = first_id(broken, "jigsaw")

    def drop(row: dict) -> None:
        params = json.loads(row["params"])
        del params["shown_order"]
        row["params"] = json.dumps(params)

    edit_rows(broken, drop, lambda r: r["id"] == rid)
    found = _only(_verify(broken), "params")
    assert len(found) == 1 and "'shown_order'" in found[0], found


def test_missing_column(broken: Path) -> None:
    drop_column(broken, "params")
    report = _verify(broken, load=True)
    found = problems_of(report, "schema")
    assert found and all("missing column 'params'" in f for f in found), found
    assert len(found) == len(shards(broken))
    assert {p.check for p in report.problems} <= {"schema", "load"}, report.format()


def test_manifest_count_mismatch(broken: Path) -> None:
    edit_manifest(broken, lambda m: m["counts"]["subtype"].update({"counting/easy": 2}))
    found = _only(_verify(broken), "manifest")
    assert found == [
        "[manifest] build_manifest.json: counts.subtype['counting/easy'] is 2, the shards hold 1 rows"
    ]


def test_manifest_config_rows_mismatch(broken: Path) -> None:
    edit_manifest(broken, lambda m: m["configs"]["jigsaw-easy"].update(rows=7))
    found = _only(_verify(broken), "manifest")
    assert len(found) == 1 and "configs['jigsaw-easy'].rows is 7, the shards hold 1" in found[0], found


def _edit_readme(folder: Path, edit) -> None:
    path = folder / "README.md"
    text = path.read_text()
    end = text.index("\n---", 3)
    meta = yaml.safe_load(text[3:end])
    edit(meta)
    path.write_text("---\n" + yaml.safe_dump(meta, sort_keys=False) + text[end:])


def test_readme_glob_matching_no_shard(broken: Path) -> None:
    def retarget(meta: dict) -> None:
        cfg = next(c for c in meta["configs"] if c["config_name"] == "counting-easy")
        cfg["data_files"][0]["path"] = "data/counting-easy/train-000000000000-*.parquet"

    _edit_readme(broken, retarget)
    found = _only(_verify(broken), "readme")
    assert any(
        "config 'counting-easy': data_files glob 'data/counting-easy/train-000000000000-*.parquet' "
        "matches no shard" in f
        for f in found
    ), found


def test_readme_dataset_info_mismatch(broken: Path) -> None:
    def inflate(meta: dict) -> None:
        info = next(i for i in meta["dataset_info"] if i["config_name"] == "default")
        info["splits"][0]["num_examples"] += 3

    _edit_readme(broken, inflate)
    found = _only(_verify(broken), "readme")
    assert len(found) == 1 and "dataset_info['default'] num_examples is 8, its shards hold 5" in found[0], (
        found
    )


def test_stray_shard_outside_the_configs(broken: Path) -> None:
    src = shards(broken)[0]
    (broken / "data" / "extra").mkdir()
    (broken / "data" / "extra" / src.name).write_bytes(src.read_bytes())
    report = _verify(broken)
    assert not report.ok  # the manifest and the card count a shard the push would not upload
    assert any("data/extra" in str(p) for p in report.problems), report.format()


def test_duplicated_id(broken: Path) -> None:
    jig = first_id(broken, "jigsaw")
    cnt = first_id(broken, "counting")
    edit_rows(broken, lambda r: r.update(id=jig), lambda r: r["id"] == cnt)
    report = _verify(broken)
    found = problems_of(report, "ids")
    assert len(found) == 1 and f"row {jig}" in found[0] and "duplicate id" in found[0], report.format()


def test_source_in_both_folders(repos, tmp_path: Path) -> None:
    main, other = repos
    other = copy_repo(other, tmp_path / "other")
    edit_rows(other, lambda r: r.update(source="cooking/a"))
    edit_manifest(other, lambda m: m.update(sources=["cooking/a"]))
    found = _only(_verify(main, other=other), "overlap")
    assert len(found) == 1 and "source cooking/a" in found[0] and "used by both" in found[0], found
    proc = run_cli(str(main), "--other", str(other), "--no-decode", "--no-load")
    assert proc.returncode == 1 and "[overlap] source cooking/a" in proc.stdout, proc.stdout + proc.stderr


def test_manifest_sources_disagree_with_rows(broken: Path) -> None:
    edit_manifest(broken, lambda m: m.update(sources=["cooking/a"]))
    found = _only(_verify(broken), "manifest")
    assert found == ["[manifest] build_manifest.json: source 'sports/b' has rows but is not in 'sources'"]


def test_absolute_path_in_video_path(broken: Path) -> None:
    rid = first_id(broken, "grounding")

    def leak(row: dict) -> None:
        row["videos"][0]["path"] = "/home/alice/videos/clip0.mp4"

    edit_rows(broken, leak, lambda r: r["id"] == rid)
    report = _verify(broken)
    found = problems_of(report, "leak")
    assert len(found) == 1 and rid in found[0] and "clip 0 path contains an absolute path" in found[0], found
    # the path also no longer names the clip after its row
    assert {p.check for p in report.problems} == {"leak", "clips"}, report.format()


def test_token_in_question(broken: Path) -> None:
    rid = first_id(broken, "counting")
    token = "hf_" + "Zq7" * 10
    edit_rows(
        broken, lambda r: r.update(question=r["question"] + f" (token {token})"), lambda r: r["id"] == rid
    )
    report = _verify(broken)
    found = problems_of(report, "leak")
    assert len(found) == 1 and "column 'question' contains a token-like string" in found[0], found
    assert token not in report.format() and token not in json.dumps(report.to_dict())


def test_absolute_path_in_manifest(broken: Path) -> None:
    edit_manifest(broken, lambda m: m.update(sources_root="/home/alice/videos"))
    found = _only(_verify(broken), "leak")
    assert len(found) == 1 and found[0].startswith("[leak] build_manifest.json: contains an absolute path"), (
        found
    )


def test_source_id_escaping_its_root(broken: Path) -> None:
    rid = first_id(broken, "jigsaw")
    edit_rows(broken, lambda r: r.update(source="../secret/b"), lambda r: r["id"] == rid)
    report = _verify(broken)
    assert any("escapes its root" in f for f in problems_of(report, "source")), report.format()


def test_mismatched_per_clip_lists(broken: Path) -> None:
    rid = first_id(broken, "jigsaw")
    edit_rows(broken, lambda r: r.update(fps=r["fps"][:-1]), lambda r: r["id"] == rid)
    found = problems_of(_verify(broken), "clips")
    assert any("per-clip lists differ in length" in f and "fps 5" in f for f in found), found


def test_question_marker_count(broken: Path) -> None:
    rid = first_id(broken, "grounding")
    edit_rows(
        broken, lambda r: r.update(question=r["question"].replace("<video>", "")), lambda r: r["id"] == rid
    )
    found = _only(_verify(broken), "question")
    assert any("0 <video> markers for 1 clips" in f for f in found), found


def test_leftover_of_an_interrupted_write_is_a_note(broken: Path) -> None:
    (broken / "data" / "counting-easy" / ".part-00000.parquet.tmp-123").write_bytes(b"partial")
    (broken / ".staging-99").mkdir()
    report = _verify(broken)
    assert report.ok, report.format()
    leftover = "a leftover of an interrupted write (hidden, not published)"
    assert sorted(report.notes) == [
        f".staging-99: {leftover}",
        ".videossr-build.json: not published (hidden)",
        f"data/counting-easy/.part-00000.parquet.tmp-123: {leftover}",
    ]


def test_verify_checks_exactly_what_a_push_uploads(broken: Path) -> None:
    """Files outside publish.ALLOWLIST are notes (never uploaded, so a leak there is not a problem); a shard
    that is a symbolic link is not uploaded, so the card's configs lack it."""
    token = "hf_" + "L" * 34
    (broken / ".env").write_text(f"HF_TOKEN={token}\n")
    (broken / "notes.txt").write_text(f"token {token}\n")
    report = _verify(broken)
    assert report.ok, report.format()
    assert ".env: not published (hidden)" in report.notes
    assert "notes.txt: not published (not on the allowlist)" in report.notes
    shard = shards(broken)[0]
    moved = shard.rename(broken / "outside.bin")
    shard.symlink_to(moved)
    report = _verify(broken)
    assert f"{shard.relative_to(broken).as_posix()}: not published (a symbolic link)" in report.notes
    assert not report.ok  # the manifest and the card count a shard the push would not upload
    (broken / "README.md").write_text((broken / "README.md").read_text() + f"\n{token}\n")
    assert any(p.check == "leak" and p.where == "README.md" for p in _verify(broken).problems)


def test_partial_shard_under_a_visible_name(broken: Path) -> None:
    (broken / "data" / "counting-easy" / "part-00000.parquet").write_bytes(b"PAR1 partial")
    report = _verify(broken)
    assert any("part-00000.parquet" in str(p) and p.check == "schema" for p in report.problems), (
        report.format()
    )
    assert any("part-00000.parquet" in str(p) and p.check == "manifest" for p in report.problems), (
        report.format()
    )


def test_cli_reports_every_problem_and_exits_nonzero(broken: Path) -> None:
    rid = first_id(broken, "counting")
    edit_rows(broken, lambda r: r.update(answer="9,9,9"), lambda r: r["id"] == rid)
    edit_manifest(broken, lambda m: m.update(num_rows=99))
    proc = run_cli(str(broken), "--no-decode", "--no-load")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED: 2 problem(s)" in proc.stdout
    assert f"[answer] row {rid}" in proc.stdout and "num_rows 99, the shards hold 5" in proc.stdout
    proc = run_cli(str(broken), "--no-decode", "--no-load", "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["ok"] is False and {p["check"] for p in data["problems"]} == {"answer", "manifest"}


def test_missing_manifest_and_card(broken: Path) -> None:
    (broken / "build_manifest.json").unlink()
    (broken / "README.md").unlink()
    report = _verify(broken)
    assert "[manifest] build_manifest.json: missing" in map(str, report.problems), report.format()
    assert "[readme] README.md: missing: the folder has no dataset card" in map(str, report.problems)


def test_column_of_the_wrong_type(broken: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = shards(broken)[0]
    table = pq.read_table(shard)
    i = table.schema.get_field_index("num_frames")
    table = table.set_column(
        i, pa.field("num_frames", pa.list_(pa.int64())), table.column(i).cast(pa.list_(pa.int64()))
    )
    pq.write_table(table, shard)
    found = _only(_verify(broken), "schema")
    assert (
        len(found) == 1
        and "column 'num_frames' has type list<" in found[0]
        and "int64>, expected" in found[0]
    ), found
