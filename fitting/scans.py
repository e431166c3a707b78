"""The Delta chi^2 curves and map the fit's figures show, computed with the fit (the plots only draw them).

:func:`scan` gives the Delta chi^2 of one parameter with the other fixed at 1 and profiled, over the range worth
showing; :func:`scan_map` the Delta chi^2 over the (s_s, s_b) plane of the contour plot, fine where the contours and
the 99.7% region lie and ever coarser far beyond them, so that whatever part of the plane a figure shows is covered.

Example:
    >>> best = model.fit2d()
    >>> curves = scan(model, "s_s", model.fit1d("s_s"), best.s_s, best.chi2)
    >>> round(float(np.nanmin(curves.profiled)), 2), len(curves.values)
    (0.0, 200)
    >>> plane = scan_map(model, best)
    >>> plane.delta.shape == (len(plane.s_s), len(plane.s_b)), float(plane.delta.min()) >= 0
    (True, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

from fitting.fit import PARAMETERS, Fit1D, Fit2D, Interval, Model
from fitting.statistics import chi2_matrix
from fitting.tutorial import GRID_1D, grid_edge

__all__ = ["MAP_LEVEL", "SCAN_REACH", "Scan", "ScanMap", "scan", "scan_map"]

#: The Delta chi^2 of the 99.73% region of two parameters (3 sigma): the top of the map's colour scale.
MAP_LEVEL = float(special.chdtri(2, 1 - 0.9973))
#: How far a scan reaches: to where a parabola through each interval reaches this Delta chi^2 (about 2.2 sigma).
SCAN_REACH = 5.0
#: Ratio of neighbouring steps of the map beyond its fine part.
MAP_GROWTH = 1.25


class Scan(NamedTuple):
    """Delta chi^2 of ``parameter`` at ``values``: ``fixed`` with the other parameter fixed at 1, ``profiled`` with
    it minimised, each from its own minimum; NaN where no point of the physical region has that value. With the
    tutorial's method, ``grid`` is its 1-D grid and ``grid_fixed`` the fixed Delta chi^2 there (empty otherwise)."""

    parameter: str
    values: np.ndarray
    fixed: np.ndarray
    profiled: np.ndarray
    grid: np.ndarray
    grid_fixed: np.ndarray


class ScanMap(NamedTuple):
    """Delta chi^2 of (s_s, s_b), both fixed, over the best fit: ``delta[i, j]`` at ``(s_s[i], s_b[j])``; inf
    outside the physical region. ``s_s`` and ``s_b`` ascend, evenly spaced over the plane of the contours and
    ever more widely beyond."""

    s_s: np.ndarray
    s_b: np.ndarray
    delta: np.ndarray


def scan(
    model: Model,
    parameter: str,
    fixed: Fit1D,
    profiled: Interval,
    minimum: float,
    *,
    tutorial: bool = False,
    points: int = 200,
) -> Scan:
    """The Delta chi^2 of ``parameter`` (``s_s`` or ``s_b``) with the other fixed at 1 (its fit ``fixed``) and
    profiled (its interval ``profiled`` in the fit of both, whose statistic is ``minimum``), at ``points`` values
    over about sqrt(:data:`SCAN_REACH`) times both intervals around their best fits, cut where a curve passes twice
    :data:`SCAN_REACH`. With the ``tutorial``'s method, over its whole grid, and beyond an edge of it where its best
    fit lies on that edge (the minimum lies outside)."""
    if parameter not in PARAMETERS:
        raise ValueError(f"unknown parameter {parameter!r} (expected one of {', '.join(PARAMETERS)})")
    fits = {"fixed": fixed.interval, "profiled": profiled}
    edges = {
        "fixed": grid_edge(parameter, fixed.interval.value) if tutorial else None,
        "profiled": grid_edge(parameter, profiled.value, two_d=True) if tutorial else None,
    }
    reach = np.sqrt(SCAN_REACH)  # in units of each interval's half-widths
    best = [i.value for i in fits.values()]
    ends = best + [
        i.value + side * reach * error
        for key, i in fits.items()
        if edges[key] is None
        for side, error in ((-1, i.err_low), (1, i.err_high))
        if np.isfinite(error)
    ]
    grid = GRID_1D[parameter] if tutorial else np.empty(0)
    if tutorial:
        ends += [float(grid[0]), float(grid[-1])]
    low, high = min(ends), max(ends)
    span = high - low
    if "lower" in edges.values():  # the minimum lies beyond the grid: show where
        low -= 0.3 * span
    if "upper" in edges.values():
        high += 0.3 * span
    x = np.linspace(low, high, points)
    curves = {"fixed": _fixed(model, parameter, x), "profiled": model.profile(parameter, x)}
    chi2_min = {"fixed": fixed.chi2, "profiled": minimum}
    minima = {key: min(chi2_min[key], float(np.nanmin(curve))) for key, curve in curves.items()}
    steep = np.nanmax([curve - minima[key] for key, curve in curves.items()], axis=0) > 2 * SCAN_REACH
    steep &= not tutorial  # the tutorial's grid is shown whole
    kept = np.flatnonzero(~steep | (x >= min(best)) & (x <= max(best)))  # never cut off a best fit
    window = slice(kept[0], kept[-1] + 1)
    delta = {key: np.where(np.isfinite(curve), curve - minima[key], np.nan)[window] for key, curve in curves.items()}
    grid_fixed = _fixed(model, parameter, grid) - minima["fixed"] if tutorial else np.empty(0)
    return Scan(parameter, x[window], delta["fixed"], delta["profiled"], grid, grid_fixed)


def _fixed(model: Model, parameter: str, x: np.ndarray) -> np.ndarray:
    """The statistic at ``parameter = x``, the other at 1."""
    return model.chi2(x, 1.0) if parameter == "s_s" else model.chi2(1.0, x)


def scan_map(model: Model, best: Fit2D, points: int = 201, reach: float = 10.0) -> ScanMap:
    """The Delta chi^2 over the best fit ``best`` on the plane of its contour plot: ``points`` evenly spaced values
    of each parameter over the box holding the :data:`MAP_LEVEL` (99.7%) contour and the Standard Model point (1, 1),
    widened by a tenth of its size on each side, then steps growing by :data:`MAP_GROWTH` out to ``reach`` times the
    box's size beyond it (where the legend of a figure may need room)."""
    edge = model.contour(best, MAP_LEVEL).points
    corners = np.vstack([edge, [[best.s_s.value, best.s_b.value], [1.0, 1.0]]])
    low, high = corners.min(axis=0), corners.max(axis=0)
    size = high - low
    s_s, s_b = (_axis(lo - 0.1 * d, hi + 0.1 * d, points, reach * d) for lo, hi, d in zip(low, high, size, strict=True))
    t = model.templates
    nu = np.maximum(t.predict(s_s[:, None], s_b[None, :]), 0.0).reshape(-1, t.nbins)  # (points, bins)
    # the statistic split into matrix products where it can be: a tenth of the time of Model.chi2 point by point
    values = chi2_matrix(model.statistic, t.data[None, :], nu, t.r2 if model.mc_stat else None)[0]
    feasible = model.region.feasible(np.stack(np.meshgrid(s_s, s_b, indexing="ij"), axis=-1)).ravel()
    delta = np.where(feasible & ~np.isnan(values), np.maximum(values - best.chi2, 0.0), np.inf)
    return ScanMap(s_s, s_b, delta.reshape(len(s_s), len(s_b)))


def _axis(low: float, high: float, points: int, reach: float) -> np.ndarray:
    """``points`` values evenly spaced from ``low`` to ``high``, continued on both sides by steps growing by
    :data:`MAP_GROWTH` until ``reach`` beyond.

    Example:
        >>> _axis(0.0, 1.0, 3, 1.0).round(3).tolist()
        [-1.406, -0.625, 0.0, 0.5, 1.0, 1.625, 2.406]
    """
    fine = np.linspace(low, high, points)
    step = fine[1] - fine[0]
    count = int(np.ceil(np.log1p(reach * (MAP_GROWTH - 1) / step) / np.log(MAP_GROWTH)))
    tail = np.cumsum(step * MAP_GROWTH ** np.arange(1, count + 1))
    return np.concatenate([low - tail[::-1], fine, high + tail])
