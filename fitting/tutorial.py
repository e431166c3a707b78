"""The tutorial's procedure exactly: fixed grids, a parabola for the 1-D errors, grid slices for 2-D.

Its numbers equal the tutorial's Python loops to rounding (the tests hold a loop-for-loop port),
but every grid is evaluated at once, and the coverage study evaluates the 100 x 100 grid of all
toys as matrix products (:func:`fitting.statistics.chi2_matrix`), because the prediction is
linear in (s_s, s_b).

Caveats kept on purpose: a best fit on a grid edge is not detected (the default ``profile`` method
has no such limit), the 2-D errors are read off slices at Delta chi^2 <= 2.3 through the best point
rather than profiled, and the 1-D error is symmetric, ``|root - best|`` of the fitted parabola.

Example:
    >>> fit = scan_1d(model, "s_s")
    >>> fit.interval.err_low == fit.interval.err_high
    True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fitting.fit import Fit1D, Interval, Model
from fitting.statistics import chi2, chi2_matrix
from fitting.toys import draw

__all__ = ["GRID_1D", "GRID_2D", "Scan2D", "coverage_grid", "grid_edge", "scan_1d", "scan_2d"]

#: The tutorial's grids: 100 points each.
GRID_1D = {"s_s": np.linspace(1.0, 3.0, 100), "s_b": np.linspace(1.15, 1.4, 100)}
GRID_2D = {"s_s": np.linspace(0.1, 2.7, 100), "s_b": np.linspace(1.1, 1.5, 100)}
LEVEL_2D = 2.3  # the tutorial reads its 2-D errors at Delta chi^2 = 2.3


def grid_edge(parameter: str, value: float, two_d: bool = False) -> str | None:
    """``"lower"`` or ``"upper"`` when the tutorial's best ``value`` of ``parameter`` lies on that edge of its grid
    (:data:`GRID_1D`, or :data:`GRID_2D` with ``two_d``): the minimum is then outside the grid, and the grid's
    "best fit" and interval mean nothing; ``None`` inside.

    Example:
        >>> grid_edge("s_s", 1.0), grid_edge("s_s", 1.5), grid_edge("s_b", 1.5, two_d=True)
        ('lower', None, 'upper')
    """
    grid = (GRID_2D if two_d else GRID_1D)[parameter]
    if np.isclose(value, grid[0]):
        return "lower"
    if np.isclose(value, grid[-1]):
        return "upper"
    return None


class Scan2D(NamedTuple):
    """The tutorial's 2-D grid fit: best point, slice errors, the chi^2 grid ``[s_s, s_b]``."""

    s_s: Interval
    s_b: Interval
    chi2: float
    ndf: int
    cell: tuple[int, int]  #: the grid indices of the best point
    grid: np.ndarray


def scan_1d(model: Model, parameter: str) -> Fit1D:
    """Scan ``parameter`` on its grid with the other at 1; error from a parabola fitted to Delta chi^2."""
    grid = GRID_1D[parameter]
    other = np.ones_like(grid)
    chi2 = model.chi2(grid, other) if parameter == "s_s" else model.chi2(other, grid)
    k = int(np.argmin(chi2))  # the first minimum, as the loop's strict "<"
    coefficients = np.polyfit(grid, chi2 - chi2[k], 2)
    roots = (np.poly1d(coefficients) - 1.0).roots
    error = float(np.abs(roots[0] - grid[k]))
    return Fit1D(parameter, Interval(float(grid[k]), error, error), float(chi2[k]), model.templates.nbins - 1)


def scan_2d(model: Model) -> Scan2D:
    """The 100 x 100 grid fit; errors from the grid slices through the best point at Delta chi^2 <= 2.3."""
    s_s, s_b = GRID_2D["s_s"], GRID_2D["s_b"]
    grid = model.chi2(s_s[:, None], s_b[None, :])
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    delta = grid - grid[i, j]
    along_s = np.flatnonzero(delta[:, j] <= LEVEL_2D)
    along_b = np.flatnonzero(delta[i, :] <= LEVEL_2D)
    return Scan2D(
        s_s=Interval(float(s_s[i]), float(abs(s_s[i] - s_s[along_s[0]])), float(abs(s_s[i] - s_s[along_s[-1]]))),
        s_b=Interval(float(s_b[j]), float(abs(s_b[j] - s_b[along_b[0]])), float(abs(s_b[j] - s_b[along_b[-1]]))),
        chi2=float(grid[i, j]),
        ndf=model.templates.nbins - 2,
        cell=(int(i), int(j)),
        grid=grid,
    )


def _grid_chi2(model: Model, toys: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
    """The statistic of every toy at every 2-D grid point, ``(ntoys, 100, 100)``."""
    s_s, s_b = GRID_2D["s_s"], GRID_2D["s_b"]
    nu = model.templates.predict(s_s[:, None], s_b[None, :]).reshape(-1, model.templates.nbins)  # (G, K)
    r2 = model.templates.r2 if model.mc_stat else None
    return chi2_matrix(model.statistic, toys, nu, r2, aux).reshape(len(toys), len(s_s), len(s_b))


def coverage_grid(
    model: Model,
    index: tuple[int, int],
    d_values: np.ndarray,
    ntoys: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The tutorial's last cell: for each ``d``, fresh Gaussian toys around the prediction at grid point
    ``index`` (with ``mc_stat``, fluctuated auxiliary data too), each scanned on the 2-D grid; the fraction
    whose Delta chi^2 at that grid point is <= ``d``."""
    truth = np.array([GRID_2D["s_s"][index[0]], GRID_2D["s_b"][index[1]]])
    fractions = np.empty(len(d_values))
    block = 500
    for n, d in enumerate(d_values):
        inside = 0
        for start in range(0, ntoys, block):
            toys, aux = draw(model, truth, min(block, ntoys - start), rng, "gaussian")
            if model.mc_stat and model.statistic != "pearson":
                inside += _count_bounded(model, truth, toys, aux, d)
                continue
            grid = _grid_chi2(model, toys, aux)
            minima = grid.reshape(len(toys), -1).min(axis=1)
            inside += int(np.sum(grid[:, index[0], index[1]] - minima <= d))
        fractions[n] = inside / ntoys
    return fractions


def _count_bounded(model: Model, truth: np.ndarray, toys: np.ndarray, aux: np.ndarray | None, d: float) -> int:
    """The count of :func:`coverage_grid` for statistics that do not split into matrix products (Neyman and
    Poisson with ``mc_stat``), exactly, without the grid for most toys.

    The grid minimum lies between the continuous minimum (every grid point is in the physical region) and the
    statistic at the grid points around the continuous best fit, so a toy is certainly inside (outside) when
    its Delta chi^2 to the lower (upper) bound is <= d (> d); only the toys in between are scanned: few when the
    best fit lies inside the grid, more when it lies outside (then the continuous minimum is a loose bound).
    """
    s_s, s_b = GRID_2D["s_s"], GRID_2D["s_b"]
    at = model.chi2(truth[0], truth[1], toys, aux)
    fitted = model.minimize(toys, start=truth, aux=aux)
    lower = np.where(fitted.converged, fitted.value, -np.inf)
    upper = at.copy()
    i = np.clip(np.searchsorted(s_s, fitted.params[:, 0]), 1, len(s_s) - 1)
    j = np.clip(np.searchsorted(s_b, fitted.params[:, 1]), 1, len(s_b) - 1)
    for di in (-1, 0):
        for dj in (-1, 0):
            upper = np.minimum(upper, _at(model, s_s[i + di], s_b[j + dj], toys, aux))
    lower = np.where(upper < lower, -np.inf, lower)  # a grid point below the fit: no bound, scan that toy
    certain = at - lower <= d
    unsure = ~certain & (at - upper <= d)
    count = int(np.sum(certain))
    if unsure.any():
        grid = _grid_chi2(model, toys[unsure], None if aux is None else aux[unsure])
        count += int(np.sum(at[unsure] - grid.reshape(int(unsure.sum()), -1).min(axis=1) <= d))
    return count


def _at(model: Model, s_s: np.ndarray, s_b: np.ndarray, toys: np.ndarray, aux: np.ndarray | None) -> np.ndarray:
    """The statistic of each toy at its own point ``(s_s[t], s_b[t])``."""
    nu = model.templates.predict(s_s, s_b)  # (T, K)
    return chi2(model.statistic, toys, nu, model.templates.r2, aux)
