"""Toys: the post-fit statistic follows the chi^2 pdf; Delta chi^2 = 2.30 covers 68.3% at large counts; at low
counts every toy reaches the minimum an independent constrained minimiser finds; with --mc-stat the auxiliary
data are fluctuated, so the coverage stays right when the simulation's uncertainty is large."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from fitting.fit import Model
from fitting.templates import Templates
from fitting.toys import coverage_toys, draw, draw_toys, goodness_of_fit_toys
from tests.fitting.sets import EDGES, background_shape, pseudo, signal_shape

TRUTH = np.array([1.0, 1.2])


@pytest.fixture(scope="module")
def large_counts() -> Model:
    """Templates scaled x300: hundreds to thousands of events per bin, where asymptotics hold."""
    return Model(pseudo(4, *TRUTH, scale=300.0), "poisson")


def test_refitted_toys_follow_chi2_with_nbins_minus_two_dof(large_counts):
    gof = goodness_of_fit_toys(large_counts, TRUTH, 4000, np.random.default_rng(1))
    ndf = large_counts.templates.nbins - 2
    assert gof.failed == 0
    assert stats.kstest(gof.values, stats.chi2(ndf).cdf).pvalue > 1e-3
    assert np.mean(gof.values) == pytest.approx(ndf, rel=0.03)


def test_unfitted_toys_follow_chi2_with_nbins_dof(large_counts):
    values = goodness_of_fit_toys(large_counts, TRUTH, 4000, np.random.default_rng(2), refit=False).values
    assert stats.kstest(values, stats.chi2(large_counts.templates.nbins).cdf).pvalue > 1e-3


@pytest.mark.parametrize("statistic", ["poisson", "pearson"])
def test_coverage_of_two_point_three_is_68_percent(statistic):
    model = Model(pseudo(4, *TRUTH, scale=300.0), statistic)
    ntoys = 4000
    study = coverage_toys(model, TRUTH, ntoys, np.random.default_rng(3))
    fraction = np.array([np.mean(study.delta <= d) for d in (2.30, 6.18)])
    expected = stats.chi2.cdf([2.30, 6.18], 2)
    error = np.sqrt(expected * (1 - expected) / ntoys)
    assert study.failed == 0
    assert np.all(np.abs(fraction - expected) < 4 * error), (fraction, expected, error)


def low_counts() -> Templates:
    """About 40 events in 34 bins: most bins hold 0-2 events, the signal bins mostly none."""
    return pseudo(6, 1.0, 1.0, scale=0.15)


def reference_minimum(model: Model, counts: np.ndarray) -> float:
    """scipy's SLSQP with every bin's prediction >= 0 as constraints, on the Poisson formula written out here,
    from three starts (the lowest kept)."""
    t = model.templates
    n = counts

    def cost(p):
        nu = np.maximum(p[0] * t.signal + p[1] * t.background, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_term = np.where(n > 0, n * np.log(n / nu), 0.0)
        value = 2 * np.sum(nu - n + log_term)
        return value if np.isfinite(value) else 1e300

    constraints = [{"type": "ineq", "fun": lambda p: p[0] * t.signal + p[1] * t.background}]
    best = np.inf
    for start in ([1.0, 1.0], [0.2, 1.0], [3.0, 0.5]):
        fit = optimize.minimize(
            cost, start, method="SLSQP", constraints=constraints, options={"ftol": 1e-14, "maxiter": 500}
        )
        best = min(best, fit.fun)
    return best


@pytest.mark.slow
def test_low_count_coverage_equals_toys_fitted_one_by_one_by_an_independent_minimiser():
    model = Model(low_counts(), "poisson")
    truth = np.array([1.0, 1.0])
    ntoys = 400
    study = coverage_toys(model, truth, ntoys, np.random.default_rng(8))
    assert study.failed == 0 and len(study.delta) == ntoys
    toys = draw_toys(model.templates.predict(*truth), ntoys, np.random.default_rng(8))  # the same toys
    ours = model.chi2(*truth, toys) - study.delta
    theirs = np.array([reference_minimum(model, toy) for toy in toys])
    assert np.all(ours <= theirs + 1e-7)  # never above the reference: each toy at its minimum
    assert np.mean(np.abs(ours - theirs) < 1e-4) > 0.99
    delta_theirs = model.chi2(*truth, toys) - theirs
    for d in (2.30, 6.18):
        f_ours, f_theirs = np.mean(study.delta <= d), np.mean(delta_theirs <= d)
        assert abs(f_ours - f_theirs) <= np.sqrt(f_theirs * (1 - f_theirs) / ntoys), d
    assert 0.1 < np.mean(study.delta <= 2.30) < 0.95  # the test discriminates


@pytest.mark.slow
def test_low_count_goodness_of_fit_toys_reach_their_minimum():
    model = Model(low_counts(), "poisson")
    best = model.fit2d()
    params = np.array([best.s_s.value, best.s_b.value])
    gof = goodness_of_fit_toys(model, params, 60, np.random.default_rng(9))
    toys, _ = draw(model, params, 60, np.random.default_rng(9))
    assert gof.failed == 0
    np.testing.assert_allclose(gof.values, [reference_minimum(model, toy) for toy in toys], atol=1e-4)


def test_mc_stat_toys_fluctuate_the_auxiliary_data():
    # simulation as uncertain as the data (r ~ 1 / sqrt(nu)): without fluctuated auxiliary data the toys would
    # hold only the data's fluctuation while the statistic allows for both, and cover ~85% at Delta chi^2 = 2.30
    signal, background = 30 * signal_shape(), 30 * background_shape(230.0)
    total = TRUTH[0] * signal + TRUTH[1] * background
    data = np.random.default_rng(10).poisson(total).astype(float)
    templates = Templates.from_arrays(EDGES, data, signal, background, signal * total / 30, background * total / 30)
    model = Model(templates, "poisson", mc_stat=True)
    toys, aux = draw(model, TRUTH, 3000, np.random.default_rng(11))
    gamma = model.gamma(TRUTH)
    assert aux is not None and aux.shape == toys.shape
    np.testing.assert_allclose(aux.mean(axis=0), gamma, atol=5 * np.sqrt(templates.r2 / 3000).max())
    np.testing.assert_allclose(aux.std(axis=0), np.sqrt(templates.r2), rtol=0.1)
    study = coverage_toys(model, TRUTH, 3000, np.random.default_rng(12))
    fraction = np.mean(study.delta <= 2.30)
    assert fraction == pytest.approx(stats.chi2.cdf(2.30, 2), abs=4 * np.sqrt(0.683 * 0.317 / 3000))


def test_gaussian_toys_are_drawn_in_the_tutorials_order():
    means = np.array([0.5, 4.0, 9.0])
    vectorised = draw_toys(means, 3, np.random.default_rng(7), "gaussian")
    rng = np.random.default_rng(7)
    one_by_one = np.array([[rng.normal(m, np.sqrt(m), 1)[0] for m in means] for _ in range(3)])
    np.testing.assert_array_equal(vectorised, one_by_one)
    with pytest.raises(ValueError, match="unknown toy kind"):
        draw_toys(means, 1, rng, "uniform")
