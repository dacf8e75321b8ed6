"""Shared fixtures: ``hub``, a Hub-compatible endpoint on 127.0.0.1 (tests/hub_endpoint.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hub_endpoint import HubEndpoint


@pytest.fixture
def hub() -> Iterator[HubEndpoint]:
    """A fresh endpoint per test; its user ``ns`` (token ``hub.token``) owns the ``ns`` namespace."""
    with HubEndpoint(users={"ns": ["org"], "other": []}) as endpoint:
        yield endpoint
