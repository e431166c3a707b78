"""What the docstring examples of the packages use (pytest runs them with ``--doctest-modules``): a small demo run
and its fit, made once per session when an example first asks, and for the examples that write files (``results/``,
``demo/``, ``plots/``) a fresh working folder. The others run in the repository, whose files they may read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def _examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from analysis.demo import generate_demo
    from analysis.fileset import load_fileset, roles
    from analysis.runner import run_fileset
    from fitting import Model, Templates, analyse
    from processors import HZZ4lProcessor, mass_histogram

    fileset = load_fileset(generate_demo(tmp_path_factory.mktemp("examples") / "demo", scale=0.05, seed=7))
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
WRITERS = ("analysis.outputs", "analysis.demo", "analysis.plots", "analysis.style", "fitting.plots")


@pytest.fixture(autouse=True)
def _doctest_setup(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not isinstance(request.node, pytest.DoctestItem):
        return
    if request.node.dtest.name.startswith(WRITERS):
        monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    names = request.node.dtest.globs  # a module's own names win (analysis.fileset.roles is a function)
    names.update({k: v for k, v in request.getfixturevalue("_examples").items() if k not in names})
