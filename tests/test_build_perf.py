"""The build's performance shortcuts give exactly what the plain paths give."""

from __future__ import annotations

import io

import numpy as np
import pytest
from videossr.build.render import decode_all_frames, decode_clips, encode_clip, encode_clips
from videossr.build.repo import render_row, render_rows
from videossr.build.schema import arrow_schema, features, features_yaml
from videossr.tasks import TaskSpec, VideoInfo, make_sample, plan_sample


def _frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (1, h, w, 3), dtype=np.uint8)
    return np.stack([np.roll(base[0], 3 * k, axis=1) for k in range(n)])


def _natural_frames(n: int, width: int = 340, height: int = 192) -> np.ndarray:
    """``n`` frames spread over Big Buck Bunny (the demo's natural clip), as the build samples them."""
    from videossr.build.demo import natural_clip_paths
    from videossr.build.frames import FrameSampler

    [clip] = [p for p in natural_clip_paths() if p.name == "bigbuckbunny.mp4"]
    sampler = FrameSampler(120)
    try:
        total = sampler.count_frames(str(clip))
        return sampler.frames_at(str(clip), np.linspace(0, total - 1, n).round().astype(int), width, height)
    finally:
        sampler.close()


def test_arrow_schema_without_datasets_equals_features() -> None:
    assert arrow_schema().equals(features().arrow_schema, check_metadata=True)
    assert features_yaml() == features()._to_yaml_list()


def test_encode_clips_bytes_equal_encode_clip() -> None:
    f = _frames(20)
    clips = [(f, 48 / 53.7), (f[:8], 0.8938), (f[8:16], 30 / 33), (f[5:7], 7.5)]
    assert encode_clips(clips) == [encode_clip(c, fps) for c, fps in clips]
    assert encode_clips(clips[:1]) == [encode_clip(*clips[0])]
    assert encode_clips([]) == []


def test_render_rows_equal_render_row() -> None:
    info = VideoInfo(duration=10.0, fps=24.0, num_frames=240, width=64, height=48)
    frames = _frames(240)
    items = []
    for k, spec in enumerate([TaskSpec("jigsaw", "easy"), TaskSpec("counting", "easy")]):
        plan = plan_sample(spec, info, np.random.default_rng(k))
        idx = np.rint(plan.times * info.fps).astype(int)
        items.append((f"s{k}", "src", make_sample(plan, frames[idx])))
    assert render_rows(items) == [render_row(*item) for item in items]


def test_decode_clips_equals_decode_all_frames() -> None:
    clips = [encode_clip(_frames(6, seed=1), 5.0), encode_clip(_frames(9, 34, 62, seed=2), 3.0)]
    decoded = decode_clips(clips)
    assert [d.shape for d in decoded] == [(6, 48, 64, 3), (9, 34, 62, 3)]
    for data, frames in zip(clips, decoded):
        assert np.array_equal(frames, decode_all_frames(data))


def test_encoded_colours_survive_every_decoder() -> None:
    """Clips are tagged BT.709 limited range and must be converted with that matrix: pure colours come back
    pure from ffmpeg, decord and torchcodec (a BT.601 conversion tagged 709 turns red into (255, 23, 0))."""
    import decord

    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128), (250, 250, 20)]
    frames = np.stack([np.full((32, 32, 3), c, dtype=np.uint8) for c in colours])
    data = encode_clip(frames, 2.0)
    decoded = {"ffmpeg": decode_all_frames(data)}
    decoded["decord"] = (
        decord.VideoReader(io.BytesIO(data), num_threads=1).get_batch(list(range(5))).asnumpy()
    )
    try:
        from torchcodec.decoders import VideoDecoder
    except ImportError:  # build-only environments have no torch
        pass
    else:
        decoded["torchcodec"] = VideoDecoder(data).get_frames_in_range(0, 5).data.permute(0, 2, 3, 1).numpy()
    for name, out in decoded.items():
        got = out[:, 16, 16].astype(int)
        assert np.abs(got - np.asarray(colours)).max() <= 4, (name, got.tolist())


def test_encode_clip_is_deterministic_and_exact() -> None:
    y, x = np.mgrid[0:192, 0:340]
    base = np.stack([x * 255 // 339, y * 255 // 191, (x + y) * 255 // 530], axis=-1).astype(np.uint8)
    f = np.stack([np.roll(base, 7 * k, axis=1) for k in range(48)])
    a, b = encode_clip(f, 48 / 53.7), encode_clip(f.copy(), 48 / 53.7)
    assert a == b
    out = decode_all_frames(a)
    assert out.shape == f.shape
    assert np.abs(out.astype(int) - f).mean() < 3  # smooth pictures at CRF 23: close, not lossless


def test_clips_are_constrained_baseline_without_b_frames() -> None:
    """Clips use only what every H.264 decoder plays (Constrained Baseline: CAVLC, no B-frames, no 8x8
    transform, no weighted prediction), so the Hub's viewer, phones and hardware decoders all open them."""
    import av
    from av.video.frame import PictureType

    data = encode_clip(_frames(12), 4.0)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.profile == "Constrained Baseline"
        assert {PictureType(frame.pict_type) for frame in container.decode(stream)} == {
            PictureType.I,
            PictureType.P,
        }


def test_clip_quality_does_not_depend_on_its_frame_rate() -> None:
    """The same frames give the same H.264 stream whether the clip runs at 0.8, 2.5 or 12 fps (a long or a
    short source video): x264's rate control is held at 1 fps, while the container keeps each clip's timing."""
    import av

    frames = _natural_frames(24)
    streams = {}
    for fps in (0.8, 2.5, 12.0):
        with av.open(io.BytesIO(encode_clip(frames, fps))) as container:
            stream = container.streams.video[0]
            assert abs(float(stream.average_rate) - fps) < 1e-3 and stream.frames == 24
            streams[fps] = [bytes(p) for p in container.demux(stream) if p.size]
    assert streams[2.5] == streams[12.0] == streams[0.8]


def test_redraw_reuses_decoded_frames(tmp_path, monkeypatch) -> None:
    """A sample rejected after decoding is re-drawn from the frames already decoded (its plan needs the same
    48 source frames), not decoded again."""
    from _build_helpers import make_corpus, small_recipe
    from videossr.build import frames as frames_mod
    from videossr.build import pipeline
    from videossr.build.sources import probe_source
    from videossr.tasks import SampleRejected

    corpus = make_corpus(tmp_path / "corpus")
    src = probe_source("cooking/testsrc2", str(corpus / "cooking" / "testsrc2.mp4"), min_frames=54)
    recipe = small_recipe()
    config = pipeline.BuildConfig(seed=5)
    unit = next(u for u in pipeline.plan_units(recipe, [src], config, tmp_path / "parts"))
    jobs = tuple(j for j in unit.jobs if j.spec.task in ("counting", "jigsaw"))
    unit = pipeline.replace(unit, jobs=jobs)
    assert len(jobs) >= 2

    calls: list[int] = []
    real_frames_at = frames_mod.FrameSampler.frames_at

    def counting_frames_at(self, path, indices, *args, **kwargs):
        calls.append(len(indices))
        return real_frames_at(self, path, indices, *args, **kwargs)

    monkeypatch.setattr(frames_mod.FrameSampler, "frames_at", counting_frames_at)
    real_make = pipeline.make_sample
    rejected: set[int] = set()

    def reject_first(plan, frames, secondary=None):
        if id(plan) not in rejected and not rejected:
            rejected.add(id(plan))
            raise SampleRejected("test: first draw rejected after decoding")
        return real_make(plan, frames, secondary)

    monkeypatch.setattr(pipeline, "make_sample", reject_first)
    summary = pipeline.run_unit(unit)
    assert rejected and not summary["skipped_samples"]
    assert len(summary["rows"]) == len(jobs)
    assert len(calls) == 1, f"decoded {len(calls)} times ({calls}); a re-draw must reuse decoded frames"


def test_every_source_gets_a_mix_of_families_when_samples_cycle(tmp_path) -> None:
    """With more samples than sources, a source's samples come from different mix entries, even when the
    source count is a multiple of the mix's interleaving period (24 sources, 3 families: one of each)."""
    from videossr.build.pipeline import BuildConfig, plan_units
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.build.sources import Source

    families = [
        TaskSpec("grounding", "ChannelSwap"),
        TaskSpec("counting", "easy"),
        TaskSpec("jigsaw", "easy"),
    ]
    sources = [
        Source(f"v{i:02d}", f"/x/v{i:02d}.mp4", 60.0, 30.0, 1800, 640, 360, 0, "h264", str(i))
        for i in range(24)
    ]
    for per_family in (1, 4):
        recipe = Recipe("r", tuple(MixEntry(s, 24 * per_family) for s in families))
        units = plan_units(recipe, sources, BuildConfig(seed=1), tmp_path)
        assert len(units) == 24
        for unit in units:
            tasks = sorted(j.spec.task for j in unit.jobs)
            assert tasks == sorted(["grounding", "counting", "jigsaw"] * per_family), (unit.source.id, tasks)


def _probed_corpus(tmp_path) -> list:
    """The small test corpus, probed as the build probes it."""
    from _build_helpers import make_corpus
    from videossr.build.sources import Source, discover, probe_source

    pairs, _ = discover([make_corpus(tmp_path / "corpus")])
    return [s for s in (probe_source(i, str(p), min_frames=54) for i, p in pairs) if isinstance(s, Source)]


def _record_decodes(monkeypatch) -> dict[str, list[int]]:
    """Record, per source path, every frame index the decode child is asked for."""
    from videossr.build import frames as frames_mod

    decoded: dict[str, list[int]] = {}
    real_frames_at = frames_mod.FrameSampler.frames_at

    def recording_frames_at(self, path, indices, *args, **kwargs):
        decoded.setdefault(str(path), []).extend(int(i) for i in indices)
        return real_frames_at(self, path, indices, *args, **kwargs)

    monkeypatch.setattr(frames_mod.FrameSampler, "frames_at", recording_frames_at)
    return decoded


def _reject_first_draws(monkeypatch, n: int) -> list[int]:
    """``make_sample`` rejects the first ``n`` draws (as if the anomaly were invisible there) and makes the rest.
    Returns the list of rejected draws; clearing it rejects the next ``n`` again."""
    from videossr.build import pipeline
    from videossr.tasks import SampleRejected

    real_make = pipeline.make_sample
    rejected: list[int] = []

    def reject_first(plan, frames, secondary=None):
        if len(rejected) < n:
            rejected.append(1)
            raise SampleRejected("test: invisible here")
        return real_make(plan, frames, secondary)

    monkeypatch.setattr(pipeline, "make_sample", reject_first)
    return rejected


def test_sample_rejected_at_its_source_is_made_from_its_fallback_in_the_same_unit(
    tmp_path, monkeypatch
) -> None:
    """Every draw rejected at the sample's own source: the unit makes it from the job's first fallback source
    at once (no second round) and the row names that source."""
    import pyarrow.parquet as pq
    from _build_helpers import small_recipe
    from videossr.build import pipeline

    sources = _probed_corpus(tmp_path)
    assert len(sources) >= 3
    config = pipeline.BuildConfig(seed=5)
    units = pipeline.plan_units(small_recipe(), sources, config, tmp_path / "parts")
    unit = next(u for u in units if any(j.spec.task == "counting" for j in u.jobs))
    job = next(j for j in unit.jobs if j.spec.task == "counting")
    assert len(job.fallbacks) == min(pipeline.FALLBACKS, len(sources) - 1)
    assert unit.source not in job.fallbacks
    unit = pipeline.replace(unit, jobs=(job,))

    _reject_first_draws(monkeypatch, pipeline.MAX_ATTEMPTS)  # every draw at the unit's own source
    summary = pipeline.run_unit(unit)
    assert summary["rows"] == [job.sample_id] and not summary["skipped_samples"]
    assert summary["moved"] == {job.sample_id: job.fallbacks[0].id}
    row = pq.ParquetFile(unit.part_path).read().to_pylist()[0]
    assert row["source"] == job.fallbacks[0].id


def test_fallbacks_are_finished_units_first_then_nearer_ones_then_later_ones_without_own_and_partner(
    tmp_path, monkeypatch
) -> None:
    """Fallbacks are tried on units ``FALLBACK_DISTANCE`` and more places back first (done by the time this
    one runs, with up to that many workers), then the nearer ones, farthest first (maybe still running), then
    units that run later; never the sample's own source or its Swap partner."""
    from videossr.build import pipeline
    from videossr.build.pipeline import _fallbacks
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.build.sources import Source

    monkeypatch.setattr(pipeline, "FALLBACKS", 4)
    monkeypatch.setattr(pipeline, "FALLBACK_DISTANCE", 3)
    sources = [Source(f"s{i}", f"/x/s{i}.mp4", 10.0, 30.0, 300, 64, 48, 0, "h264", f"h{i}") for i in range(9)]
    ids = lambda picked: [s.id for s in picked]  # noqa: E731
    assert ids(_fallbacks(sources, 7, {"s7"})) == ["s4", "s3", "s2", "s1"]
    assert ids(_fallbacks(sources, 4, {"s4", "s0"})) == ["s1", "s2", "s3", "s8"]
    assert ids(_fallbacks(sources, 1, {"s1"})) == ["s0", "s8", "s7", "s6"]
    assert ids(_fallbacks(sources, 0, {"s0", "s8"})) == ["s7", "s6", "s5", "s4"]
    assert ids(_fallbacks(sources[:3], 2, {"s2"})) == ["s0", "s1"]

    # Each unit looks only at the sources it picks and the excluded ones it passes over (the whole candidate
    # list per unit made planning 30,000 sources quadratic: 94 s on the driver before any unit ran).
    class CountingList(list):
        reads = 0

        def __getitem__(self, k):  # type: ignore[override]
            CountingList.reads += 1
            return super().__getitem__(k)

    many = CountingList(
        Source(f"m{i}", f"/x/m{i}.mp4", 10.0, 30.0, 300, 64, 48, 0, "h264", f"m{i}") for i in range(5000)
    )
    for position, exclude in ((2500, {"m2500", "m2497"}), (1, {"m1", "m4999"}), (4999, {"m4999"})):
        CountingList.reads = 0
        assert len(_fallbacks(many, position, exclude)) == 4
        assert CountingList.reads <= 4 + len(exclude)
    # In a plan: units run largest first, here (equal sizes and sample counts) in source-id order; each job's
    # fallbacks are the sources of the units before it.
    recipe = Recipe(
        "r", (MixEntry(TaskSpec("grounding", "Swap"), 7), MixEntry(TaskSpec("counting", "easy"), 7))
    )
    sources = sources[:7]  # two samples each
    units = pipeline.plan_units(recipe, list(reversed(sources)), pipeline.BuildConfig(seed=2), tmp_path)
    assert [u.source.id for u in units] == [s.id for s in sources]
    for position, unit in enumerate(units):
        for job in unit.jobs:
            exclude = {unit.source.id, job.secondary.id if job.secondary else ""}
            assert job.fallbacks == _fallbacks(sources, position, exclude) and len(job.fallbacks) == 4
            assert not {f.id for f in job.fallbacks} & exclude


def test_sample_rejected_at_a_fallback_too_goes_on_to_the_next_each_frame_decoded_once(
    tmp_path, monkeypatch
) -> None:
    """Rejected on every draw at its own source and at its first fallback: the sample is made at the second
    fallback. Every source the unit touches has each of its frames decoded at most once, however many draws
    (first tries and re-draws) use it."""
    import pyarrow.parquet as pq
    from _build_helpers import small_recipe
    from videossr.build import pipeline

    sources = _probed_corpus(tmp_path)
    units = pipeline.plan_units(small_recipe(), sources, pipeline.BuildConfig(seed=3), tmp_path / "parts")
    unit = next(u for u in units if any(j.spec.task == "jigsaw" for j in u.jobs))
    job = next(j for j in unit.jobs if j.spec.task == "jigsaw")
    assert len(job.fallbacks) >= 2
    unit = pipeline.replace(unit, jobs=(job,))

    decoded = _record_decodes(monkeypatch)
    _reject_first_draws(monkeypatch, 2 * pipeline.MAX_ATTEMPTS)  # at its own source and the first fallback
    summary = pipeline.run_unit(unit)
    assert summary["rows"] == [job.sample_id] and not summary["skipped_samples"]
    assert summary["moved"] == {job.sample_id: job.fallbacks[1].id}
    assert pq.ParquetFile(unit.part_path).read().to_pylist()[0]["source"] == job.fallbacks[1].id
    assert set(decoded) == {unit.source.path, job.fallbacks[0].path, job.fallbacks[1].path}
    for path, indices in decoded.items():
        assert len(indices) == len(set(indices)), f"{path}: frames decoded twice"


def test_sample_rejected_everywhere_is_reported_with_its_reason(tmp_path, monkeypatch) -> None:
    """When every fallback rejects too, the sample is skipped and reported (never silently dropped)."""
    from _build_helpers import small_recipe
    from videossr.build import pipeline
    from videossr.tasks import SampleRejected

    sources = _probed_corpus(tmp_path)
    units = pipeline.plan_units(small_recipe(), sources, pipeline.BuildConfig(seed=3), tmp_path / "parts")
    unit = next(u for u in units if any(j.spec.task == "counting" for j in u.jobs))
    job = next(j for j in unit.jobs if j.spec.task == "counting")
    unit = pipeline.replace(unit, jobs=(job,))
    draws: list[int] = []

    def reject_always(plan, frames, secondary=None):
        draws.append(1)
        raise SampleRejected("test: invisible everywhere")

    monkeypatch.setattr(pipeline, "make_sample", reject_always)
    summary = pipeline.run_unit(unit)
    assert summary["rows"] == [] and summary["moved"] == {}
    assert summary["skipped_samples"] == [
        {
            "id": job.sample_id,
            "spec": job.spec.key,
            "source": unit.source.id,
            "reason": "test: invisible everywhere",
        }
    ]
    assert len(draws) == pipeline.MAX_ATTEMPTS * (1 + len(job.fallbacks))


def _fake_row(rid: str, task: str, nbytes: int) -> dict:
    return {"id": rid, "task": task, "subtype": "easy", "difficulty": "easy", "system": "s", "question": "q",
            "answer": "1", "videos": [{"bytes": rid.encode() * nbytes, "path": f"{rid}.mp4"}], "fps": [2.0],
            "num_frames": [1], "frame_times": [[0.0]], "source": "src", "params": "{}"}  # fmt: skip


def _write_fake_parts(
    folder, n_parts: int = 5, per_part: int = 3, row_group_size: int = 1
) -> tuple[list, list[str], dict]:
    """Parts as the workers write them: samples dealt round-robin, so id order visits the parts in turn."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from videossr.build.schema import arrow_schema

    folder.mkdir(parents=True, exist_ok=True)
    parts, rows = [], {}
    for p in range(n_parts):
        part_rows = [
            _fake_row(f"s-{k * n_parts + p:04d}", ("counting", "jigsaw")[k % 2], 50 + p)
            for k in range(per_part)
        ]
        rows.update({r["id"]: r for r in part_rows})
        path = folder / f"part{p}.parquet"
        table = pa.Table.from_pylist(part_rows, schema=arrow_schema())
        pq.write_table(table, path, compression="zstd", row_group_size=row_group_size)
        parts.append(path)
    return parts, sorted(rows), rows


@pytest.mark.parametrize("row_group_size", [1, 3])
def test_iter_rows_yields_every_row_in_id_order_reading_each_byte_once(
    tmp_path, monkeypatch, row_group_size
) -> None:
    """Id order visits the parts round-robin; each row is read on its own (one row in memory at a time), and
    parts with several rows per row group (written by older versions) are read correctly too."""
    import pyarrow.parquet as pq
    from videossr.build import pipeline

    parts, ids, rows = _write_fake_parts(tmp_path / "parts", row_group_size=row_group_size)
    reads: list[int] = []
    real_read = pq.ParquetFile.read_row_group

    def counting_read(self, i, columns=None, **kwargs):
        table = real_read(self, i, columns=columns, **kwargs)
        if columns is None:
            reads.append(table.num_rows)
        return table

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting_read)
    got = list(pipeline._iter_rows(parts, ids))
    assert [r["id"] for r in got] == ids
    assert [dict(r) for r in got] == [rows[i] for i in ids]
    assert len(reads) == len(ids) and set(reads) == {row_group_size}


def test_shards_from_rows_read_back_from_parts_are_byte_identical_to_shards_from_python_rows(
    tmp_path,
) -> None:
    """Rows read from parts are written as Arrow slices (no conversion from Python): same bytes."""
    from videossr.build.pipeline import _iter_rows
    from videossr.build.repo import ArrowRow, write_shards

    parts, ids, _ = _write_fake_parts(tmp_path / "parts", n_parts=7, per_part=3)
    first = next(iter(_iter_rows(parts, ids)))
    assert isinstance(first, ArrowRow) and first.table.num_rows == 1
    a = write_shards(_iter_rows(parts, ids), tmp_path / "arrow")
    b = write_shards((dict(r) for r in _iter_rows(parts, ids)), tmp_path / "python")
    assert a.fingerprint == b.fingerprint and a.num_rows == len(ids) == b.num_rows
    files = sorted(p.relative_to(tmp_path / "arrow") for p in (tmp_path / "arrow").rglob("*.parquet"))
    assert files and files == sorted(
        p.relative_to(tmp_path / "python") for p in (tmp_path / "python").rglob("*.parquet")
    )
    for rel in files:
        assert (tmp_path / "arrow" / rel).read_bytes() == (tmp_path / "python" / rel).read_bytes(), rel


def test_fallback_draws_are_prescreened_on_the_frames_that_decide_a_rejection(tmp_path, monkeypatch) -> None:
    """ChannelSwap at a grey source is invisible. A fallback source that is grey too rejects the draw after
    decoding only the segment's boundary frames (not all 48); the next fallback, in colour, makes the sample."""
    from _reliability_helpers import H264, lavfi
    from videossr.build import pipeline
    from videossr.build.recipes import MixEntry, Recipe
    from videossr.build.sources import Source, probe_source

    paths = {
        "grey_a": lavfi(tmp_path / "grey_a.mp4", "testsrc2=size=160x120:rate=24,hue=s=0", 6, H264),
        "grey_b": lavfi(tmp_path / "grey_b.mp4", "mandelbrot=size=160x120:rate=24,hue=s=0", 6, H264),
        "colour": lavfi(tmp_path / "colour.mp4", "testsrc2=size=160x120:rate=24", 6, H264),
    }
    sources = {sid: probe_source(sid, path) for sid, path in paths.items()}
    assert all(isinstance(s, Source) for s in sources.values())
    recipe = Recipe("r", (MixEntry(TaskSpec("grounding", "ChannelSwap"), 1),), max_pixels=96 * 96)
    (unit,) = pipeline.plan_units(
        recipe, [sources["grey_a"]], pipeline.BuildConfig(seed=1), tmp_path / "parts"
    )
    job = pipeline.replace(unit.jobs[0], fallbacks=(sources["grey_b"], sources["colour"]))
    unit = pipeline.replace(unit, jobs=(job,))

    decoded = _record_decodes(monkeypatch)
    summary = pipeline.run_unit(unit)
    assert summary["moved"] == {job.sample_id: "colour"} and not summary["skipped_samples"]
    assert (
        len(decoded[str(paths["grey_a"])]) == 48
    )  # its own frames: decoded in full (the other samples' too)
    assert 0 < len(decoded[str(paths["grey_b"])]) <= 2 * pipeline.MAX_ATTEMPTS  # boundary frames only
    assert len(set(decoded[str(paths["colour"])])) == 48


def test_fallback_to_a_finished_unit_reuses_its_frames_and_gives_the_same_row(tmp_path, monkeypatch) -> None:
    """A unit leaves its decoded frames on disk; a later unit whose sample falls back to that source decodes
    nothing there, and its row is byte-identical to one made by decoding afresh."""
    import pyarrow.parquet as pq
    from _build_helpers import small_recipe
    from videossr.build import pipeline

    sources = _probed_corpus(tmp_path)
    units = pipeline.plan_units(
        small_recipe(), sources, pipeline.BuildConfig(seed=4), tmp_path / "a" / "parts"
    )
    unit = next(u for u in units[1:] if any(j.spec.task == "counting" for j in u.jobs))
    job = next(j for j in unit.jobs if j.spec.task == "counting")
    unit = pipeline.replace(unit, jobs=(job,))
    before = next(u for u in units if u.source.id == job.fallbacks[0].id)
    pipeline.run_unit(before)  # the unit just before: leaves its frames
    assert list((tmp_path / "a" / "frames").glob("*.npz"))

    decoded = _record_decodes(monkeypatch)
    own = _reject_first_draws(monkeypatch, pipeline.MAX_ATTEMPTS)  # every draw at the unit's own source
    summary = pipeline.run_unit(unit)
    assert summary["moved"] == {job.sample_id: before.source.id}
    assert before.source.path not in decoded  # made from the frames the earlier unit left
    cached_row = pq.ParquetFile(unit.part_path).read().to_pylist()

    own.clear()
    decoded.clear()
    fresh = pipeline.replace(unit, parts_dir=str(tmp_path / "b" / "parts"))  # no frames left there
    pipeline.run_unit(fresh)
    assert decoded.get(before.source.path)
    assert pq.ParquetFile(fresh.part_path).read().to_pylist() == cached_row


def test_each_worker_keeps_only_its_last_frame_files(tmp_path, monkeypatch) -> None:
    from videossr.build import pipeline
    from videossr.build.sources import Source

    monkeypatch.setattr(pipeline, "_FRAME_FILES", [])
    info = VideoInfo(duration=10.0, fps=30.0, num_frames=300, width=8, height=6)
    paths = []
    for i in range(pipeline.FRAME_FILES_KEPT + 3):
        src = Source(f"s{i}", f"/x/s{i}.mp4", 10.0, 30.0, 300, 8, 6, 0, "h264", f"h{i}")
        store = pipeline._SourceFrames(None, src, info)
        store.frames = {3: np.full((6, 8, 3), i, np.uint8), 9: np.zeros((6, 8, 3), np.uint8)}
        store.pts = {3: 0.1}
        paths.append(tmp_path / f"{i}.npz")
        store.remember(paths[-1])
    assert [p.exists() for p in paths] == [False] * 3 + [True] * pipeline.FRAME_FILES_KEPT
    back = pipeline._SourceFrames(None, src, info)
    back.recall(paths[-1])
    assert sorted(back.frames) == [3, 9] and back.frames[3][0, 0, 0] == len(paths) - 1
    assert back.pts == {3: 0.1}  # an unknown time stays unknown
    wrong_size = pipeline._SourceFrames(None, src, VideoInfo(10.0, 30.0, 300, 16, 12))
    wrong_size.recall(paths[-1])
    wrong_size.recall(tmp_path / "missing.npz")
    assert wrong_size.frames == {}


def test_preview_picks_the_first_row_of_each_tasks_first_configs_reading_only_their_videos(tmp_path) -> None:
    from videossr.build import preview
    from videossr.build.repo import ROW_GROUP_ROWS, iter_repo_rows, write_shards

    rows = []
    for i in range(3 * ROW_GROUP_ROWS):  # several row groups per shard
        row = _fake_row(f"s-{i:04d}", ("counting", "jigsaw", "grounding")[i % 3], 20)
        row["subtype"] = ("easy", "hard", "ChannelSwap", "Mirror")[(i // 3) % 4]
        rows.append(row)
    write_shards(rows, tmp_path, max_shard_bytes=40 * 1000)  # many shards
    assert len(list(tmp_path.glob("data/*/*.parquet"))) > 6
    expected: dict[str, list[dict]] = {}  # the plain definition: scan every row in shard order
    for row in iter_repo_rows(tmp_path):
        bucket = expected.setdefault(row["task"], [])
        if len(bucket) < preview.ROWS_PER_TASK and all(r["subtype"] != row["subtype"] for r in bucket):
            bucket.append(row)
    columns = ["id", "task", "subtype", "question", "answer", "videos", "params"]
    want = [{c: r[c] for c in columns} for task in sorted(expected) for r in expected[task]]
    assert preview._pick_rows(tmp_path, None) == want
    assert len(want) == 3 * preview.ROWS_PER_TASK


def test_encoding_the_same_frames_again_gives_the_same_bytes_every_time() -> None:
    """Clips are reproducible: many encodes of one small clip give one byte string (x264's AVX-512 code gave
    another about once in 60 encodes of a 64x48 clip; see ``render.x264_params``)."""
    f = _frames(20)
    assert len({encode_clip(f, 48 / 53.7) for _ in range(300)}) == 1


def test_finalize_cuts_row_groups_by_video_bytes_on_an_allocator_that_returns_memory(
    tmp_path, monkeypatch
) -> None:
    """The driver's memory stays flat as datasets grow: row groups are cut at ``ROW_GROUP_BYTES`` of video and
    rows are written on the system allocator (mimalloc kept the pages it freed), which is put back after."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from videossr.build import preview, repo

    monkeypatch.setattr(repo, "ROW_GROUP_BYTES", 10_000)
    monkeypatch.setattr(preview, "write_preview", lambda out_dir, rows=None: False)  # fake clips
    rows = [_fake_row(f"s-{i:04d}", "counting", 300) for i in range(40)]  # 1.8 KB of video per row
    pools: list[str] = []

    def stream():
        for row in rows:
            pools.append(pa.default_memory_pool().backend_name)
            yield row

    before = pa.default_memory_pool().backend_name
    repo.finalize_repo(stream(), tmp_path, dataset_name="t", manifest={})
    assert set(pools) == {"system"} and pa.default_memory_pool().backend_name == before
    (shard,) = tmp_path.glob("data/*/*.parquet")
    meta = pq.ParquetFile(shard).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert sum(sizes) == 40 and max(sizes) == 10_000 // 1800 + 1 and len(sizes) == 7
    assert [r["id"] for r in repo.iter_repo_rows(tmp_path)] == [r["id"] for r in rows]


def test_units_run_largest_first_so_no_large_unit_runs_alone_at_the_end(tmp_path, monkeypatch) -> None:
    """Units are planned largest first (source pixels to decode, sample pixels to encode), ties in source-id
    order, and the cluster hands them out in that order."""
    from _build_helpers import small_recipe
    from videossr.build import pipeline
    from videossr.build.sources import discover, probe_source
    from videossr.build.synthetic import make_synthetic_video

    for name, (w, h) in {"a": (64, 48), "b": (192, 144), "c": (128, 96), "d": (192, 144)}.items():
        make_synthetic_video(
            tmp_path / "corpus" / f"{name}.mp4", "testsrc2", width=w, height=h, fps=24, duration=6
        )
    sources = [
        probe_source(sid, str(path), min_frames=54) for sid, path in discover([tmp_path / "corpus"])[0]
    ]
    recipe = small_recipe("order", max_pixels=64 * 48).scaled(8)
    config = pipeline.BuildConfig(out_dir=tmp_path / "out", seed=0, workers=1, progress=False)
    units = pipeline.plan_units(
        recipe, sources, config, tmp_path / "out" / ".videossr-work" / "order" / "parts"
    )
    assert [u.source.id for u in units] == ["b", "d", "c", "a"]
    ran = tmp_path / "ran.txt"  # a file: the task may be a pickled copy of this function

    def fake_unit(unit):
        with open(ran, "a") as f:
            f.write(unit.source.id + "\n")
        return {"rows": [], "skipped_samples": []}

    from distributed import Client
    from tqdm import tqdm

    monkeypatch.setattr(pipeline, "run_unit", fake_unit)
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        pipeline._run_units(client, units, tqdm(disable=True), retries=0)
    assert ran.read_text().split() == ["b", "d", "c", "a"]


def test_units_are_submitted_a_window_at_a_time_in_plan_order(tmp_path, monkeypatch) -> None:
    """The driver keeps at most ``UNITS_IN_FLIGHT`` units submitted and not yet collected (each submitted task
    costs it about 20 KB, so 30,000 submitted at once grew it by ~600 MB), runs them all in plan order and
    returns every summary once."""
    import time
    from types import SimpleNamespace

    from distributed import Client
    from tqdm import tqdm
    from videossr.build import pipeline

    window = 3
    monkeypatch.setattr(pipeline, "UNITS_IN_FLIGHT", window)
    monkeypatch.setattr(pipeline, "_cluster_threads", lambda client: 0)
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
        return {"unit": unit.key, "rows": [unit.key], "skipped_samples": []}

    class CountingClient:
        """The real client; records how far submissions run ahead of finished units."""

        def __init__(self, client):
            self.client, self.loop, self.submitted, self.most_ahead = client, client.loop, 0, 0

        def submit(self, *args, **kwargs):
            self.submitted += 1
            self.most_ahead = max(self.most_ahead, self.submitted - len(finished.read_text().split()))
            return self.client.submit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_unit", fake_unit)
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        counting = CountingClient(client)
        summaries = pipeline._run_units(counting, units, tqdm(disable=True), retries=0)
    assert sorted(s["unit"] for s in summaries) == [u.key for u in units]
    assert started.read_text().split() == [u.key for u in units]
    assert 1 <= counting.most_ahead <= window


def test_every_pixel_perturbation_survives_encoding_at_the_highest_crf() -> None:
    """At ``MAX_CRF`` each built-in pixel perturbation keeps most of its pixel change after H.264 encoding, on
    natural frames (Big Buck Bunny, 340x192): every perturbed frame the build's visibility check passes still
    differs from the clean encoded frame by at least 60 % of the change before encoding (Noise, which x264
    partly smooths, keeps about 75 %; the others about 100 %)."""
    from videossr.build.render import MAX_CRF
    from videossr.tasks.grounding import GroundingConfig
    from videossr.tasks.perturbations import PERTURBATIONS, apply_pixels

    frames = _natural_frames(48)
    threshold = GroundingConfig().min_visible_change
    segment = range(16, 28)
    pixels = [p for p in PERTURBATIONS.values() if p.kind == "pixels"]
    assert len(pixels) >= 12
    clips = [frames]
    for k, pert in enumerate(pixels):
        out = frames.copy()
        rng = np.random.default_rng(k)
        for i in segment:
            out[i], _ = apply_pixels(pert, frames[i], rng)
        clips.append(out)
    datas = encode_clips([(c, 1.0) for c in clips], crf=MAX_CRF)
    clean, *encoded = (d.astype(np.int16) for d in decode_clips(datas))
    for pert, before, after in zip(pixels, clips[1:], encoded):
        for i in segment:
            change = np.abs(before[i].astype(np.int16) - frames[i]).mean()
            if change < threshold:
                continue  # the build rejects such a frame before encoding
            kept = np.abs(after[i] - clean[i]).mean() / change
            assert kept >= 0.6, f"{pert.name} frame {i}: {kept:.2f} of its change survives CRF {MAX_CRF}"


def test_shard_rows_are_read_a_batch_at_a_time_not_the_whole_file(tmp_path) -> None:
    """Reading a shard's rows back (``iter_repo_rows``, and verify through ``open_shard``) holds about one batch
    of Arrow memory (64 rows), not the file: pyarrow's default pre-buffering read all of a 458 MB shard up
    front."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from videossr.build.repo import iter_repo_rows, open_shard

    shard = tmp_path / "data" / "t-s" / "train-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n, size = 160, 256 << 10  # a 40 MiB shard in row groups of 16 rows (4 MiB, as the build writes them)
    table = pa.table({"id": [f"r{k}" for k in range(n)], "blob": [rng.bytes(size) for _ in range(n)]})
    pq.write_table(table, shard, row_group_size=16, compression="none")
    del table

    def most_held(rows) -> int:
        base, most, count = pa.total_allocated_bytes(), 0, 0
        for _ in rows:
            most, count = max(most, pa.total_allocated_bytes() - base), count + 1
        assert count == n
        return most

    # A batch of 64 rows is 16 MiB (about 24 MiB held with its row groups); pre-buffered, 60 MiB.
    assert most_held(iter_repo_rows(tmp_path)) < 36 << 20
    pf = open_shard(shard)
    assert most_held(r for b in pf.iter_batches(batch_size=64) for r in b.to_pylist()) < 36 << 20
