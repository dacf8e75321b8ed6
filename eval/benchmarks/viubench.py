"""VIUBench, the paper's in-domain benchmark (9 subtypes x 300 items, 48 frames per clip, 512x512).

Hub: ``yhx12/VIUBench`` at ``main``, default config, split ``train``; ``./viubench`` (``make demo``) is tried
first. Nothing to download by hand: the clips are embedded in the parquet rows. Metric: per subtype
(grounding IoU, counting per-shape exact match, jigsaw exact permutation), task averages, Overall = mean of
the 9 subtypes. Loader: this project's ``build/repo.py`` writes the layout and ``tasks/rewards.py``
(``viubench_score``) scores it. A clip given only as a path must lie under the dataset's folder or
``--video-root``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..items import VIDEO, Item, VideoRef
from ..registry import VIUBENCH_SUBTYPES, VIUBENCH_TASKS, BenchmarkSpec, register_benchmark
from ..sources import Row, RowError
from ..videos import VideoFinder
from .base import Benchmark

PARAM_KEYS = ("max_frames_per_shape", "max_instances_per_frame", "num_clips")


def _clips(value: object) -> list[VideoRef]:
    if not isinstance(value, list) or not value:
        raise RowError("videos must be a non-empty list of clips")
    refs = []
    for i, clip in enumerate(value):
        if isinstance(clip, dict) and clip.get("bytes"):
            refs.append(VideoRef(name=str(clip.get("path") or f"clip{i}.mp4"), data=clip["bytes"]))
        elif isinstance(clip, dict) and clip.get("path"):
            refs.append(VideoRef(name=str(clip["path"])))  # checked and resolved by locate()
        else:
            raise RowError(f"clip {i} has neither bytes nor a path")
    return refs


def _params(text: object) -> dict:
    try:
        params = json.loads(str(text)) if text else {}
    except ValueError:
        raise RowError(f"params is not JSON: {str(text)[:40]!r}") from None
    return {k: params[k] for k in PARAM_KEYS if k in params} if isinstance(params, dict) else {}


@register_benchmark
class VIUBench(Benchmark):
    spec = BenchmarkSpec(
        name="viubench",
        title="VIUBench",
        domain="Video Intrinsic Understanding",
        hub_id="yhx12/VIUBench",
        split="train",
        kind="viubench",
        prompt="viubench",
        metrics=("overall", *VIUBENCH_SUBTYPES, *VIUBENCH_TASKS),
        primary="overall",
        video_source="embedded",
        default_local="viubench",
        sampling="all",
        default_frames=48,
        max_new_tokens=64,
        manual="none (`make demo` builds ./viubench)",
        loader="this project: build/repo.py (layout), tasks/rewards.py viubench_score (metric)",
        protocol=(
            "48 frames (every frame of each clip), <=512x512 px per frame; grounding = IoU, counting = "
            "per-shape exact match averaged over the 3 shapes, jigsaw = exact permutation; per subtype, "
            "task averages = mean of their subtypes, Overall = mean of the 9 subtype scores."
        ),
        verified="this project's layout (build/repo.py); the Hub copy yhx12/VIUBench is assumed to match.",
        order=0,
    )

    def items(self, row: Row) -> list[Item]:
        refs = _clips(row.get("videos"))
        question = row.text("question")
        if question.count(VIDEO) != len(refs):
            question = VIDEO * len(refs) + "\n" + question.replace(VIDEO, "")
        task, subtype = row.text("task"), row.text("subtype")
        fps, nframes = list(row.opt("fps") or []), list(row.opt("num_frames") or [])
        meta = {
            "task": task,
            "subtype": f"{task}/{subtype}",
            "difficulty": row.opt("difficulty"),
            "duration": float(nframes[0]) / float(fps[0]) if fps and nframes and fps[0] else None,
            "fps": fps,
            "num_frames": nframes,
            "params": _params(row.opt("params")),
        }
        system = row.opt("system")
        return [
            Item(
                bench=self.spec.name,
                id=row.text("id"),
                kind="viubench",
                question=question,
                prompt=question,
                answer=row.text("answer"),
                videos=refs,
                system=str(system) if system else None,
                meta=meta,
            )
        ]

    def failed_meta(self, row: Row) -> dict[str, object]:
        """A failed row still counts in its subtype's score when its task and subtype are readable."""
        task, subtype = row.opt("task"), row.opt("subtype")
        return {"task": str(task), "subtype": f"{task}/{subtype}"} if task and subtype else {}

    def locate(self, name: str, item: Item, videos: VideoFinder) -> VideoRef:
        """A path-only clip: relative to the dataset's folder, or absolute; it must stay inside."""
        path = Path(name)
        found = videos.contained(path) if path.is_absolute() else videos.exact(name)
        if found is None or not found.is_file():
            raise RowError(
                f"clip path {name!r} is not a file inside the dataset folder or --video-root; not read"
            )
        return VideoRef(name=name, path=str(found))
