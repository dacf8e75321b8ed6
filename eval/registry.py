"""The benchmark registry, as data: where each benchmark lives, how its rows become items, and how it is scored.

Every entry says which Hub dataset and split its authors (or lmms-eval) publish, the adapter that maps its
official fields to one :class:`~videossr.eval.items.Item` schema (id, videos, question, options, answer,
kind), where its videos come from, its prompt, its parser and its metrics, plus the paper's protocol notes
(SPEC 7.2). ``verified`` says what was checked against the publisher's files offline and what was not.

Video sources:

* ``embedded`` - the rows carry the mp4 bytes (VIUBench);
* ``repo`` - the dataset repo holds the videos as files or zip/tar archives (found by name after extraction);
* ``video_root`` - the videos are not on the Hub; pass ``--video-root DIR`` (files are found by name).

Any benchmark can be pointed at a local copy (``--data BENCH=PATH``: a folder laid out like its Hub repo, or a
JSON/JSONL/CSV/parquet file) and ``--video-root`` always adds a place to look for videos.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MC_PROMPT = "{question}\nAnswer with the option letter directly."  # paper Fig. 7

GROUNDING_PROMPT = (  # paper Fig. 8 (lmms-eval style, typo "seonds" included as published)
    "Please find the visual event described by a sentence in the video, determining its starting and ending "
    "times. The format should be: 'The event happens in the start time - end time'. For example, The event "
    "'person turn a light on' happens in the 24.3 - 30.4 seonds. Now I will give you the textual sentence: "
    "{question} Please return its start time and end time."
)

# VCRBench's official default prompt (pritamqu/VCRBench, data/dataset.py), with the task goal filled in.
VCR_PROMPT = (
    "The given video consists of multiple short clips, each showing a different segment needed to complete "
    "the task: {question}. \nThese clips are randomly shuffled, and your job is to arrange them in the correct "
    "order to complete the task: {question}. \nThe clip numbers are mentioned at the beginning of each clip as "
    "Clip 1, Clip 2, and so on.\nIn order to solve this task, first, you should identify the activity that is "
    "performed in each clip, and then use your reasoning and common sense to arrange these clips to "
    "successfully complete the task.\n\nThe final output should be in this format:\n\nCorrect order: <mention "
    "the Clip numbers separated by a comma>\n"
)

VIUBENCH_PROMPT = "{question}"  # the row's own system prompt and question (SPEC 2.1-2.3)

PROMPTS = {"mc": MC_PROMPT, "grounding": GROUNDING_PROMPT, "vcr": VCR_PROMPT, "viubench": VIUBENCH_PROMPT}

GROUNDING_METRICS = ("mIoU", "R@0.3", "R@0.5", "R@0.7")

# MVBench: the 20 task configs (OpenGVLab/MVBench json/<task>.json) and the folder under video/ holding their
# clips, as published in the dataset card and used by lmms-eval.
MVBENCH_TASKS: dict[str, str] = {
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
    name: str
    title: str
    domain: str
    hub_id: str | None
    split: str
    adapter: str
    kind: str  # mc | grounding | viubench | order
    prompt: str  # key of PROMPTS
    metrics: tuple[str, ...]
    primary: str
    video_source: str  # embedded | repo | video_root
    configs: tuple[str | None, ...] = (None,)
    data_files: str | None = None  # a file pattern inside the repo, for repos without a datasets layout
    default_local: str | None = None  # a local folder tried before the Hub (VIUBench: ./viubench)
    video_dirs: tuple[str, ...] = ()  # sub-folders of the video source to look in first
    sampling: str = "fps"  # fps: fps 2 capped at --frames; all: every frame of the clip (VIUBench)
    default_frames: int = 32
    max_new_tokens: int = 128
    protocol: str = ""
    verified: str = ""
    version: str = "1.0"
    extra: dict = field(default_factory=dict)
    revision: str = "main"  # the Hub revision of ``hub_id`` the adapter is written for


def _mc(
    name: str, title: str, domain: str, hub_id: str | None, split: str, adapter: str, **kw
) -> BenchmarkSpec:
    return BenchmarkSpec(
        name=name,
        title=title,
        domain=domain,
        hub_id=hub_id,
        split=split,
        adapter=adapter,
        kind="mc",
        prompt="mc",
        metrics=kw.pop("metrics", ("accuracy",)),
        primary=kw.pop("primary", "accuracy"),
        video_source=kw.pop("video_source", "repo"),
        max_new_tokens=kw.pop("max_new_tokens", 16),
        **kw,
    )


def _tg(name: str, title: str, hub_id: str | None, split: str, adapter: str, **kw) -> BenchmarkSpec:
    return BenchmarkSpec(
        name=name,
        title=title,
        domain="Temporal Grounding",
        hub_id=hub_id,
        split=split,
        adapter=adapter,
        kind="grounding",
        prompt="grounding",
        metrics=GROUNDING_METRICS,
        primary="mIoU",
        video_source=kw.pop("video_source", "video_root"),
        max_new_tokens=64,
        **kw,
    )


BENCHMARKS: dict[str, BenchmarkSpec] = {
    spec.name: spec
    for spec in [
        BenchmarkSpec(
            name="viubench",
            title="VIUBench",
            domain="Video Intrinsic Understanding",
            hub_id="yhx12/VIUBench",
            split="train",
            adapter="viubench",
            kind="viubench",
            prompt="viubench",
            metrics=("overall", *VIUBENCH_SUBTYPES, *VIUBENCH_TASKS),
            primary="overall",
            video_source="embedded",
            configs=(None,),  # the default config holds every subtype
            default_local="viubench",
            sampling="all",
            default_frames=48,
            max_new_tokens=64,
            protocol=(
                "48 frames (every frame of each clip), <=512x512 px per frame; grounding = IoU, counting = "
                "per-shape exact match averaged over the 3 shapes, jigsaw = exact permutation; per subtype, "
                "task averages = mean of their subtypes, Overall = mean of the 9 subtype scores (SPEC 4)."
            ),
            verified="this project's layout (build/repo.py); the Hub copy yhx12/VIUBench is assumed to match.",
        ),
        _mc(
            "mvbench",
            "MVBench",
            "General Video QA",
            "OpenGVLab/MVBench",
            "train",
            "mvbench",
            configs=tuple(MVBENCH_TASKS),
            video_dirs=("video",),
            protocol="20 tasks, accuracy over all items; answers are option texts mapped to letters.",
            verified="configs, fields (video, question, candidates, answer) and video folders as lmms-eval 0.7.",
        ),
        _mc(
            "tempcompass",
            "TempCompass",
            "General Video QA",
            "lmms-lab/TempCompass",
            "test",
            "tempcompass",
            configs=("multi-choice",),
            protocol="the multi-choice config; the question text already lists the options.",
            verified="fields (video_id, question, answer, dim) as lmms-eval 0.7 (which reads lmms-eval/TempCompass).",
        ),
        _mc(
            "aotbench",
            "AoTBench",
            "General Video QA",
            "sherylxue/AoTBench",
            "test",
            "generic_mc",
            protocol="arrow-of-time multiple-choice accuracy.",
            verified="NOT verified offline: Hub id and field names (video, question, options, answer) are a guess.",
        ),
        BenchmarkSpec(
            name="vinoground",
            title="VinoGround",
            domain="General Video QA",
            hub_id="HanSolo9682/Vinoground",
            split="train",
            adapter="vinoground",
            kind="mc",
            prompt="mc",
            metrics=("text_score", "accuracy"),
            primary="text_score",
            video_source="repo",
            data_files="vinoground.csv",
            video_dirs=("vinoground_videos",),
            max_new_tokens=16,
            protocol=(
                "text score: each pair (positive and negative video) counts only if both videos pick their own "
                "caption out of the two; accuracy is per video."
            ),
            verified="repo id and the text-score rule as lmms-eval 0.7; csv columns (index, major, minor, "
            "pos_vid, pos_cap, neg_vid, neg_cap) NOT verified offline.",
        ),
        _mc(
            "videomme",
            "Video-MME",
            "Long Video QA",
            "lmms-lab/Video-MME",
            "test",
            "videomme",
            video_dirs=("data",),
            metrics=("accuracy", "accuracy_short", "accuracy_medium", "accuracy_long"),
            extra={"group_by": "duration"},
            protocol="without subtitles; accuracy over all 2,700 questions, and per duration (the paper's "
            "'V-MME Long' is accuracy_long).",
            verified="fields (videoID, question, options, answer, duration, task_type) as lmms-eval 0.7.",
        ),
        _mc(
            "lvbench",
            "LVBench",
            "Long Video QA",
            "lmms-eval/LVBench",
            "train",
            "lvbench",
            protocol="accuracy.",
            verified="repo/split and fields (video_path, question, options?, answer) as lmms-eval 0.7.",
        ),
        _mc(
            "longvideobench",
            "LongVideoBench",
            "Long Video QA",
            "longvideobench/LongVideoBench",
            "validation",
            "longvideobench",
            video_dirs=("videos",),
            protocol="val set, no subtitles (video only).",
            verified="fields (id, video_path, question, option0..4, correct_choice) as lmms-eval 0.7; the videos "
            "come as split tar parts: extract them and pass --video-root.",
        ),
        _mc(
            "cgbench",
            "CG-Bench",
            "Long Video QA",
            "CG-Bench/CG-Bench",
            "train",
            "cgbench",
            configs=("cg-bench-mini",),
            protocol="the 3k subset (cg-bench-mini config), multiple choice.",
            verified="repo/config/fields (qid, video_uid, question, choices, right_answer) as lmms-eval 0.7; that "
            "cg-bench-mini is the paper's '3k subset' is an inference.",
        ),
        _tg(
            "qvhighlights",
            "QVHighlights",
            None,
            "val",
            "qvhighlights",
            protocol="val; one predicted interval scored against the best-matching relevant window; mIoU and R@k.",
            verified="official release jsonl fields (qid, query, vid, duration, relevant_windows); no Hub copy with "
            "the original annotations was confirmed: pass --data qvhighlights=highlight_val_release.jsonl.",
        ),
        _tg(
            "activitynet",
            "ActivityNet Captions",
            None,
            "val",
            "anet_captions",
            protocol="val_2 (or val_1) grounding: each (video, sentence, timestamp) is one item; mIoU and R@k.",
            verified="official json layout {video_id: {duration, timestamps, sentences}}; no Hub copy confirmed: "
            "pass --data activitynet=val_2.json --video-root DIR.",
        ),
        _tg(
            "charades",
            "Charades-STA",
            "lmms-eval/charades_sta",
            "test",
            "charades",
            video_dirs=("Charades_v1_480",),
            protocol="test; mIoU and R@k.",
            verified="repo/split and fields (video, caption, timestamp) as lmms-eval 0.7.",
        ),
        _tg(
            "tacos",
            "TACoS",
            None,
            "test",
            "anet_captions",
            protocol="test; same json layout as ActivityNet Captions (2D-TAN release); mIoU and R@k.",
            verified="NOT verified offline: pass --data tacos=test.json --video-root DIR.",
        ),
        _mc(
            "videommmu",
            "VideoMMMU",
            "Complex Reasoning",
            "lmms-lab/VideoMMMU",
            "test",
            "videommmu",
            configs=("Perception", "Comprehension", "Adaptation"),
            protocol="multiple-choice subset (question_type == 'multiple-choice') of the three tracks.",
            verified="configs and fields (id, question, options, answer, question_type) as lmms-eval 0.7.",
        ),
        _mc(
            "videott",
            "Video-TT",
            "Complex Reasoning",
            "lmms-lab/video-tt",
            "test",
            "videott",
            video_dirs=("Benchmark-AllVideos-LQ",),
            protocol="multiple-choice subset (rows whose options are listed in question_prompt).",
            verified="fields (video_id, question, question_prompt, answer, capability) as lmms-eval 0.7 "
            "(which reads lmms-eval/video-tt).",
        ),
        BenchmarkSpec(
            name="vcrbench",
            title="VCRBench",
            domain="Complex Reasoning",
            hub_id="pritamqu/VCRBench",
            split="train",
            adapter="vcrbench",
            kind="order",
            prompt="vcr",
            metrics=("accuracy", "step_accuracy"),
            primary="accuracy",
            video_source="repo",
            data_files="data.json",
            video_dirs=("videos",),
            max_new_tokens=256,
            protocol="official prompt; Acc = the whole order right; Step accuracy = positions right (SPEC 7.2).",
            verified="fields (qid, goal, video_file, ground_truth 0-based) and metrics from the official code; "
            "the question file's name inside the Hub repo (data.json) NOT verified.",
        ),
        _mc(
            "cvbench",
            "CVBench",
            "Complex Reasoning",
            "Dongyh35/CVBench",
            "test",
            "cvbench",
            protocol="several videos per question (video_1..video_4), each sampled with --frames frames.",
            verified="repo and fields (id, task_type, video_1..4, question, options, answer) from its card.",
        ),
    ]
}

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
