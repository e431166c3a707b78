from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from fitting.statistics import chi2, chi2_matrix, terms

rng = np.random.default_rng(5)
N = np.array([0.0, 1.0, 3.0, 10.0, 25.0, 0.0, 7.0])
NU = np.array([0.4, 1.7, 2.5, 12.0, 20.0, 3.0, 6.5])
R2 = np.array([0.01, 0.2, 0.05, 0.001, 0.02, 0.5, 0.1])


def direct(statistic, n, nu):
    if statistic == "pearson":
        return np.sum((n - nu) ** 2 / nu, axis=-1)
    if statistic == "neyman":
        return np.sum((n - nu) ** 2 / np.maximum(n, 1), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(n > 0, n * np.log(n / nu), 0.0)
    return 2 * np.sum(nu - n + log_term, axis=-1)


@pytest.mark.parametrize("statistic", ["pearson", "neyman", "poisson"])
def test_values_match_their_formulas(statistic):
    assert chi2(statistic, N, NU) == pytest.approx(direct(statistic, N, NU), rel=1e-13)


def test_tutorial_value():
    assert chi2("pearson", np.array([4.0, 9.0]), np.array([4.0, 4.0])) == 6.25


@pytest.mark.parametrize("statistic", ["pearson", "neyman", "poisson"])
@pytest.mark.parametrize("r2", [None, R2])
def test_derivatives_against_finite_differences(statistic, r2):
    _, t1, t2 = terms(statistic, N, NU, r2)
    h = 1e-5 * NU
    up, down = terms(statistic, N, NU + h, r2), terms(statistic, N, NU - h, r2)
    np.testing.assert_allclose(t1, (up[0] - down[0]) / (2 * h), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(t2, (up[1] - down[1]) / (2 * h), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("statistic", ["pearson", "neyman"])
def test_mc_stat_adds_the_simulation_variance(statistic):
    t = terms(statistic, N, NU, R2)[0]
    denominator = (NU if statistic == "pearson" else np.maximum(N, 1)) + R2 * NU**2
    np.testing.assert_allclose(t, (N - NU) ** 2 / denominator, rtol=1e-13)


def test_poisson_mc_stat_profiles_gamma():
    t = terms("poisson", N, NU, R2)[0]
    for k in range(len(N)):

        def objective(g, k=k):
            log_term = N[k] * np.log(N[k] / (g * NU[k])) if N[k] > 0 else 0.0
            return 2 * (g * NU[k] - N[k] + log_term) + (g - 1) ** 2 / R2[k]

        best = optimize.minimize_scalar(objective, bounds=(1e-6, 10), method="bounded", options={"xatol": 1e-12})
        expected = min(best.fun, objective(0.0)) if N[k] == 0 else best.fun  # gamma = 0 is allowed
        assert t[k] == pytest.approx(expected, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("statistic", ["pearson", "neyman", "poisson"])
@pytest.mark.parametrize("r2", [None, R2])
def test_matrix_form_equals_direct_evaluation(statistic, r2):
    counts = rng.poisson(5.0, size=(6, len(NU))).astype(float)
    nus = rng.uniform(0.5, 10.0, size=(9, len(NU)))
    expected = np.array([[chi2(statistic, c, nu, r2) for nu in nus] for c in counts])
    np.testing.assert_allclose(chi2_matrix(statistic, counts, nus, r2), expected, rtol=1e-10)


def test_unknown_statistic():
    with pytest.raises(ValueError, match="unknown statistic 'chi'"):
        chi2("chi", N, NU)
