"""One item schema for every benchmark, the adapters from each benchmark's official fields, and the loader.

An :class:`Item` is what a backend answers: ``videos`` (embedded bytes or a file path), a ``prompt`` whose
``<video>`` markers say where each video goes, ``options`` (multiple choice), ``answer`` and ``kind``.
A row that cannot be turned into a usable item (missing column, video not found) still becomes an item,
with ``error`` set: it scores 0 and stays in the denominator.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.tasks.extract import letters_for

from .registry import MVBENCH_TASKS, PROMPTS, BenchmarkSpec

VIDEO = "<video>"
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".MP4", ".MKV", ".WEBM", ".AVI")


@dataclass
class VideoRef:
    """A video input: embedded ``data`` or a file ``path``; ``name`` is what the dataset calls it."""

    name: str
    data: bytes | None = None
    path: str | None = None
    sha: str | None = None

    def digest(self) -> str:
        """Content hash of embedded bytes (kept after the bytes are spilled to disk), else of the path."""
        if self.sha is None:
            if self.data is not None:
                self.sha = hashlib.sha256(self.data).hexdigest()[:16]
            else:
                self.sha = hashlib.sha256(str(self.path).encode()).hexdigest()[:16]
        return self.sha


def spill(ref: VideoRef, cache_dir: str | os.PathLike) -> str:
    """Write a video's embedded bytes once under ``cache_dir/clips`` and point the ref at that file."""
    if ref.path is not None and ref.data is None:
        return ref.path
    if ref.data is None:
        raise ValueError(f"video {ref.name!r} has neither bytes nor a path")
    suffix = Path(ref.name).suffix or ".mp4"
    target = Path(cache_dir) / "clips" / f"{ref.digest()}{suffix}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}")
        tmp.write_bytes(ref.data)
        os.replace(tmp, target)
    ref.path, ref.data = str(target), None
    return ref.path


@dataclass
class Item:
    bench: str
    id: str
    kind: str  # mc | grounding | viubench | order
    question: str
    prompt: str  # full user text with one <video> marker per video
    answer: Any
    videos: list[VideoRef] = field(default_factory=list)
    video_names: list[str] = field(default_factory=list)
    options: list[str] | None = None
    system: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def letters(self) -> list[str]:
        return letters_for(len(self.options)) if self.options else []


class RowError(ValueError):
    """A row cannot be used (the reason is recorded on the item)."""


def _get(row: dict, key: str) -> Any:
    if key not in row:
        raise RowError(f"missing column {key!r}")
    if row[key] is None:
        raise RowError(f"missing column {key!r} (empty in this row)")
    return row[key]


def format_options(options: list[str]) -> str:
    """``A. text`` lines; options that already start with their letter are kept as they are."""
    lines = []
    for letter, opt in zip(letters_for(len(options)), options):
        text = str(opt).strip()
        if re.match(rf"^\(?{letter}[.):]\s*", text):
            lines.append(text)
        else:
            lines.append(f"{letter}. {text}")
    return "\n".join(lines)


_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.+?)\s*$", re.MULTILINE)


def options_from_text(text: str) -> list[str]:
    """Options written in a question (``A. foo`` / ``(A) foo`` lines), consecutive letters from A."""
    found = _OPTION_LINE.findall(text or "")
    out: list[str] = []
    for letter, body in found:
        if ord(letter) - ord("A") == len(out):
            out.append(body)
    return out


def letter_of(answer: Any, options: list[str]) -> str:
    """Normalise an answer given as a letter, ``(B)``, ``"B. text"``, an index or the option text.

    The option text is matched first, so an answer such as "A man walks." is never read as the letter A.
    """
    letters = letters_for(len(options))
    if isinstance(answer, int) and not isinstance(answer, bool):
        if 0 <= answer < len(options):
            return letters[answer]
        raise RowError(f"answer index {answer} out of range for {len(options)} options")
    text = str(answer).strip()
    for letter, opt in zip(letters, options):
        if text == str(opt).strip() or text == re.sub(r"^\(?[A-Z][.):]\s*", "", str(opt)).strip():
            return letter
    m = re.match(r"^\(?([A-Z])\)?(?:[.):]|$|\s)", text)
    if m and m.group(1) in letters:
        return m.group(1)
    raise RowError(f"answer {answer!r} matches none of the {len(options)} options")


def _mc_item(spec, item_id, question, options, answer, video_names, meta=None, prompt_question=None) -> Item:
    if not options or len(options) < 2:
        raise RowError("fewer than two options")
    answer_letter = letter_of(answer, options)
    body = prompt_question if prompt_question is not None else f"{question}\n{format_options(options)}"
    if len(video_names) == 1:
        text = f"{VIDEO}\n" + PROMPTS["mc"].format(question=body)
    else:
        labels = "\n".join(f"Video {i + 1}: {VIDEO}" for i in range(len(video_names)))
        text = f"{labels}\n" + PROMPTS["mc"].format(question=body)
    return Item(
        bench=spec.name,
        id=str(item_id),
        kind="mc",
        question=question,
        prompt=text,
        answer=answer_letter,
        options=[str(o) for o in options],
        video_names=list(video_names),
        meta=meta or {},
    )


def _tg_item(spec, item_id, query, windows, video_name, duration=None) -> Item:
    wins = [(float(a), float(b)) for a, b in windows]
    if not wins:
        raise RowError("no ground-truth interval")
    return Item(
        bench=spec.name,
        id=str(item_id),
        kind="grounding",
        question=str(query),
        prompt=f"{VIDEO}\n" + PROMPTS["grounding"].format(question=str(query).strip()),
        answer=[list(w) for w in wins],
        video_names=[video_name],
        meta={"duration": float(duration) if duration not in (None, "") else None},
    )


# ----------------------------------------------------------------------------------------------- adapters
# Each adapter maps one official row to items. ``config`` is the dataset config the row came from.

Adapter = Callable[[BenchmarkSpec, dict, int, str | None], list[Item]]


def _viubench(spec, row, index, config):
    videos = _get(row, "videos")
    refs = []
    for i, v in enumerate(videos or []):
        if isinstance(v, dict) and v.get("bytes"):
            refs.append(VideoRef(name=v.get("path") or f"clip{i}.mp4", data=v["bytes"]))
        elif isinstance(v, dict) and v.get("path"):
            refs.append(VideoRef(name=v["path"], path=v["path"]))
        else:
            raise RowError(f"clip {i} has neither bytes nor a path")
    question = str(_get(row, "question"))
    if question.count(VIDEO) != len(refs):
        question = VIDEO * len(refs) + "\n" + question.replace(VIDEO, "")
    task, subtype = str(_get(row, "task")), str(_get(row, "subtype"))
    fps = row.get("fps") or []
    nframes = row.get("num_frames") or []
    params: dict = {}
    if row.get("params"):
        try:
            params = json.loads(row["params"])
        except (TypeError, ValueError):
            params = {}
    item = Item(
        bench=spec.name,
        id=str(_get(row, "id")),
        kind="viubench",
        question=question,
        prompt=question,
        answer=str(_get(row, "answer")),
        system=row.get("system") or None,
        meta={
            "task": task,
            "subtype": f"{task}/{subtype}",
            "difficulty": row.get("difficulty"),
            "duration": (float(nframes[0]) / float(fps[0])) if fps and nframes and fps[0] else None,
            "fps": list(fps),
            "num_frames": list(nframes),
            "params": {
                k: params[k]
                for k in ("max_frames_per_shape", "max_instances_per_frame", "num_clips")
                if k in params
            },
        },
    )
    item.videos = refs
    item.video_names = [r.name for r in refs]
    return [item]


def _mvbench(spec, row, index, config):
    folder = MVBENCH_TASKS.get(config or "", "")
    video = str(_get(row, "video"))
    item = _mc_item(
        spec,
        f"{config}-{index}",
        _get(row, "question"),
        list(_get(row, "candidates")),
        _get(row, "answer"),
        [f"{folder}/{video}" if folder else video],
        meta={"task": config},
    )
    return [item]


def _tempcompass(spec, row, index, config):
    question = str(_get(row, "question"))
    options = options_from_text(question)
    return [
        _mc_item(
            spec,
            f"{_get(row, 'video_id')}-{row.get('dim', '')}-{index}",
            question,
            options,
            _get(row, "answer"),
            [f"{row['video_id']}"],
            meta={"dim": row.get("dim")},
            prompt_question=question,
        )
    ]


def _generic_mc(spec, row, index, config):
    options = row.get("options") or row.get("candidates") or row.get("choices")
    question = str(_get(row, "question"))
    if not options:
        options = options_from_text(question)
        prompt_q = question
    else:
        prompt_q = None
    video = row.get("video") or row.get("video_path") or row.get("video_id")
    if not video:
        raise RowError("missing column 'video'")
    return [
        _mc_item(
            spec,
            row.get("id", row.get("qid", index)),
            question,
            list(options),
            _get(row, "answer"),
            [str(video)],
            prompt_question=prompt_q,
        )
    ]


def _videomme(spec, row, index, config):
    return [
        _mc_item(
            spec,
            _get(row, "question_id"),
            _get(row, "question"),
            list(_get(row, "options")),
            _get(row, "answer"),
            [str(_get(row, "videoID"))],
            meta={"duration": row.get("duration"), "task_type": row.get("task_type")},
        )
    ]


def _lvbench(spec, row, index, config):
    question = str(_get(row, "question"))
    options = list(row.get("options") or [])
    prompt_q = None
    if not options:
        options = options_from_text(question)
        prompt_q = question
    item_id = row.get("uid", row.get("key", row.get("id", index)))
    return [
        _mc_item(
            spec,
            f"{item_id}-{index}",
            question,
            options,
            _get(row, "answer"),
            [str(_get(row, "video_path"))],
            prompt_question=prompt_q,
        )
    ]


def _longvideobench(spec, row, index, config):
    options = [row.get(f"option{i}") for i in range(5)]
    options = [o for o in options if o not in (None, "N/A")]
    return [
        _mc_item(
            spec,
            _get(row, "id"),
            _get(row, "question"),
            options,
            int(_get(row, "correct_choice")),
            [str(_get(row, "video_path"))],
            meta={"duration_group": row.get("duration_group")},
        )
    ]


def _cgbench(spec, row, index, config):
    return [
        _mc_item(
            spec,
            _get(row, "qid"),
            _get(row, "question"),
            list(_get(row, "choices")),
            _get(row, "right_answer"),
            [str(_get(row, "video_uid"))],
        )
    ]


def _videommmu(spec, row, index, config):
    if row.get("question_type", "multiple-choice") != "multiple-choice":
        return []  # the paper's MC subset
    options = row.get("options")
    if isinstance(options, str):
        try:
            options = json.loads(options)
        except ValueError:
            options = [options]
    options = [o for o in (options or []) if str(o).strip()]
    return [
        _mc_item(
            spec,
            _get(row, "id"),
            _get(row, "question"),
            options,
            _get(row, "answer"),
            [str(row["id"])],
            meta={"track": config},
        )
    ]


def _videott(spec, row, index, config):
    prompt_text = str(row.get("question_prompt") or "")
    options = options_from_text(prompt_text)
    if len(options) < 2:
        return []  # open-ended row: not in the multiple-choice subset
    question = str(_get(row, "question"))
    return [
        _mc_item(
            spec,
            f"{_get(row, 'video_id')}-{index}",
            question,
            options,
            _get(row, "answer"),
            [str(row["video_id"])],
            meta={"capability": row.get("capability")},
            prompt_question=f"{question}\n{prompt_text}",
        )
    ]


def _cvbench(spec, row, index, config):
    videos = [row.get(f"video_{i}") for i in range(1, 5)]
    videos = [str(v) for v in videos if v not in (None, "", "None")]
    if not videos:
        raise RowError("missing column 'video_1'")
    return [
        _mc_item(
            spec,
            _get(row, "id"),
            _get(row, "question"),
            list(_get(row, "options")),
            _get(row, "answer"),
            videos,
            meta={"task_type": row.get("task_type"), "num_videos": len(videos)},
        )
    ]


def _vinoground(spec, row, index, config):
    idx = str(_get(row, "index"))
    pos_cap, neg_cap = str(_get(row, "pos_cap")), str(_get(row, "neg_cap"))
    items = []
    for which, video in (("pos", _get(row, "pos_vid")), ("neg", _get(row, "neg_vid"))):
        # A fixed, balanced option order: the positive caption is A for even pairs, B for odd ones.
        flip = (hash_int(idx) % 2) == 1
        options = [neg_cap, pos_cap] if flip else [pos_cap, neg_cap]
        correct = pos_cap if which == "pos" else neg_cap
        question = "Which caption best describes this video?"
        item = _mc_item(
            spec,
            f"{idx}_{which}",
            question,
            options,
            correct,
            [str(video)],
            meta={"group": idx, "major": row.get("major"), "minor": row.get("minor")},
        )
        items.append(item)
    return items


def _charades(spec, row, index, config):
    video = str(_get(row, "video"))
    ts = _get(row, "timestamp")
    if isinstance(ts, str):
        ts = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", ts)]
    return [
        _tg_item(
            spec, f"{Path(video).stem}-{index}", _get(row, "caption"), [ts[:2]], video, row.get("duration")
        )
    ]


def _qvhighlights(spec, row, index, config):
    return [
        _tg_item(
            spec,
            _get(row, "qid"),
            _get(row, "query"),
            _get(row, "relevant_windows"),
            str(_get(row, "vid")),
            row.get("duration"),
        )
    ]


def _anet_captions(spec, row, index, config):
    # rows are flattened from {video_id: {duration, timestamps, sentences}} by the loader
    return [
        _tg_item(
            spec,
            f"{_get(row, 'video_id')}-{_get(row, 'sentence_index')}",
            _get(row, "sentence"),
            [_get(row, "timestamp")],
            str(row["video_id"]),
            row.get("duration"),
        )
    ]


def _vcrbench(spec, row, index, config):
    gt = [int(x) + 1 for x in _get(row, "ground_truth")]
    goal = str(_get(row, "goal")).strip()
    return [
        Item(
            bench=spec.name,
            id=str(_get(row, "qid")),
            kind="order",
            question=goal,
            prompt=f"{VIDEO}\n" + PROMPTS["vcr"].format(question=goal),
            answer=gt,
            video_names=[str(_get(row, "video_file"))],
            meta={"num_steps": len(gt)},
        )
    ]


ADAPTERS: dict[str, Adapter] = {
    "viubench": _viubench,
    "mvbench": _mvbench,
    "tempcompass": _tempcompass,
    "generic_mc": _generic_mc,
    "videomme": _videomme,
    "lvbench": _lvbench,
    "longvideobench": _longvideobench,
    "cgbench": _cgbench,
    "videommmu": _videommmu,
    "videott": _videott,
    "cvbench": _cvbench,
    "vinoground": _vinoground,
    "charades": _charades,
    "qvhighlights": _qvhighlights,
    "anet_captions": _anet_captions,
    "vcrbench": _vcrbench,
}


def hash_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


# ------------------------------------------------------------------------------------------------ loading


_CONFIG_ERROR = "__config_error__"


class DatasetUnavailable(RuntimeError):
    """The benchmark's data cannot be found (offline, or no local copy): a one-line reason."""


def _arrow_rows(ds) -> Iterator[dict]:
    """Rows without decoding media (Video/Image columns come back as {bytes, path})."""
    table = ds.with_format("arrow")
    for start in range(0, len(ds), 64):
        yield from table[start : start + 64].to_pylist()


def _flatten_anet(data: dict) -> list[dict]:
    rows = []
    for vid, entry in data.items():
        for j, (ts, sentence) in enumerate(zip(entry.get("timestamps", []), entry.get("sentences", []))):
            rows.append(
                {
                    "video_id": vid,
                    "sentence_index": j,
                    "sentence": sentence,
                    "timestamp": ts,
                    "duration": entry.get("duration"),
                }
            )
    return rows


def _read_file_rows(path: Path, spec: BenchmarkSpec) -> list[dict]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if suffix == ".json":
        data = json.loads(path.read_text())
        if isinstance(data, dict) and spec.adapter == "anet_captions":
            return _flatten_anet(data)
        if isinstance(data, dict):
            for key in ("data", "questions", "annotations", spec.split):
                if isinstance(data.get(key), list):
                    return data[key]
            raise DatasetUnavailable(f"{path}: a JSON object without a list of rows")
        return list(data)
    if suffix == ".csv":
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    raise DatasetUnavailable(f"{path}: unsupported file type {suffix!r} (json, jsonl, csv, parquet)")


def _load_folder_rows(folder: Path, spec: BenchmarkSpec) -> Iterator[tuple[str | None, dict]]:
    """Rows of a folder laid out as a Hub dataset repo (README configs), or holding the data file."""
    if spec.data_files:
        matches = sorted(folder.glob(spec.data_files)) or sorted(folder.rglob(spec.data_files))
        if not matches:
            raise DatasetUnavailable(f"{folder}: no {spec.data_files} (the {spec.title} question file)")
        for path in matches:
            for row in _read_file_rows(path, spec):
                yield None, row
        return
    import datasets

    datasets.disable_progress_bars()
    configs: list[str | None] = list(spec.configs)
    if configs == ["*"]:
        try:
            configs = list(datasets.get_dataset_config_names(str(folder)))
        except Exception as exc:  # pragma: no cover - depends on the folder
            raise DatasetUnavailable(f"{folder}: not a dataset folder ({exc})") from None
    for config in configs:
        try:
            ds = datasets.load_dataset(str(folder), name=config, split=spec.split)
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if len(configs) == 1 and config is None:
                raise DatasetUnavailable(f"{folder}: {reason}") from None
            # One missing/broken config: its rows are unknown, so it counts as one failed item.
            yield config, {_CONFIG_ERROR: f"config {config} unavailable: {reason}"}
            continue
        for row in _arrow_rows(ds):
            yield config, row


def locate_data(spec: BenchmarkSpec, data: str | None) -> Path:
    """The local folder/file for a benchmark: ``--data``, its default local folder, or a Hub snapshot."""
    if data:
        path = Path(data).expanduser()
        if not path.exists():
            raise DatasetUnavailable(f"--data {spec.name}={data}: no such file or folder")
        return path
    if spec.default_local and Path(spec.default_local).exists():
        return Path(spec.default_local)
    if spec.hub_id is None:
        raise DatasetUnavailable(
            f"{spec.name}: no Hub copy is registered; pass --data {spec.name}=PATH ({spec.verified})"
        )
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec.hub_id, repo_type="dataset"))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = f" or build it with `make demo` (./{spec.default_local})" if spec.default_local else ""
        raise DatasetUnavailable(
            f"{spec.name}: cannot get {spec.hub_id} ({reason}); pass --data {spec.name}=PATH{hint}"
        ) from None


class VideoIndex:
    """Finds videos by name under a set of roots; zip/tar archives in a root are extracted once."""

    def __init__(self, roots: list[Path], extract_dir: Path | None = None) -> None:
        self.roots = [Path(r) for r in roots if r and Path(r).exists()]
        self.extract_dir = extract_dir
        self._by_name: dict[str, str] | None = None

    def _extract_archives(self) -> list[Path]:
        out: list[Path] = []
        if self.extract_dir is None:
            return out
        for root in self.roots:
            if not root.is_dir():
                continue
            for archive in sorted(root.rglob("*")):
                name = archive.name.lower()
                if not (
                    name.endswith(".zip")
                    or name.endswith(".tar")
                    or name.endswith(".tar.gz")
                    or name.endswith(".tgz")
                ):
                    continue
                target = self.extract_dir / hashlib.sha256(str(archive.resolve()).encode()).hexdigest()[:16]
                marker = target / ".extracted"
                if not marker.exists():
                    target.mkdir(parents=True, exist_ok=True)
                    try:
                        if name.endswith(".zip"):
                            with zipfile.ZipFile(archive) as zf:
                                zf.extractall(target)
                        else:
                            with tarfile.open(archive) as tf:
                                tf.extractall(target, filter="data")
                        marker.write_text(str(archive))
                    except (zipfile.BadZipFile, tarfile.TarError, OSError):
                        continue
                out.append(target)
        return out

    def _build(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for root in [*self.roots, *self._extract_archives()]:
            for dirpath, _dirs, files in os.walk(root):
                for f in files:
                    if f.endswith(VIDEO_EXTENSIONS):
                        full = os.path.join(dirpath, f)
                        rel = os.path.relpath(full, root)
                        for key in (rel, f, os.path.splitext(rel)[0], os.path.splitext(f)[0]):
                            index.setdefault(key, full)
        return index

    def find(self, name: str, folders: tuple[str, ...] = ()) -> str | None:
        if self._by_name is None:
            self._by_name = self._build()
        name = name.strip().lstrip("./")
        candidates = [name, *(f"{d}/{name}" for d in folders)]
        for cand in candidates:
            for key in (cand, os.path.splitext(cand)[0]):
                if key in self._by_name:
                    return self._by_name[key]
        base = os.path.basename(name)
        for key in (base, os.path.splitext(base)[0]):
            if key in self._by_name:
                return self._by_name[key]
        return None


def load_items(
    spec: BenchmarkSpec,
    data: str | None = None,
    video_root: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    spill_dir: str | os.PathLike | None = None,
    keep_bytes: bool = True,
) -> list[Item]:
    """All items of a benchmark, sorted by id, with videos resolved (or ``error`` set).

    Embedded clips are written to ``spill_dir`` as they stream in (memory stays bounded on a 2,700-item
    VIUBench); with ``keep_bytes=False`` and no ``spill_dir`` only their content hash is kept (backends that
    never look at videos, such as ``random``).
    """
    location = locate_data(spec, data)
    adapter = ADAPTERS[spec.adapter]
    if location.is_file():
        rows: Iterator[tuple[str | None, dict]] = ((None, r) for r in _read_file_rows(location, spec))
        repo_root = location.parent
    else:
        rows = _load_folder_rows(location, spec)
        repo_root = location
    roots: list[Path] = []
    if video_root:
        roots.append(Path(video_root).expanduser())
    if spec.video_source == "repo" or (spec.video_source == "video_root" and not video_root):
        roots.append(repo_root)
    extract = Path(cache_dir) / "videos" / spec.name if cache_dir else None
    index = VideoIndex(roots, extract)
    items: list[Item] = []
    seen: set[str] = set()
    for i, (config, row) in enumerate(rows):
        try:
            if _CONFIG_ERROR in row:
                raise RowError(row[_CONFIG_ERROR])
            produced = adapter(spec, row, i, config)
        except (RowError, TypeError, ValueError, KeyError, AttributeError) as exc:
            if not isinstance(exc, RowError):
                exc = RowError(f"bad row ({type(exc).__name__}: {exc})")
            rid = row.get("id", row.get("qid", row.get("question_id"))) if isinstance(row, dict) else None
            produced = [
                Item(
                    bench=spec.name,
                    id=f"{config + '-' if config else ''}{rid if rid is not None else i}",
                    kind=spec.kind,
                    question="",
                    prompt="",
                    answer=None,
                    error=str(exc),
                )
            ]
        for item in produced:
            for ref in item.videos:
                if ref.data is not None:
                    ref.digest()
                    if spill_dir is not None:
                        spill(ref, spill_dir)
                    elif not keep_bytes:
                        ref.data = None
            if item.id in seen:
                item.id = f"{item.id}-{i}"
            seen.add(item.id)
            if item.error is None and not item.videos:
                refs, missing = [], []
                for name in item.video_names:
                    path = index.find(name, spec.video_dirs)
                    if path is None:
                        missing.append(name)
                    else:
                        refs.append(VideoRef(name=name, path=path))
                if missing:
                    where = ", ".join(str(r) for r in index.roots) or "nowhere (pass --video-root)"
                    item.error = f"video not found: {missing[0]} (looked in {where})"
                else:
                    item.videos = refs
            items.append(item)
    items.sort(key=lambda it: it.id)
    return items
