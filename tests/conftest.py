"""Shared fixtures: ``hub``, a Hub-compatible endpoint on 127.0.0.1 (tests/hub_endpoint.py), and the
corpora and datasets several test files build on, each made once per test session (treat them as
read-only: copy one before changing it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_endpoint import HubEndpoint


@pytest.fixture
def hub() -> Iterator[HubEndpoint]:
    """A fresh endpoint per test; its user ``ns`` (token ``hub.token``) owns the ``ns`` namespace."""
    with HubEndpoint(users={"ns": ["org"], "other": []}) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 8 s sources (``a``, ``b``): enough for a few samples of every task, quick to build."""
    from _build_helpers import mini_corpus

    return mini_corpus(tmp_path_factory.mktemp("mini-corpus"))


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 6 s sources in two folders (``cooking/``, ``sports/``) of different sizes and content."""
    from _build_helpers import make_corpus

    return make_corpus(tmp_path_factory.mktemp("small-corpus"))


@pytest.fixture(scope="session")
def mini_builds(mini_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two builds of ``videossr-30k`` scaled to 6 samples from ``mini_corpus``: ``old`` (seed 1) and
    ``new`` (seed 2), each the dataset folder."""
    from _build_helpers import MINI_BUILD, build_mini

    base = tmp_path_factory.mktemp("mini-builds")
    for seed, name in ((1, "old"), (2, "new")):
        build_mini(mini_corpus, base / name, seed)
    return {"old": base / "old" / MINI_BUILD, "new": base / "new" / MINI_BUILD}


@pytest.fixture(scope="session")
def verify_repos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The two small valid dataset folders of the verify tests: ``main`` and a disjoint ``other``."""
    from _verify_helpers import MAIN_ROWS, OTHER_ROWS, write_repo

    base = tmp_path_factory.mktemp("verify-clean")
    main = write_repo(base / "videossr-mini", MAIN_ROWS, "videossr-mini")
    other = write_repo(base / "viubench-mini", OTHER_ROWS, "viubench-mini", seed=1)
    return main, other
