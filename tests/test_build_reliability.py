"""Bad inputs, faults and leaks (issue 7, build side): nothing lost, nothing silent, nothing leaked."""

from __future__ import annotations

import errno
import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from _build_helpers import RecordingSampler, build_mini, make_null_frame_avi, small_recipe, tree_digest
from _reliability_helpers import EXPECTED, make_messy_corpus
from videossr.build.config import BuildConfig
from videossr.build.faults import FAULT_AT_ENV
from videossr.build.frames import DecodeError, FrameSampler
from videossr.build.pipeline import build
from videossr.build.plan import plan_units
from videossr.build.probe import probe_source
from videossr.build.recipes import load_recipe
from videossr.build.render import probe
from videossr.build.repo import finalize_repo
from videossr.build.shards import iter_repo_rows
from videossr.build.source_frames import decodable_info
from videossr.build.sources import Source, discover, source_id
from videossr.build.synthetic import make_synthetic_video
from videossr.build.unit import content_key, run_unit

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_messy_corpus(tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def messy_build(messy: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("messy_out")
    recipe = load_recipe("videossr-30k").scaled(36)
    result = build(
        [recipe],
        [messy],
        BuildConfig(out_dir=out, seed=3, workers=2, progress=False, decode_timeout=60),
        on_progress=lambda m: None,
    )
    return out / "videossr-30k", result


def test_every_bad_input_is_skipped_with_a_reason_and_every_good_one_used(messy_build, messy):
    folder, result = messy_build
    manifest = json.loads((folder / "build_manifest.json").read_text())
    used = set(manifest["sources"])
    skipped = {s["source"]: s["reason"] for s in manifest["skipped_sources"]}
    assert result.datasets[0].built == 36 and not manifest["skipped_samples"]
    for sid, expected in EXPECTED.items():
        if sid in ("dupes/copy_of_good", "good/a"):
            continue
        if expected == "used":
            assert sid in used, f"{sid} should yield samples; skipped because: {skipped.get(sid)}"
        elif expected == "skipped":
            assert sid in skipped and sid not in used, sid
            assert len(skipped[sid]) > 5
        else:
            assert (sid in used) != (sid in skipped), f"{sid} must be either used or reported"
    # The same content twice: used once, the other reported as a duplicate.
    pair = {"dupes/copy_of_good", "good/a"}
    assert len(pair & used) == 1
    (dupe,) = pair - used
    assert skipped[dupe].startswith("duplicate content of")
    assert "symlink loop" in skipped["loop/back_to_root"]
    assert "no video stream" in skipped["bad/audio_only"]
    assert "empty file" in skipped["bad/zero"]
    assert "too short" in skipped["bad/one_frame"] and "too short" in skipped["bad/short"]
    # build/verify.py passes on the result.
    from videossr.build.checks import verify_repo

    report = verify_repo(folder)
    assert not report.problems, report.problems
    # Nothing discovered is unaccounted for.
    pairs, listing_skips = discover([messy])
    assert {sid for sid, _ in pairs} | {s.source for s in listing_skips} == used | set(skipped)


def test_nothing_private_leaks_into_published_files(messy_build, messy):
    folder, _ = messy_build
    secrets = [str(messy), str(Path.home()), socket.gethostname(), getpass.getuser() + "/"]
    texts = [(folder / "README.md").read_text(), (folder / "build_manifest.json").read_text()]
    for row in iter_repo_rows(folder):
        texts += [
            row["id"],
            row["source"],
            row["question"],
            row["params"],
            *[v["path"] for v in row["videos"]],
        ]
    for text in texts:
        for secret in secrets:
            assert secret not in text
        assert not text.startswith("/")
    manifest = json.loads((folder / "build_manifest.json").read_text())
    for s in manifest["skipped_sources"]:
        assert "/tmp" not in s["reason"] and not s["source"].startswith("/")
        assert not re.search(r"\d{1,2}:\d{2}:\d{2}", s["reason"])  # no wall-clock stamps: deterministic


def test_sources_are_probed_by_their_decoder_as_ffprobe_reads_them(messy):
    """The decode child's probe (what plans use) agrees with the system's ffprobe on every odd input it can
    read: frame rate, size, rotation, codec, duration, frame count."""
    pairs, _ = discover([messy])
    checked = []
    for sid, path in pairs:
        if not sid.startswith(("odd/", "good/", "names/")):
            continue
        ours = probe_source(sid, path, min_frames=2)
        ref = probe(path)
        assert isinstance(ours, Source), (sid, ours)
        rotated = ref.rotation in (90, 270)
        assert (ours.width, ours.height) == (
            (ref.height, ref.width) if rotated else (ref.width, ref.height)
        ), sid
        assert ours.rotation == ref.rotation and ours.codec == ref.codec, sid
        assert ours.fps == pytest.approx(ref.fps, rel=1e-6), sid
        assert ours.duration == pytest.approx(ref.duration, abs=1e-3), sid
        assert abs(ours.num_frames - ref.num_frames) <= 1, (sid, ours.num_frames, ref.num_frames)
        checked.append(sid)
    assert {"odd/rotated_phone", "odd/vfr", "odd/hevc", "odd/vp9", "odd/ten_bit"} <= set(checked)


def test_probe_cache_serves_unchanged_files_and_probes_changed_ones_again(tmp_path):
    """A source probed by an earlier run is served from ``<out>/.videossr-cache/probe.jsonl`` while its path,
    size and modification time hold (under its id of this run); a changed file, a larger frame minimum,
    another probe version or a torn line sends it back to the probe."""
    from videossr.build.probe_cache import ProbeCache

    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for path in (a, b):
        make_synthetic_video(path, "testsrc2", width=64, height=48, fps=10, duration=6)
    cache_path = tmp_path / "out" / ".videossr-cache" / "probe.jsonl"
    probed = [probe_source(p.stem, p, min_frames=54) for p in (a, b)]
    assert all(isinstance(s, Source) for s in probed)
    ProbeCache(cache_path).add(probed)

    cache = ProbeCache(cache_path)
    hit = cache.get("renamed/a", a, min_frames=54)
    assert hit == Source(**{**probed[0].to_dict(), "id": "renamed/a"}) and cache.hits == 1
    assert cache.get("a", a, min_frames=probed[0].num_frames + 1) is None  # too short for this run's recipes
    os.utime(b, ns=(b.stat().st_atime_ns, b.stat().st_mtime_ns + 10**9))  # touched: probed again
    assert cache.get("b", b, min_frames=54) is None
    assert cache.get("c", tmp_path / "missing.mp4", min_frames=54) is None

    # An interrupted append leaves a torn line: it is skipped, and the next append starts on a new line.
    with open(cache_path, "a") as f:
        f.write('{"key": "torn')
    again = ProbeCache(cache_path)
    assert again.get("a", a, min_frames=54) is not None and again.get("b", b, min_frames=54) is None
    again.add([probe_source("b", b, min_frames=54)])
    reread = ProbeCache(cache_path)
    assert reread.get("a", a, min_frames=54) and reread.get("b", b, min_frames=54)
    lines = cache_path.read_text().splitlines()
    assert lines[-2:][0] == '{"key": "torn' and json.loads(lines[-1])["key"].startswith(str(b))

    # A cache written by another probe version is ignored, then rewritten with this version's entries only.
    lines = cache_path.read_text().splitlines()
    cache_path.write_text("\n".join([json.dumps({"av": "0.0", "probe_cache": 0}), *lines[1:]]) + "\n")
    old = ProbeCache(cache_path)
    assert old.get("a", a, min_frames=54) is None
    old.add([probe_source("a", a, min_frames=54)])
    assert ProbeCache(cache_path).get("a", a, min_frames=54) is not None
    assert ProbeCache(cache_path).get("b", b, min_frames=54) is None


def test_rotated_phone_video_frames_come_out_upright(messy):
    path = messy / "odd/rotated_phone.mp4"
    info = probe_source("odd/rotated_phone", path)  # what the build turns frames by
    assert isinstance(info, Source) and info.rotation in (90, 270)
    w, h = info.width, info.height  # display size
    first_frame = ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    ref = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), *first_frame], capture_output=True, check=True
    ).stdout
    upright = np.frombuffer(ref, np.uint8).reshape(h, w, 3)
    sampler = FrameSampler()
    try:
        frame = sampler.frames_at(str(path), [0], w, h, info.rotation).frames[0]
    finally:
        sampler.close()
    assert frame.shape == upright.shape
    assert np.abs(frame.astype(int) - upright).mean() < 2.0


def test_vfr_frame_times_are_presentation_times(messy_build):
    folder, _ = messy_build
    rows = [r for r in iter_repo_rows(folder, ["source", "frame_times"]) if r["source"] == "odd/vfr"]
    assert rows
    diffs = np.round(np.diff(np.concatenate([np.asarray(t) for t in rows[0]["frame_times"]])), 3)
    # The source runs at 24 fps for 3 s, then 12 fps: both spacings show up in the real timestamps.
    assert len({d for d in diffs if d > 0}) >= 2


def test_decoder_hang_is_cut_by_the_timeout_and_the_sampler_recovers(tmp_path):
    fifo = tmp_path / "hang.mp4"
    os.mkfifo(fifo)  # opening a FIFO with no writer blocks forever inside the decoder
    sampler = FrameSampler(timeout=3)
    try:
        t0 = time.monotonic()
        with pytest.raises(DecodeError, match="timed out"):
            sampler.count_frames(str(fifo))
        assert time.monotonic() - t0 < 20
        good = make_synthetic_video(tmp_path / "ok.mp4", "testsrc2", width=64, height=48, duration=2)
        assert sampler.count_frames(str(good)) == 48
    finally:
        sampler.close()


def test_unreadable_file_is_skipped_with_a_permission_reason(tmp_path):
    folder = tmp_path / "perm"
    folder.mkdir()
    video = make_synthetic_video(folder / "locked.mp4", "testsrc2", width=64, height=48, duration=3)
    video.chmod(0)
    os.chmod(tmp_path, 0o755)
    os.chmod(folder, 0o755)
    code = (
        "import os, sys\n"
        "from videossr.build.probe import probe_source\n"  # import first: the stdlib may be root-only
        "if os.getuid() == 0:\n"
        "    os.setgid(65534); os.setuid(65534)\n"
        f"print(probe_source('locked', {str(video)!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Skipped" in out.stdout and ("not readable" in out.stdout or "Permission denied" in out.stdout)


def test_source_ids_never_escape_their_root(tmp_path):
    with pytest.raises(ValueError):
        source_id(Path("/data/videos/../secret.mp4"), Path("/data/videos"))
    inside = make_synthetic_video(tmp_path / "lists/clips/a.mp4", "testsrc2", width=64, height=48, duration=3)
    outside = make_synthetic_video(tmp_path / "elsewhere/b.mp4", "testsrc2", width=64, height=48, duration=3)
    listing = tmp_path / "lists/sources.txt"
    listing.write_text(f"clips/a.mp4\n../elsewhere/b.mp4\n{outside}\nmissing.mp4\n")
    pairs, skipped = discover([listing])
    ids = [sid for sid, _ in pairs]
    assert "clips/a" in ids
    assert all(not sid.startswith("/") and ".." not in sid.split("/") for sid in ids)
    assert next(s.reason for s in skipped if "missing" in s.source).startswith("listed in sources.txt:4")
    assert inside.exists()


def test_killed_worker_is_retried_and_the_build_completes(mini_corpus, mini_builds, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv("VIDEOSSR_FAULT_KILL_ONCE", str(marker))
    result = build_mini(mini_corpus, tmp_path / "out", seed=1)
    assert marker.exists(), "the fault was not injected"
    assert result.datasets[0].built == 6
    assert tree_digest(tmp_path / "out" / "videossr-30k") == tree_digest(mini_builds["old"])


def _cli(out: Path, corpus: Path) -> list[str]:
    what = [
        "--sources",
        str(corpus),
        "--datasets",
        "videossr-30k",
        "--num-samples",
        "8",
        "--out-dir",
        str(out),
    ]
    return [
        sys.executable,
        str(REPO / "build" / "run.py"),
        *what,
        "--workers",
        "2",
        "--no-progress",
        "--no-verify",
    ]


def test_build_killed_at_random_points_then_rerun_is_byte_identical(mini_corpus, tmp_path):
    corpus = mini_corpus
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ref = subprocess.run(_cli(tmp_path / "ref", corpus), capture_output=True, text=True, timeout=600, env=env)
    assert ref.returncode == 0, ref.stderr[-2000:]
    reference = tree_digest(tmp_path / "ref" / "videossr-30k")
    out = tmp_path / "out"
    rng = np.random.default_rng(0)
    for delay in sorted(rng.uniform(2.0, 9.0, size=2)):
        proc = subprocess.Popen(
            _cli(out, corpus),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    final = subprocess.run(_cli(out, corpus), capture_output=True, text=True, timeout=600, env=env)
    assert final.returncode == 0, final.stderr[-2000:]
    assert tree_digest(out / "videossr-30k") == reference
    published = {"README.md", "build_manifest.json", "preview.png", "data", ".videossr-build.json"}
    assert {p.name for p in (out / "videossr-30k").iterdir()} <= published
    assert not [p for p in (out / "videossr-30k").rglob("*") if ".tmp-" in p.name]
    work = out / ".videossr-work" / "videossr-30k"
    assert not (work / "staging").exists() and not (work / "previous").exists()


def test_write_error_stops_cleanly_and_keeps_what_was_built(mini_builds, tmp_path, monkeypatch):
    folder = tmp_path / "videossr-30k"
    shutil.copytree(mini_builds["new"], folder)
    before = tree_digest(folder)
    rows = sorted(iter_repo_rows(folder), key=lambda r: r["id"])

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(
        pq.ParquetWriter, "write_table", disk_full
    )  # the disk fills up while shards are written
    with pytest.raises(OSError) as info:
        finalize_repo(iter(rows), folder, dataset_name="videossr-30k", manifest={})
    assert info.value.errno == errno.ENOSPC
    assert tree_digest(folder) == before
    assert not (tmp_path / ".videossr-work" / "videossr-30k" / "staging").exists()


def test_cli_reports_disk_full_in_one_clear_line(tmp_path, monkeypatch, capsys):
    from videossr.build import cli

    monkeypatch.setenv(FAULT_AT_ENV, "locked:enospc")  # the disk is full once the build holds its locks
    (tmp_path / "videos").mkdir()
    code = cli.main(["--sources", str(tmp_path / "videos"), "--out-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert "no space left on device" in err and "re-run the same command" in err
    assert "Traceback" not in err


def test_error_writing_a_dataset_while_the_next_ones_units_run_stops_the_build(
    mini_corpus, tmp_path, monkeypatch
):
    """A dataset is written (shards, card, preview) in a driver thread while the workers run the next
    dataset's units: an error there still stops the build with that error, and the results keep recipe
    order."""
    recipes = [small_recipe("one").scaled(2), small_recipe("two").scaled(2)]
    cfg = BuildConfig(out_dir=tmp_path / "ok", seed=3, workers=1, progress=False)
    result = build(recipes, [mini_corpus], cfg, on_progress=lambda m: None)
    assert [d.name for d in result.datasets] == ["one", "two"]
    assert [d.built for d in result.datasets] == [2, 2]
    monkeypatch.setenv(FAULT_AT_ENV, "shards:enospc")  # the first dataset's shards fill the disk
    cfg = BuildConfig(out_dir=tmp_path / "full", seed=3, workers=1, progress=False)
    with pytest.raises(OSError) as info:
        build(recipes, [mini_corpus], cfg, on_progress=lambda m: None)
    assert info.value.errno == errno.ENOSPC
    assert not (tmp_path / "full" / "one" / "data").exists()


def test_a_draw_that_repeats_an_earlier_sample_of_its_source_is_drawn_again(mini_corpus, tmp_path):
    """A source gives several samples when the recipe asks for more than there are sources; a draw that gives
    the same frames and answer as an earlier sample of the source is rejected and drawn again (here every
    sample's n-th draw is the same draw, so without that all three rows would be one sample)."""
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.tasks import TaskSpec

    (sid, path), *_ = discover([mini_corpus])[0]
    source = probe_source(sid, str(path), min_frames=54)
    recipe = Recipe("dup", (MixEntry(TaskSpec("jigsaw", "easy"), 3),), max_pixels=64 * 64)
    (unit,) = plan_units(recipe, [source], BuildConfig(seed=0), tmp_path / "parts")
    summary = run_unit(unit, rng=lambda seed, dataset, index, attempt: np.random.default_rng(attempt))
    assert len(summary.rows) == 3 and not summary.skipped_samples
    rows = pq.read_table(unit.part_path).to_pylist()
    assert len({content_key(r) for r in rows}) == 3
    assert len({r["answer"] for r in rows}) == 3  # the same clips (the source's 48 frames), shown in 3 orders


def test_swap_with_a_second_video_that_has_null_frames_plans_on_its_decodable_frames(tmp_path):
    """Swap's second video is planned, like every source, on the frames its decoder delivers: an AVI whose
    container lists three times the frames that decode (null frames) gives its frames to the other source's
    Swap sample, where asking for frames past its end failed the whole unit."""
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.tasks import TaskSpec

    corpus = tmp_path / "corpus"
    make_synthetic_video(corpus / "a.mp4", "testsrc2", width=160, height=120, fps=24, duration=6)
    make_null_frame_avi(corpus / "b.avi", "mandelbrot")
    sources = [probe_source(sid, str(p), min_frames=54) for sid, p in discover([corpus])[0]]
    avi = next(s for s in sources if s.id == "b")
    sampler = FrameSampler(60)
    try:
        assert sampler.count_frames(avi.path) * 3 <= avi.num_frames + 3
    finally:
        sampler.close()
    recipe = Recipe("swap", (MixEntry(TaskSpec("grounding", "Swap"), 2),), max_pixels=64 * 48)
    units = plan_units(recipe, sources, BuildConfig(seed=0), tmp_path / "parts")
    unit = next(u for u in units if u.source.id == "a")
    assert [j.secondary.id for j in unit.jobs] == ["b"]
    summary = run_unit(unit)
    assert summary.source_error is None and not summary.skipped_samples, summary
    assert len(summary.rows) == 1


def test_swap_whose_second_video_does_not_decode_loses_that_sample_only(tmp_path):
    """A second video that fails to decode rejects the Swap sample that needs it, with a reason naming that
    video, tried once per unit; the unit's other samples are made and its own source is not blamed."""
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.tasks import TaskSpec

    corpus = tmp_path / "corpus"
    for name, kind in (("a", "testsrc2"), ("b", "mandelbrot"), ("c", "life")):
        make_synthetic_video(corpus / f"{name}.mp4", kind, width=160, height=120, fps=24, duration=6)
    sources = [probe_source(sid, str(p), min_frames=54) for sid, p in discover([corpus])[0]]
    recipe = Recipe(
        "swapfail",
        (MixEntry(TaskSpec("grounding", "Swap"), 3), MixEntry(TaskSpec("jigsaw", "easy"), 3)),
        max_pixels=64 * 48,
    )
    units = plan_units(recipe, sources, BuildConfig(seed=0), tmp_path / "parts")
    unit, swap = next(
        (u, j) for u in units for j in u.jobs if j.spec.subtype == "Swap" and u.source.id != j.secondary.id
    )
    bad = swap.secondary
    sampler = RecordingSampler(refuse=(bad.path,))
    try:
        summary = run_unit(unit, sampler=sampler)
    finally:
        sampler.close()
    assert summary.source_error is None
    skipped = {s.id: s.reason for s in summary.skipped_samples}
    assert swap.sample_id in skipped and f"second video {bad.id} does not decode" in skipped[swap.sample_id]
    others = [j.sample_id for j in unit.jobs if j.secondary is None or j.secondary.id != bad.id]
    assert others and set(others) <= set(summary.rows)
    assert sampler.refused == [bad.path]


def test_frames_spread_by_null_frames_are_planned_at_their_real_rate_a_truncated_file_keeps_its_rate(
    tmp_path,
):
    """An AVI whose container lists 30 fps but whose decodable frames are 10 a second (null frames between):
    its frames are planned at 10 fps, so a clip's timeline (frame index / fps) matches the source times of
    its frames and it plays in real time. A truncated MP4 also decodes fewer frames than it lists, but they
    are its first ones at its own rate: planned at 24 fps as before."""
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.build.render import run_ffmpeg
    from videossr.tasks import TaskSpec

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_null_frame_avi(corpus / "null.avi", "testsrc2")
    whole = tmp_path / "whole.mp4"
    make_synthetic_video(whole, "testsrc2", width=160, height=120, fps=24, duration=8)
    faststart = tmp_path / "faststart.mp4"
    run_ffmpeg(["-i", str(whole), "-c", "copy", "-movflags", "+faststart", str(faststart)])
    cut = corpus / "cut.mp4"
    cut.write_bytes(faststart.read_bytes()[: faststart.stat().st_size * 6 // 10])
    sources = {
        s.id: s for s in (probe_source(sid, str(p), min_frames=54) for sid, p in discover([corpus])[0])
    }
    sampler = FrameSampler(60)
    try:
        null_info = decodable_info(sampler, sources["null"], 64 * 48)
        cut_info = decodable_info(sampler, sources["cut"], 64 * 48)
        cut_count = sampler.count_frames(sources["cut"].path)
    finally:
        sampler.close()
    assert sources["null"].fps == 30 and null_info.num_frames == 120 and abs(null_info.fps - 10) < 0.1
    assert sources["cut"].num_frames == 192 and 54 <= cut_count < 0.9 * 192 and cut_info.fps == 24
    recipe = Recipe("null", (MixEntry(TaskSpec("counting", "easy"), 1),), max_pixels=64 * 48)
    units = plan_units(recipe, [sources["null"]], BuildConfig(seed=0), tmp_path / "parts")
    summary = run_unit(units[0])
    assert summary.source_error is None and len(summary.rows) == 1, summary

    [row] = pq.read_table(units[0].part_path).to_pylist()
    fps, times = row["fps"][0], np.asarray(row["frame_times"][0])
    clip_times = times[0] + np.arange(len(times)) / fps
    assert np.max(np.abs(clip_times - times)) < 0.2  # within two source frames of real time
