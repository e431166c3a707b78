"""Shared fixtures (small demo samples, hand-built events written to real ROOT files) and the two lanes:
``pytest`` runs the quick tests, ``pytest --runslow`` every test (as CI does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analysis.demo import generate_demo
from tests.helpers import write_root


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow",
        action="store_true",
        help="also run the slow tests: command-line runs, servers, Dask clusters, notebooks, the browser (CI does)",
    )
    parser.addoption(
        "--update-baselines",
        action="store_true",
        help="write the figures of tests/analysis/test_figures.py as the new baselines in tests/baseline/ "
        "(look at each first) instead of comparing with them",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``--runslow``, skip the tests marked ``slow`` (and ``dask``, which start clusters)."""
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords or "dask" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def demo_fileset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo (5% of the default simulated events), shared by the whole session."""
    return generate_demo(tmp_path_factory.mktemp("demo") / "samples", scale=0.05, seed=7)


@pytest.fixture
def write_events(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    """Write hand-built events to a real ROOT file (tree ``mini``) and return its path."""
    counter = iter(range(10**6))
    return lambda events: write_root(tmp_path / f"hand{next(counter)}.root", events)


@pytest.fixture
def update_baselines(request: pytest.FixtureRequest) -> bool:
    """Whether this run regenerates the figure baselines (``--update-baselines``)."""
    return bool(request.config.getoption("--update-baselines"))
