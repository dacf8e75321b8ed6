"""Positions: which sample of which plan a stream position is.

Position ``p`` is sample ``p % N`` of epoch ``p // N``, ``N`` being the recipe's sample count. Each epoch is
the plan ``build/run.py`` makes (:func:`~videossr.build.plan.plan_units`: samples dealt to sources, Swap
partners, fallback sources, seeds) for its own seed: the stream's seed for epoch 0, so that epoch 0 draws the
rows a build of the same sources, recipe and seed holds; a seed derived from it for every later epoch, so that
no epoch repeats another. A position that no draw can fill takes the same sample of a spare plan (another
derived seed: other sources, other draws).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from videossr.build.config import BuildConfig
from videossr.build.plan import SampleJob, Unit, plan_units, stable_int
from videossr.build.recipes import Recipe
from videossr.build.render import DEFAULT_CRF, DEFAULT_PRESET
from videossr.build.sources import Source

PLANS_KEPT = 4  # plans (epoch, spare) each process keeps
SEED_RANGE = 2**63


@dataclass(frozen=True)
class DrawSettings:
    """What a stream's rows depend on besides the sources and the position."""

    recipe: Recipe
    seed: int = 0
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    decode_timeout: float = 120.0


def plan_seed(seed: int, epoch: int, spare: int) -> int:
    """The build seed of one epoch's plan (``seed`` itself for epoch 0) or of one of its spare plans."""
    if epoch == 0 and spare == 0:
        return seed
    return stable_int(f"videossr-stream:{seed}:{epoch}:{spare}") % SEED_RANGE


def level_rng(seed: int, position: int) -> np.random.Generator:
    """The generator of the choices a difficulty level makes for one position (a grounding perturbation)."""
    return np.random.default_rng([seed, stable_int("videossr-stream:levels"), position])


class PositionPlan:
    """The build's plans of a recipe over a corpus, looked up by position (each process keeps a few)."""

    def __init__(self, sources: tuple[Source, ...], settings: DrawSettings) -> None:
        if not sources:
            raise ValueError("a stream needs at least one source")
        self.sources, self.settings = sources, settings
        self.epoch_size = settings.recipe.total
        if self.epoch_size < 1:
            raise ValueError(f"recipe {settings.recipe.name!r} has no samples")
        self._plans: OrderedDict[tuple[int, int], dict[int, tuple[Unit, SampleJob]]] = OrderedDict()

    def _plan(self, epoch: int, spare: int) -> dict[int, tuple[Unit, SampleJob]]:
        key = (epoch, spare)
        if key not in self._plans:
            s = self.settings
            config = BuildConfig(
                seed=plan_seed(s.seed, epoch, spare), crf=s.crf, decode_timeout=s.decode_timeout
            )
            config.preset = s.preset
            # No part is ever written: the units' folder only names where a build would keep its work.
            units = plan_units(s.recipe, list(self.sources), config, Path("stream-units") / "parts")
            self._plans[key] = {job.index: (unit, job) for unit in units for job in unit.jobs}
            while len(self._plans) > PLANS_KEPT:
                self._plans.popitem(last=False)
        self._plans.move_to_end(key)
        return self._plans[key]

    def job(self, position: int, spare: int = 0) -> tuple[Unit, SampleJob]:
        """The single-sample unit and the sample of ``position`` in its epoch's plan (or spare plan)."""
        if position < 0:
            raise IndexError(f"stream position {position} is negative")
        epoch, index = divmod(position, self.epoch_size)
        unit, job = self._plan(epoch, spare)[index]
        return replace(unit, jobs=(job,)), job
