"""Fits of the signal strength ``s_s`` and background scale ``s_b``: minimisation, profile
intervals, contours and the discovery significance, all within the physical region.

The prediction ``nu = s_s * S + s_b * B`` is linear in the parameters, so the gradient and the
Hessian of any statistic of :mod:`fitting.statistics` follow from its per-bin derivatives in
``nu``. :meth:`Model.minimize` runs the active-set Newton method of :mod:`fitting.minimizer` on
many histograms (toys) at once: no grid, every bin's prediction >= 0 (a bin may be predicted
empty where it is observed empty), the minimum found on the boundary when it lies there, and
every result checked for convergence. A fit of the data that does not converge raises
:class:`FitError`; interval ends and contour points cut by the physical boundary are flagged.

Example:
    >>> import numpy as np
    >>> from fitting.templates import Templates
    >>> t = Templates.from_arrays(np.arange(4.0), [10, 20, 30], [5.0, 10.0, 0.5], [5.0, 10.0, 20.0])
    >>> model = Model(t, "poisson")
    >>> best = model.fit2d()
    >>> round(best.s_b.value, 3), best.at_boundary
    (1.487, False)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import special

from analysis.errors import HZZ4lError
from fitting.minimizer import Minimum, Region, minimize
from fitting.statistics import STATISTICS, gamma_hat, terms
from fitting.templates import Templates

__all__ = [
    "CONTOUR_LEVELS",
    "PARAMETERS",
    "Contour",
    "Fit1D",
    "Fit2D",
    "FitError",
    "Interval",
    "Model",
    "Significance",
    "p_value",
    "significance",
]

PARAMETERS = ("s_s", "s_b")
#: Delta chi^2 of the 68.3% and 95.4% regions of two parameters (1 and 2 sigma).
CONTOUR_LEVELS = (2.30, 6.18)
BLOCK = 2048  # toys minimised together: large enough to vectorise, small enough for the cache


class FitError(HZZ4lError, RuntimeError):
    """A fit of the data that did not converge: it is not reported as a result."""


class Interval(NamedTuple):
    """A best value and the positive distances to the ends of its interval.

    ``at_boundary_low``/``at_boundary_high``: that end is where the physical region ends, before the
    statistic reached its level (a one-sided interval on that side).
    """

    value: float
    err_low: float
    err_high: float
    at_boundary_low: bool = False
    at_boundary_high: bool = False


class Fit1D(NamedTuple):
    """A one-parameter fit (the other fixed at 1) with its Delta chi^2 = 1 interval.

    ``at_boundary``: the best value lies on the physical boundary."""

    parameter: str
    interval: Interval
    chi2: float
    ndf: int
    at_boundary: bool = False


class Fit2D(NamedTuple):
    """The two-parameter fit: profile intervals (Delta chi^2 = 1), covariance and goodness of fit.

    ``covariance`` and ``correlation`` are ``None`` where the best fit lies on the physical boundary
    (``at_boundary``) or the curvature there is not positive: no Gaussian approximation holds.
    """

    s_s: Interval
    s_b: Interval
    chi2: float
    ndf: int
    p_value: float
    covariance: np.ndarray | None
    correlation: float | None
    at_boundary: bool = False


class Contour(NamedTuple):
    """Points ``(N, 2)`` of (s_s, s_b) with Delta chi^2 = ``level``; where the physical boundary cuts the
    region first, the point is on the boundary and ``at_boundary`` is True."""

    level: float
    points: np.ndarray
    at_boundary: np.ndarray


class Significance(NamedTuple):
    """The discovery significance (Cowan, Cranmer, Gross, Vitells 2011, eq. 12).

    ``q0`` = Delta chi^2 between the best fit with s_s = 0 (s_b profiled) and the best fit, set to 0
    when the best s_s < 0; ``z = sqrt(q0)`` (0 for a deficit); ``z_signed`` = sign(s_s) sqrt(Delta chi^2).
    Infinite where the background-only prediction is zero in a bin with data.
    """

    z: float
    z_signed: float
    q0: float
    s_s_hat: float


class Model:
    """The statistic of observed counts against the linear prediction of ``templates``.

    Args:
        templates: the binned inputs.
        statistic: ``pearson``, ``neyman`` or ``poisson``.
        mc_stat: include the simulation's statistical uncertainty (Barlow–Beeston lite).
        max_iter: the most Newton steps of one minimisation before it is declared unconverged.
    """

    def __init__(
        self, templates: Templates, statistic: str = "poisson", mc_stat: bool = False, max_iter: int = 200
    ) -> None:
        if statistic not in STATISTICS:
            raise ValueError(f"unknown statistic {statistic!r} (expected one of {', '.join(STATISTICS)})")
        self.templates = templates
        self.statistic = statistic
        self.mc_stat = mc_stat
        self.max_iter = max_iter
        self.region = Region(templates.signal, templates.background)
        self._basis = np.stack([templates.signal, templates.background])  # (2, K)
        signal, background = self._basis
        self._products = np.stack([signal * signal, signal * background, background * background]).T  # (K, 3)
        self._r2 = templates.r2 if mc_stat else None

    # ------------------------------------------------------------------ evaluation

    def chi2(
        self,
        s_s: float | np.ndarray,
        s_b: float | np.ndarray,
        counts: np.ndarray | None = None,
        aux: np.ndarray | None = None,
    ) -> np.ndarray:
        """The statistic at ``(s_s, s_b)`` (broadcast) for ``counts`` (default: the data); inf outside the
        physical region (some bin predicted negative) and where a bin with data is predicted empty."""
        counts = self.templates.data if counts is None else counts
        params = np.stack(np.broadcast_arrays(np.asarray(s_s, dtype=float), np.asarray(s_b, dtype=float)), axis=-1)
        value = self._value(counts, aux, params)
        return np.where(self.region.feasible(params), value, np.inf)

    def _value(self, counts: np.ndarray, aux: np.ndarray | None, params: np.ndarray) -> np.ndarray:
        nu = np.maximum(params @ self._basis, 0.0)  # exact zeros on the boundary, not rounding below them
        value = np.sum(terms(self.statistic, counts, nu, self._r2, aux)[0], axis=-1)
        return np.where(np.isfinite(value), value, np.inf)

    def _evaluate(
        self, counts: np.ndarray, aux: np.ndarray | None, params: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Statistic ``(T,)`` (inf where a bin with data is predicted empty), gradient ``(T, 2)``, Hessian
        ``(T, 2, 2)``."""
        nu = np.maximum(params @ self._basis, 0.0)
        t, t1, t2 = terms(self.statistic, counts, nu, self._r2, aux)
        with np.errstate(invalid="ignore", over="ignore"):  # inf where a bin with data is predicted empty
            value = t.sum(axis=-1)
            h = t2 @ self._products  # (T, 3): d2/ds_s2, d2/ds_s ds_b, d2/ds_b2
            gradient = t1 @ self._basis.T
        hessian = np.stack([h[:, :2], h[:, 1:]], axis=1)
        return np.where(np.isfinite(value), value, np.inf), gradient, hessian

    def gamma(self, params: np.ndarray, counts: np.ndarray | None = None, aux: np.ndarray | None = None) -> np.ndarray:
        """The profiled Barlow–Beeston factors per bin at ``params`` (ones without ``mc_stat``)."""
        nu = self._predict(params)
        if not self.mc_stat:
            return np.ones_like(nu)
        counts = self.templates.data if counts is None else counts
        return gamma_hat(self.statistic, counts, nu, self.templates.r2, aux)

    def expected(
        self, params: np.ndarray, counts: np.ndarray | None = None, aux: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The expected counts at ``params`` (the simulation's factors gamma profiled on ``counts``) and, with
        ``mc_stat``, the auxiliary data they imply: the Asimov data set, and the truth toys are drawn around."""
        gamma = self.gamma(params, counts, aux)
        return gamma * self._predict(params), (gamma if self.mc_stat else None)

    def _predict(self, params: np.ndarray) -> np.ndarray:
        """The prediction at ``params``, exactly 0 in a bin predicted empty on the boundary (not -1e-17)."""
        return np.asarray(np.maximum(self.templates.predict(*params), 0.0))

    def covariance(
        self, params: np.ndarray, counts: np.ndarray | None = None, aux: np.ndarray | None = None
    ) -> np.ndarray | None:
        """2 H^-1 at ``params = (s_s, s_b)`` (the statistic is -2 ln L), ``(2, 2)``; None where H is not positive."""
        data = self.templates.data if counts is None else counts
        hessian = self._evaluate(
            np.atleast_2d(data), None if aux is None else np.atleast_2d(aux), np.asarray(params, dtype=float)[None, :]
        )[2][0]
        if not (hessian[0, 0] > 0 and np.linalg.det(hessian) > 0):
            return None
        return 2.0 * np.linalg.inv(hessian)

    # ------------------------------------------------------------------ minimisation

    def minimize(
        self,
        counts: np.ndarray | None = None,
        free: tuple[bool, bool] = (True, True),
        start: np.ndarray | None = None,
        aux: np.ndarray | None = None,
        tol: float = 1e-10,
    ) -> Minimum:
        """Minimise the statistic for each row of ``counts`` (shape ``(T, K)`` or ``(K,)``) in the physical region.

        ``free`` says which of ``(s_s, s_b)`` float; the others stay at ``start`` (default 1). ``aux`` are
        the auxiliary data of ``mc_stat`` (default 1). Returns a :class:`fitting.minimizer.Minimum`
        (squeezed for 1-D counts); check its ``converged``.
        """
        counts = self.templates.data if counts is None else np.asarray(counts, dtype=float)
        single = counts.ndim == 1
        counts = np.atleast_2d(counts)
        if aux is not None:
            aux = np.broadcast_to(aux, counts.shape)
        start = np.ones(2) if start is None else np.asarray(start, dtype=float)
        start = np.array(np.broadcast_to(start, (len(counts), 2)))
        parts = []
        for lo in range(0, len(counts), BLOCK):  # blocks that stay in cache
            block = counts[lo : lo + BLOCK]
            block_aux = None if aux is None else aux[lo : lo + BLOCK]

            def evaluate(
                rows: np.ndarray,
                params: np.ndarray,
                block: np.ndarray = block,
                block_aux: np.ndarray | None = block_aux,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
                return self._evaluate(block[rows], None if block_aux is None else block_aux[rows], params)

            parts.append(minimize(evaluate, self.region, start[lo : lo + BLOCK], free, tol, self.max_iter))
        result = Minimum(*(np.concatenate(field) for field in zip(*parts, strict=True)))
        if single:
            return Minimum(*(field[0] for field in result))
        return result

    def _fit(
        self,
        free: tuple[bool, bool],
        what: str,
        counts: np.ndarray | None = None,
        aux: np.ndarray | None = None,
        start: np.ndarray | None = None,
    ) -> Minimum:
        """One fit of ``counts``, raising :class:`FitError` if it did not converge."""
        result = self.minimize(counts, free=free, start=start, aux=aux)
        if not result.converged:
            raise FitError(f"the {what} ({self.statistic} statistic) did not converge: no result reported")
        return result

    # ------------------------------------------------------------------ fits

    def fit1d(self, parameter: str, counts: np.ndarray | None = None) -> Fit1D:
        """Fit one parameter with the other fixed at 1; Delta chi^2 = 1 interval."""
        k = PARAMETERS.index(parameter)
        best = self._fit((k == 0, k == 1), f"fit of {parameter} alone", counts)
        interval = self._interval(k, False, counts, None, best.params, float(best.value), 1.0)
        return Fit1D(parameter, interval, float(best.value), self.templates.nbins - 1, bool(best.active))

    def profile(
        self, parameter: str, values: np.ndarray, counts: np.ndarray | None = None, aux: np.ndarray | None = None
    ) -> np.ndarray:
        """Minimum over the other parameter at each of ``values`` of ``parameter`` (inf where no point of the
        physical region has that value); shape of ``values``. Raises :class:`FitError` if one did not converge."""
        k = PARAMETERS.index(parameter)
        values = np.asarray(values, dtype=float)
        minima = self._profile(k, values.ravel(), counts, aux)[0]
        return minima.reshape(values.shape)

    def _profile(
        self,
        k: int,
        values: np.ndarray,
        counts: np.ndarray | None,
        aux: np.ndarray | None,
        start: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = self.templates.data if counts is None else counts
        if start is None:
            start = np.ones((values.size, 2))
        start = np.array(start, dtype=float)
        start[:, k] = values
        result = self.minimize(
            np.broadcast_to(counts, (values.size, len(counts))),
            free=(k == 1, k == 0),
            start=start,
            aux=None if aux is None else np.broadcast_to(aux, (values.size, len(counts))),
        )
        if not np.all(result.converged):
            bad = values[~result.converged][0]
            raise FitError(f"the profile fit at {PARAMETERS[k]} = {bad:g} ({self.statistic}) did not converge")
        return result.value, result.params, result.active

    def fit2d(self, counts: np.ndarray | None = None, aux: np.ndarray | None = None) -> Fit2D:
        """Fit both parameters: profile Delta chi^2 = 1 intervals, covariance 2 H^-1, p-value."""
        best = self._fit((True, True), "fit of s_s and s_b", counts, aux)
        minimum = float(best.value)
        at_boundary = bool(best.active)
        covariance = None if at_boundary else self.covariance(best.params, counts, aux)
        intervals = [self._interval(k, True, counts, aux, best.params, minimum, 1.0) for k in range(2)]
        ndf = self.templates.nbins - 2
        correlation = None
        if covariance is not None:
            correlation = float(covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1]))
        return Fit2D(
            s_s=intervals[0],
            s_b=intervals[1],
            chi2=minimum,
            ndf=ndf,
            p_value=p_value(minimum, ndf),
            covariance=covariance,
            correlation=correlation,
            at_boundary=at_boundary,
        )

    def _domain(self, k: int, profiled: bool, best: np.ndarray) -> tuple[float, float]:
        """The values parameter ``k`` can take in the physical region (the other profiled, or fixed at ``best``)."""
        if profiled:  # the projection of the wedge spanned by its two edges
            edges = self.region.edges[:, k]
            return (-np.inf if np.any(edges < 0) else 0.0), (np.inf if np.any(edges > 0) else 0.0)
        origin = best.copy()
        origin[k] = 0.0
        low, high = self.region.line(origin, np.eye(2)[k])
        return float(low), float(high)

    def _scan(
        self,
        k: int,
        profiled: bool,
        x: np.ndarray,
        counts: np.ndarray | None,
        aux: np.ndarray | None,
        best: np.ndarray,
        start: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Statistic at parameter ``k = x`` (the other profiled from ``start``, or fixed at ``best``), the points,
        and the slope d/dx there where it is the partial derivative (envelope theorem: the other parameter
        profiled inside the region, or fixed); NaN where the profiled point is on the boundary."""
        data = self.templates.data if counts is None else counts
        if profiled:
            value, points, active = self._profile(k, x, counts, aux, start)
        else:
            points = np.tile(best, (len(x), 1))
            points[:, k] = x
            value, active = self.chi2(points[:, 0], points[:, 1], data, aux), np.zeros(len(x), dtype=int)
        slope = self._evaluate(
            np.broadcast_to(data, (len(x), len(data))),
            None if aux is None else np.broadcast_to(aux, (len(x), len(data))),
            points,
        )[1][:, k]
        return value, points, np.where(active == 0, slope, np.nan)

    def _interval(
        self,
        k: int,
        profiled: bool,
        counts: np.ndarray | None,
        aux: np.ndarray | None,
        best: np.ndarray,
        minimum: float,
        level: float,
    ) -> Interval:
        """Where the Delta chi^2 of parameter ``k`` (the other profiled, or fixed at ``best``) reaches ``level``
        below and above the minimum, or where the physical region ends first (flagged).

        Both sides at once: steps outward until the level is bracketed, then Newton's method kept inside the
        bracket, or the Illinois variant of regula falsi where no exact slope is known (bisection where the
        statistic is infinite); the profile of a convex statistic is convex, so each side has one crossing.
        """
        ends = np.array(self._domain(k, profiled, best))
        centre = float(best[k])
        curvature = self._evaluate(
            np.atleast_2d(self.templates.data if counts is None else counts),
            None if aux is None else np.atleast_2d(aux),
            best[None, :],
        )[2][0]
        if profiled and curvature[0, 0] * curvature[1, 1] > curvature[0, 1] ** 2:
            curve = np.linalg.det(curvature) / curvature[1 - k, 1 - k]
        else:
            curve = curvature[k, k]
        width = np.sqrt(2.0 * level / curve) if curve > 0 else max(1.0, abs(centre))
        inside, outside = np.full(2, centre), np.full(2, np.nan)
        below, above = np.full(2, -level), np.full(2, np.nan)  # excess at inside and outside
        kept = np.zeros(2, dtype=int)  # times in a row the outside end stayed (Illinois)
        x = np.clip(centre + np.array([-1.0, 1.0]) * width, ends[0], ends[1])
        start = np.tile(best, (2, 1))
        cut = x == centre  # the best value already where the region ends on that side
        done = cut.copy()
        for _ in range(200):
            todo = np.flatnonzero(~done)
            if not todo.size:
                break
            value, points, slope = self._scan(k, profiled, x[todo], counts, aux, best, start[todo])
            start[todo] = np.where(np.isfinite(points), points, start[todo])
            for j, i in enumerate(todo):
                excess = value[j] - minimum - level
                if abs(excess) <= 1e-9 * (1.0 + level):
                    done[i] = True
                    continue
                if excess > 0:
                    outside[i], above[i], kept[i] = x[i], excess, 0
                else:
                    inside[i], below[i] = x[i], excess
                    kept[i] += 1
                    if kept[i] > 1 and np.isfinite(above[i]):
                        above[i] *= 0.5
                    if x[i] == ends[i]:  # the region ends before the level is reached
                        done[i] = cut[i] = True
                        continue
                if np.isnan(outside[i]):
                    x[i] = np.clip(centre + 2.0 * (x[i] - centre), ends[0], ends[1])
                    continue
                lo, hi = sorted((inside[i], outside[i]))
                if hi - lo <= 1e-12 * (1.0 + abs(hi)):
                    done[i] = True
                    continue
                guess = x[i] - excess / slope[j] if np.isfinite(excess) and slope[j] != 0 else np.nan
                if not lo < guess < hi and np.isfinite(above[i]):
                    guess = inside[i] - below[i] * (outside[i] - inside[i]) / (above[i] - below[i])
                x[i] = guess if lo < guess < hi else 0.5 * (lo + hi)
        else:
            raise FitError(f"the Delta chi^2 = {level:g} interval of {PARAMETERS[k]} did not converge")
        return Interval(centre, float(centre - x[0]), float(x[1] - centre), bool(cut[0]), bool(cut[1]))

    def contour(self, best: Fit2D, level: float, points: int = 100) -> Contour:
        """Points of (s_s, s_b) on the Delta chi^2 = ``level`` contour around ``best``, or on the physical
        boundary where it cuts the region first.

        Found along rays from the minimum (the region of a convex statistic is star-shaped)."""
        centre = np.array([best.s_s.value, best.s_b.value])
        if best.covariance is not None:
            scale = np.sqrt(np.diag(best.covariance))
        else:
            scale = np.array([max(i.err_low + i.err_high, 1e-3) / 2 for i in (best.s_s, best.s_b)])
        angles = np.linspace(0.0, 2.0 * np.pi, points, endpoint=False)
        directions = np.stack([np.cos(angles), np.sin(angles)], axis=1) * scale
        _, reach = self.region.line(centre, directions)
        reach = np.maximum(reach, 0.0)

        def delta(r: np.ndarray) -> np.ndarray:
            return self.chi2(*(centre + r[:, None] * directions).T) - best.chi2

        radius, cut = _bisect(delta, reach, np.full(points, np.sqrt(level)), level)
        return Contour(level, centre + radius[:, None] * directions, cut)


def p_value(chi2: float, ndf: int) -> float:
    """P(chi^2 >= ``chi2``) for ``ndf`` degrees of freedom; NaN for ``ndf`` < 1 (scipy.special: a tenth of
    scipy.stats' import time).

    Example:
        >>> round(p_value(3.84, 1), 3)
        0.05
    """
    return float(special.chdtrc(ndf, chi2)) if ndf >= 1 else math.nan


def significance(model: Model, counts: np.ndarray | None = None, aux: np.ndarray | None = None) -> Significance:
    """The one-sided discovery significance of ``counts`` (default: the data), background profiled.

    Example:
        >>> import numpy as np
        >>> from fitting.templates import Templates
        >>> t = Templates.from_arrays(np.arange(3.0), [5, 1], [0.0, 2.0], [5.0, 2.0])  # a deficit in bin 1
        >>> result = significance(Model(t, "poisson"))
        >>> result.z, result.z_signed < 0
        (0.0, True)
    """
    best = model._fit((True, True), "fit of s_s and s_b", counts, aux)
    start = np.array([0.0, max(float(best.params[1]), 1e-3)])
    null = model._fit((False, True), "background-only fit (s_s = 0)", counts, aux, start)
    delta = max(float(null.value - best.value), 0.0)
    s_hat = float(best.params[0])
    z = np.sqrt(delta)
    return Significance(
        z=float(z if s_hat > 0 else 0.0),
        z_signed=float(np.copysign(z, s_hat)),
        q0=delta if s_hat > 0 else 0.0,
        s_s_hat=s_hat,
    )


def _bisect(
    delta: Callable[[np.ndarray], np.ndarray], reach: np.ndarray, guess: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised: for each ray, the r in (0, reach] where ``delta(r)`` crosses ``level`` (inf is outside), or
    ``reach`` where delta stays below the level up to there (then flagged True)."""
    inside = np.zeros_like(reach)
    outside = np.minimum(guess, reach)
    for _ in range(200):
        grow = (delta(outside) < level) & (outside < reach)
        if not grow.any():
            break
        inside = np.where(grow, outside, inside)
        outside = np.where(grow, np.minimum(2.0 * outside, reach), outside)
    cut = delta(outside) < level  # only where outside == reach
    for _ in range(200):
        middle = 0.5 * (inside + outside)
        below = delta(middle) < level
        inside = np.where(below, middle, inside)
        outside = np.where(below, outside, middle)
        if np.all(cut | (outside - inside <= 1e-13 * (1.0 + np.abs(outside)))):
            break
    return np.where(cut, reach, 0.5 * (inside + outside)), cut
