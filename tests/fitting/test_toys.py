"""Toys: the post-fit statistic follows the chi^2 pdf; Delta chi^2 = 2.30 covers 68.3% at large counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from fitting.fit import Model
from fitting.toys import coverage, draw_toys, goodness_of_fit_toys
from tests.fitting.sets import pseudo

TRUTH = np.array([1.0, 1.2])


@pytest.fixture(scope="module")
def large_counts() -> Model:
    """Templates scaled x300: hundreds to thousands of events per bin, where asymptotics hold."""
    return Model(pseudo(4, *TRUTH, scale=300.0), "poisson")


def test_refitted_toys_follow_chi2_with_nbins_minus_two_dof(large_counts):
    values = goodness_of_fit_toys(large_counts, TRUTH, 4000, np.random.default_rng(1))
    ndf = large_counts.templates.nbins - 2
    assert stats.kstest(values, stats.chi2(ndf).cdf).pvalue > 1e-3
    assert np.mean(values) == pytest.approx(ndf, rel=0.03)


def test_unfitted_toys_follow_chi2_with_nbins_dof(large_counts):
    values = goodness_of_fit_toys(large_counts, TRUTH, 4000, np.random.default_rng(2), refit=False)
    assert stats.kstest(values, stats.chi2(large_counts.templates.nbins).cdf).pvalue > 1e-3


@pytest.mark.parametrize("statistic", ["poisson", "pearson"])
def test_coverage_of_two_point_three_is_68_percent(statistic):
    model = Model(pseudo(4, *TRUTH, scale=300.0), statistic)
    ntoys = 4000
    fraction = coverage(model, TRUTH, np.array([2.30, 6.18]), ntoys, np.random.default_rng(3))
    expected = stats.chi2.cdf([2.30, 6.18], 2)
    error = np.sqrt(expected * (1 - expected) / ntoys)
    assert np.all(np.abs(fraction - expected) < 4 * error), (fraction, expected, error)


def test_coverage_counts_toys_like_a_toy_by_toy_scipy_fit():
    # the same toys (same generator, fresh toys for every d), each fitted on its own by scipy
    model = Model(pseudo(5), "poisson")
    d_values, ntoys = np.array([1.0, 2.3, 4.0]), 60
    fractions = coverage(model, TRUTH, d_values, ntoys, np.random.default_rng(4))
    rng, expected = np.random.default_rng(4), []
    for d in d_values:
        inside = 0
        for toy in draw_toys(model.templates.predict(*TRUTH), ntoys, rng):
            fit = optimize.minimize(
                lambda p, toy=toy: model.chi2(p[0], p[1], toy),
                TRUTH,
                method="Nelder-Mead",
                options={"xatol": 1e-9, "fatol": 1e-11},
            )
            inside += model.chi2(*TRUTH, toy) - fit.fun <= d
        expected.append(inside / ntoys)
    np.testing.assert_array_equal(fractions, expected)
    assert 0 < fractions[0] < fractions[-1] < 1  # the test discriminates: some toys in, some out


def test_gaussian_toys_are_drawn_in_the_tutorials_order():
    means = np.array([0.5, 4.0, 9.0])
    vectorised = draw_toys(means, 3, np.random.default_rng(7), "gaussian")
    rng = np.random.default_rng(7)
    one_by_one = np.array([[rng.normal(m, np.sqrt(m), 1)[0] for m in means] for _ in range(3)])
    np.testing.assert_array_equal(vectorised, one_by_one)
    with pytest.raises(ValueError, match="unknown toy kind"):
        draw_toys(means, 1, rng, "uniform")
