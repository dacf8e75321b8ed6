"""Every decodable video is used (issue 17): one short clip per codec the system's ffmpeg encodes gives the
frames a plain sequential decode gives, for build-like plans, and a build over them skips none. The decode
child runs without the builder's credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
from _reliability_helpers import lavfi
from videossr.build.frames import FrameSampler, fit_size
from videossr.build.pipeline import BuildConfig, build
from videossr.build.probe import probe_source
from videossr.build.recipes import MixEntry, Recipe
from videossr.build.sources import Source, discover
from videossr.tasks import TaskSpec, VideoInfo, plan_sample

SOURCE = "testsrc2=size=160x120:rate=24"
SECONDS = 4  # 96 frames: more than a 48-frame plan's 54-frame minimum
# The encoder options of each source file (split on spaces).
CODECS = {
    "h264.mp4": "-c:v libx264 -preset ultrafast -pix_fmt yuv420p",
    "hevc.mp4": "-c:v libx265 -preset ultrafast -pix_fmt yuv420p -x265-params log-level=error",
    "vp9.webm": "-c:v libvpx-vp9 -deadline realtime -cpu-used 8",
    "av1-svt.mkv": "-c:v libsvtav1 -preset 12",
    "av1-aom.mkv": "-c:v libaom-av1 -cpu-used 8 -usage realtime",
    "mpeg4.avi": "-c:v mpeg4 -q:v 5 -bf 2",
    "prores.mov": "-c:v prores_ks -profile:v 0",
    "mjpeg.avi": "-c:v mjpeg -q:v 5 -pix_fmt yuvj420p",
    "h264-10bit.mp4": "-c:v libx264 -preset ultrafast -pix_fmt yuv420p10le",
    "hevc-10bit.mp4": "-c:v libx265 -preset ultrafast -pix_fmt yuv420p10le -x265-params log-level=error",
    "h264-open-gop.mp4": "-c:v libx264 -preset veryfast -pix_fmt yuv420p "
    "-x264-params open-gop=1:bframes=3:b-pyramid=normal:keyint=24",
}
SIZE = fit_size(160, 120, 96 * 96)


@pytest.fixture(scope="session")
def codec_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("codecs")
    return {name: lavfi(root / name, SOURCE, SECONDS, args.split()) for name, args in CODECS.items()}


def _sequential(path: Path, width: int, height: int) -> np.ndarray:
    """Every frame of the first video stream in decode output order, converted as the build converts."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        frames = [
            frame.reformat(
                width=width,
                height=height,
                format="rgb24",
                interpolation="BILINEAR",
                src_color_range=frame.color_range or None,
            ).to_ndarray()
            for frame in container.decode(stream)
        ]
    return np.stack(frames)


def _plans(source: Source) -> list[np.ndarray]:
    """Frame indices of build-like plans (each task family, several seeds) and of scattered single frames."""
    info = VideoInfo(
        duration=source.duration, fps=source.fps, num_frames=source.num_frames, width=SIZE[0], height=SIZE[1]
    )
    out = []
    for seed, spec in enumerate(
        [
            TaskSpec("jigsaw", "easy"),
            TaskSpec("counting", "easy"),
            TaskSpec("grounding", "Shuffle"),
            TaskSpec("jigsaw", "hard"),
        ]
    ):
        plan = plan_sample(spec, info, np.random.default_rng(seed))
        out.append(np.clip(np.rint(plan.times * source.fps).astype(np.int64), 0, source.num_frames - 1))
    rng = np.random.default_rng(99)
    out += [np.sort(rng.choice(source.num_frames, 7, replace=False)) for _ in range(3)]
    return out


@pytest.mark.parametrize("name", list(CODECS))
def test_every_codec_gives_the_frames_of_a_sequential_decode(name, codec_clips):
    path = codec_clips[name]
    source = probe_source(name, path, min_frames=54)
    assert isinstance(source, Source), source
    reference = _sequential(path, *SIZE)
    sampler = FrameSampler(timeout=120)
    try:
        assert sampler.count_frames(str(path)) == len(reference) == source.num_frames
        for indices in _plans(source):
            frames = sampler.frames_at(str(path), indices, *SIZE).frames
            wrong = [int(i) for i, f in zip(indices, frames) if not np.array_equal(f, reference[i])]
            assert not wrong, f"{name}: frames {wrong} differ from the sequential decode"
    finally:
        sampler.close()


def test_a_build_over_every_codec_uses_every_source(codec_clips, tmp_path):
    folder = next(iter(codec_clips.values())).parent
    recipe = Recipe(
        "codecs",
        (
            MixEntry(TaskSpec("jigsaw", "easy"), len(CODECS)),
            MixEntry(TaskSpec("grounding", "Mirror"), len(CODECS)),
        ),
        max_pixels=96 * 96,
    )
    result = build(
        [recipe],
        [folder],
        BuildConfig(out_dir=tmp_path, seed=0, workers=2, progress=False),
        on_progress=lambda m: None,
    )
    manifest = json.loads((tmp_path / "codecs" / "build_manifest.json").read_text())
    assert manifest["skipped_sources"] == [] and manifest["skipped_samples"] == []
    assert set(manifest["sources"]) == {sid for sid, _ in discover([folder])[0]}
    assert result.datasets[0].built == 2 * len(CODECS)


def test_the_decode_child_runs_without_credentials(codec_clips, monkeypatch):
    secrets = {
        "HF_TOKEN": "hf_secret",
        "HUGGING_FACE_HUB_TOKEN": "hf_old",
        "OPENAI_API_KEY": "sk-secret",
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_SESSION_TOKEN": "aws-session",
        "GITHUB_TOKEN": "ghp",
        "ANTHROPIC_API_KEY": "sk-ant",
        "SSH_AUTH_SOCK": "/tmp/agent.sock",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VIDEOSSR_HARMLESS", "kept")
    sampler = FrameSampler(timeout=60)
    try:
        sampler.count_frames(str(codec_clips["h264.mp4"]))  # starts the child
        assert sampler.proc is not None
        raw = Path(f"/proc/{sampler.proc.pid}/environ").read_bytes()
    finally:
        sampler.close()
    env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    assert not set(secrets) & set(env)
    assert not any(value in raw.decode() for value in secrets.values())
    assert env["VIDEOSSR_HARMLESS"] == "kept" and env["PATH"] == os.environ["PATH"]
