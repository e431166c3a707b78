"""Pseudo-experiments: goodness of fit and the coverage of Delta chi^2 regions.

Toys are drawn around a model prediction, either Poisson (the right model for counts) or as
the tutorial does, Gaussian with sigma = sqrt(mean). All toys of a study are fitted together by
:meth:`fitting.fit.Model.minimize`, so 10^4–10^5 toys take well under a second each study.

Example:
    >>> rng = np.random.default_rng(1)
    >>> chi2_toys = goodness_of_fit_toys(model, np.array([1.0, 1.0]), 10_000, rng)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from fitting.fit import Model

__all__ = ["TOY_KINDS", "coverage", "draw_toys", "goodness_of_fit_toys", "usable_toys"]

TOY_KINDS = ("poisson", "gaussian")
COVERAGE_BLOCK = 50_000  # toys drawn and fitted at once in the coverage study (bounds memory)


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


def goodness_of_fit_toys(
    model: Model,
    params: np.ndarray,
    ntoys: int,
    rng: np.random.Generator,
    kind: str = "poisson",
    refit: bool = True,
) -> np.ndarray:
    """The statistic of ``ntoys`` toys drawn around the prediction at ``params = (s_s, s_b)``.

    ``refit=True`` refits both parameters to each toy, so the values follow the distribution of the
    data's post-fit statistic (chi^2 with nbins - 2 dof asymptotically). ``refit=False`` evaluates
    each toy at ``params``, as the tutorial does. Returns shape ``(ntoys,)``.
    """
    toys = usable_toys(model, draw_toys(model.templates.predict(*params), ntoys, rng, kind))
    if refit:
        return model.minimize(toys, start=params)[1]
    return model.chi2(params[0], params[1], toys)


def coverage(
    model: Model,
    truth: np.ndarray,
    d_values: np.ndarray,
    ntoys: int,
    rng: np.random.Generator,
    kind: str = "poisson",
) -> np.ndarray:
    """For each critical value ``d``, the fraction of ``ntoys`` toys (fresh toys for every ``d``, as
    in the tutorial) whose Delta chi^2 at the true point ``truth = (s_s, s_b)`` is <= ``d``, each toy
    fitted in both parameters. Asymptotically the chi^2 cdf with 2 dof (2.30 -> 0.683).
    Returns shape ``(len(d_values),)``."""
    means = model.templates.predict(*truth)
    fractions = np.empty(len(d_values))
    for i, d in enumerate(d_values):
        inside = 0
        for start in range(0, ntoys, COVERAGE_BLOCK):
            toys = usable_toys(model, draw_toys(means, min(COVERAGE_BLOCK, ntoys - start), rng, kind))
            _, minima = model.minimize(toys, start=truth)
            inside += int(np.sum(model.chi2(truth[0], truth[1], toys) - minima <= d))
        fractions[i] = inside / ntoys
    return fractions
