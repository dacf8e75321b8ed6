"""The build's performance shortcuts give exactly what the plain paths give."""

from __future__ import annotations

import numpy as np
from videossr.build.render import decode_all_frames, decode_clips, encode_clip, encode_clips
from videossr.build.repo import render_row, render_rows
from videossr.build.schema import arrow_schema, features, features_yaml
from videossr.tasks import TaskSpec, VideoInfo, make_sample, plan_sample


def _frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (1, h, w, 3), dtype=np.uint8)
    return np.stack([np.roll(base[0], 3 * k, axis=1) for k in range(n)])


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
