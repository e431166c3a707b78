"""Profile fits, intervals, contours and significance against iminuit (MIGRAD, MINOS, mncontour) and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from iminuit import Minuit
from scipy import optimize, stats

from fitting.fit import Model, significance
from tests.fitting.sets import SETS

CASES = [
    (name, statistic, mc_stat)
    for name in SETS
    for statistic in ("pearson", "neyman", "poisson")
    for mc_stat in (False, True)
]


def minuit(model: Model, **fixed) -> Minuit:
    def cost(s_s, s_b):
        return float(model.chi2(s_s, s_b))

    m = Minuit(cost, s_s=1.0, s_b=1.0)
    m.errordef = Minuit.LEAST_SQUARES
    m.strategy = 2
    m.tol = 1e-7
    for name, value in fixed.items():
        m.values[name] = value
        m.fixed[name] = True
    m.migrad()
    assert m.valid
    return m


def scipy_crossings(profile, best: float, minimum: float, scale: float) -> tuple[float, float]:
    """Delta = 1 crossings of a profile found by scipy's brentq."""

    def excess(x):
        return profile(x) - minimum - 1.0

    low = optimize.brentq(excess, best - 3 * scale, best, xtol=1e-12)
    high = optimize.brentq(excess, best, best + 3 * scale, xtol=1e-12)
    return best - low, high - best


@pytest.mark.parametrize(("name", "statistic", "mc_stat"), CASES)
def test_two_parameter_fit_matches_minuit_and_scipy(name, statistic, mc_stat):
    model = Model(SETS[name](), statistic, mc_stat)
    fit = model.fit2d()
    m = minuit(model)
    m.minos()
    assert fit.chi2 == pytest.approx(m.fval, rel=1e-9)
    for k, (param, interval) in enumerate((("s_s", fit.s_s), ("s_b", fit.s_b))):
        assert interval.value == pytest.approx(m.values[param], abs=1e-4)
        # MINOS stops within ~3e-4 of Delta chi^2 = 1 (its crossing tolerance), so compare to it at
        # 5e-4 and to scipy's brentq on a profile minimised by scipy at 1e-6
        assert interval.err_low == pytest.approx(-m.merrors[param].lower, abs=5e-4)
        assert interval.err_high == pytest.approx(m.merrors[param].upper, abs=5e-4)

        def profile(x, k=k):
            t = model.templates
            fixed, free = (t.signal, t.background) if k == 0 else (t.background, t.signal)
            floor = np.max(-x * fixed[free > 0] / free[free > 0]) + 1e-9  # keep every predicted count positive
            centre = fit.s_b.value if k == 0 else fit.s_s.value
            width = 20 * (m.errors["s_b"] if k == 0 else m.errors["s_s"])

            def at(y):
                return float(model.chi2(x, y) if k == 0 else model.chi2(y, x))

            return optimize.minimize_scalar(
                at,
                bounds=(max(centre - width, floor), centre + width),
                method="bounded",
                options={"xatol": 1e-11},
            ).fun

        low, high = scipy_crossings(profile, interval.value, fit.chi2, m.errors[param])
        assert interval.err_low == pytest.approx(low, abs=1e-6)
        assert interval.err_high == pytest.approx(high, abs=1e-6)
    np.testing.assert_allclose(fit.covariance, np.array(m.covariance), rtol=2e-3)
    assert fit.ndf == model.templates.nbins - 2
    assert fit.p_value == pytest.approx(stats.chi2.sf(m.fval, fit.ndf))


@pytest.mark.parametrize(("name", "statistic", "mc_stat"), CASES[::3])
def test_one_parameter_fits_match_minos(name, statistic, mc_stat):
    model = Model(SETS[name](), statistic, mc_stat)
    for param, other in (("s_s", "s_b"), ("s_b", "s_s")):
        fit = model.fit1d(param)
        m = minuit(model, **{other: 1.0})
        m.minos(param)
        assert fit.interval.value == pytest.approx(m.values[param], abs=1e-4)
        assert fit.interval.err_low == pytest.approx(-m.merrors[param].lower, abs=5e-4)
        assert fit.interval.err_high == pytest.approx(m.merrors[param].upper, abs=5e-4)

        def scan(x, param=param):
            return float(model.chi2(x, 1.0) if param == "s_s" else model.chi2(1.0, x))

        low, high = scipy_crossings(scan, fit.interval.value, fit.chi2, m.errors[param])
        assert fit.interval.err_low == pytest.approx(low, abs=1e-8)
        assert fit.interval.err_high == pytest.approx(high, abs=1e-8)
        assert fit.chi2 == pytest.approx(m.fval, rel=1e-9)
        assert fit.ndf == model.templates.nbins - 1


@pytest.mark.parametrize(("name", "statistic", "mc_stat"), CASES[::5])
def test_contours_match_mncontour(name, statistic, mc_stat):
    model = Model(SETS[name](), statistic, mc_stat)
    fit = model.fit2d()
    m = minuit(model)
    for level in (2.30, 6.18):
        contour = model.contour(fit, level, points=60)
        assert not contour.at_boundary.any()
        ours = contour.points
        np.testing.assert_allclose(model.chi2(ours[:, 0], ours[:, 1]) - fit.chi2, level, atol=1e-8)
        theirs = np.array(m.mncontour("s_s", "s_b", cl=stats.chi2.cdf(level, 2), size=40))
        # mncontour places its points to within ~0.3% of the level; ours are exact (above)
        np.testing.assert_allclose(model.chi2(theirs[:, 0], theirs[:, 1]) - fit.chi2, level, rtol=5e-3)
        # the extent of the region agrees (ours is sampled on rays, so compare to the sampling)
        for k in range(2):
            assert ours[:, k].max() == pytest.approx(theirs[:, k].max(), rel=5e-3)
            assert ours[:, k].min() == pytest.approx(theirs[:, k].min(), rel=5e-3)


@pytest.mark.parametrize("statistic", ["pearson", "poisson"])
def test_significance_against_scipy(statistic):
    model = Model(SETS["pseudo2"](), statistic)
    best = minuit(model).fval
    null = optimize.minimize_scalar(
        lambda b: float(model.chi2(0.0, b)), bounds=(0.5, 2.0), method="bounded", options={"xatol": 1e-10}
    ).fun
    assert significance(model).z == pytest.approx(np.sqrt(null - best), abs=1e-4)


def test_minimize_vectorised_over_toys_equals_one_by_one():
    model = Model(SETS["pseudo1"](), "poisson")
    rng = np.random.default_rng(9)
    toys = rng.poisson(model.templates.predict(1.0, 1.2), size=(50, model.templates.nbins)).astype(float)
    params, minima, converged, _ = model.minimize(toys)
    assert converged.all()
    for toy, p, v in zip(toys[:5], params, minima, strict=False):
        one_p, one_v, _, _ = model.minimize(toy)
        np.testing.assert_allclose(p, one_p, rtol=1e-9)
        assert v == pytest.approx(one_v, rel=1e-12)

        def cost(a, b, toy=toy):
            return float(model.chi2(a, b, toy))

        m = Minuit(cost, 1.0, 1.0, name=("a", "b"))
        m.errordef = 1
        m.strategy, m.tol = 2, 1e-7
        m.migrad()
        np.testing.assert_allclose(p, m.values, atol=1e-4)


def test_best_fit_outside_the_tutorial_grid_is_found():
    # data with no signal at all: the best s_s is negative, below any tutorial grid
    sets = SETS["pseudo1"]()
    model = Model(
        type(sets).from_arrays(sets.edges, np.round(sets.background * 1.2 + 0.0), sets.signal, sets.background),
        "poisson",
    )
    fit = model.fit2d()
    assert fit.s_s.value < 0.1
    assert minuit(model).values["s_s"] == pytest.approx(fit.s_s.value, abs=1e-4)
