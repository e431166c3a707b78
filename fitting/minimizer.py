"""Minimisation of a statistic of ``(s_s, s_b)`` over the physical region, many histograms at once.

The prediction ``nu = s_s * S + s_b * B`` must be >= 0 in every bin. With ``S, B >= 0`` that region
is a wedge (a convex cone) bounded by the two bins of most extreme ratio ``B / S``: :class:`Region`.
:func:`minimize` is an active-set Newton method on it: Newton steps inside, one-dimensional Newton
steps along an edge of the wedge where the minimum lies on it (``nu = 0`` in the extreme bin), a
constraint released when its Lagrange multiplier turns negative. Every row ends with a convergence
check: the decrease still on offer (Newton decrement, along the free directions) is below ``tol``
and no boundary that is active would let the statistic fall if released (the KKT conditions).

Example:
    >>> import numpy as np
    >>> region = Region(np.array([1.0, 1.0]), np.array([0.0, 1.0]))  # a bin without background: s_s >= 0
    >>> bool(region.feasible(np.array([-0.1, 1.0]))), bool(region.feasible(np.array([0.0, 1.0])))
    (False, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from analysis.errors import HZZ4lError

__all__ = ["DegenerateTemplatesError", "Minimum", "Region", "minimize"]

#: Evaluation of the statistic for some rows:
#: ``(rows, params (R, 2)) -> (value (R,), gradient (R, 2), Hessian (R, 2, 2))``.
Evaluate = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
LOW, HIGH = 1, 2  # bits of the two constraints of the wedge in ``Minimum.active``
BOTH = LOW | HIGH


class DegenerateTemplatesError(HZZ4lError, ValueError):
    """Signal and background have the same shape in the bins fitted: s_s and s_b cannot be told apart."""


class Minimum(NamedTuple):
    """Result of :func:`minimize`, one entry per row.

    ``active`` has bit 1 set where the signal-most bin is predicted empty (the lower edge of the wedge)
    and bit 2 where the background-most one is: non-zero means the minimum lies on the physical boundary.
    """

    params: np.ndarray
    value: np.ndarray
    converged: np.ndarray
    active: np.ndarray


class Region:
    """The physical region ``s_s * signal + s_b * background >= 0`` in every bin (``signal, background >= 0``).

    ``normals`` (2, 2) are the two bins bounding it (``x @ normals.T >= 0``), ``edges`` (2, 2) the unit
    directions of its two edges: along ``edges[c]`` constraint ``c`` is active (its bin predicted empty).
    """

    def __init__(self, signal: np.ndarray, background: np.ndarray) -> None:
        angle = np.arctan2(background, signal)
        low, high = int(np.argmin(angle)), int(np.argmax(angle))
        if angle[high] - angle[low] < 1e-12:
            raise DegenerateTemplatesError(
                "signal and background templates have the same shape in the bins fitted: s_s and s_b cannot be "
                "told apart"
            )
        self.bins = (low, high)
        self.normals = np.array([[signal[low], background[low]], [signal[high], background[high]]])
        self.units = self.normals / np.linalg.norm(self.normals, axis=1, keepdims=True)
        (s_lo, b_lo), (s_hi, b_hi) = self.units
        self.edges = np.array([[-b_lo, s_lo], [b_hi, -s_hi]])

    def margins(self, params: np.ndarray) -> np.ndarray:
        """Predictions ``(..., 2)`` of the two bounding bins, relative to the size of ``params``."""
        params = np.asarray(params, dtype=float)
        scale = np.abs(params) @ np.abs(self.units.T) + 1e-300
        return np.asarray((params @ self.units.T) / scale)

    def feasible(self, params: np.ndarray, tol: float = 1e-12) -> np.ndarray:
        """Whether ``params (..., 2)`` lie in the region (to rounding)."""
        return np.asarray(np.all(self.margins(params) >= -tol, axis=-1))

    def line(self, origin: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The interval ``[low, high]`` of t where ``origin + t * direction`` (both ``(..., 2)``, broadcast) is
        in the region (``low > high`` where the line misses it)."""
        origin, direction = np.broadcast_arrays(np.asarray(origin, dtype=float), np.asarray(direction, dtype=float))
        at, slope = origin @ self.normals.T, direction @ self.normals.T
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = -at / slope
        low = np.max(np.where(slope > 0, bound, -np.inf), axis=-1)
        high = np.min(np.where(slope < 0, bound, np.inf), axis=-1)
        missed = np.any((slope == 0) & (at < 0), axis=-1)
        return np.where(missed, np.inf, low), high


def _interior_start(region: Region, start: np.ndarray, free: tuple[bool, bool]) -> tuple[np.ndarray, np.ndarray]:
    """A start strictly inside the region (on the line of the fixed parameter); rows without any: False."""
    x = start.copy()
    if all(free):
        inside = np.all(x @ region.normals.T > 0, axis=1)
        x[~inside] = 1.0  # every bin predicted positive
        return x, np.ones(len(x), dtype=bool)
    k = free.index(True)
    origin = x.copy()
    origin[:, k] = 0.0
    low, high = region.line(origin, np.eye(2)[k])
    t = x[:, k]
    with np.errstate(invalid="ignore"):  # inf - inf where the line misses the region (a profile outside it)
        width = np.where(np.isfinite(high - low), high - low, np.inf)
    pad = np.minimum(
        0.1 * np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(low), low, 0.0)), np.abs(t))), 0.25 * width
    )
    t = np.where(t <= low, low + pad, t)
    t = np.where(t >= high, high - pad, t)
    x[:, k] = t
    return x, low < high


def _newton(gradient: np.ndarray, hessian: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-H^-1 g and the decrement g H^-1 g. Where H is not positive definite (e.g. the statistic is linear along
    some direction) H is shifted to be, so the step runs far along that direction (up to ~1e6 ``scale``; the
    region's edge, where the minimum then lies, stops it), and the decrement is infinite: not converged."""
    a, b, c = hessian[:, 0, 0], 0.5 * (hessian[:, 0, 1] + hessian[:, 1, 0]), hessian[:, 1, 1]
    det = a * c - b * b
    positive = (det > 0) & (a > 0)
    lowest = 0.5 * (a + c - np.sqrt((a - c) ** 2 + 4.0 * b * b))  # the smaller eigenvalue
    floor = 1e-8 * (np.abs(a) + np.abs(c)) + np.hypot(gradient[:, 0], gradient[:, 1]) / (1e6 * scale) + 1e-300
    shift = np.where(positive, 0.0, np.maximum(-lowest, 0.0) + floor)
    a, c = a + shift, c + shift
    det = a * c - b * b
    step = -np.stack(
        [(c * gradient[:, 0] - b * gradient[:, 1]) / det, (a * gradient[:, 1] - b * gradient[:, 0]) / det], axis=1
    )
    decrement = np.where(positive, -np.sum(gradient * step, axis=1), np.inf)
    return step, decrement


def _along(
    gradient: np.ndarray, hessian: np.ndarray, u: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton along unit directions ``u (R, 2)``: the step length, the decrease on offer and the slope g.u."""
    slope = np.sum(gradient * u, axis=1)
    curvature = np.einsum("ri,rij,rj->r", u, hessian, u)
    positive = curvature > 0
    length = np.where(positive, -slope / np.where(positive, curvature, 1.0), -np.sign(slope) * scale)
    gain = np.where(positive, slope * slope / np.where(positive, curvature, 1.0), np.where(slope != 0, np.inf, 0.0))
    return length, gain, slope


def minimize(
    evaluate: Evaluate,
    region: Region,
    start: np.ndarray,
    free: tuple[bool, bool] = (True, True),
    tol: float = 1e-10,
    max_iter: int = 200,
) -> Minimum:
    """Minimise for every row of ``start (T, 2)``; ``free`` says which parameters float (others stay at start).

    ``tol`` bounds the decrease of the statistic still on offer at a converged minimum.
    """
    if not any(free):
        raise ValueError("nothing to minimise: both parameters fixed")
    two = all(free)
    rows = len(start)
    x, possible = _interior_start(region, np.array(start, dtype=float), free)
    value = np.full(rows, np.inf)
    gradient, hessian = np.zeros((rows, 2)), np.zeros((rows, 2, 2))
    converged = ~possible  # no point on the line: the infimum is +inf, exactly
    active = np.zeros(rows, dtype=np.int64)
    index = np.flatnonzero(possible)
    if index.size:
        value[index], gradient[index], hessian[index] = evaluate(index, x[index])
    # strictly inside the line's range a bin can only be predicted empty if it is so on the whole line:
    # a start at +inf (data there) means the infimum is +inf, exactly
    converged |= possible & ~np.isfinite(value)
    running = possible & np.isfinite(value)
    line = np.eye(2)[0 if two else free.index(True)]  # the direction of a one-parameter fit
    normals, units, edges = region.normals, region.units, region.edges
    for _ in range(max_iter):
        idx = np.flatnonzero(running)
        if not idx.size:
            break
        xs, g, h, act = x[idx], gradient[idx], hessian[idx], active[idx]
        n = len(idx)
        scale = np.maximum(1.0, np.abs(xs).max(axis=1))
        step = np.zeros((n, 2))
        drop = np.zeros(n, dtype=np.int64)
        gain = np.zeros(n)
        if two:
            inside = act == 0
            newton, decrement = _newton(g, h, scale)
            step[inside], gain[inside] = newton[inside], decrement[inside]
            for c, bit in ((0, LOW), (1, HIGH)):
                on_edge = act == bit
                if on_edge.any():
                    u = np.broadcast_to(edges[c], (n, 2))
                    length, edge_gain, _ = _along(g, h, u, scale)
                    normal = np.broadcast_to(units[c], (n, 2))
                    inward_length, release_gain, inward = _along(g, h, normal, scale)
                    release = on_edge & (inward < 0) & (release_gain > tol)
                    full = release & np.isfinite(decrement) & (newton @ normals[c] > 0)
                    # release: the full Newton step if it points inside, else Newton along the normal
                    step[release] = np.where(
                        full[release, None], newton[release], inward_length[release, None] * normal[release]
                    )
                    drop[release] = bit
                    gain[release] = release_gain[release]
                    stay = on_edge & ~release
                    step[stay] = length[stay, None] * u[stay]
                    gain[stay] = edge_gain[stay]
            corner = act == BOTH
            if corner.any():
                best_gain = np.zeros(n)
                for c, bit in ((0, LOW), (1, HIGH)):
                    u = np.broadcast_to(edges[c], (n, 2))
                    length, edge_gain, slope = _along(g, h, u, scale)
                    better = corner & (slope < 0) & (edge_gain > best_gain)
                    best_gain[better] = edge_gain[better]
                    step[better] = np.maximum(length[better], 0.0)[:, None] * u[better]
                    drop[better] = BOTH & ~bit
                gain[corner] = best_gain[corner]
        else:
            u = np.broadcast_to(line, (n, 2))
            length, line_gain, slope = _along(g, h, u, scale)
            inside = act == 0
            step[inside], gain[inside] = length[inside, None] * u[inside], line_gain[inside]
            # at an end of the line: move back along it if that lowers the statistic
            ends = ~inside
            if ends.any():
                towards = line @ normals.T  # how each constraint's bin grows along the line
                sign, conflict = np.zeros(n), np.zeros(n, dtype=bool)
                for c, bit in ((0, LOW), (1, HIGH)):
                    has = (act & bit) != 0
                    conflict |= has & (sign != 0) & (sign != np.sign(towards[c]))
                    sign = np.where(has & (sign == 0), np.sign(towards[c]), sign)
                release = ends & ~conflict & (sign * slope < 0) & (line_gain > tol)
                step[release] = np.abs(length[release])[:, None] * sign[release, None] * u[release]
                drop[release] = act[release]
                gain[release] = line_gain[release]
        done = gain <= tol
        converged[idx[done]] = True
        running[idx[done]] = False
        move = ~done
        if not move.any():
            continue
        idx, xs, step, drop, act, n = idx[move], xs[move], step[move], drop[move], act[move], int(move.sum())
        # the farthest fraction of the step inside the region, and the constraints met there
        kept = act & ~drop
        at, slope = xs @ normals.T, step @ normals.T  # (n, 2)
        limit = np.full(n, np.inf)
        limits = np.full((n, 2), np.inf)
        for c, bit in ((0, LOW), (1, HIGH)):
            blocks = ((kept & bit) == 0) & (slope[:, c] < 0)
            limits[blocks, c] = np.maximum(at[blocks, c], 0.0) / -slope[blocks, c]
            limit = np.minimum(limit, limits[:, c])
        # where the statistic has no positive curvature to size the step (e.g. linear along it), go as far as the
        # region lets: the backtracking below halves the way back if the statistic is higher there
        reach = (limit <= 1.0) | (~np.isfinite(gain[move]) & np.isfinite(limit))
        fraction = np.where(reach, limit, 1.0)
        met = np.zeros(n, dtype=np.int64)
        for c, bit in ((0, LOW), (1, HIGH)):
            met |= np.where(reach & (limits[:, c] <= limit * (1 + 1e-12)), bit, 0)
        target = xs + fraction[:, None] * step
        face = kept | met
        if two:  # put points on an edge exactly on it
            for c, bit in ((0, LOW), (1, HIGH)):
                edge = face == bit
                target[edge] = np.maximum(target[edge] @ edges[c], 0.0)[:, None] * edges[c]
            target[face == BOTH] = 0.0
        alpha = np.ones(n)
        todo = np.arange(n)
        for _ in range(60):  # backtracking: the statistic must not grow
            r = idx[todo]
            trial = xs[todo] + alpha[todo, None] * (target[todo] - xs[todo])
            trial_value, trial_gradient, trial_hessian = evaluate(r, trial)
            ok = np.isfinite(trial_value) & (trial_value <= value[r] + 1e-12 * np.abs(value[r]))
            good = r[ok]
            x[good], value[good], gradient[good], hessian[good] = (
                trial[ok],
                trial_value[ok],
                trial_gradient[ok],
                trial_hessian[ok],
            )
            active[good] = np.where(alpha[todo[ok]] == 1.0, face[todo[ok]], kept[todo[ok]])
            todo = todo[~ok]
            if not todo.size:
                break
            alpha[todo] *= 0.5
        stuck = idx[todo]  # no acceptable step: converged only if the decrease on offer is tiny
        converged[stuck] = gain[move][todo] <= 1e3 * tol
        running[stuck] = False
    return Minimum(x, value, converged, active)
