"""Pseudo-experiments: goodness of fit and the coverage of Delta chi^2 regions.

Toys are drawn around a model prediction, either Poisson (the right model for counts) or as
the tutorial does, Gaussian with sigma = sqrt(mean). With ``mc_stat`` the auxiliary data of the
simulation's statistical uncertainty are fluctuated too (Gaussian around the profiled factors,
sigma = the relative uncertainty), as HistFactory's toys do. All toys of a study are fitted
together by :meth:`fitting.fit.Model.minimize`, with the same convergence checks as the data; a
toy that did not converge is left out and counted.

Example:
    >>> rng = np.random.default_rng(1)
    >>> gof = goodness_of_fit_toys(model, np.array([1.0, 1.0]), 1_000, rng)
    >>> gof.values.shape, gof.failed
    ((1000,), 0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fitting.fit import Model

__all__ = [
    "TOY_KINDS",
    "CoverageToys",
    "ToyStatistics",
    "coverage_toys",
    "draw",
    "draw_toys",
    "goodness_of_fit_toys",
    "usable_toys",
]

TOY_KINDS = ("poisson", "gaussian")
COVERAGE_BLOCK = 50_000  # toys drawn and fitted at once in the coverage study (bounds memory)


class ToyStatistics(NamedTuple):
    """The statistic of the toys that converged, and how many did not."""

    values: np.ndarray
    failed: int


class CoverageToys(NamedTuple):
    """Delta chi^2 at the truth of each converged toy, and how many toys did not converge."""

    delta: np.ndarray
    failed: int


def draw_toys(means: np.ndarray, ntoys: int, rng: np.random.Generator, kind: str = "poisson") -> np.ndarray:
    """``ntoys`` histograms ``(ntoys, nbins)`` around ``means``.

    ``gaussian`` draws bin by bin, toy by toy, in the order of the tutorial's ``generate_toy``
    (one normal deviate per bin, sigma = sqrt(mean)), so a seeded generator reproduces its toys.
    """
    if kind == "poisson":
        return rng.poisson(means, size=(ntoys, len(means))).astype(float)
    if kind == "gaussian":
        return rng.normal(means, np.sqrt(means), size=(ntoys, len(means)))
    raise ValueError(f"unknown toy kind {kind!r} (expected one of {', '.join(TOY_KINDS)})")


def usable_toys(model: Model, toys: np.ndarray) -> np.ndarray:
    """Gaussian toys can go negative; the Poisson likelihood needs counts >= 0, so clip them for it."""
    return np.maximum(toys, 0.0) if model.statistic == "poisson" else toys


def draw(
    model: Model, params: np.ndarray, ntoys: int, rng: np.random.Generator, kind: str = "poisson"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Toy counts ``(ntoys, nbins)`` at ``params`` and, with ``mc_stat``, their auxiliary data (else None)."""
    means, gamma = model.expected(params)
    toys = usable_toys(model, draw_toys(means, ntoys, rng, kind))
    if gamma is None:
        return toys, None
    return toys, rng.normal(gamma, np.sqrt(model.templates.r2), size=toys.shape)


def goodness_of_fit_toys(
    model: Model,
    params: np.ndarray,
    ntoys: int,
    rng: np.random.Generator,
    kind: str = "poisson",
    refit: bool = True,
) -> ToyStatistics:
    """The statistic of ``ntoys`` toys drawn around the prediction at ``params = (s_s, s_b)``.

    ``refit=True`` refits both parameters to each toy, so the values follow the distribution of the
    data's post-fit statistic (chi^2 with nbins - 2 dof asymptotically). ``refit=False`` evaluates
    each toy at ``params``, as the tutorial does.
    """
    toys, aux = draw(model, params, ntoys, rng, kind)
    if not refit:
        return ToyStatistics(model.chi2(params[0], params[1], toys, aux), 0)
    fitted = model.minimize(toys, start=params, aux=aux)
    return ToyStatistics(fitted.value[fitted.converged], int(np.sum(~fitted.converged)))


def coverage_toys(
    model: Model, truth: np.ndarray, ntoys: int, rng: np.random.Generator, kind: str = "poisson"
) -> CoverageToys:
    """Delta chi^2 at the true point ``truth = (s_s, s_b)`` of ``ntoys`` toys drawn there, each fitted in
    both parameters; asymptotically chi^2 distributed with 2 dof (2.30 -> 0.683)."""
    deltas, failed = [], 0
    for start in range(0, ntoys, COVERAGE_BLOCK):
        toys, aux = draw(model, truth, min(COVERAGE_BLOCK, ntoys - start), rng, kind)
        fitted = model.minimize(toys, start=truth, aux=aux)
        delta = model.chi2(truth[0], truth[1], toys, aux) - fitted.value
        deltas.append(delta[fitted.converged])
        failed += int(np.sum(~fitted.converged))
    return CoverageToys(np.concatenate(deltas), failed)
