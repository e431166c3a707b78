"""Shared fixtures: small demo samples, hand-built events written to real ROOT files (the two lanes, ``pytest`` and
``pytest --runslow``, are set in the root conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write_root


@pytest.fixture
def write_events(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    """Write hand-built events to a real ROOT file (tree ``mini``) and return its path."""
    counter = iter(range(10**6))
    return lambda events: write_root(tmp_path / f"hand{next(counter)}.root", events)


@pytest.fixture
def update_baselines(request: pytest.FixtureRequest) -> bool:
    """Whether this run regenerates the figure baselines (``--update-baselines``)."""
    return bool(request.config.getoption("--update-baselines"))
