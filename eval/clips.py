"""Clips derived from a release's files: a [start, end] cut of a full-length video, or a folder of frames.

MVBench's ``main`` revision points several sub-tasks at full-length videos with start/end bounds in seconds,
and Episodic Reasoning at folders of JPEG frames (``00001.jpg`` ... at 3 fps). Backends take one video file,
so such a reference becomes an H.264 file in the eval cache, made once by the ffmpeg CLI (the build stage
needs it too) with an environment stripped of Hub and API tokens, since the input is untrusted media.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

FRAME_NAME = re.compile(r"^(\d+)\.(?:jpg|jpeg|png)$", re.IGNORECASE)
SECRET_VARS = re.compile(r"TOKEN|API_KEY|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
# H.264 yuv420p at even sizes, no audio; quality close to the source (the cut is what the model sees)
ENCODE = ["-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
ENCODE += ["-movflags", "+faststart", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"]


class ClipError(RuntimeError):
    """A derived clip cannot be made (the reason is recorded on the item, which then scores 0)."""


def _ffmpeg(args: list[str], what: str, timeout: float = 600) -> None:
    from videossr.build.render import FFmpegError, ffmpeg_exe

    try:
        exe = ffmpeg_exe()
    except FFmpegError as exc:
        raise ClipError(str(exc)) from None
    env = {k: v for k, v in os.environ.items() if not SECRET_VARS.search(k)}
    cmd = [exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise ClipError(f"ffmpeg timed out after {timeout:.0f}s on {what}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ClipError(f"cannot cut {what}: {err[-1] if err else 'ffmpeg exit ' + str(proc.returncode)}")


def _finish(tmp: Path, target: Path, what: str) -> str:
    if not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise ClipError(f"{what}: the cut holds no frames")
    os.replace(tmp, target)
    return str(target)


def cut_video(path: str, start: float, end: float, target: Path) -> str:
    """Frames of ``path`` from ``start`` to ``end`` seconds, re-encoded (frame-accurate), as ``target``."""
    if not end > start >= 0:
        raise ClipError(f"bad bounds [{start}, {end}] for {Path(path).name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.mp4")
    what = Path(path).name
    cut = ["-ss", f"{start:.3f}", "-i", path, "-t", f"{end - start:.3f}", "-map", "0:v:0"]
    _ffmpeg([*cut, *ENCODE, str(tmp)], what)
    return _finish(tmp, target, what)


def frame_numbers(folder: str) -> dict[int, str]:
    """Numbered frame files of a folder (``00001.jpg`` -> 1), by number."""
    out = {}
    for name in os.listdir(folder):
        m = FRAME_NAME.match(name)
        if m:
            out[int(m.group(1))] = name
    return out


def frames_to_video(
    folder: str, fps: float, start: float | None, end: float | None, target: Path, first: int = 1
) -> str:
    """The frames of ``folder`` (numbered from ``first``, at ``fps``) within [start, end] seconds, as a video.

    Frame ``k`` shows time ``(k - first) / fps``; the cut keeps frames ``round(start * fps)`` to
    ``round(end * fps)`` counted from ``first``, as MVBench's own frame reader does.
    """
    numbers = frame_numbers(folder)
    if not numbers:
        raise ClipError(f"{Path(folder).name}: no numbered frames (00001.jpg ...) in the folder")
    lo = first + (round(start * fps) if start is not None else 0)
    hi = first + round(end * fps) if end is not None else max(numbers)
    keep = [numbers[k] for k in sorted(numbers) if lo <= k <= hi]
    if not keep:
        raise ClipError(f"{Path(folder).name}: no frames between {start} s and {end} s")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.mp4")
    listing = target.with_name(f".{target.stem}.{os.getpid()}.txt")
    if "\n" in os.path.realpath(folder):
        raise ClipError(f"{Path(folder).name}: a folder path with a line break cannot be listed for ffmpeg")
    base = os.path.realpath(folder).replace("'", "'\\''")
    lines = [f"file '{base}/{name}'\nduration {1 / fps:.6f}" for name in keep]
    lines.append(f"file '{base}/{keep[-1]}'")  # the concat demuxer needs the last frame twice to show it
    listing.write_text("\n".join(lines) + "\n")
    concat = ["-f", "concat", "-safe", "0", "-i", str(listing), "-r", f"{fps:g}", "-frames:v", str(len(keep))]
    try:
        _ffmpeg([*concat, *ENCODE, str(tmp)], Path(folder).name)
    finally:
        listing.unlink(missing_ok=True)
    return _finish(tmp, target, Path(folder).name)
