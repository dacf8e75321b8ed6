"""VideoMMMU, the multiple-choice questions of its three tracks (Perception, Comprehension, Adaptation).

Hub: ``lmms-eval/VideoMMMU`` at ``main`` (lmms-lab's release, moved), configs ``Perception``,
``Comprehension``, ``Adaptation``, split ``test``. Videos: the repo's per-discipline archives, extracted to
``<Art|Business|Science|Medicine|Humanities|Engineering>/<id>.mp4`` (the discipline follows from the id's
subject); nothing by hand. Options keep their letters even when some are blank, as lmms-eval lists them.
Open-ended rows are outside the evaluated subset and counted. Metric: accuracy over the multiple-choice
items, and ``accuracy_<track>`` per track as lmms-eval reports its three tasks. Loader: lmms-eval
``lmms_eval/tasks/videommmu/utils.py``.
"""

from __future__ import annotations

import json

from ..items import Item, VideoRef
from ..registry import mc_spec, register_benchmark
from ..sources import Row, RowError, RowExcluded
from ..videos import VideoFinder
from .base import Benchmark
from .common import mc_item, option_list

TRACKS = ("Perception", "Comprehension", "Adaptation")
DISCIPLINES = {
    "Art": ("Art", "Art_Theory", "Design", "Music"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Humanities": ("History", "Literature", "Sociology", "Psychology"),
    "Engineering": (
        "Agriculture",
        "Architecture_and_Engineering",
        "Computer_Science",
        "Electronics",
        "Energy_and_Power",
        "Materials",
        "Mechanical_Engineering",
    ),
    "Medicine": (
        "Basic_Medical_Science",
        "Clinical_Medicine",
        "Diagnostics_and_Laboratory_Medicine",
        "Pharmacy",
        "Public_Health",
    ),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
}
FOLDER_OF = {subject: folder for folder, subjects in DISCIPLINES.items() for subject in subjects}


def _options(value: object) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise RowError(f"options is not a list: {value[:40]!r}") from None
    return option_list(value)


@register_benchmark
class VideoMMMU(Benchmark):
    spec = mc_spec(
        "videommmu",
        "VideoMMMU",
        "Complex Reasoning",
        "lmms-eval/VideoMMMU",
        "test",
        configs=TRACKS,
        metrics=("accuracy", *(f"accuracy_{t.lower()}" for t in TRACKS)),
        group_by="config",
        manual="none",
        loader="EvolvingLMMs-Lab/lmms-eval: lmms_eval/tasks/videommmu/utils.py",
        protocol="multiple-choice subset (question_type == 'multiple-choice') of the three tracks; accuracy "
        "pooled and per track.",
        verified="configs, split, fields (id, question, options, answer, question_type) and the discipline "
        "folders as lmms-eval reads them.",
        order=13,
    )

    def items(self, row: Row) -> list[Item]:
        if row.opt("question_type") not in (None, "multiple-choice"):
            raise RowExcluded(f"{row.opt('question_type')} question (the multiple-choice subset is scored)")
        item_id = row.text("id")
        item = mc_item(
            self.spec,
            item_id=item_id,
            question=row.text("question"),
            options=_options(row.get("options")),
            answer=row.get("answer"),
            videos=[f"{item_id}.mp4"],
            meta={"config": row.config},
        )
        return [item]

    def locate(self, name: str, item: Item, videos: VideoFinder) -> VideoRef:
        subject = "_".join(item.id.split("_")[1:-1])
        folder = FOLDER_OF.get(subject)
        found = videos.exact(f"{folder}/{name}") if folder else None
        return VideoRef(name=name, path=str(found if found is not None else videos.find(name)))
