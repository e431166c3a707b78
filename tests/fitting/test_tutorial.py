"""``--method tutorial`` equals a loop-for-loop port of the tutorial, on several histogram sets."""

from __future__ import annotations

import numpy as np
import pytest

from fitting import tutorial
from fitting.fit import Model
from fitting.statistics import chi2
from fitting.toys import draw, goodness_of_fit_toys
from tests import tutorial_loops as loops
from tests.fitting.sets import SETS


@pytest.fixture(scope="module", params=list(SETS))
def case(request):
    templates = SETS[request.param]()
    model = Model(templates, "pearson")
    return model, (templates.data, templates.signal, templates.background)


def test_one_parameter_scans(case):
    model, hists = case
    for parameter, port in (("s_s", loops.fit_s_s), ("s_b", loops.fit_s_b)):
        best, error, chi2, ndf = port(*hists)
        fit = tutorial.scan_1d(model, parameter)
        assert fit.interval.value == best
        assert fit.interval.err_low == fit.interval.err_high == pytest.approx(error, rel=1e-9)
        assert fit.chi2 == pytest.approx(chi2, rel=1e-12)
        assert fit.ndf == ndf


def test_two_parameter_scan(case):
    model, hists = case
    port = loops.fit_2d(*hists)
    scan = tutorial.scan_2d(model)
    assert scan.cell == tuple(port["index"])
    assert (scan.s_s.value, scan.s_s.err_low, scan.s_s.err_high) == pytest.approx(port["s_s"], rel=1e-12)
    assert (scan.s_b.value, scan.s_b.err_low, scan.s_b.err_high) == pytest.approx(port["s_b"], rel=1e-12)
    assert scan.chi2 == pytest.approx(port["chi2"], rel=1e-12)
    assert scan.ndf == port["ndf"]


def test_goodness_of_fit_toys(case):
    model, hists = case
    scan = tutorial.scan_2d(model)
    best = np.array([scan.s_s.value, scan.s_b.value])
    means = model.templates.predict(*best)
    toys_port, chi2_data, _ = loops.goodness_of_fit(hists[0], means, 300, len(means), np.random.default_rng(11))
    toys = goodness_of_fit_toys(model, best, 300, np.random.default_rng(11), kind="gaussian", refit=False).values
    np.testing.assert_allclose(toys, toys_port, rtol=1e-12)
    assert scan.chi2 == pytest.approx(chi2_data, rel=1e-12)


@pytest.mark.slow
def test_coverage(case):
    model, hists = case
    scan = tutorial.scan_2d(model)
    means = model.templates.predict(scan.s_s.value, scan.s_b.value)
    d_values = np.array([1.0, 2.3, 4.0])
    port = loops.coverage(hists[1], hists[2], means, scan.cell, d_values, 6, np.random.default_rng(5))
    ours = tutorial.coverage_grid(model, scan.cell, d_values, 6, np.random.default_rng(5))
    np.testing.assert_array_equal(ours, port)


@pytest.mark.slow
@pytest.mark.parametrize("statistic", ["neyman", "poisson"])
def test_coverage_with_mc_stat_equals_the_full_grid_scan(statistic):
    # these statistics do not split into matrix products with mc_stat: most toys are decided by bounds, not the grid
    model = Model(SETS["pseudo1"](), statistic, mc_stat=True)
    scan = tutorial.scan_2d(model)
    i, j = scan.cell
    truth = np.array([tutorial.GRID_2D["s_s"][i], tutorial.GRID_2D["s_b"][j]])
    d_values = np.array([1.0, 2.3, 4.0])
    ours = tutorial.coverage_grid(model, scan.cell, d_values, 60, np.random.default_rng(5))
    rng, expected = np.random.default_rng(5), []
    for d in d_values:
        toys, aux = draw(model, truth, 60, rng, "gaussian")
        s_s, s_b = tutorial.GRID_2D["s_s"], tutorial.GRID_2D["s_b"]
        nu = model.templates.predict(s_s[:, None], s_b[None, :])  # (100, 100, K), toy by toy below
        grid = np.array([chi2(statistic, toy, nu, model.templates.r2, a) for toy, a in zip(toys, aux, strict=True)])
        expected.append(np.mean(grid[:, i, j] - grid.reshape(len(toys), -1).min(axis=1) <= d))
    np.testing.assert_array_equal(ours, expected)
    assert 0 < ours[0] < ours[-1] < 1


def test_fit_table_says_when_the_tutorial_sits_on_its_grid_edge():
    """Issue 13: the tutorial's grid starts at s_s = 1, so a deficit's best fit is the grid's edge, not a minimum."""
    from analysis.cli import fit_table
    from fitting.analysis import analyse
    from tests.fitting.sets import deficit, published

    on_edge = fit_table(analyse(deficit(), "pearson", method="tutorial", gof_toys=20, coverage_toys=5).document())
    assert "grid edge      s_s alone: 1 is the lower edge of the tutorial's grid" in on_edge
    inside = fit_table(analyse(published(), "pearson", method="profile", gof_toys=20, coverage_toys=5).document())
    assert "grid edge" not in inside
