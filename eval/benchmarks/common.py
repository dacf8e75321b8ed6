"""Building items the same way for every benchmark: option lists, answer letters, prompts, intervals."""

from __future__ import annotations

import re
from collections.abc import Sequence

from videossr.tasks.extract import letters_for

from ..items import VIDEO, Item, VideoRef
from ..registry import PROMPTS, BenchmarkSpec
from ..sources import RowError

_LABEL = re.compile(r"^\s*\(?([A-Za-z])[.):]\s*")
_LETTER = re.compile(r"^\(?([A-Z])\)?(?:[.):]|$|\s)")
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.+?)\s*$", re.MULTILINE)


def normalized(text: object) -> str:
    """Lower case, punctuation and spacing dropped: ``"Yes."`` and ``"yes"`` compare equal."""
    return re.sub(r"[^0-9a-z]+", " ", str(text).lower()).strip()


def strip_label(option: str) -> str:
    """An option without its own letter label (``"B. a cup"`` -> ``"a cup"``)."""
    return _LABEL.sub("", str(option)).strip()


def format_options(options: Sequence[str]) -> str:
    """``A. text`` lines; options that already start with their own letter are kept as they are."""
    lines = []
    for letter, opt in zip(letters_for(len(options)), options):
        text = str(opt).strip()
        lines.append(text if re.match(rf"^\(?{letter}[.):]", text) else f"{letter}. {text}".rstrip())
    return "\n".join(lines)


def options_from_text(text: str) -> list[str]:
    """Options written in a question (``A. foo`` / ``(A) foo`` lines), consecutive letters from A."""
    out: list[str] = []
    for letter, body in _OPTION_LINE.findall(text or ""):
        if ord(letter) - ord("A") == len(out):
            out.append(body)
    return out


def letter_of(answer: object, options: Sequence[str]) -> str:
    """The letter of an answer given as an index, an option's text, a letter (``B``, ``(B)``, ``B. text``),
    or an option's text up to case and punctuation (``"Yes"`` for ``"Yes."``); a RowError otherwise.

    The exact option text is tried first, so an answer such as "A man walks." is never read as letter A.
    """
    letters = letters_for(len(options))
    if isinstance(answer, int) and not isinstance(answer, bool):
        if 0 <= answer < len(options):
            return letters[answer]
        raise RowError(f"answer index {answer} out of range for {len(options)} options")
    text = str(answer).strip()
    for letter, opt in zip(letters, options):
        if text and text in (str(opt).strip(), strip_label(opt)):
            return letter
    m = _LETTER.match(text)
    if m and m.group(1) in letters:
        return m.group(1)
    hits = [
        letter for letter, opt in zip(letters, options) if normalized(strip_label(opt)) == normalized(text)
    ]
    if len(hits) == 1 and normalized(text):
        return hits[0]
    raise RowError(f"answer {answer!r} matches none of the {len(options)} options")


def option_list(value: object) -> list[str]:
    """A row's options as a list of strings (a RowError for anything else)."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise RowError(f"options must be a non-empty list, got {type(value).__name__}")
    return [str(o) if o is not None else "" for o in value]


def video_prompt(n_videos: int, text: str) -> str:
    """``<video>`` markers before the text: one plain, several labelled ``Video i:``."""
    if n_videos == 1:
        return f"{VIDEO}\n{text}"
    labels = "\n".join(f"Video {i + 1}: {VIDEO}" for i in range(n_videos))
    return f"{labels}\n{text}"


def mc_item(
    spec: BenchmarkSpec,
    *,
    item_id: object,
    question: str,
    options: Sequence[str],
    answer: object,
    videos: Sequence[str],
    body: str | None = None,
    meta: dict | None = None,
) -> Item:
    """A multiple-choice item with the paper's prompt; ``body`` replaces ``question + options`` when the
    question already lists its options. Blank options keep their letters (the answer letter stays right)."""
    if not options or not any(str(o).strip() for o in options):
        raise RowError("no options")
    letter = letter_of(answer, options)
    if not str(options[ord(letter) - ord("A")]).strip():
        raise RowError(f"answer {letter} is a blank option")
    text = body if body is not None else f"{question}\n{format_options(options)}"
    return Item(
        bench=spec.name,
        id=str(item_id),
        kind="mc",
        question=str(question),
        prompt=video_prompt(len(videos), PROMPTS[spec.prompt].format(question=text)),
        answer=letter,
        options=[str(o) for o in options],
        videos=[VideoRef(name=str(v)) for v in videos],
        meta=meta or {},
    )


def interval(value: object) -> tuple[float, float]:
    """A ``[start, end]`` pair of seconds with ``end > start >= 0`` (a RowError otherwise)."""
    if isinstance(value, str):
        value = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", value)]
    if not isinstance(value, Sequence) or len(value) != 2:
        raise RowError(f"interval {value!r} is not a [start, end] pair")
    start, end = float(value[0]), float(value[1])
    if not end > start >= 0:
        raise RowError(f"empty or negative ground-truth interval [{start}, {end}]")
    return start, end


def grounding_item(
    spec: BenchmarkSpec,
    *,
    item_id: object,
    query: str,
    windows: Sequence[object],
    video: str,
    duration: object = None,
    meta: dict | None = None,
) -> Item:
    """A temporal grounding item: the paper's prompt, one or more ground-truth windows in seconds."""
    wins = [interval(w) for w in windows]
    if not wins:
        raise RowError("no ground-truth interval")
    query = str(query).strip()
    if not query:
        raise RowError("empty query")
    return Item(
        bench=spec.name,
        id=str(item_id),
        kind="grounding",
        question=query,
        prompt=video_prompt(1, PROMPTS["grounding"].format(question=query)),
        answer=[list(w) for w in wins],
        videos=[VideoRef(name=str(video))],
        meta={"duration": float(duration) if duration not in (None, "") else None, **(meta or {})},
    )
