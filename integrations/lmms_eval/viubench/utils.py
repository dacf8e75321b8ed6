"""VIUBench for lmms-eval: documents, prompts and scoring (referenced by viubench.yaml).

Each item is scored by ``videossr.tasks.rewards.viubench_score``, the function ``eval/run.py`` uses, so both
harnesses give the same numbers: grounding IoU, counting per-shape exact match averaged over the 3 shapes,
jigsaw 1 only for the exact order. A subtype's score is the mean of its items (percent), a task's the mean of
its subtypes and Overall the mean of the 9 subtypes (Table 1). Install the project into lmms-eval's
environment for that import: ``pip install --no-deps -e /path/to/VideoSSR`` (it needs numpy, pillow, pyyaml).

Clips are embedded in the rows; ``viubench_doc_to_visual`` writes each once under ``$HF_HOME/viubench/clips``
and returns the file paths, which is what lmms-eval's video models take.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    from videossr.tasks.rewards import viubench_score
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the VIUBench task scores with videossr.tasks: install the VideoSSR repository into this environment "
        "(pip install --no-deps -e /path/to/VideoSSR)"
    ) from exc

VIDEO = "<video>"
SUBTYPES = (
    "counting/easy",
    "counting/hard",
    "grounding/ChannelSwap",
    "grounding/Rotate180",
    "grounding/ZoomOut",
    "grounding/Mirror",
    "grounding/Shuffle",
    "jigsaw/easy",
    "jigsaw/hard",
)
TASKS = {
    task: tuple(s for s in SUBTYPES if s.startswith(task + "/"))
    for task in ("counting", "grounding", "jigsaw")
}
METRICS = (*SUBTYPES, *TASKS, "overall")


def _clip_dir() -> Path:
    return Path(os.path.expanduser(os.getenv("HF_HOME", "~/.cache/huggingface/"))) / "viubench" / "clips"


def viubench_process_docs(dataset):
    """Keep the clips as bytes (no decoding): the documents carry ``{"bytes", "path"}`` per clip."""
    from datasets import Video

    feature = dataset.features["videos"]
    inner = getattr(feature, "feature", None)
    if isinstance(inner, Video) and inner.decode:
        dataset = dataset.cast_column("videos", type(feature)(Video(decode=False)))
    return dataset


def viubench_doc_to_visual(doc: dict) -> list[str]:
    """The clip files of one item, in the order of its ``<video>`` markers (written once, atomically)."""
    folder = _clip_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, clip in enumerate(doc["videos"]):
        name = os.path.basename(clip.get("path") or f"{doc['id']}_clip{i}.mp4")
        target = folder / name
        if not target.exists():
            if not clip.get("bytes"):
                raise ValueError(f"VIUBench item {doc['id']}: clip {i} has no embedded bytes")
            tmp = target.with_name(f".{name}.{os.getpid()}")
            tmp.write_bytes(clip["bytes"])
            os.replace(tmp, target)
        paths.append(str(target))
    return paths


def viubench_doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The system prompt and the question, without ``<video>`` markers (the model gets the clips in order)."""
    question = doc["question"].replace(VIDEO, "").strip()
    return f"{doc['system']}\n\n{question}" if doc.get("system") else question


def viubench_doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict]:
    """Chat messages: the system prompt, then the question with each clip where its ``<video>`` marker is."""
    videos = viubench_doc_to_visual(doc)
    pieces = doc["question"].split(VIDEO)
    if len(pieces) - 1 != len(videos):
        raise ValueError(
            f"VIUBench item {doc['id']}: {len(pieces) - 1} <video> markers for {len(videos)} clips"
        )
    content: list[dict] = []
    for i, text in enumerate(pieces):
        if i > 0:
            content.append({"type": "video", "url": videos[i - 1]})
        if text:
            content.append({"type": "text", "text": text})
    messages = [{"role": "user", "content": content}]
    if doc.get("system"):
        messages.insert(0, {"role": "system", "content": [{"type": "text", "text": doc["system"]}]})
    return messages


def viubench_process_results(doc: dict, results: list[str]) -> dict[str, dict]:
    """The item's score under every metric key (each aggregation keeps the subtypes it needs)."""
    score = viubench_score(doc["task"], results[0] if results else "", doc["answer"])
    record = {"subtype": f"{doc['task']}/{doc['subtype']}", "score": score}
    return {metric: dict(record) for metric in METRICS}


def _subtype_means(records: list[dict]) -> dict[str, float]:
    scores: dict[str, list[float]] = {}
    for record in records:
        scores.setdefault(record["subtype"], []).append(record["score"])
    return {s: 100.0 * sum(v) / len(v) for s, v in scores.items()}


def _aggregate(metric: str):
    def aggregate(records: list[dict]) -> float:
        means = _subtype_means(records)
        members = TASKS.get(metric, SUBTYPES if metric == "overall" else (metric,))
        present = [means[s] for s in members if s in means]
        return sum(present) / len(present) if present else 0.0

    aggregate.__name__ = f"viubench_{metric.replace('/', '_').lower()}"
    return aggregate


viubench_counting_easy = _aggregate("counting/easy")
viubench_counting_hard = _aggregate("counting/hard")
viubench_grounding_channelswap = _aggregate("grounding/ChannelSwap")
viubench_grounding_rotate180 = _aggregate("grounding/Rotate180")
viubench_grounding_zoomout = _aggregate("grounding/ZoomOut")
viubench_grounding_mirror = _aggregate("grounding/Mirror")
viubench_grounding_shuffle = _aggregate("grounding/Shuffle")
viubench_jigsaw_easy = _aggregate("jigsaw/easy")
viubench_jigsaw_hard = _aggregate("jigsaw/hard")
viubench_counting = _aggregate("counting")
viubench_grounding = _aggregate("grounding")
viubench_jigsaw = _aggregate("jigsaw")
viubench_overall = _aggregate("overall")
