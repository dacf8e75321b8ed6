"""Which rows the dataset's preview shows, found while the units run, so the preview is drawn beside the
last units rather than after them (:class:`PreviewPicker`).

The preview shows, of each config :func:`.preview.preview_configs` picks, its first row by id: the same
rows whether they are read from the finished dataset folder (:func:`.preview.pick_rows`) or picked here.
The plan says which unit makes each sample, so the first row of a config is known as soon as the unit
making its first sample is done (and the next candidate's, when that sample could not be made).
"""

from __future__ import annotations

import json
from pathlib import Path

from .parts import UnitSummary
from .plan import Unit
from .preview import preview_configs
from .shard_tasks import PreviewJob
from .shards import config_name


class PreviewPicker:
    """Of each config the preview shows, its candidate rows in id order and the unit making each; as units
    finish (:meth:`add`), the first row that was made. ``job`` is set once every such row is known."""

    def __init__(self, units: list[Unit], folder: Path) -> None:
        self.folder = folder
        configs: dict[str, list[tuple[str, int]]] = {}
        for position, unit in enumerate(units):
            for job in unit.jobs:
                configs.setdefault(config_name(job.spec.task, job.spec.subtype), []).append(
                    (job.sample_id, position)
                )
        self.chosen = preview_configs(sorted(configs))
        self.candidates = {c: sorted(configs[c]) for c in self.chosen}
        self.units = list(units)
        self.done: dict[int, UnitSummary | None] = {}  # finished units; the summary of those that matter
        self.found: dict[str, tuple[str, str]] = {}  # config -> (part, row id)
        self.job: PreviewJob | None = None

    def add(self, position: int, summary: UnitSummary) -> bool:
        """The unit at ``position`` finished; True when this completes the preview's rows."""
        if self.job is not None:
            return False
        current = {c[0][1] for config, c in self.candidates.items() if c and config not in self.found}
        self.done[position] = summary if position in current else None
        for config in self.chosen:
            self._advance(config)
        if len(self.found) < len(self.chosen):
            return False
        order = sorted(self.chosen, key=lambda c: (c.split("-", 1)[0], c))  # task by task
        self.job = PreviewJob(tuple(self.found[c] for c in order), str(self.folder))
        return True

    def _advance(self, config: str) -> None:
        """Walk the config's candidates past those whose unit finished without making them."""
        candidates = self.candidates[config]
        while candidates and config not in self.found:
            sample, position = candidates[0]
            summary = self._summary(position)
            if summary is None or summary.source_error:
                return  # still running, or its samples are made again elsewhere (see ``moved_to``)
            if sample in summary.rows:
                self.found[config] = (str(self.units[position].part_path), sample)
            else:
                candidates.pop(0)

    def _summary(self, position: int) -> UnitSummary | None:
        """A finished unit's summary (read back from its marker if it was not kept), None while it runs."""
        if position not in self.done:
            return None
        if self.done[position] is None:
            unit = self.units[position]
            self.done[position] = UnitSummary.from_json(json.loads(unit.marker_path.read_bytes()))
        return self.done[position]

    def moved_to(self, retry: list[Unit]) -> None:
        """Samples of undecodable sources are made again by ``retry``, the units after the plan's."""
        first = len(self.units)
        self.units += retry
        where = {job.sample_id: first + k for k, unit in enumerate(retry) for job in unit.jobs}
        for config in self.chosen:
            self.candidates[config] = [(s, where.get(s, p)) for s, p in self.candidates[config]]
