"""Test statistics comparing observed counts ``n`` with a prediction ``nu``, per bin.

Every statistic returns the per-bin term ``t`` and its first two derivatives with respect to
``nu``, which is all a Newton minimiser needs when ``nu`` is linear in the parameters. All
functions broadcast over leading (toy) dimensions; the last axis is the bin.

* ``pearson`` — the tutorial's sum of (n - nu)^2 / nu;
* ``neyman`` — sum of (n - nu)^2 / n, with n replaced by 1 in empty bins;
* ``poisson`` — the Baker–Cousins likelihood ratio 2 sum[nu - n + n ln(n / nu)], right for low counts.

With ``r2`` (the squared relative statistical uncertainty of the simulation per bin, fixed from
the nominal templates) the simulation's statistical uncertainty enters Barlow–Beeston-lite style:
for ``pearson`` and ``neyman`` its variance (r nu)^2 is added to the denominator; for ``poisson``
one factor gamma per bin scales the prediction, with a Gaussian constraint (gamma - 1)^2 / r2,
profiled in closed form.

Example:
    >>> import numpy as np
    >>> float(chi2("pearson", np.array([4.0, 9.0]), np.array([4.0, 4.0])))
    6.25
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["STATISTICS", "chi2", "chi2_matrix", "terms"]

Terms = tuple[np.ndarray, np.ndarray, np.ndarray]


def _quadratic(n: np.ndarray, nu: np.ndarray, d: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> Terms:
    """Terms of (n - nu)^2 / D(nu) given D, D' and D''."""
    u = n - nu
    t = u * u / d
    big_n = -2.0 * u * d - u * u * d1
    t1 = big_n / (d * d)
    t2 = ((2.0 * d - u * u * d2) * d - 2.0 * big_n * d1) / d**3
    return t, t1, t2


def _pearson(n: np.ndarray, nu: np.ndarray, r2: np.ndarray | None) -> Terms:
    if r2 is None:
        ratio = n / nu
        ratio2 = ratio * ratio
        return n * ratio - 2.0 * n + nu, 1.0 - ratio2, 2.0 * ratio2 / nu
    return _quadratic(n, nu, nu + r2 * nu * nu, 1.0 + 2.0 * r2 * nu, 2.0 * r2 * np.ones_like(nu))


def _neyman(n: np.ndarray, nu: np.ndarray, r2: np.ndarray | None) -> Terms:
    m = np.maximum(n, 1.0)
    if r2 is None:
        return (n - nu) ** 2 / m, -2.0 * (n - nu) / m, 2.0 / m * np.ones_like(nu)
    return _quadratic(n, nu, m + r2 * nu * nu, 2.0 * r2 * nu, 2.0 * r2 * np.ones_like(nu))


def _n_log_ratio(n: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """n ln(n / nu), with 0 ln 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)


def _poisson(n: np.ndarray, nu: np.ndarray, r2: np.ndarray | None) -> Terms:
    if r2 is None:
        ratio = n / nu
        return 2.0 * (nu - n + _n_log_ratio(n, nu)), 2.0 - 2.0 * ratio, 2.0 * ratio / nu
    # gamma* minimises 2[g nu - n + n ln(n / (g nu))] + (g - 1)^2 / r2:  g^2/r2 + g (nu - 1/r2) - n = 0
    # (the two algebraically equal forms of the root avoid cancellation; with n = 0, gamma may be 0)
    inv = 1.0 / r2
    b = nu - inv
    root = np.sqrt(b * b + 4.0 * n * inv)
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(b < 0, (root - b) / (2.0 * inv), 2.0 * n / (b + root))
        gamma = np.where(np.isfinite(gamma), gamma, 0.0)
        t = 2.0 * (gamma * nu - n + _n_log_ratio(n, gamma * nu)) + (gamma - 1.0) ** 2 * inv
        curvature = np.where(n > 0, n / gamma**2, 0.0) + inv
        dgamma = np.where(gamma > 0, -1.0 / curvature, 0.0)  # d gamma* / d nu
    t1 = 2.0 * (gamma - n / nu)
    t2 = 2.0 * dgamma + 2.0 * n / nu**2
    return t, t1, t2


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray | None], Terms]] = {
    "pearson": _pearson,
    "neyman": _neyman,
    "poisson": _poisson,
}


def terms(statistic: str, n: np.ndarray, nu: np.ndarray, r2: np.ndarray | None = None) -> Terms:
    """Per-bin term, first and second derivative in ``nu``; shapes broadcast of ``n`` and ``nu``."""
    try:
        function = STATISTICS[statistic]
    except KeyError:
        raise ValueError(f"unknown statistic {statistic!r} (expected one of {', '.join(STATISTICS)})") from None
    return function(np.asarray(n, dtype=float), np.asarray(nu, dtype=float), r2)


def chi2(statistic: str, n: np.ndarray, nu: np.ndarray, r2: np.ndarray | None = None) -> np.ndarray:
    """The statistic summed over the last (bin) axis."""
    return np.sum(terms(statistic, n, nu, r2)[0], axis=-1)


def chi2_matrix(statistic: str, counts: np.ndarray, nu: np.ndarray, r2: np.ndarray | None = None) -> np.ndarray:
    """The statistic of every histogram ``counts (T, K)`` at every prediction ``nu (G, K)``: ``(T, G)``.

    Without ``r2`` each statistic splits into terms of the counts alone, of the prediction alone and
    one matrix product between them, e.g. Pearson: sum n^2/nu - 2 sum n + sum nu. With ``r2`` it is
    evaluated directly, a few histograms at a time.
    """
    counts = np.asarray(counts, dtype=float)
    if r2 is not None:
        rows = max(1, 2_000_000 // nu.size)
        return np.concatenate(
            [chi2(statistic, counts[i : i + rows, None, :], nu[None, :, :], r2) for i in range(0, len(counts), rows)]
        )
    if statistic == "pearson":
        return (counts**2) @ (1.0 / nu).T - 2.0 * counts.sum(axis=1, keepdims=True) + nu.sum(axis=1)
    if statistic == "neyman":
        inv = 1.0 / np.maximum(counts, 1.0)
        return (counts**2 * inv).sum(axis=1, keepdims=True) - 2.0 * (counts * inv) @ nu.T + inv @ (nu**2).T
    if statistic == "poisson":
        own = 2.0 * (_n_log_ratio(counts, np.ones_like(counts)) - counts).sum(axis=1, keepdims=True)
        return own + 2.0 * nu.sum(axis=1) - 2.0 * counts @ np.log(nu).T
    raise ValueError(f"unknown statistic {statistic!r} (expected one of {', '.join(STATISTICS)})")
