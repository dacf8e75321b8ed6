"""Training without a stored dataset: samples generated on demand from raw videos.

``SampleStream`` is a dataset of ``length`` positions whose row ``p`` is drawn when it is asked for, from the
sources ``build/run.py`` would give the training recipe, with the build's own plans, draws, re-draws and
fallbacks (:mod:`.generate`). The rows have the published schema's fields, with clips as decoded frames or as
the build's mp4. Typical use::

    from videossr.build.recipes import load_recipe
    from videossr.stream import DrawSettings, SampleStream, open_corpus

    recipe = load_recipe("videossr-30k")
    corpus = open_corpus(["/data/videos"], recipe, load_recipe("viubench"))  # hold VIUBench's videos out
    stream = SampleStream(corpus, DrawSettings(recipe, seed=0))
    row = stream[123]          # the same row in every process, for the same sources, recipe and seed

``python train/grpo.py --dataset stream:/data/videos`` trains on one (docs/training.md, "Training without a
stored dataset"); :mod:`.adaptive` moves each task's difficulty (:mod:`.difficulty`) to keep GRPO's groups
informative, and :mod:`.export` writes the rows a run saw as a dataset folder.
"""

from .adaptive import AdaptiveController, AdaptiveSettings, Group
from .corpus import Corpus, CorpusError, open_corpus
from .difficulty import BOUNDS, Levels, spec_at
from .export import ExportError, SeenRow, export_rows
from .generate import CLIP_FORMS, Draw, SampleStream, StreamError
from .positions import DrawSettings
from .schedule import LAG, LevelSchedule

__all__ = [
    "BOUNDS",
    "CLIP_FORMS",
    "LAG",
    "AdaptiveController",
    "AdaptiveSettings",
    "Corpus",
    "CorpusError",
    "Draw",
    "DrawSettings",
    "ExportError",
    "Group",
    "LevelSchedule",
    "Levels",
    "SampleStream",
    "SeenRow",
    "StreamError",
    "export_rows",
    "open_corpus",
    "spec_at",
]
