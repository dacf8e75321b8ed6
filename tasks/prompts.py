"""The paper's exact prompts (its Appendix, Fig. 9-11).

The perturbation descriptions live with their perturbations in :mod:`videossr.tasks.perturbations`.
"""

from __future__ import annotations

SYSTEM_PROMPT = "Based on this video, provide the answer directly."

VIDEO_TOKEN = "<video>"

GROUNDING_TEMPLATE = (
    "In a segment of this video, {description}. Your task is to identify the precise time interval of this "
    "change. Please only provide the start and end times in seconds, formatted as <start_time>-<end_time> "
    "(e.g., '14.5-26.2')."
)

COUNTING_QUESTION = (
    "Count the number of circles, squares, and triangles that appear in this video. Be aware that the shapes "
    "can appear in any color and at any angle of rotation. They may be present on one or multiple frames, "
    "and any given frame can contain more than one shape. Provide the answer as three comma-separated "
    "numbers in the format: circles,squares,triangles. For example, if you see 3 circles, 1 square, and 4 "
    "triangles, your answer should be '3,1,4'."
)

# The paper's two jigsaw prompts, verbatim. Other clip counts use the generic template below,
# which follows the same wording with an example built the same way.
_JIGSAW_6 = (
    "This video is presented as 6 separate clips, which are in a shuffled order. Your task is to determine "
    "the correct chronological sequence. Please output a six-digit number that specifies the order in which "
    "to play the clips you are seeing (labeled 1 through 6 by their position). For example, if you decide "
    "that the clip at position 3 of this video is the true beginning (the 1st clip of the original video), "
    "the clip at position 4 is the 2nd part, the clip at position 1 is the 3rd part, the clip at position 5 "
    "is the 4th part, the clip at position 6 is the 5th part, and finally the clip at position 2 is the 6th "
    "part, then your answer should be '341562'."
)
_JIGSAW_8 = (
    "This video is presented as 8 separate clips, which are in a shuffled order. Your task is to determine "
    "the correct chronological sequence. Please output an eight-digit number that specifies the order in "
    "which to play the clips you are seeing (labeled 1 through 8 by their position). For example, if you "
    "decide that the clip at position 5 of this video is the true beginning (the 1st clip of the original "
    "video), the clip at position 1 is the 2nd part, the clip at position 8 is the 3rd part, the clip at "
    "position 2 is the 4th part, the clip at position 7 is the 5th part, the clip at position 4 is the 6th "
    "part, the clip at position 6 is the 7th part, and finally the clip at position 3 is the 8th part, then "
    "your answer should be '51827463'."
)

_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def _ordinal(k: int) -> str:
    return _ORDINALS.get(k, f"{k}th")


def grounding_question(description: str) -> str:
    """The user text of an anomaly-grounding sample (without the leading ``<video>`` line)."""
    return GROUNDING_TEMPLATE.format(description=description)


def jigsaw_instruction(num_clips: int) -> str:
    """The jigsaw instruction for ``num_clips`` clips: the paper's text for 6 and 8, the same wording
    otherwise."""
    if num_clips == 6:
        return _JIGSAW_6
    if num_clips == 8:
        return _JIGSAW_8
    if not 2 <= num_clips <= 9:
        raise ValueError(f"jigsaw supports 2..9 clips (one digit per clip), got {num_clips}")
    # A fixed example order, built like the paper's: rotate 1..n into a valid, non-identity permutation.
    example = [((i + num_clips // 2) % num_clips) + 1 for i in range(num_clips)]
    parts = [f"the clip at position {pos} is the {_ordinal(k + 1)} part" for k, pos in enumerate(example)]
    parts[0] = (
        f"the clip at position {example[0]} of this video is the true beginning "
        "(the 1st clip of the original video)"
    )
    sequence = ", ".join(parts[:-1]) + f", and finally {parts[-1]}"
    digits = _NUMBER_WORDS[num_clips]
    article = "an" if digits[0] in "aeiou" else "a"
    return (
        f"This video is presented as {num_clips} separate clips, which are in a shuffled order. "
        f"Your task is to determine the correct chronological sequence. Please output {article} "
        f"{digits}-digit number that specifies the order in which to play the clips you are seeing "
        f"(labeled 1 through {num_clips} by their position). For example, if you decide that {sequence}, "
        f"then your answer should be '{''.join(map(str, example))}'."
    )


def single_video_question(text: str) -> str:
    """User text for a one-video sample: the ``<video>`` placeholder, then the question."""
    return f"{VIDEO_TOKEN}\n{text}"


def jigsaw_question(num_clips: int) -> str:
    """User text for a jigsaw sample: one ``Clip i: <video>`` line per clip, then the instruction."""
    lines = [f"Clip {i + 1}: {VIDEO_TOKEN}" for i in range(num_clips)]
    return "\n".join([*lines, jigsaw_instruction(num_clips)])
