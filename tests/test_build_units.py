"""Work units: planned on the driver (plan_units, fallbacks), run on a worker (run_unit: decode once, draw,
re-draw, make elsewhere) and on the cluster (run_units: in plan order, a window at a time)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
from _build_helpers import RecordingSampler, RejectFirst, small_recipe
from videossr.build.config import BuildConfig
from videossr.build.driver import run_units
from videossr.build.parts import SkippedSample, UnitSummary
from videossr.build.plan import FALLBACKS, fallbacks, plan_units
from videossr.build.probe import probe_source
from videossr.build.recipes import MixEntry, Recipe
from videossr.build.source_frames import FRAME_FILES_KEPT, FrameFiles, SourceFrames
from videossr.build.sources import Source, discover
from videossr.build.unit import MAX_ATTEMPTS, run_unit
from videossr.tasks import TaskSpec, VideoInfo


@pytest.fixture
def sampler():
    """A decoder that records every frame it is asked for (closed after the test)."""
    recording = RecordingSampler()
    yield recording
    recording.close()


@pytest.fixture(scope="module")
def sources(small_corpus: Path) -> list[Source]:
    """The small test corpus, probed as the build probes it."""
    pairs, _ = discover([small_corpus])
    return [s for s in (probe_source(i, str(p), min_frames=54) for i, p in pairs) if isinstance(s, Source)]


def _fake_source(name: str, i: int, width: int = 64, height: int = 48) -> Source:
    return Source(name, f"/x/{name}.mp4", 10.0, 30.0, 300, width, height, 0, "h264", f"h{i}")


def _one_job_unit(units, task: str, *, skip_first: bool = False):
    """The first unit (after the first, with ``skip_first``) with a ``task`` sample, reduced to that
    sample."""
    unit = next(u for u in units[int(skip_first) :] if any(j.spec.task == task for j in u.jobs))
    job = next(j for j in unit.jobs if j.spec.task == task)
    return replace(unit, jobs=(job,)), job


def test_redraw_reuses_decoded_frames(sources, sampler, tmp_path) -> None:
    """A sample rejected after decoding is re-drawn from the frames already decoded (its plan needs the same
    48 source frames), not decoded again."""
    src = next(s for s in sources if s.id == "cooking/testsrc2")
    (unit,) = plan_units(small_recipe(), [src], BuildConfig(seed=5), tmp_path / "parts")
    jobs = tuple(j for j in unit.jobs if j.spec.task in ("counting", "jigsaw"))
    unit = replace(unit, jobs=jobs)
    assert len(jobs) >= 2
    make = RejectFirst(1, "test: first draw rejected after decoding")
    summary = run_unit(unit, sampler=sampler, make=make)
    assert make.rejected == 1 and not summary.skipped_samples
    assert len(summary.rows) == len(jobs)
    assert sampler.calls == 1, f"decoded {sampler.calls} times; a re-draw must reuse decoded frames"


def test_every_source_gets_a_mix_of_families_when_samples_cycle(tmp_path) -> None:
    """With more samples than sources, a source's samples come from different mix entries, even when the
    source count is a multiple of the mix's interleaving period (24 sources, 3 families: one of each)."""
    families = [
        TaskSpec("grounding", "ChannelSwap"),
        TaskSpec("counting", "easy"),
        TaskSpec("jigsaw", "easy"),
    ]
    many = [_fake_source(f"v{i:02d}", i, 640, 360) for i in range(24)]
    for per_family in (1, 4):
        recipe = Recipe("r", tuple(MixEntry(s, 24 * per_family) for s in families))
        units = plan_units(recipe, many, BuildConfig(seed=1), tmp_path)
        assert len(units) == 24
        for unit in units:
            tasks = sorted(j.spec.task for j in unit.jobs)
            assert tasks == sorted(["grounding", "counting", "jigsaw"] * per_family), (unit.source.id, tasks)


def test_sample_rejected_at_its_source_is_made_from_its_fallback_in_the_same_unit(
    sources, sampler, tmp_path
) -> None:
    """Every draw rejected at the sample's own source: the unit makes it from the job's first fallback source
    at once (no second round) and the row names that source."""
    assert len(sources) >= 3
    units = plan_units(small_recipe(), sources, BuildConfig(seed=5), tmp_path / "parts")
    unit, job = _one_job_unit(units, "counting")
    assert len(job.fallbacks) == min(FALLBACKS, len(sources) - 1)
    assert unit.source not in job.fallbacks
    summary = run_unit(unit, sampler=sampler, make=RejectFirst(MAX_ATTEMPTS))
    assert summary.rows == [job.sample_id] and not summary.skipped_samples
    assert summary.moved == {job.sample_id: job.fallbacks[0].id}
    row = pq.ParquetFile(unit.part_path).read().to_pylist()[0]
    assert row["source"] == job.fallbacks[0].id


def test_fallbacks_are_finished_units_first_then_nearer_ones_then_later_ones_without_own_and_partner(
    tmp_path,
) -> None:
    """Fallbacks are tried on units ``distance`` and more places back first (done by the time this one runs,
    with up to that many workers), then the nearer ones, farthest first (maybe still running), then units
    that run later; never the sample's own source or its Swap partner."""
    nine = [_fake_source(f"s{i}", i) for i in range(9)]

    def ids(position: int, exclude: set[str], order: list[Source] = nine) -> list[str]:
        return [s.id for s in fallbacks(order, position, exclude, count=4, distance=3)]

    assert ids(7, {"s7"}) == ["s4", "s3", "s2", "s1"]
    assert ids(4, {"s4", "s0"}) == ["s1", "s2", "s3", "s8"]
    assert ids(1, {"s1"}) == ["s0", "s8", "s7", "s6"]
    assert ids(0, {"s0", "s8"}) == ["s7", "s6", "s5", "s4"]
    assert ids(2, {"s2"}, nine[:3]) == ["s0", "s1"]

    # Each unit looks only at the sources it picks and the excluded ones it passes over, however many
    # sources there are.
    class CountingList(list):
        reads = 0

        def __getitem__(self, k):  # type: ignore[override]
            CountingList.reads += 1
            return super().__getitem__(k)

    many = CountingList(_fake_source(f"m{i}", i) for i in range(5000))
    for position, exclude in ((2500, {"m2500", "m2497"}), (1, {"m1", "m4999"}), (4999, {"m4999"})):
        CountingList.reads = 0
        assert len(fallbacks(many, position, exclude)) == 4
        assert CountingList.reads <= 4 + len(exclude)
    # In a plan: units run largest first, here (equal sizes and sample counts) in source-id order; each job's
    # fallbacks are the sources of the units before it.
    recipe = Recipe(
        "r", (MixEntry(TaskSpec("grounding", "Swap"), 7), MixEntry(TaskSpec("counting", "easy"), 7))
    )
    seven = nine[:7]  # two samples each
    units = plan_units(recipe, list(reversed(seven)), BuildConfig(seed=2), tmp_path)
    assert [u.source.id for u in units] == [s.id for s in seven]
    for position, unit in enumerate(units):
        for job in unit.jobs:
            exclude = {unit.source.id, job.secondary.id if job.secondary else ""}
            assert job.fallbacks == fallbacks(seven, position, exclude) and len(job.fallbacks) == 4
            assert not {f.id for f in job.fallbacks} & exclude


def test_sample_rejected_at_a_fallback_too_goes_on_to_the_next_each_frame_decoded_once(
    sources, sampler, tmp_path
) -> None:
    """Rejected on every draw at its own source and at its first fallback: the sample is made at the second
    fallback. Every source the unit touches has each of its frames decoded at most once, however many draws
    (first tries and re-draws) use it."""
    units = plan_units(small_recipe(), sources, BuildConfig(seed=3), tmp_path / "parts")
    unit, job = _one_job_unit(units, "jigsaw")
    assert len(job.fallbacks) >= 2
    summary = run_unit(unit, sampler=sampler, make=RejectFirst(2 * MAX_ATTEMPTS))
    assert summary.rows == [job.sample_id] and not summary.skipped_samples
    assert summary.moved == {job.sample_id: job.fallbacks[1].id}
    assert pq.ParquetFile(unit.part_path).read().to_pylist()[0]["source"] == job.fallbacks[1].id
    assert set(sampler.decoded) == {unit.source.path, job.fallbacks[0].path, job.fallbacks[1].path}
    for path, indices in sampler.decoded.items():
        assert len(indices) == len(set(indices)), f"{path}: frames decoded twice"


def test_sample_rejected_everywhere_is_reported_with_its_reason(sources, sampler, tmp_path) -> None:
    """When every fallback rejects too, the sample is skipped and reported (never silently dropped)."""
    units = plan_units(small_recipe(), sources, BuildConfig(seed=3), tmp_path / "parts")
    unit, job = _one_job_unit(units, "counting")
    make = RejectFirst(10**6, "test: invisible everywhere")
    summary = run_unit(unit, sampler=sampler, make=make)
    assert summary.rows == [] and summary.moved == {}
    assert summary.skipped_samples == [
        SkippedSample(job.sample_id, job.spec.key, unit.source.id, "test: invisible everywhere")
    ]
    assert summary.source_error == "no usable sample: test: invisible everywhere"
    assert make.calls == MAX_ATTEMPTS * (1 + len(job.fallbacks))


def test_fallback_draws_are_prescreened_on_the_frames_that_decide_a_rejection(sampler, tmp_path) -> None:
    """ChannelSwap at a grey source is invisible. A fallback source that is grey too rejects the draw after
    decoding only the segment's boundary frames (not all 48); the next fallback, in colour, makes the
    sample."""
    from _reliability_helpers import H264, lavfi

    paths = {
        "grey_a": lavfi(tmp_path / "grey_a.mp4", "testsrc2=size=160x120:rate=24,hue=s=0", 6, H264),
        "grey_b": lavfi(tmp_path / "grey_b.mp4", "mandelbrot=size=160x120:rate=24,hue=s=0", 6, H264),
        "colour": lavfi(tmp_path / "colour.mp4", "testsrc2=size=160x120:rate=24", 6, H264),
    }
    found = {sid: probe_source(sid, path) for sid, path in paths.items()}
    assert all(isinstance(s, Source) for s in found.values())
    recipe = Recipe("r", (MixEntry(TaskSpec("grounding", "ChannelSwap"), 1),), max_pixels=96 * 96)
    (unit,) = plan_units(recipe, [found["grey_a"]], BuildConfig(seed=1), tmp_path / "parts")
    job = replace(unit.jobs[0], fallbacks=(found["grey_b"], found["colour"]))
    summary = run_unit(replace(unit, jobs=(job,)), sampler=sampler)
    assert summary.moved == {job.sample_id: "colour"} and not summary.skipped_samples
    assert len(sampler.decoded[str(paths["grey_a"])]) == 48  # its own frames, decoded in full
    assert 0 < len(sampler.decoded[str(paths["grey_b"])]) <= 2 * MAX_ATTEMPTS  # boundary frames only
    assert len(set(sampler.decoded[str(paths["colour"])])) == 48


def test_fallback_to_a_finished_unit_reuses_its_frames_and_gives_the_same_row(sources, tmp_path) -> None:
    """A unit leaves its decoded frames on disk; a later unit whose sample falls back to that source decodes
    nothing there, and its row is byte-identical to one made by decoding afresh."""
    units = plan_units(small_recipe(), sources, BuildConfig(seed=4), tmp_path / "a" / "parts")
    unit, job = _one_job_unit(units, "counting", skip_first=True)
    before = next(u for u in units if u.source.id == job.fallbacks[0].id)
    run_unit(before)  # the unit just before: leaves its frames
    assert list((tmp_path / "a" / "frames").glob("*.frames"))

    cached, fresh = RecordingSampler(), RecordingSampler()
    try:
        summary = run_unit(unit, sampler=cached, make=RejectFirst(MAX_ATTEMPTS))
        assert summary.moved == {job.sample_id: before.source.id}
        assert before.source.path not in cached.decoded  # made from the frames the earlier unit left
        elsewhere = replace(unit, parts_dir=str(tmp_path / "b" / "parts"))  # no frames left there
        run_unit(elsewhere, sampler=fresh, make=RejectFirst(MAX_ATTEMPTS))
        assert fresh.decoded.get(before.source.path)
    finally:
        cached.close()
        fresh.close()
    assert pq.ParquetFile(elsewhere.part_path).read() == pq.ParquetFile(unit.part_path).read()


def test_each_worker_keeps_only_its_last_frame_files(tmp_path) -> None:
    info = VideoInfo(duration=10.0, fps=30.0, num_frames=300, width=8, height=6)
    files = FrameFiles()
    paths = []
    for i in range(FRAME_FILES_KEPT + 3):
        store = SourceFrames(None, _fake_source(f"s{i}", i, 8, 6), info)
        store.frames = {3: np.full((6, 8, 3), i, np.uint8), 9: np.zeros((6, 8, 3), np.uint8)}
        store.pts = {3: 0.1}
        paths.append(tmp_path / f"{i}.frames")
        store.remember(paths[-1], files)
    assert [p.exists() for p in paths] == [False] * 3 + [True] * FRAME_FILES_KEPT
    assert files.paths == paths[3:]
    back = SourceFrames(None, _fake_source("s", 0, 8, 6), info)
    back.recall(paths[-1])
    assert sorted(back.frames) == [3, 9] and back.frames[3][0, 0, 0] == len(paths) - 1
    assert back.pts == {3: 0.1}  # an unknown time stays unknown
    wrong_size = SourceFrames(None, _fake_source("s", 0, 8, 6), VideoInfo(10.0, 30.0, 300, 16, 12))
    wrong_size.recall(paths[-1])
    wrong_size.recall(tmp_path / "missing.frames")
    assert wrong_size.frames == {}


def test_units_run_largest_first_so_no_large_unit_runs_alone_at_the_end(tmp_path) -> None:
    """Units are planned largest first (source pixels to decode, sample pixels to encode), ties in source-id
    order, and the cluster hands them out in that order."""
    from distributed import Client
    from tqdm import tqdm
    from videossr.build.synthetic import make_synthetic_video

    for name, (w, h) in {"a": (64, 48), "b": (192, 144), "c": (128, 96), "d": (192, 144)}.items():
        make_synthetic_video(
            tmp_path / "corpus" / f"{name}.mp4", "testsrc2", width=w, height=h, fps=24, duration=6
        )
    found = [probe_source(sid, str(path), min_frames=54) for sid, path in discover([tmp_path / "corpus"])[0]]
    recipe = small_recipe("order", max_pixels=64 * 48).scaled(8)
    units = plan_units(
        recipe, found, BuildConfig(seed=0), tmp_path / "out" / ".videossr-work" / "order" / "parts"
    )
    assert [u.source.id for u in units] == ["b", "d", "c", "a"]
    ran = tmp_path / "ran.txt"  # a file: the task may be a pickled copy of this function

    def fake_unit(unit):
        with open(ran, "a") as f:
            f.write(unit.source.id + "\n")
        return UnitSummary(unit.key, unit.source.id)

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        run_units(client, units, tqdm(disable=True), retries=0, run=fake_unit)
    assert ran.read_text().split() == ["b", "d", "c", "a"]


def test_units_are_submitted_a_window_at_a_time_in_plan_order(tmp_path) -> None:
    """The driver keeps at most ``window`` units submitted and not yet collected (each submitted task costs
    it memory), runs them all in plan order and returns every summary once."""
    from distributed import Client
    from tqdm import tqdm

    window = 3
    missing = tmp_path / "none"
    units = [SimpleNamespace(key=f"u{k:02d}", marker_path=missing, part_path=missing) for k in range(20)]
    started, finished = tmp_path / "started.txt", tmp_path / "finished.txt"  # files: tasks are pickled copies
    started.touch()
    finished.touch()

    def fake_unit(unit):
        with open(started, "a") as f:
            f.write(unit.key + "\n")
        time.sleep(0.02)
        with open(finished, "a") as f:
            f.write(unit.key + "\n")
        return UnitSummary(unit.key, "s", rows=[unit.key])

    class CountingClient:
        """The real client; records how far submissions run ahead of finished units."""

        def __init__(self, client):
            self.client, self.loop, self.submitted, self.most_ahead = client, client.loop, 0, 0

        def submit(self, *args, **kwargs):
            self.submitted += 1
            self.most_ahead = max(self.most_ahead, self.submitted - len(finished.read_text().split()))
            return self.client.submit(*args, **kwargs)

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        counting = CountingClient(client)
        summaries = run_units(counting, units, tqdm(disable=True), retries=0, window=window, run=fake_unit)
    assert sorted(s.unit for s in summaries) == [u.key for u in units]
    assert started.read_text().split() == [u.key for u in units]
    assert 1 <= counting.most_ahead <= window
