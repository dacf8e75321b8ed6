"""Generators of broken and unusual source videos for the reliability tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from videossr.build.render import run_ffmpeg
from videossr.build.synthetic import make_synthetic_video


def _ff(args: list[str]) -> None:
    run_ffmpeg(args, timeout=300, what="making a test input")


def lavfi(path: Path, src: str, seconds: float, codec: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _ff(["-f", "lavfi", "-i", src, "-t", str(seconds), *codec, "-threads", "1", str(path)])
    return path


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]

# name -> expected outcome: "used" (yields samples), "skipped" (reported with a reason), "either"
EXPECTED: dict[str, str] = {
    "bad/zero": "skipped",
    "bad/truncated": "either",
    "bad/truncated_front_index": "either",
    "bad/random": "skipped",
    "bad/audio_only": "skipped",
    "bad/image": "skipped",
    "bad/short": "skipped",
    "bad/one_frame": "skipped",
    "odd/uhd_4k": "used",
    "odd/tiny_16x16": "either",
    "odd/odd_641x359": "used",
    "odd/vfr": "used",
    "odd/rotated_phone": "used",
    "odd/ten_bit": "used",
    "odd/hevc": "used",
    "odd/vp9": "used",
    "odd/av1": "either",
    "names/with spaces": "used",
    "names/ünïcode 名前": "used",
    "names/-leading-dash": "used",
    "dupes/copy_of_good": "skipped",
    "good/a": "used",
    "good/b": "used",
}


def make_messy_corpus(root: Path) -> Path:
    """A corpus with every kind of input issue 7 lists (except permissions, tested separately)."""
    good = make_synthetic_video(root / "good/a.mp4", "testsrc2", width=160, height=120, fps=24, duration=8)
    make_synthetic_video(root / "good/b.mp4", "plasma", width=128, height=96, fps=25, duration=8)
    (root / "bad").mkdir(parents=True)
    (root / "bad/zero.mp4").write_bytes(b"")
    data = good.read_bytes()
    (root / "bad/truncated.mp4").write_bytes(data[: len(data) * 2 // 5])
    (root / "bad/random.mp4").write_bytes(os.urandom(50_000))
    lavfi(root / "bad/audio_only.mp4", "sine=frequency=440:sample_rate=16000", 3, ["-c:a", "aac"])
    lavfi(root / "tmp/still.png", "testsrc2=size=160x120:rate=1", 1, ["-frames:v", "1"])
    shutil.move(root / "tmp/still.png", root / "bad/image.mp4")
    lavfi(root / "bad/short.mp4", "testsrc2=size=160x120:rate=24", 1, H264)
    lavfi(root / "bad/one_frame.mp4", "testsrc2=size=160x120:rate=24", 1, [*H264, "-frames:v", "1"])
    lavfi(root / "odd/uhd_4k.mp4", "testsrc2=size=3840x2160:rate=24", 3, H264)
    lavfi(root / "odd/tiny_16x16.mp4", "testsrc2=size=16x16:rate=24", 4, H264)
    lavfi(
        root / "odd/odd_641x359.mkv",
        "testsrc2=size=642x360:rate=24,scale=641:359",
        4,
        ["-c:v", "ffv1", "-pix_fmt", "yuv444p"],
    )
    # A truncated file whose index (moov) is at the front: it probes fine and breaks while decoding.
    fast = lavfi(
        root / "tmp/front_moov.mp4", "testsrc2=size=160x120:rate=24", 8, [*H264, "-movflags", "+faststart"]
    )
    (root / "bad/truncated_front_index.mp4").write_bytes(fast.read_bytes()[: fast.stat().st_size // 2])
    # Variable frame rate: the first half at 24 fps, the second at 12 fps, timestamps kept.
    lavfi(
        root / "odd/vfr.mp4",
        "testsrc2=size=160x120:rate=24",
        6,
        [*H264, "-vf", "setpts='if(lt(N,72),N/24,3+(N-72)/12)/TB'", "-fps_mode", "vfr"],
    )
    lavfi(root / "tmp/upright.mp4", "testsrc2=size=160x96:rate=24", 4, H264)
    rotated = ["-c", "copy", "-metadata:s:v:0", "rotate=90", str(root / "odd/rotated_phone.mp4")]
    _ff(["-i", str(root / "tmp/upright.mp4"), *rotated])
    shutil.rmtree(root / "tmp")
    lavfi(
        root / "odd/ten_bit.mp4",
        "testsrc2=size=160x120:rate=24",
        4,
        ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le"],
    )
    lavfi(
        root / "odd/hevc.mp4",
        "testsrc2=size=160x120:rate=24",
        4,
        ["-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"],
    )
    lavfi(
        root / "odd/vp9.webm",
        "testsrc2=size=160x120:rate=24",
        4,
        ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
    )
    lavfi(root / "odd/av1.mkv", "testsrc2=size=160x120:rate=24", 4, ["-c:v", "libsvtav1", "-preset", "12"])
    for name, kind in (
        ("with spaces", "mandelbrot"),
        ("ünïcode 名前", "life"),
        ("-leading-dash", "cellauto"),
    ):
        make_synthetic_video(root / f"names/{name}.mp4", kind, width=128, height=96, fps=24, duration=5)
    (root / "dupes").mkdir()
    shutil.copyfile(good, root / "dupes/copy_of_good.mp4")
    (root / "loop").mkdir()
    os.symlink("..", root / "loop/back_to_root")
    return root
