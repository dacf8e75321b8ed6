"""The published row schema (documented in the dataset card) and the conversion from a task sample.

One row per sample::

    id, task, subtype, difficulty, system, question, answer,
    videos       list of videos (datasets.Video, bytes embedded): 1 for grounding/counting, n for jigsaw
    fps          per clip, the rate it is rendered at (1 / nominal frame step)
    num_frames   per clip
    frame_times  per clip, the source timestamp in seconds of every frame
    source       source id (path relative to its root, without extension)
    params       JSON text of the task params (enough to re-derive the answer)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from datasets import Features

COLUMNS: tuple[str, ...] = (
    "id", "task", "subtype", "difficulty", "system", "question", "answer",
    "videos", "fps", "num_frames", "frame_times", "source", "params",
)  # fmt: skip

COLUMN_DOCS: dict[str, str] = {
    "id": "unique sample id: `<task>-<subtype>-<source hash>-<index>`",
    "task": "`grounding` | `counting` | `jigsaw`",
    "subtype": "grounding: the perturbation; counting and jigsaw: `easy` | `hard` | `custom`",
    "difficulty": "`easy` | `hard` | `custom`; `none` for grounding",
    "system": "the system prompt",
    "question": "the user text; each `<video>` marks where a clip goes (jigsaw: `Clip i: <video>`)",
    "answer": (
        "the verifiable answer (`start-end` seconds, `c,s,t` counts, or the play order such as `341562`)"
    ),
    "videos": "list of H.264 mp4 clips (bytes embedded), in the order of the `<video>` markers",
    "fps": "per clip: the frame rate it is encoded at; clip time = frame index / fps",
    "num_frames": "per clip: the number of frames",
    "frame_times": "per clip: the source timestamp (seconds) of every frame",
    "source": "id of the source video (its path relative to the source root, without extension)",
    "params": "JSON: every drawn parameter (segment, perturbation params per frame, shapes, permutation...)",
}


def features() -> Features:
    """The ``datasets.Features`` of a row (imported lazily: the writer must not need torch)."""
    from datasets import Features, List, Value, Video

    return Features(
        {
            "id": Value("string"),
            "task": Value("string"),
            "subtype": Value("string"),
            "difficulty": Value("string"),
            "system": Value("string"),
            "question": Value("string"),
            "answer": Value("string"),
            "videos": List(Video()),
            "fps": List(Value("float64")),
            "num_frames": List(Value("int32")),
            "frame_times": List(List(Value("float64"))),
            "source": Value("string"),
            "params": Value("string"),
        }
    )


def _value(dtype: str) -> dict[str, str]:
    return {"dtype": dtype, "_type": "Value"}


def _list(feature: dict[str, Any]) -> dict[str, Any]:
    return {"feature": feature, "_type": "List"}


# ``features()`` in the form datasets writes into the Arrow metadata, and the Arrow types it maps to.
_HF_FEATURES: dict[str, dict[str, Any]] = {
    **{c: _value("string") for c in ("id", "task", "subtype", "difficulty", "system", "question", "answer")},
    "videos": _list({"_type": "Video"}),
    "fps": _list(_value("float64")),
    "num_frames": _list(_value("int32")),
    "frame_times": _list(_list(_value("float64"))),
    "source": _value("string"),
    "params": _value("string"),
}


def _arrow_type(feature: dict[str, Any]) -> pa.DataType:
    kind = feature["_type"]
    if kind == "List":
        return pa.list_(_arrow_type(feature["feature"]))
    if kind == "Video":
        return pa.struct({"bytes": pa.binary(), "path": pa.string()})
    return {"string": pa.string(), "float64": pa.float64(), "int32": pa.int32()}[feature["dtype"]]


def _yaml(feature: dict[str, Any]) -> Any:
    kind = feature["_type"]
    if kind == "List":
        return {"list": _yaml(feature["feature"])}
    return "video" if kind == "Video" else feature["dtype"]


def features_yaml() -> list[dict[str, Any]]:
    """``features()._to_yaml_list()`` (the card's ``dataset_info.features``) without importing datasets."""
    out: list[dict[str, Any]] = []
    for c in COLUMNS:
        value = _yaml(_HF_FEATURES[c])
        out.append({"name": c, **(value if isinstance(value, dict) else {"dtype": value})})
    return out


def arrow_schema() -> pa.Schema:
    """The Arrow schema with the ``huggingface`` metadata that makes ``load_dataset`` see Video columns.

    Built with pyarrow alone, equal (metadata included) to ``features().arrow_schema`` (tested): importing
    ``datasets`` costs seconds in every build worker and in the driver."""
    import json

    fields = [pa.field(c, _arrow_type(_HF_FEATURES[c])) for c in COLUMNS]
    meta = {"huggingface": json.dumps({"info": {"features": {c: _HF_FEATURES[c] for c in COLUMNS}}})}
    return pa.schema(fields, metadata=meta)


def clip_filename(sample_id: str, clip_index: int) -> str:
    return f"{sample_id}_clip{clip_index}.mp4"
