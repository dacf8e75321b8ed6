"""MVBench: 20 sub-tasks of 200 multiple-choice questions each.

Hub: ``OpenGVLab/MVBench`` at revision ``video`` (what lmms-eval pins), one config per sub-task
(``json/<task>.json``), split ``train``. The ``video`` revision holds every clip as an mp4 under the folder
lmms-eval's ``DATA_LIST`` names, the bounded sub-tasks already cut (``star/Charades_segment``,
``sta/sta_video_segment``, ``tvqa/video_fps3_hq_segment``). A copy of the ``main`` revision also works
(``--data mvbench=DIR``): its full-length videos are cut to the row's ``start``/``end`` and Episodic
Reasoning's frame folders (``tvqa/frames_fps3_hq``, 3 fps) become clips, as VLMEvalKit's
``vlmeval/dataset/mvbench.py`` reads them. Nothing else is downloaded by hand (the dataset is gated: accept
its terms). Metric: accuracy over all items. Loader: lmms-eval ``lmms_eval/tasks/mvbench/utils.py``.
A video is taken only from its sub-task's folder, never matched by name elsewhere.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ..items import Item, VideoRef
from ..registry import mc_spec, register_benchmark
from ..sources import Row, RowError
from ..videos import VideoFinder, VideoNotFound
from .base import Benchmark
from .common import mc_item, option_list

# Sub-task -> folder of its clips in the ``video`` revision (lmms-eval's DATA_LIST).
TASK_FOLDERS: dict[str, str] = {
    "action_sequence": "star/Charades_segment",
    "action_prediction": "star/Charades_segment",
    "action_antonym": "ssv2_video_mp4",
    "fine_grained_action": "Moments_in_Time_Raw/videos",
    "unexpected_action": "FunQA_test/test",
    "object_existence": "clevrer/video_validation",
    "object_interaction": "star/Charades_segment",
    "object_shuffle": "perception/videos",
    "moving_direction": "clevrer/video_validation",
    "action_localization": "sta/sta_video_segment",
    "scene_transition": "scene_qa/video",
    "action_count": "perception/videos",
    "moving_count": "clevrer/video_validation",
    "moving_attribute": "clevrer/video_validation",
    "state_change": "perception/videos",
    "fine_grained_pose": "nturgbd_convert",
    "character_order": "perception/videos",
    "egocentric_navigation": "vlnqa",
    "episodic_reasoning": "tvqa/video_fps3_hq_segment",
    "counterfactual_inference": "clevrer/video_validation",
}
# Where the ``main`` revision keeps the sources that differ (VLMEvalKit's type_data_list).
SOURCE_FOLDERS: dict[str, str] = {
    "action_sequence": "star/Charades_v1_480",
    "action_prediction": "star/Charades_v1_480",
    "object_interaction": "star/Charades_v1_480",
    "action_localization": "sta/sta_video",
    "episodic_reasoning": "tvqa/frames_fps3_hq",
    "action_antonym": "ssv2_video",
    "fine_grained_pose": "nturgbd",
}
BOUNDED = {
    "action_sequence",
    "action_prediction",
    "object_interaction",
    "action_localization",
    "episodic_reasoning",
}
FRAME_FOLDERS = {"episodic_reasoning": 3.0}  # frames 00001.jpg ... at 3 fps
# The folders may sit at the top of the release, under video/ (main's zips), or under data0613/ (a fix-up).
PREFIXES = ("", "video/", "data0613/", "video/data0613/")
BOUNDS_SUFFIX = re.compile(r"_(-?\d+(?:\.\d+)?)_(-?\d+(?:\.\d+)?)$")


def _bounds(row: Row, task: str) -> tuple[float, float] | None:
    if task not in BOUNDED or row.opt("start") is None or row.opt("end") is None:
        return None
    start, end = float(row.opt("start")), float(row.opt("end"))  # type: ignore[arg-type]
    if not (math.isfinite(start) and math.isfinite(end) and end > start >= 0):
        raise RowError(f"bad start/end [{start}, {end}]")
    return start, end


def _names(name: str) -> list[str]:
    return [name] if Path(name).suffix else [name, f"{name}.mp4"]


@register_benchmark
class MVBench(Benchmark):
    spec = mc_spec(
        "mvbench",
        "MVBench",
        "General Video QA",
        "OpenGVLab/MVBench",
        "train",
        revision="video",
        configs=tuple(TASK_FOLDERS),
        data_files="json/{config}.json",
        manual="none (gated: accept the terms on the Hub)",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/mvbench/utils.py; main-revision cuts as "
        "open-compass/VLMEvalKit: vlmeval/dataset/mvbench.py",
        protocol="20 sub-tasks, accuracy over all items; answers are option texts mapped to letters; "
        "bounded clips cut to [start, end].",
        verified="configs, fields (video, question, candidates, answer, start, end) and folders as lmms-eval "
        "and VLMEvalKit read them.",
        order=1,
    )

    def items(self, row: Row) -> list[Item]:
        task = str(row.config)
        item = mc_item(
            self.spec,
            item_id=f"{task}-{row.index:05d}",
            question=row.text("question"),
            options=option_list(row.get("candidates")),
            answer=row.get("answer"),
            videos=[row.text("video")],
            meta={"task": task, "bounds": _bounds(row, task)},
        )
        return [item]

    def locate(self, name: str, item: Item, videos: VideoFinder) -> VideoRef:
        task = item.meta["task"]
        bounds = item.meta.get("bounds")
        folder = TASK_FOLDERS[task]
        for prefix in PREFIXES:  # the release's own clip: already the span the question is about
            for cand in _names(name):
                if (found := videos.exact(f"{prefix}{folder}/{cand}")) is not None:
                    return VideoRef(name=name, path=str(found))
        if bounds and (found := self._segment(videos, folder, name, bounds)) is not None:
            return VideoRef(name=name, path=str(found))
        if task in SOURCE_FOLDERS:  # main's full-length source (or frame folder), cut to the bounds
            fps = FRAME_FOLDERS.get(task)
            for prefix in PREFIXES:
                found = videos.exact(f"{prefix}{SOURCE_FOLDERS[task]}/{name}", folder=fps is not None)
                if found is not None:
                    start, end = bounds or (None, None)
                    return VideoRef(name=name, path=str(found), start=start, end=end, frame_fps=fps)
        raise VideoNotFound(f"video not found: {folder}/{name} (MVBench {task}; looked in {videos.where()})")

    @staticmethod
    def _segment(videos: VideoFinder, folder: str, name: str, bounds: tuple[float, float]) -> Path | None:
        """A cut clip named ``<stem>_<start>_<end>.<ext>`` whose numbers are the row's bounds."""
        stem = Path(name).stem
        for prefix in PREFIXES:
            for path in videos.listdir(f"{prefix}{folder}"):
                m = BOUNDS_SUFFIX.search(path.stem)
                if m is None or path.stem[: m.start()] != stem:
                    continue
                if abs(float(m.group(1)) - bounds[0]) < 1e-3 and abs(float(m.group(2)) - bounds[1]) < 1e-3:
                    return path
        return None
