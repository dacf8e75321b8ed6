"""The benchmark registry: specs as data, adapters registered by a decorator, and the shared prompts.

Each benchmark lives in one module of :mod:`videossr.eval.benchmarks`: a :class:`BenchmarkSpec` (where the
release lives, its split and revision, metrics, protocol) and an adapter class registered with
:func:`register_benchmark`. Importing this module imports that package, so :data:`BENCHMARKS` is complete.
docs/evaluation.md has the per-benchmark table (Hub id and revision, manual downloads, metric, official
loader).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .benchmarks.base import Benchmark

MC_PROMPT = "{question}\nAnswer with the option letter directly."  # the paper's video QA prompt (Fig. 7)

# The paper's temporal grounding prompt (Fig. 8, lmms-eval's wording, typo "seonds" included as published).
GROUNDING_PROMPT = (
    "Please find the visual event described by a sentence in the video, determining its starting and ending "
    "times. The format should be: 'The event happens in the start time - end time'. For example, The event "
    "'person turn a light on' happens in the 24.3 - 30.4 seonds. Now I will give you the textual sentence: "
    "{question} Please return its start time and end time."
)

# VCRBench's official default prompt (pritamqu/VCRBench, data/dataset.py), with the task goal filled in.
VCR_PROMPT = (
    "The given video consists of multiple short clips, each showing a different segment needed to "
    "complete the task: {question}. \nThese clips are randomly shuffled, and your job is to arrange "
    "them in the correct order to complete the task: {question}. \nThe clip numbers are mentioned at "
    "the beginning of each clip as Clip 1, Clip 2, and so on.\nIn order to solve this task, first, "
    "you should identify the activity that is performed in each clip, and then use your reasoning "
    "and common sense to arrange these clips to successfully complete the task.\n\nThe final output "
    "should be in this format:\n\nCorrect order: <mention the Clip numbers separated by a comma>\n"
)

VIUBENCH_PROMPT = "{question}"  # the row's own system prompt and question
VINOGROUND_PROMPT = "{question}"  # the question of vinoground_textscore.json, options included, verbatim

PROMPTS = {
    "mc": MC_PROMPT,
    "grounding": GROUNDING_PROMPT,
    "vcr": VCR_PROMPT,
    "viubench": VIUBENCH_PROMPT,
    "vinoground": VINOGROUND_PROMPT,
}

GROUNDING_METRICS = ("mIoU", "R@0.3", "R@0.5", "R@0.7")

VIUBENCH_SUBTYPES: tuple[str, ...] = (
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
VIUBENCH_TASKS: dict[str, tuple[str, ...]] = {
    "counting": VIUBENCH_SUBTYPES[0:2],
    "grounding": VIUBENCH_SUBTYPES[2:7],
    "jigsaw": VIUBENCH_SUBTYPES[7:9],
}


@dataclass(frozen=True)
class BenchmarkSpec:
    """Where a benchmark's release lives and how it is scored (recorded in results.json's configs).

    ``data_files`` names the question file(s) inside the release (``{config}`` is replaced by each config);
    without it the folder is read as a Hub dataset (README configs). ``video_dirs`` are sub-folders tried
    first when a video is looked up by name. ``group_by`` adds ``accuracy_<value>`` per value of that item
    field (Video-MME duration, VideoMMMU track).
    """

    name: str
    title: str
    domain: str
    hub_id: str | None
    split: str
    kind: str  # mc | grounding | viubench | order
    prompt: str  # key of PROMPTS
    metrics: tuple[str, ...]
    primary: str
    video_source: str  # embedded | repo | video_root
    revision: str = "main"  # the Hub revision of ``hub_id`` the adapter is written for
    configs: tuple[str | None, ...] = (None,)
    data_files: str | None = None
    default_local: str | None = None  # a local folder tried before the Hub (VIUBench: ./viubench)
    video_dirs: tuple[str, ...] = ()
    manual: str = ""  # what must be downloaded by hand
    loader: str = ""  # the official loader the adapter follows (repository: file)
    group_by: str | None = None
    sampling: str = "fps"  # fps: fps 2 capped at --frames; all: every frame of the clip (VIUBench)
    default_frames: int = 32
    max_new_tokens: int = 128
    protocol: str = ""
    verified: str = ""
    version: str = "1.0"
    order: int = 100  # position in the paper's tables (the order of --list and "all")


def mc_spec(name: str, title: str, domain: str, hub_id: str | None, split: str, **kw) -> BenchmarkSpec:
    """A multiple-choice benchmark: accuracy, the paper's QA prompt, 16 new tokens."""
    kw.setdefault("metrics", ("accuracy",))
    kw.setdefault("primary", "accuracy")
    kw.setdefault("video_source", "repo")
    kw.setdefault("max_new_tokens", 16)
    prompt = kw.pop("prompt", "mc")
    return BenchmarkSpec(
        name=name, title=title, domain=domain, hub_id=hub_id, split=split, kind="mc", prompt=prompt, **kw
    )


def grounding_spec(name: str, title: str, hub_id: str | None, split: str, **kw) -> BenchmarkSpec:
    """A temporal grounding benchmark: mIoU and R@{0.3,0.5,0.7} of one predicted interval."""
    kw.setdefault("video_source", "video_root")
    return BenchmarkSpec(
        name=name,
        title=title,
        domain="Temporal Grounding",
        hub_id=hub_id,
        split=split,
        kind="grounding",
        prompt="grounding",
        metrics=GROUNDING_METRICS,
        primary="mIoU",
        max_new_tokens=64,
        **kw,
    )


BENCHMARKS: dict[str, BenchmarkSpec] = {}
ADAPTERS: dict[str, Benchmark] = {}

ALIASES = {
    "video-mme": "videomme",
    "video_mme": "videomme",
    "charadessta": "charades",
    "charades_sta": "charades",
    "activitynet_captions": "activitynet",
    "anet": "activitynet",
    "qvh": "qvhighlights",
    "video-tt": "videott",
    "video_tt": "videott",
    "cg-bench": "cgbench",
    "vcr": "vcrbench",
}

B = TypeVar("B", bound="type[Benchmark]")


def register_benchmark(cls: B) -> B:
    """Class decorator: registers a :class:`~videossr.eval.benchmarks.base.Benchmark` by its spec's name."""
    spec = cls.spec
    if spec.name in BENCHMARKS:
        raise ValueError(f"benchmark {spec.name!r} is already registered")
    if spec.prompt not in PROMPTS:
        raise ValueError(f"benchmark {spec.name!r}: unknown prompt {spec.prompt!r}")
    BENCHMARKS[spec.name] = spec
    ADAPTERS[spec.name] = cls()
    ordered = sorted(BENCHMARKS.values(), key=lambda s: (s.order, s.name))
    BENCHMARKS.clear()
    BENCHMARKS.update((s.name, s) for s in ordered)
    return cls


def adapter_for(name: str) -> Benchmark:
    """The registered adapter of a benchmark (a KeyError names the unknown benchmark)."""
    return ADAPTERS[name]


def resolve(names: str | list[str]) -> list[BenchmarkSpec]:
    """``"viubench,mvbench"`` or ``"all"`` -> specs; a one-line ValueError names an unknown benchmark."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise ValueError("no benchmark given; known: " + ", ".join(BENCHMARKS))
    if names == ["all"]:
        return list(BENCHMARKS.values())
    specs: list[BenchmarkSpec] = []
    for name in names:
        key = ALIASES.get(name.lower(), name.lower())
        if key not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)} (or 'all')")
        if BENCHMARKS[key] not in specs:
            specs.append(BENCHMARKS[key])
    return specs


from . import benchmarks as _benchmarks  # noqa: E402  (imports every benchmark module: they register here)

del _benchmarks
