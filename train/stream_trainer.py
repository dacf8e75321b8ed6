"""``StreamGRPOTrainer``: :class:`~videossr.train.trainer.VideoGRPOTrainer` on a stream (:mod:`.stream_data`).

Two more wrapped ``GRPOTrainer`` methods (pinned with the others in ``HOOKED_SOURCE_SHA256``):

1. ``_get_train_sampler``: TRL's ``RepeatSampler`` wrapped in :class:`~.stream_data.FirstCopySampler`, so
   that the data loader generates each row of a generation batch once.
2. ``_calculate_rewards``: after TRL has gathered every rank's rewards (one row per completion, the copies of
   a prompt next to each other), every rank also gathers its rows' position, id, task, difficulty offset and
   source, and hands both to ``group_observer`` (the adaptive difficulty controller and the record of the
   rows seen); the metrics it returns are logged with the step. Every rank sees the same groups, so every
   rank's controller takes the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accelerate.utils import gather_object

from .stream_data import REPEAT_KEY, FirstCopySampler
from .trainer import VideoGRPOTrainer

OBSERVED_COLUMNS: tuple[str, ...] = ("position", "id", "task", "offset", "source", "redrawn")
# (every completion's observed columns, every completion's reward, num_generations) -> metrics to log
GroupObserver = Callable[[list[dict[str, Any]], list[float], int], dict[str, float]]
STREAM_HOOKED_METHODS: tuple[str, ...] = ("_get_train_sampler", "_calculate_rewards")


class StreamGRPOTrainer(VideoGRPOTrainer):
    """Trains on a position-addressed dataset (``train_dataset.position_addressed``); see the module doc."""

    def __init__(
        self, *args: Any, train_dataset: Any, group_observer: GroupObserver | None = None, **kwargs: Any
    ) -> None:
        from datasets import Dataset

        if not getattr(train_dataset, "position_addressed", False):
            raise TypeError("StreamGRPOTrainer trains on a position-addressed dataset (StreamPrompts)")
        self.group_observer = group_observer
        # GRPOTrainer accepts only datasets' classes; it keeps the dataset for the data loader it makes later,
        # so it is given a one-row stand-in and the stream takes its place before any loader exists.
        stand_in = Dataset.from_dict({"prompt": [[{"role": "user", "content": ""}]]})
        super().__init__(*args, train_dataset=stand_in, **kwargs)
        self.train_dataset = train_dataset
        if self.shuffle_dataset:
            raise ValueError("a stream is sampled in position order: pass shuffle_dataset=False")

    def _get_train_sampler(self, dataset=None):
        return FirstCopySampler(super()._get_train_sampler(dataset), self.args.steps_per_generation)

    def _generate_and_score_completions(self, inputs):
        if any(REPEAT_KEY in x for x in inputs):
            raise RuntimeError(
                "the trainer generated from a repeated copy of a generation batch, which the stream does not "
                "fill (FirstCopySampler); GRPOTrainer's batch reuse changed: check train/stream_trainer.py"
            )
        return super()._generate_and_score_completions(inputs)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.group_observer is None or not self.model.training:
            return rewards_per_func
        rows = gather_object([{k: x.get(k) for k in OBSERVED_COLUMNS} for x in inputs])
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        rewards = (rewards_per_func * weights).nansum(dim=1).tolist()
        for name, value in self.group_observer(rows, rewards, self.num_generations).items():
            self._metrics["train"][name].append(value)
        return rewards_per_func
