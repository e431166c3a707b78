"""Fits of the signal strength ``s_s`` and background scale ``s_b``: minimisation, profile
intervals, contours and significance.

The prediction ``nu = s_s * S + s_b * B`` is linear in the parameters, so the gradient and the
Hessian of any statistic of :mod:`fitting.statistics` follow from its per-bin derivatives in
``nu``. :meth:`Model.minimize` runs a damped Newton iteration on many histograms (toys) at once,
with no grid and no bounds other than a positive prediction in every bin.

Example:
    >>> import numpy as np
    >>> from fitting.templates import Templates
    >>> t = Templates.from_arrays(np.arange(4.0), [10, 20, 30], [5.0, 10.0, 0.5], [5.0, 10.0, 20.0])
    >>> model = Model(t, "poisson")
    >>> best = model.fit2d()
    >>> round(best.s_b.value, 3)
    1.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import stats

from fitting.statistics import STATISTICS, terms
from fitting.templates import Templates

__all__ = ["CONTOUR_LEVELS", "PARAMETERS", "Fit1D", "Fit2D", "Interval", "Model"]

PARAMETERS = ("s_s", "s_b")
#: Delta chi^2 of the 68.3% and 95.4% regions of two parameters (1 and 2 sigma).
CONTOUR_LEVELS = (2.30, 6.18)
BLOCK = 2048  # toys minimised together: large enough to vectorise, small enough for the cache


class Interval(NamedTuple):
    """A best value and the positive distances to the ends of its interval."""

    value: float
    err_low: float
    err_high: float


class Fit1D(NamedTuple):
    """A one-parameter fit (the other fixed at 1) with its Delta chi^2 = 1 interval."""

    parameter: str
    interval: Interval
    chi2: float
    ndf: int


class Fit2D(NamedTuple):
    """The two-parameter fit: profile intervals (Delta chi^2 = 1), covariance and goodness of fit."""

    s_s: Interval
    s_b: Interval
    chi2: float
    ndf: int
    p_value: float
    covariance: np.ndarray
    correlation: float


class Model:
    """The statistic of observed counts against the linear prediction of ``templates``.

    Args:
        templates: the binned inputs.
        statistic: ``pearson``, ``neyman`` or ``poisson``.
        mc_stat: include the simulation's statistical uncertainty (Barlow–Beeston lite).
    """

    def __init__(self, templates: Templates, statistic: str = "pearson", mc_stat: bool = False) -> None:
        if statistic not in STATISTICS:
            raise ValueError(f"unknown statistic {statistic!r} (expected one of {', '.join(STATISTICS)})")
        self.templates = templates
        self.statistic = statistic
        self.mc_stat = mc_stat
        self._basis = np.stack([templates.signal, templates.background])  # (2, K)
        signal, background = self._basis
        self._products = np.stack([signal * signal, signal * background, background * background]).T  # (K, 3)
        self._r2 = templates.r2 if mc_stat else None

    # ------------------------------------------------------------------ evaluation

    def chi2(self, s_s: float | np.ndarray, s_b: float | np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
        """The statistic at ``(s_s, s_b)`` (broadcast) for ``counts`` (default: the data); inf where some nu <= 0."""
        counts = self.templates.data if counts is None else counts
        return self._statistic(counts, self.templates.predict(s_s, s_b))[0]

    def _statistic(self, counts: np.ndarray, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Summed statistic (inf where some nu <= 0) and the per-bin first and second derivatives in nu."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t, t1, t2 = terms(self.statistic, counts, nu, self._r2)
            value = t.sum(axis=-1)
        return np.where(np.all(nu > 0, axis=-1) & np.isfinite(value), value, np.inf), t1, t2

    def _evaluate(self, counts: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Statistic ``(T,)`` (inf where some nu <= 0), gradient ``(T, 2)`` and Hessian ``(T, 2, 2)``."""
        value, t1, t2 = self._statistic(counts, params @ self._basis)
        h = t2 @ self._products  # (T, 3): d2/ds_s2, d2/ds_s ds_b, d2/ds_b2
        hessian = np.stack([h[:, :2], h[:, 1:]], axis=1)
        return value, t1 @ self._basis.T, hessian

    def covariance(self, params: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
        """2 H^-1 at ``params = (s_s, s_b)``: the covariance of the fit (the statistic is -2 ln L); ``(2, 2)``."""
        data = self.templates.data if counts is None else counts
        return 2.0 * np.linalg.inv(self._evaluate(np.atleast_2d(data), np.asarray(params)[None, :])[2][0])

    # ------------------------------------------------------------------ minimisation

    def minimize(
        self,
        counts: np.ndarray | None = None,
        free: tuple[bool, bool] = (True, True),
        start: np.ndarray | None = None,
        tol: float = 1e-11,
        max_iter: int = 200,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Minimise the statistic for each row of ``counts`` (shape ``(T, K)`` or ``(K,)``).

        ``free`` says which of ``(s_s, s_b)`` float; the others stay at ``start`` (default 1).
        Returns the parameters ``(T, 2)`` and the minima ``(T,)`` (squeezed for 1-D counts).
        """
        counts = self.templates.data if counts is None else np.asarray(counts, dtype=float)
        single = counts.ndim == 1
        counts = np.atleast_2d(counts)
        params = np.ones((len(counts), 2)) if start is None else np.array(np.broadcast_to(start, (len(counts), 2)))
        value = np.empty(len(counts))
        for lo in range(0, len(counts), BLOCK):  # blocks that stay in cache
            rows = slice(lo, lo + BLOCK)
            params[rows], value[rows] = self._newton(counts[rows], params[rows], np.array(free, float), tol, max_iter)
        if single:
            return params[0], value[0]
        return params, value

    def _newton(
        self, counts: np.ndarray, params: np.ndarray, mask: np.ndarray, tol: float, max_iter: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Damped Newton iteration of :meth:`minimize` on one block of rows."""
        value, gradient, hessian = self._evaluate(counts, params)
        active = np.isfinite(value)
        for _ in range(max_iter):
            idx = np.flatnonzero(active)
            if not idx.size:
                break
            step = _newton_step(gradient[idx] * mask, hessian[idx], mask)
            alpha = np.ones(len(idx))
            todo = np.arange(len(idx))
            for _ in range(60):  # backtracking: stay where nu > 0 and the statistic does not grow
                rows = idx[todo]
                trial = params[rows] + alpha[todo, None] * step[todo]
                trial_value, trial_gradient, trial_hessian = self._evaluate(counts[rows], trial)
                ok = trial_value <= value[rows] + 1e-12 * np.abs(value[rows])
                good = rows[ok]
                params[good], value[good] = trial[ok], trial_value[ok]
                gradient[good], hessian[good] = trial_gradient[ok], trial_hessian[ok]
                todo = todo[~ok]
                if not todo.size:
                    break
                alpha[todo] *= 0.5
            moved = np.abs(alpha[:, None] * step)
            moved[todo] = 0.0  # no acceptable step: at the minimum to machine precision
            done = np.all(moved <= tol * (1.0 + np.abs(params[idx])), axis=1)
            active[idx[done]] = False
        return params, value

    def _value(self, counts: np.ndarray, params: np.ndarray) -> np.ndarray:
        return self._statistic(counts, params @ self._basis)[0]

    # ------------------------------------------------------------------ fits

    def fit1d(self, parameter: str, counts: np.ndarray | None = None) -> Fit1D:
        """Fit one parameter with the other fixed at 1; Delta chi^2 = 1 interval."""
        k = PARAMETERS.index(parameter)
        best, minimum = self.minimize(counts, free=(k == 0, k == 1))
        low, high = self._crossings(k, profiled=False, counts=counts, best=best, minimum=minimum, level=1.0)
        return Fit1D(parameter, Interval(best[k], best[k] - low, high - best[k]), minimum, self.templates.nbins - 1)

    def profile(self, parameter: str, values: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
        """Minimum over the other parameter at each of ``values`` of ``parameter``; shape of ``values``."""
        k = PARAMETERS.index(parameter)
        counts = self.templates.data if counts is None else counts
        values = np.asarray(values, dtype=float)
        start = np.ones((values.size, 2))
        start[:, k] = values.ravel()
        free = (k == 1, k == 0)
        _, minima = self.minimize(np.broadcast_to(counts, (values.size, len(counts))), free=free, start=start)
        return minima.reshape(values.shape)

    def fit2d(self, counts: np.ndarray | None = None) -> Fit2D:
        """Fit both parameters: profile Delta chi^2 = 1 intervals, covariance 2 H^-1, p-value."""
        best, minimum = self.minimize(counts)
        data = self.templates.data if counts is None else counts
        covariance = self.covariance(best, data)
        sigma = np.sqrt(np.diag(covariance))
        intervals = []
        for k in range(2):
            low, high = self._crossings(k, profiled=True, counts=data, best=best, minimum=minimum, level=1.0)
            intervals.append(Interval(best[k], best[k] - low, high - best[k]))
        ndf = self.templates.nbins - 2
        return Fit2D(
            s_s=intervals[0],
            s_b=intervals[1],
            chi2=float(minimum),
            ndf=ndf,
            p_value=float(stats.chi2.sf(minimum, ndf)),
            covariance=covariance,
            correlation=float(covariance[0, 1] / (sigma[0] * sigma[1])),
        )

    def _crossings(
        self,
        k: int,
        profiled: bool,
        counts: np.ndarray | None,
        best: np.ndarray,
        minimum: float,
        level: float,
    ) -> tuple[float, float]:
        """Where the Delta chi^2 of parameter ``k`` (the other profiled, or fixed at ``best``) equals
        ``level``, below and above the minimum.

        Newton's method on both sides at once: by the envelope theorem the slope of the profile is
        the partial derivative at the profiled point, and the profile of a convex statistic is convex.
        """
        data = np.atleast_2d(self.templates.data if counts is None else counts)
        pair = np.repeat(data, 2, axis=0)
        free = (k == 1 and profiled, k == 0 and profiled)
        curvature = self._evaluate(data, best[None, :])[2][0, k, k]
        scale = np.sqrt(2.0 * level / curvature) if curvature > 0 else 1.0
        x = best[k] + np.array([-scale, scale])
        points = np.tile(best, (2, 1))
        for _ in range(100):
            points[:, k] = x
            points, value = self.minimize(pair, free=free, start=points)
            if not np.all(np.isfinite(value)):  # stepped where the prediction is not positive: come back
                x = np.where(np.isfinite(value), x, 0.5 * (x + best[k]))
                continue
            excess = value - minimum - level
            if np.all(np.abs(excess) <= 1e-10 * (1.0 + level)):
                break
            slope = self._evaluate(pair, points)[1][:, k]
            x = x - excess / slope
        return float(x[0]), float(x[1])

    def contour(self, best: Fit2D, level: float, points: int = 100) -> np.ndarray:
        """Points ``(points, 2)`` of (s_s, s_b) on the Delta chi^2 = ``level`` contour around ``best``.

        Found along rays from the minimum (the region of a convex statistic is star-shaped)."""
        centre = np.array([best.s_s.value, best.s_b.value])
        scale = np.sqrt(np.diag(best.covariance))
        angles = np.linspace(0.0, 2.0 * np.pi, points, endpoint=False)
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=1) * scale

        def delta(r: np.ndarray) -> np.ndarray:
            return self._value(self.templates.data[None, :], centre + r[:, None] * directions) - best.chi2

        radius = _bisect(delta, np.zeros(points), np.full(points, np.sqrt(level)), level)
        return centre + radius[:, None] * directions

    def significance(self, counts: np.ndarray | None = None) -> float:
        """sqrt(chi2(s_s = 0, s_b profiled) - chi2_min), signed by the best s_s."""
        best, minimum = self.minimize(counts)
        _, null = self.minimize(counts, free=(False, True), start=np.array([0.0, best[1]]))
        return float(np.sign(best[0]) * np.sqrt(max(null - minimum, 0.0)))


def _newton_step(gradient: np.ndarray, hessian: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """-H^-1 g restricted to the free parameters; a scaled gradient step where H is not positive."""
    h = hessian * mask[None, :, None] * mask[None, None, :] + np.diag(1.0 - mask)[None]
    det = h[:, 0, 0] * h[:, 1, 1] - h[:, 0, 1] * h[:, 1, 0]
    positive = (det > 0) & (h[:, 0, 0] > 0)
    safe = np.where(positive, det, 1.0)
    step = -np.stack(
        [
            (h[:, 1, 1] * gradient[:, 0] - h[:, 0, 1] * gradient[:, 1]) / safe,
            (h[:, 0, 0] * gradient[:, 1] - h[:, 1, 0] * gradient[:, 0]) / safe,
        ],
        axis=1,
    )
    diagonal = np.abs(np.stack([h[:, 0, 0], h[:, 1, 1]], axis=1)) + 1e-12
    return np.where(positive[:, None], step, -gradient / diagonal) * mask


def _bisect(
    delta: Callable[[np.ndarray], np.ndarray], inside: np.ndarray, guess: np.ndarray, level: float
) -> np.ndarray:
    """Vectorised: for each entry, the r > inside where ``delta(r)`` crosses ``level`` (inf is outside)."""
    outside = guess.copy()
    for _ in range(200):
        grow = delta(outside) < level
        if not grow.any():
            break
        inside = np.where(grow, outside, inside)
        outside = np.where(grow, 2.0 * outside, outside)
    for _ in range(100):
        middle = 0.5 * (inside + outside)
        below = delta(middle) < level
        inside = np.where(below, middle, inside)
        outside = np.where(below, outside, middle)
        if np.all(outside - inside <= 1e-13 * (1.0 + np.abs(outside))):
            break
    return 0.5 * (inside + outside)
