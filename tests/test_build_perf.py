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
        indices = np.linspace(0, total - 1, n).round().astype(int)
        return sampler.frames_at(str(clip), indices, width, height).frames
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
    short source video): x264's rate control is held at 1 fps, while the container keeps each clip's
    timing."""
    import av

    frames = _natural_frames(24)
    streams = {}
    for fps in (0.8, 2.5, 12.0):
        with av.open(io.BytesIO(encode_clip(frames, fps))) as container:
            stream = container.streams.video[0]
            assert abs(float(stream.average_rate) - fps) < 1e-3 and stream.frames == 24
            streams[fps] = [bytes(p) for p in container.demux(stream) if p.size]
    assert streams[2.5] == streams[12.0] == streams[0.8]


def _fake_row(rid: str, task: str, nbytes: int) -> dict:
    return {
        "id": rid,
        "task": task,
        "subtype": "easy",
        "difficulty": "easy",
        "system": "s",
        "question": "q",
        "answer": "1",
        "videos": [{"bytes": rid.encode() * nbytes, "path": f"{rid}.mp4"}],
        "fps": [2.0],
        "num_frames": [1],
        "frame_times": [[0.0]],
        "source": "src",
        "params": "{}",
    }


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
    from videossr.build.parts import iter_part_rows

    parts, ids, rows = _write_fake_parts(tmp_path / "parts", row_group_size=row_group_size)
    reads: list[int] = []
    real_read = pq.ParquetFile.read_row_group

    def counting_read(self, i, columns=None, **kwargs):
        table = real_read(self, i, columns=columns, **kwargs)
        if columns is None:
            reads.append(table.num_rows)
        return table

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting_read)
    got = list(iter_part_rows(parts, ids))
    assert [r["id"] for r in got] == ids
    assert [dict(r) for r in got] == [rows[i] for i in ids]
    assert len(reads) == len(ids) and set(reads) == {row_group_size}


def test_shards_from_rows_read_back_from_parts_are_byte_identical_to_shards_from_python_rows(
    tmp_path,
) -> None:
    """Rows read from parts are written as Arrow slices (no conversion from Python): same bytes."""
    from videossr.build.parts import iter_part_rows
    from videossr.build.shards import ArrowRow, write_shards

    parts, ids, _ = _write_fake_parts(tmp_path / "parts", n_parts=7, per_part=3)
    first = next(iter(iter_part_rows(parts, ids)))
    assert isinstance(first, ArrowRow) and first.table.num_rows == 1
    a = write_shards(iter_part_rows(parts, ids), tmp_path / "arrow")
    b = write_shards((dict(r) for r in iter_part_rows(parts, ids)), tmp_path / "python")
    assert a.fingerprint == b.fingerprint and a.num_rows == len(ids) == b.num_rows
    files = sorted(p.relative_to(tmp_path / "arrow") for p in (tmp_path / "arrow").rglob("*.parquet"))
    assert files and files == sorted(
        p.relative_to(tmp_path / "python") for p in (tmp_path / "python").rglob("*.parquet")
    )
    for rel in files:
        assert (tmp_path / "arrow" / rel).read_bytes() == (tmp_path / "python" / rel).read_bytes(), rel


def test_preview_picks_the_first_row_of_each_tasks_first_configs_reading_only_their_videos(tmp_path) -> None:
    from videossr.build import preview
    from videossr.build.shards import ROW_GROUP_ROWS, iter_repo_rows, write_shards

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
    assert preview.pick_rows(tmp_path) == want
    assert len(want) == 3 * preview.ROWS_PER_TASK


def test_encoding_the_same_frames_again_gives_the_same_bytes_every_time() -> None:
    """Clips are reproducible: many encodes of one small clip give one byte string (x264's AVX-512 code gave
    another about once in 60 encodes of a 64x48 clip; see ``render.x264_params``)."""
    f = _frames(20)
    assert len({encode_clip(f, 48 / 53.7) for _ in range(300)}) == 1


def test_finalize_cuts_row_groups_by_video_bytes_on_an_allocator_that_returns_memory(tmp_path) -> None:
    """The driver's memory stays flat as datasets grow: row groups are cut at ``ROW_GROUP_BYTES`` of video and
    rows are written on the system allocator (mimalloc kept the pages it freed), which is put back after."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from videossr.build import repo
    from videossr.build.shards import iter_repo_rows

    rows = [_fake_row(f"s-{i:04d}", "counting", 300) for i in range(40)]  # 1.8 KB of video per row
    pools: list[str] = []

    def stream():
        for row in rows:
            pools.append(pa.default_memory_pool().backend_name)
            yield row

    before = pa.default_memory_pool().backend_name
    # a row group per 10 KB of video; no preview (the clips are not videos)
    repo.finalize_repo(
        stream(), tmp_path, dataset_name="t", manifest={}, row_group_bytes=10_000, preview=False
    )
    assert set(pools) == {"system"} and pa.default_memory_pool().backend_name == before
    (shard,) = tmp_path.glob("data/*/*.parquet")
    meta = pq.ParquetFile(shard).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert sum(sizes) == 40 and max(sizes) == 10_000 // 1800 + 1 and len(sizes) == 7
    assert [r["id"] for r in iter_repo_rows(tmp_path)] == [r["id"] for r in rows]


def test_every_pixel_perturbation_survives_encoding_at_the_highest_crf() -> None:
    """At ``MAX_CRF`` each built-in pixel perturbation keeps most of its pixel change after H.264 encoding, on
    natural frames (Big Buck Bunny, 340x192): every perturbed frame the build's visibility check passes still
    differs from the clean encoded frame by at least 60 % of the change before encoding (Noise, which x264
    partly smooths, keeps the least)."""
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
    """Reading a shard's rows back (``iter_repo_rows``, and verify through ``open_shard``) holds about one
    batch of Arrow memory (64 rows), not the file (pyarrow's default pre-buffering reads the whole file up
    front)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from videossr.build.shards import iter_repo_rows, open_shard

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
