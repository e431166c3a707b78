"""The plot style's Poisson error bars against scipy.stats and the published Garwood table."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.precision import measurement
from analysis.style import poisson_interval


def test_garwood_interval_against_chi2_quantiles():
    counts = np.array([0, 1, 2, 5, 10, 37, 250, 1e4])
    lower, upper = poisson_interval(counts)
    alpha = 1 - 0.682689
    expected_lower = np.where(counts > 0, stats.chi2.ppf(alpha / 2, 2 * counts) / 2, 0.0)
    expected_upper = stats.chi2.ppf(1 - alpha / 2, 2 * (counts + 1)) / 2
    np.testing.assert_allclose(lower, expected_lower, rtol=1e-10, atol=0)
    np.testing.assert_allclose(upper, expected_upper, rtol=1e-10)


@pytest.mark.parametrize(("n", "low", "high"), [(0, 0.0, 1.841), (1, 0.173, 3.300), (5, 2.840, 8.382)])
def test_garwood_interval_table(n, low, high):
    # the 68.27% Garwood intervals as tabulated (e.g. the PDG statistics review)
    lower, upper = poisson_interval(np.array([n]))
    assert lower[0] == pytest.approx(low, abs=1e-3)
    assert upper[0] == pytest.approx(high, abs=1e-3)


@pytest.mark.parametrize(
    ("value", "error", "expected"),
    [
        # the PDG's own examples (Review of Particle Physics, Introduction, 5.3 "Rounding")
        (0.827, 0.119, ("0.83", "0.12")),
        (0.827, 0.367, ("0.8", "0.4")),
        # three leading digits 950 to 999: rounded up to 1000, two significant digits
        (0.827, 0.962, ("0.8", "1.0")),
        (272.0, 16.49, ("272", "16")),
        (1234.0, 47.0, ("1230", "50")),
    ],
)
def test_pdg_rounding(value, error, expected):
    assert measurement(value, error) == expected
