"""The curves and the map the fit's figures draw (fitting.scans), computed with the fit: the fixed and profiled
Delta chi^2 of each parameter against the statistic written out here and minimised by iminuit and scipy, the tutorial's
grid points, and the Delta chi^2 map against the same statistic point by point, covering far more than the 99.7%
region, blank (inf) exactly outside the physical region."""

from __future__ import annotations

import numpy as np
import pytest
from iminuit import Minuit
from scipy import optimize, special

from fitting.analysis import analyse
from fitting.fit import Model
from fitting.scans import MAP_LEVEL, scan, scan_map
from fitting.templates import Templates
from fitting.tutorial import GRID_1D
from tests.fitting.sets import deficit, published, zero_background

STATISTICS = ("poisson", "pearson", "neyman")


def statistic(name: str, t: Templates, s_s: float, s_b: float) -> float:
    """The statistic at one point, written out from its definition (no code of fitting.statistics); inf where a bin
    is predicted negative, or empty with data (Poisson, Pearson)."""
    n, nu = t.data, s_s * t.signal + s_b * t.background
    if np.any(nu < 0):
        return np.inf
    if name == "neyman":
        return float(np.sum((n - nu) ** 2 / np.maximum(n, 1.0)))
    if np.any((nu == 0) & (n > 0)):
        return np.inf
    if name == "pearson":
        return float(np.sum(np.where(nu > 0, (n - nu) ** 2 / np.where(nu > 0, nu, 1.0), 0.0)))
    return float(2 * np.sum(nu - n + special.xlogy(n, n) - special.xlogy(n, nu)))  # Baker-Cousins


def lowest_s_b(t: Templates, s_s: float) -> float:
    """The smallest s_b with every bin predicted >= 0 at ``s_s`` (every background bin is positive here)."""
    return float(np.max(-s_s * t.signal / t.background))


def global_minimum(name: str, t: Templates) -> float:
    m = Minuit(lambda s_s, s_b: statistic(name, t, s_s, s_b), s_s=1.0, s_b=1.0)
    m.errordef, m.strategy, m.tol = Minuit.LEAST_SQUARES, 2, 1e-10
    m.migrad()
    assert m.valid
    return float(m.fval)


def profile_minimum(name: str, t: Templates, s_s: float) -> float:
    """min over s_b of the statistic at ``s_s``, by scipy's bounded Brent search inside the physical region."""
    low = lowest_s_b(t, s_s)
    found = optimize.minimize_scalar(
        lambda s_b: statistic(name, t, s_s, s_b), bounds=(low, low + 10.0), method="bounded",
        options={"xatol": 1e-12},
    )  # fmt: skip
    return float(found.fun)


@pytest.mark.parametrize("name", STATISTICS)
def test_scans_of_s_s_equal_an_independent_minimisation(name):
    t = published()
    model = Model(t, name)
    best, alone = model.fit2d(), model.fit1d("s_s")
    curves = scan(model, "s_s", alone, best.s_s, best.chi2)
    minimum = global_minimum(name, t)
    fixed_minimum = optimize.minimize_scalar(
        lambda s_s: statistic(name, t, s_s, 1.0), bounds=(-1.0, 5.0), method="bounded", options={"xatol": 1e-12}
    ).fun
    for i in np.linspace(5, len(curves.values) - 6, 7).astype(int):
        x = float(curves.values[i])
        assert curves.profiled[i] == pytest.approx(profile_minimum(name, t, x) - minimum, abs=2e-6), x
        assert curves.fixed[i] == pytest.approx(statistic(name, t, x, 1.0) - fixed_minimum, abs=1e-8), x


def test_scans_span_both_intervals_and_cross_one_at_their_ends():
    model = Model(published(), "poisson")
    best = model.fit2d()
    for name in ("s_s", "s_b"):
        alone = model.fit1d(name)
        two = getattr(best, name)
        curves = scan(model, name, alone, two, best.chi2)
        assert np.all(np.diff(curves.values) > 0) and len(curves.grid) == len(curves.grid_fixed) == 0
        for interval, curve in ((alone.interval, curves.fixed), (two, curves.profiled)):
            low, high = interval.value - interval.err_low, interval.value + interval.err_high
            assert curves.values[0] < low and curves.values[-1] > high
            assert np.interp([low, high], curves.values, curve) == pytest.approx([1.0, 1.0], abs=2e-3)
            assert np.nanmin(curve) == pytest.approx(0.0, abs=1e-3) and np.nanmin(curve) >= 0


def test_a_scan_reaching_beyond_the_physical_region_stops_at_it():
    """No background in one bin: no s_b makes s_s < 0 physical. The scan reaches below 0 before it is cut where it
    steepens: the profile there is computed without a warning (the tests turn warnings into errors), and only the
    physical part is kept."""
    model = Model(zero_background(1, s_s=1.0), "poisson")
    best = model.fit2d()
    curves = scan(model, "s_s", model.fit1d("s_s"), best.s_s, best.chi2)
    assert 0 <= curves.values[0] < best.s_s.value - best.s_s.err_low
    assert np.all(np.isfinite(curves.profiled)) and np.all(np.isfinite(curves.fixed))


def test_the_tutorials_scan_shows_its_grid_and_the_best_fit_beyond_its_edge():
    """A deficit: the tutorial's 1-D grid of s_s starts at 1, above the minimum; the scan shows the grid whole and
    reaches below it, and marks the grid points with their Delta chi^2."""
    t = deficit()
    report = analyse(t, "pearson", method="tutorial", gof_toys=20, coverage_toys=5, coverage_points=2)
    curves = report.scans["s_s"]
    grid = GRID_1D["s_s"]
    np.testing.assert_array_equal(curves.grid, grid)
    assert curves.values[0] < grid[0] - 0.2 * (grid[-1] - grid[0]) and curves.values[-1] >= grid[-1]
    chi2 = np.array([statistic("pearson", t, x, 1.0) for x in grid])
    offset = chi2 - curves.grid_fixed  # the minimum of the curve, the same for every point
    np.testing.assert_allclose(offset, offset[0], rtol=1e-12)
    assert offset[0] <= chi2.min()


@pytest.mark.parametrize("name", STATISTICS)
def test_the_map_is_the_statistic_over_a_plane_far_beyond_the_997_region(name):
    t = published()
    model = Model(t, name)
    best = model.fit2d()
    plane = scan_map(model, best)
    assert plane.delta.shape == (len(plane.s_s), len(plane.s_b))
    assert np.all(np.diff(plane.s_s) > 0) and np.all(np.diff(plane.s_b) > 0)
    minimum = global_minimum(name, t)
    rng = np.random.default_rng(5)
    for i, j in zip(rng.integers(0, len(plane.s_s), 40), rng.integers(0, len(plane.s_b), 40), strict=True):
        expected = statistic(name, t, plane.s_s[i], plane.s_b[j]) - minimum
        if np.isinf(expected):
            assert np.isinf(plane.delta[i, j])
        else:
            assert plane.delta[i, j] == pytest.approx(max(expected, 0.0), rel=1e-9, abs=1e-6)
    # everything within 99.7% lies well inside the plane; its edges are beyond it or outside the physical region
    inside = plane.delta <= MAP_LEVEL
    assert not (inside[0].any() or inside[-1].any() or inside[:, 0].any() or inside[:, -1].any())
    rows, columns = np.nonzero(inside)
    for axis, index in ((plane.s_s, rows), (plane.s_b, columns)):
        span = axis[index.max()] - axis[index.min()]
        assert axis[0] < axis[index.min()] - 5 * span and axis[-1] > axis[index.max()] + 5 * span
    assert plane.s_s[0] < 1.0 < plane.s_s[-1] and plane.s_b[0] < 1.0 < plane.s_b[-1]  # the Standard Model point


def test_the_map_is_inf_exactly_outside_the_physical_region():
    t = zero_background(1, s_s=1.0)  # the physical region: s_s >= 0, s_b >= 0
    model = Model(t, "poisson", mc_stat=True)
    best = model.fit2d()
    plane = scan_map(model, best)
    outside = (plane.s_s[:, None] < 0) | (plane.s_b[None, :] < 0)
    assert outside.any() and np.all(np.isinf(plane.delta[outside]))
    reference = model.chi2(plane.s_s[:, None], plane.s_b[None, :]) - best.chi2  # with mc_stat: the model's own
    np.testing.assert_allclose(plane.delta[~outside], np.maximum(reference[~outside], 0.0), rtol=1e-9, atol=1e-9)
