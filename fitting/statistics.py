"""Test statistics comparing observed counts ``n`` with a prediction ``nu``, per bin.

Every statistic returns the per-bin term ``t`` and its first two derivatives with respect to
``nu``, which is all a Newton minimiser needs when ``nu`` is linear in the parameters. All
functions broadcast over leading (toy) dimensions; the last axis is the bin. A bin predicted
empty (``nu = 0``) is allowed where it is observed empty: its term is the limit, finite, and so
are its derivatives; with ``n > 0`` the Pearson and Poisson terms are infinite there.

* ``pearson`` — the tutorial's sum of (n - nu)^2 / nu;
* ``neyman`` — sum of (n - nu)^2 / n, with n replaced by 1 in empty bins;
* ``poisson`` — the Baker–Cousins likelihood ratio 2 sum[nu - n + n ln(n / nu)] = -2 ln(L / L_saturated).

With ``r2`` (the squared relative statistical uncertainty of the simulation per bin, fixed from
the nominal templates) the simulation's statistical uncertainty enters Barlow–Beeston-lite style,
as one factor gamma per bin scaling the prediction, measured by an auxiliary value ``aux``
(1 for the real data; fluctuated in toys) with a Gaussian constraint (gamma - aux)^2 / r2,
profiled in closed form. For ``pearson`` and ``neyman`` this adds the variance (r nu)^2 to the
denominator: (n - aux nu)^2 / (V + r2 nu^2); for ``poisson`` it is HistFactory's ``staterror``.

Example:
    >>> import numpy as np
    >>> float(chi2("pearson", np.array([4.0, 9.0]), np.array([4.0, 4.0])))
    6.25
    >>> float(chi2("poisson", np.array([0.0, 2.0]), np.array([0.0, 2.0])))  # an empty bin predicted empty
    0.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

__all__ = ["R2_FLOOR", "STATISTICS", "Statistic", "chi2", "chi2_matrix", "gamma_hat", "terms"]

Terms = tuple[np.ndarray, np.ndarray, np.ndarray]
Array = np.ndarray
#: Smallest relative variance of the simulation used: a bin known exactly is constrained at gamma = aux.
R2_FLOOR = 1e-12


def _safe(n: Array, nu: Array) -> tuple[Array, Array]:
    """``nu`` with 1 where the bin is observed empty, and the ratio n / nu (0 in empty bins)."""
    safe_nu = np.where(n != 0, nu, 1.0)  # (Gaussian toys of the tutorial can be negative)
    return safe_nu, n / safe_nu


def _quadratic(u: Array, a: Array | float, d: Array, d1: Array, d2: Array) -> Terms:
    """Terms of u^2 / D(nu) with u = n - a nu, given D, D' and D''."""
    t = u * u / d
    big_n = -2.0 * a * u * d - u * u * d1
    t1 = big_n / (d * d)
    t2 = ((2.0 * a * a * d - u * u * d2) * d - 2.0 * big_n * d1) / d**3
    return t, t1, t2


def _pearson(n: Array, nu: Array, r2: Array | None, aux: Array | float) -> Terms:
    safe_nu, ratio = _safe(n, nu)
    if r2 is None:
        return n * ratio - 2.0 * n + nu, 1.0 - ratio * ratio, 2.0 * ratio * ratio / safe_nu
    t, t1, t2 = _quadratic(n - aux * nu, aux, nu + r2 * nu * nu, 1.0 + 2.0 * r2 * nu, 2.0 * r2)
    empty = (nu == 0) & (n == 0)
    if np.any(empty):  # the limit nu -> 0 of aux^2 nu / (1 + r2 nu)
        a2 = np.broadcast_to(aux * aux, t.shape)
        t, t1, t2 = np.where(empty, 0.0, t), np.where(empty, a2, t1), np.where(empty, -2.0 * a2 * r2, t2)
    return t, t1, t2


def _neyman(n: Array, nu: Array, r2: Array | None, aux: Array | float) -> Terms:
    m = np.maximum(n, 1.0)
    if r2 is None:
        return (n - nu) ** 2 / m, -2.0 * (n - nu) / m, 2.0 / m * np.ones_like(nu)
    return _quadratic(n - aux * nu, aux, m + r2 * nu * nu, 2.0 * r2 * nu, 2.0 * r2)


def _n_log_ratio(n: Array, nu: Array) -> Array:
    """n ln(n / nu), with 0 ln 0 = 0."""
    return np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / nu), 0.0)


def _poisson_gamma(n: Array, nu: Array, inv: Array, aux: Array | float) -> Array:
    """gamma >= 0 minimising 2[g nu - n + n ln(n / (g nu))] + (g - aux)^2 inv:  g^2 inv + g (nu - aux inv) - n = 0.

    The two algebraically equal forms of the root avoid cancellation; with n = 0, gamma may be 0."""
    b = nu - aux * inv
    root = np.sqrt(b * b + 4.0 * n * inv)
    gamma = np.where(b < 0, (root - b) / (2.0 * inv), 2.0 * n / (b + root))
    return np.where(np.isfinite(gamma), gamma, 0.0)


def _poisson(n: Array, nu: Array, r2: Array | None, aux: Array | float) -> Terms:
    safe_nu, ratio = _safe(n, nu)
    if r2 is None:
        return 2.0 * (nu - n + _n_log_ratio(n, nu)), 2.0 - 2.0 * ratio, 2.0 * ratio / safe_nu
    inv = 1.0 / r2
    gamma = _poisson_gamma(n, nu, inv, aux)
    t = 2.0 * (gamma * nu - n + _n_log_ratio(n, gamma * nu)) + (gamma - aux) ** 2 * inv
    curvature = np.where(n > 0, n / np.where(gamma > 0, gamma, 1.0) ** 2, 0.0) + inv
    dgamma = np.where(gamma > 0, -1.0 / curvature, 0.0)  # d gamma* / d nu
    return t, 2.0 * (gamma - ratio), 2.0 * dgamma + 2.0 * ratio / safe_nu


#: The name of a test statistic (the keys of :data:`STATISTICS`).
Statistic = Literal["pearson", "neyman", "poisson"]

STATISTICS: dict[str, Callable[[Array, Array, Array | None, Array | float], Terms]] = {
    "pearson": _pearson,
    "neyman": _neyman,
    "poisson": _poisson,
}


def _check(statistic: str) -> None:
    if statistic not in STATISTICS:
        raise ValueError(f"unknown statistic {statistic!r} (expected one of {', '.join(STATISTICS)})")


def terms(statistic: str, n: Array, nu: Array, r2: Array | None = None, aux: Array | float | None = None) -> Terms:
    """Per-bin term, first and second derivative in ``nu``; shapes broadcast of ``n``, ``nu`` (and ``aux``).

    ``r2`` switches on the simulation's statistical uncertainty; ``aux`` (default 1) are its auxiliary data.
    """
    _check(statistic)
    r2 = None if r2 is None else np.maximum(r2, R2_FLOOR)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return STATISTICS[statistic](
            np.asarray(n, dtype=float), np.asarray(nu, dtype=float), r2, 1.0 if aux is None else aux
        )


def chi2(statistic: str, n: Array, nu: Array, r2: Array | None = None, aux: Array | float | None = None) -> Array:
    """The statistic summed over the last (bin) axis (inf where it exceeds the floating-point range)."""
    with np.errstate(over="ignore"):
        return np.asarray(np.sum(terms(statistic, n, nu, r2, aux)[0], axis=-1))


def gamma_hat(statistic: str, n: Array, nu: Array, r2: Array, aux: Array | float | None = None) -> Array:
    """The profiled Barlow–Beeston-lite factor gamma per bin: the simulation's best estimate given ``n``.

    Example:
        >>> float(gamma_hat("poisson", np.array([10.0]), np.array([10.0]), np.array([0.01]))[0])
        1.0
    """
    _check(statistic)
    n, nu = np.asarray(n, dtype=float), np.asarray(nu, dtype=float)
    r2 = np.maximum(r2, R2_FLOOR)
    a = 1.0 if aux is None else aux
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if statistic == "poisson":
            return _poisson_gamma(n, nu, 1.0 / r2, a)
        # minimum of (n - g nu)^2 / V + (g - a)^2 / r2 with V = nu (pearson) or max(n, 1) (neyman)
        v = nu if statistic == "pearson" else np.maximum(n, 1.0)
        return np.where(v > 0, (n * nu * r2 + a * v) / (nu * nu * r2 + np.where(v > 0, v, 1.0)), a)


def chi2_matrix(statistic: str, counts: Array, nu: Array, r2: Array | None = None, aux: Array | None = None) -> Array:
    """The statistic of every histogram ``counts (T, K)`` at every prediction ``nu (G, K)``: ``(T, G)``.

    The Pearson statistic splits into terms of the counts alone, of the prediction alone and matrix
    products between them, e.g. sum n^2/nu - 2 sum n + sum nu, with ``r2`` (and auxiliary data
    ``aux (T, K)``) too: sum [n^2 w - 2 n a nu w + a^2 nu^2 w] with w = 1 / (nu + r2 nu^2). So do
    Neyman and Poisson without ``r2``; with it they are evaluated directly, a few histograms at a time.
    """
    _check(statistic)
    counts = np.asarray(counts, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "pearson":
            if r2 is None:
                return np.asarray((counts**2) @ (1.0 / nu).T - 2.0 * counts.sum(axis=1, keepdims=True) + nu.sum(axis=1))
            w = 1.0 / (nu + np.maximum(r2, R2_FLOOR) * nu * nu)
            a = np.ones_like(counts) if aux is None else np.asarray(aux, dtype=float)
            # one product: [n^2, n a, a^2] (T, 3K) @ [w, -2 nu w, nu^2 w] (3K, G)
            return np.asarray(np.hstack([counts**2, counts * a, a * a]) @ np.hstack([w, -2.0 * nu * w, nu * nu * w]).T)
        if r2 is None:
            if statistic == "neyman":
                inv = 1.0 / np.maximum(counts, 1.0)
                own = (counts**2 * inv).sum(axis=1, keepdims=True)
                return np.asarray(own - 2.0 * (counts * inv) @ nu.T + inv @ (nu**2).T)
            own = 2.0 * (_n_log_ratio(counts, np.ones_like(counts)) - counts).sum(axis=1, keepdims=True)
            return np.asarray(own + 2.0 * nu.sum(axis=1) - 2.0 * counts @ np.log(nu).T)
    rows = max(1, 2_000_000 // nu.size)
    return np.concatenate(
        [
            chi2(
                statistic,
                counts[i : i + rows, None, :],
                nu[None, :, :],
                r2,
                None if aux is None else aux[i : i + rows, None, :],
            )
            for i in range(0, len(counts), rows)
        ]
    )
