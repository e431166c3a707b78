"""Fits at the physical boundary (a bin predicted empty): the minimum a constrained reference minimiser finds, interval
ends and contour points on their Delta chi^2 level or flagged as cut by the boundary, never an infinite statistic, a
fit.json that strict JSON parsers read, and fits that did not converge never reported as results."""

from __future__ import annotations

import numpy as np
import pytest
from iminuit import Minuit
from scipy import optimize

from fitting.analysis import analyse
from fitting.document import read_fit
from fitting.fit import CONTOUR_LEVELS, FitError, Model
from fitting.statistics import STATISTICS, chi2
from tests.fitting.sets import deficit, low_count, signal_bins_empty, zero_background
from tests.helpers import strict_json

CASES = [(statistic, mc_stat) for statistic in STATISTICS for mc_stat in (False, True)]
SETS = {
    "signal bins empty": signal_bins_empty,
    "zero-background bin": lambda: zero_background(1),
    "low-count": low_count,
    "deficit": deficit,
}


def statistic_of(model: Model, s_s: float, s_b: float) -> float:
    """The statistic at one point from the formulas of fitting.statistics, with nu checked >= 0 here."""
    t = model.templates
    nu = s_s * t.signal + s_b * t.background
    if np.any(nu < -1e-12 * (abs(s_s) * t.signal + abs(s_b) * t.background)):
        return np.inf
    return float(chi2(model.statistic, t.data, np.maximum(nu, 0.0), t.r2 if model.mc_stat else None))


def constrained_minimum(model: Model, fixed: dict[int, float] | None = None) -> tuple[np.ndarray, float]:
    """scipy's SLSQP with every bin's prediction >= 0 as constraints, from several starts (the lowest kept)."""
    t = model.templates
    fixed = fixed or {}

    def full(p):
        x = np.array(p, dtype=float)
        for k, value in fixed.items():
            x = np.insert(x, k, value) if len(x) < 2 else x
        return x

    def cost(p):
        value = statistic_of(model, *full(p))
        return value if np.isfinite(value) else 1e300

    constraints = [{"type": "ineq", "fun": lambda p: full(p)[0] * t.signal + full(p)[1] * t.background}]
    starts = [[1.0, 1.0], [0.1, 1.5], [2.0, 0.8], [0.0, 1.0]]
    best = None
    for start in starts:
        x0 = [v for k, v in enumerate(start) if k not in fixed]
        if fixed:  # make the start feasible on the line
            x0 = [max(x0[0], 2.0)]
        fit = optimize.minimize(
            cost, x0, method="SLSQP", constraints=constraints, options={"ftol": 1e-15, "maxiter": 1000}
        )
        if best is None or fit.fun < best.fun:
            best = fit
    return full(best.x), float(best.fun)


@pytest.mark.parametrize(("statistic", "mc_stat"), CASES)
def test_boundary_minimum_matches_a_constrained_reference(statistic, mc_stat):
    model = Model(signal_bins_empty(), statistic, mc_stat)
    fit = model.fit2d()
    params, value = constrained_minimum(model)
    assert fit.chi2 == pytest.approx(value, abs=1e-6)
    assert fit.chi2 <= value + 1e-9
    np.testing.assert_allclose([fit.s_s.value, fit.s_b.value], params, atol=2e-4)
    nu = model.templates.predict(fit.s_s.value, fit.s_b.value)
    assert fit.at_boundary and nu.min() == pytest.approx(0.0, abs=1e-9)  # the signal-most bin predicted empty
    assert fit.covariance is None and fit.correlation is None


@pytest.mark.parametrize("statistic", list(STATISTICS))
def test_minimum_on_s_s_zero_matches_minuit_with_limits(statistic):
    # a bin without background: the physical region is the box s_s >= 0, s_b >= 0, which Minuit's limits express
    model = Model(zero_background(1), statistic)
    fit = model.fit2d()
    m = Minuit(lambda s_s, s_b: statistic_of(model, s_s, s_b), s_s=0.5, s_b=1.0)
    m.errordef, m.strategy, m.tol = Minuit.LEAST_SQUARES, 2, 1e-8
    m.limits = [(0, None), (0, None)]
    m.migrad()
    assert m.valid
    assert fit.chi2 == pytest.approx(m.fval, abs=1e-6)
    assert fit.s_s.value == pytest.approx(m.values["s_s"], abs=1e-4)
    assert fit.s_b.value == pytest.approx(m.values["s_b"], abs=1e-4)
    assert fit.s_s.value == 0.0 and fit.at_boundary and fit.s_s.at_boundary_low and fit.s_s.err_low == 0.0


def profile_delta(model: Model, k: int, x: float, minimum: float) -> float:
    """Delta statistic of the profile at parameter k = x, minimised by scipy over the other parameter."""
    t = model.templates
    fixed, other = (t.signal, t.background) if k == 0 else (t.background, t.signal)
    floor = np.max(-x * fixed[other > 0] / other[other > 0])
    if np.any((other == 0) & (x * fixed < -1e-12)):
        return np.inf

    def at(y):
        return statistic_of(model, x, y) if k == 0 else statistic_of(model, y, x)

    fit = optimize.minimize_scalar(at, bounds=(floor, floor + 20.0), method="bounded", options={"xatol": 1e-12})
    return min(fit.fun, at(floor)) - minimum


@pytest.mark.parametrize("name", list(SETS))
@pytest.mark.parametrize(("statistic", "mc_stat"), [*CASES[::2], ("poisson", True)])
def test_interval_ends_and_contour_points_on_their_level_or_flagged(name, statistic, mc_stat):
    model = Model(SETS[name](), statistic, mc_stat)
    fit = model.fit2d()
    for k, interval in enumerate((fit.s_s, fit.s_b)):
        for end, cut, outward in (
            (interval.value - interval.err_low, interval.at_boundary_low, -1.0),
            (interval.value + interval.err_high, interval.at_boundary_high, 1.0),
        ):
            assert np.isfinite(end)
            delta = profile_delta(model, k, end, fit.chi2)
            if cut:  # where the region ends: beyond it every value of the other parameter leaves a bin negative
                assert delta <= 1.0 + 1e-9
                assert np.isinf(profile_delta(model, k, end + outward * 1e-6, fit.chi2))
            else:
                assert delta == pytest.approx(1.0, abs=1e-6), (k, end)
    for level in CONTOUR_LEVELS:
        contour = model.contour(fit, level, points=60)
        assert np.all(np.isfinite(contour.points))
        values = np.array([statistic_of(model, *p) for p in contour.points]) - fit.chi2
        np.testing.assert_allclose(values[~contour.at_boundary], level, atol=1e-8)
        for point in contour.points[contour.at_boundary]:
            nu = model.templates.predict(*point)
            assert nu.min() <= 1e-9 * nu.max()  # on the boundary
            assert statistic_of(model, *point) - fit.chi2 <= level + 1e-9


@pytest.mark.parametrize("parameter", ["s_s", "s_b"])
def test_one_parameter_interval_cut_by_the_boundary_is_flagged(parameter):
    model = Model(signal_bins_empty(), "neyman")  # Neyman allows a bin with data to be predicted empty
    fit = model.fit1d(parameter)
    k = 0 if parameter == "s_s" else 1
    low, high = fit.interval.value - fit.interval.err_low, fit.interval.value + fit.interval.err_high
    for end, cut in ((low, fit.interval.at_boundary_low), (high, fit.interval.at_boundary_high)):
        point = np.ones(2)
        point[k] = end
        delta = statistic_of(model, *point) - fit.chi2
        if cut:
            assert delta <= 1.0 + 1e-9 and model.templates.predict(*point).min() <= 1e-9
        else:
            assert delta == pytest.approx(1.0, abs=1e-8)


def test_fit_json_is_strict_json_with_reasons_for_nulls(tmp_path):
    report = analyse(zero_background(1, s_s=1.0), gof_toys=200, coverage_toys=20, coverage_points=3)
    (tmp_path / "fit.json").write_text(report.document().to_json())
    document = strict_json((tmp_path / "fit.json").read_text())
    two = document["fits"]["s_s,s_b"]
    assert document["schema_version"] == 2 and document["status"] == "ok"
    # signal events in a bin the background predicts empty: the expected significance is infinite
    assert document["significance"]["expected"] is None
    assert "infinite" in document["nulls"]["significance.expected"]
    for path in document["nulls"]:
        node = document
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, list) else node[key]
        assert node is None, path
    assert two["contours"]["2.30"]["at_boundary"].count(True) > 0
    assert read_fit(tmp_path / "fit.json").significance.expected is None  # read back as it was written
    boundary = analyse(signal_bins_empty(), gof_toys=200, coverage_toys=20, coverage_points=3).document()
    assert boundary.fits.both.best_at_boundary is True
    assert boundary.fits.both.covariance is None and boundary.fits.both.correlation is None
    assert "physical boundary" in boundary.nulls["fits.s_s,s_b.covariance"]
    strict_json(boundary.to_json())


def test_a_fit_that_did_not_converge_is_not_reported():
    model = Model(signal_bins_empty(), "poisson", max_iter=2)  # far too few steps to reach the boundary
    assert not model.minimize().converged
    with pytest.raises(FitError, match=r"fit of s_s and s_b .* did not converge"):
        model.fit2d()
    with pytest.raises(FitError, match="did not converge"):
        analyse(signal_bins_empty(), gof_toys=10, coverage_toys=5, coverage_points=2, max_iter=2)


def random_templates(rng: np.random.Generator):
    """Hostile low-count histograms: bins without signal, without background, almost no events."""
    from fitting.templates import Templates

    while True:
        k = int(rng.integers(3, 15))
        signal = rng.exponential(1.0, k) * (rng.random(k) < 0.7)
        background = rng.exponential(3.0, k) * (rng.random(k) < 0.85)
        scale = rng.choice([0.1, 0.5, 2.0, 20.0])
        data = rng.poisson(scale * (rng.uniform(0, 3) * signal + rng.uniform(0.3, 2) * background)).astype(float)
        data[(signal + background) == 0] = 0
        if signal.sum() and background.sum() and data.sum() and len(set(np.arctan2(background, signal))) > 1:
            edges = np.arange(k + 1.0)
            return Templates.from_arrays(
                edges, data, scale * signal, scale * background, 0.05 * scale * signal, 0.05 * scale * background
            )


@pytest.mark.slow
@pytest.mark.parametrize(("statistic", "mc_stat"), CASES)
def test_random_low_count_fits_never_above_the_constrained_reference(statistic, mc_stat):
    rng = np.random.default_rng(123)
    for _ in range(25):
        model = Model(random_templates(rng), statistic, mc_stat)
        fit = model.fit2d()
        _, value = constrained_minimum(model)
        assert fit.chi2 <= value + 1e-6
        for level in CONTOUR_LEVELS:
            assert np.all(np.isfinite(model.contour(fit, level, points=24).points))
        model.fit1d("s_s"), model.fit1d("s_b")
