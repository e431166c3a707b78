"""The test lanes (``pytest``: the quick tests; ``pytest --runslow``: all, as CI runs them), and what the docstring
examples of the packages use (pytest runs them with ``--doctest-modules``): a small demo run
and its fit, made once per session when an example first asks, and for the examples that write files (``results/``,
``demo/``, ``plots/``) a fresh working folder. The others run in the repository, whose files they may read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def demo_fileset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo (5% of the default simulated events), shared by the tests and the examples of a session."""
    from analysis.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("demo") / "samples", scale=0.05, seed=7)


@pytest.fixture(scope="session")
def _examples(demo_fileset: Path) -> dict[str, Any]:
    from analysis.fileset import load_fileset, roles
    from analysis.runner import run_fileset
    from fitting import Model, Templates, analyse
    from processors import HZZ4lProcessor, mass_histogram

    fileset = load_fileset(demo_fileset)
    processor = HZZ4lProcessor()
    result = run_fileset(fileset, processor, status=False)
    templates = Templates.from_hist(mass_histogram(result.output["mass"]), roles(fileset))
    return {
        "fileset": fileset,
        "processor": processor,
        "result": result,
        "output": result.output,
        "roles": roles(fileset),
        "model": Model(templates, "poisson"),
        "report": analyse(templates, gof_toys=200, coverage_toys=20, coverage_points=3),
    }


#: The modules whose examples write files.
WRITERS = ("analysis.outputs", "analysis.demo", "analysis.plots", "analysis.style", "fitting.plots", "analysis.report",
           "analysis.cache", "fitting.document", "analysis.render")  # fmt: skip
#: The examples that start processes (a Dask cluster, plot workers): run with ``--runslow``, as the slow tests.
SLOW_EXAMPLES = ("analysis.runner.local_cluster", "analysis.render")


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
    """The two lanes: without ``--runslow``, skip the tests marked ``slow`` (and ``dask``, which start clusters)
    and the :data:`SLOW_EXAMPLES`."""
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name.startswith(SLOW_EXAMPLES):
            item.add_marker(pytest.mark.slow)
        if not config.getoption("--runslow") and ("slow" in item.keywords or "dask" in item.keywords):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _server() -> Iterator[str]:
    """The URL of a real HTTP server (byte ranges, ETag) of the real files in tests/data/atlas."""
    from tests.http_server import serving

    with serving(Path(__file__).parent / "tests/data/atlas") as (url, _):
        yield f"{url}/ok"  # the server's path for plain serving


@pytest.fixture(autouse=True)
def _doctest_setup(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not isinstance(request.node, pytest.DoctestItem):
        return
    if request.node.dtest.name.startswith(WRITERS):
        monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    names = request.node.dtest.globs  # a module's own names win (analysis.fileset.roles is a function)
    names.update({k: v for k, v in request.getfixturevalue("_examples").items() if k not in names})
    if request.node.dtest.name.startswith("analysis.cache"):
        names["server"] = request.getfixturevalue("_server")
