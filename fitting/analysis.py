"""Every statistical step of the tutorial on one set of templates, gathered in a :class:`FitReport`.

Example:
    >>> from processors.histograms import mass_histogram
    >>> report = analyse(Templates.from_hist(mass_histogram(output["mass"]), roles))
    >>> report.statistic, sorted(report.to_json()["fits"])
    ('poisson', ['s_b', 's_s', 's_s,s_b'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from scipy import special

from fitting import toys, tutorial
from fitting.fit import CONTOUR_LEVELS, Contour, Fit1D, Fit2D, Interval, Model, Significance, p_value, significance
from fitting.statistics import Statistic
from fitting.templates import Templates

__all__ = [
    "DEFAULT_STATISTIC",
    "METHODS",
    "SCHEMA_VERSION",
    "Coverage",
    "FitReport",
    "GoodnessOfFit",
    "Significances",
    "analyse",
    "significances",
    "strict_json",
]

#: How ``analyse`` fits: minimising, or the tutorial's grids and Gaussian toys.
Method = Literal["profile", "tutorial"]
METHODS: tuple[Method, ...] = ("profile", "tutorial")
#: The statistic of the default fit: the Poisson likelihood ratio, the one that covers (README: the coverage study).
DEFAULT_STATISTIC: Statistic = "poisson"
#: Version of the layout of ``fit.json``; 2 added the boundary flags, significance definitions and ``nulls``.
SCHEMA_VERSION = 2
SIGNIFICANCE_DEFINITION = (
    "one-sided discovery significance Z = sqrt(q0) (Cowan, Cranmer, Gross, Vitells 2011, eq. 12): "
    "q0 = -2 ln[L(s_s = 0, s_b profiled) / L(best fit)] of the Poisson likelihood, 0 when the best s_s < 0; "
    "observed_signed = sign(s_s) sqrt(-2 ln lambda(0)); expected: the same on the Asimov data of the best fit, "
    "and (expected_sm) of s_s = 1 with s_b fitted to the data at s_s = 1"
)


class GoodnessOfFit(NamedTuple):
    """Post-fit statistic of the data against toys drawn at the best fit."""

    chi2: float
    ndf: int
    p_value: float
    toys: np.ndarray
    kind: str
    refit: bool
    failed: int

    @property
    def p_value_toys(self) -> float:
        """Fraction of toys with a statistic at least as large as the data's post-fit value."""
        return float(np.mean(self.toys >= self.chi2))


class Coverage(NamedTuple):
    """The coverage study: fraction of toys with Delta chi^2 at the truth <= d, for each d.

    ``same_toys``: every d counts the same toys (``toys`` of them); else fresh toys for every d (the tutorial).
    ``measured`` is the coverage at the nominal levels ``CONTOUR_LEVELS`` (68.3% and 95.4%).
    """

    d: np.ndarray
    fraction: np.ndarray
    toys: int
    kind: str
    failed: int
    same_toys: bool
    measured: np.ndarray
    measured_toys: int

    @property
    def error(self) -> np.ndarray:
        """Binomial standard error of each fraction."""
        return binomial_error(self.fraction, self.toys)

    @property
    def measured_error(self) -> np.ndarray:
        """Binomial standard error of the coverage at the nominal levels."""
        return binomial_error(self.measured, self.measured_toys)


def binomial_error(fraction: np.ndarray, trials: int) -> np.ndarray:
    """Standard error of measured fractions of ``trials`` trials, sqrt(f (1 - f) / n).

    Example:
        >>> binomial_error(np.array([0.5, 0.0]), 100).tolist()
        [0.05, 0.0]
    """
    return np.asarray(np.sqrt(fraction * (1 - fraction) / trials))


class Significances(NamedTuple):
    """Observed and expected discovery significance, always of the Poisson likelihood ratio."""

    observed: Significance
    expected: Significance
    expected_sm: Significance
    s_b_sm: float
    likelihood: str


@dataclass(frozen=True)
class FitReport:
    """Results of :func:`analyse`; ``to_json`` gives the ``fit.json`` content."""

    templates: Templates
    statistic: str
    method: str
    mc_stat: bool
    prefit_chi2: float
    fit_s_s: Fit1D
    fit_s_b: Fit1D
    fit_2d: Fit2D
    contours: dict[float, Contour]
    significance: Significances
    gof: GoodnessOfFit
    coverage: Coverage
    seed: int

    @property
    def best(self) -> np.ndarray:
        """The two-parameter best fit (s_s, s_b)."""
        return np.array([self.fit_2d.s_s.value, self.fit_2d.s_b.value])

    def to_json(self) -> dict[str, Any]:
        """The ``fit.json`` document: strict JSON, non-finite values as ``null`` with the reason in ``nulls``."""
        t = self.templates
        used = np.flatnonzero(t.used)
        nulls: dict[str, str] = {}

        def interval(i: Interval) -> dict[str, Any]:
            return {
                "value": i.value,
                "err_low": i.err_low,
                "err_high": i.err_high,
                "at_boundary": {"low": i.at_boundary_low, "high": i.at_boundary_high},
            }

        def one(fit: Fit1D) -> dict[str, Any]:
            return interval(fit.interval) | {"best_at_boundary": fit.at_boundary, "chi2": fit.chi2, "ndf": fit.ndf}

        two = self.fit_2d
        if two.covariance is None:
            reason = (
                "the best fit lies on the physical boundary: no Gaussian covariance"
                if two.at_boundary
                else "the curvature at the best fit is not positive"
            )
            nulls["fits.s_s,s_b.covariance"] = nulls["fits.s_s,s_b.correlation"] = reason
        sig = self.significance
        infinite = "infinite: the background-only prediction is zero in a bin with {} events"
        for keys, result, what in (
            (("observed", "observed_signed", "q0"), sig.observed, "data"),
            (("expected",), sig.expected, "expected (Asimov)"),
            (("expected_sm",), sig.expected_sm, "expected (Asimov)"),
        ):
            if not math.isfinite(result.z_signed):
                nulls.update({f"significance.{key}": infinite.format(what) for key in keys})
        gof, cov = self.gof, self.coverage
        document = {
            "schema_version": SCHEMA_VERSION,
            "status": "ok",
            "statistic": self.statistic,
            "method": self.method,
            "mc_stat": self.mc_stat,
            "range": [float(t.edges[used[0]]), float(t.edges[used[-1] + 1])],
            "nbins": t.nbins,
            "yields": {
                "data": float(t.data.sum()),
                "signal": float(t.signal.sum()),
                "background": float(t.background.sum()),
            },
            "prefit": {
                "chi2": self.prefit_chi2,
                "ndf": t.nbins,
                "chi2_ndf": self.prefit_chi2 / t.nbins,
                "p_value": p_value(self.prefit_chi2, t.nbins),
            },
            "fits": {
                "s_s": one(self.fit_s_s),
                "s_b": one(self.fit_s_b),
                "s_s,s_b": {
                    "s_s": interval(two.s_s),
                    "s_b": interval(two.s_b),
                    "best_at_boundary": two.at_boundary,
                    "chi2": two.chi2,
                    "ndf": two.ndf,
                    "chi2_ndf": two.chi2 / two.ndf,
                    "p_value": two.p_value,
                    "correlation": two.correlation,
                    "covariance": None if two.covariance is None else two.covariance.tolist(),
                    "contours": {
                        f"{level:.2f}": {"points": c.points.tolist(), "at_boundary": c.at_boundary.tolist()}
                        for level, c in self.contours.items()
                    },
                },
            },
            "significance": {
                "definition": SIGNIFICANCE_DEFINITION,
                "likelihood": sig.likelihood,
                "observed": sig.observed.z,
                "observed_signed": sig.observed.z_signed,
                "q0": sig.observed.q0,
                "s_s_hat": sig.observed.s_s_hat,
                "expected": sig.expected.z,
                "expected_sm": sig.expected_sm.z,
                "s_b_at_s_s_1": sig.s_b_sm,
            },
            "gof": {
                "chi2": gof.chi2,
                "ndf": gof.ndf,
                "p_value": gof.p_value,
                "p_value_toys": gof.p_value_toys,
                "toys": len(gof.toys),
                "failed_toys": gof.failed,
                "toy_kind": gof.kind,
                "refit": gof.refit,
            },
            "coverage": {
                "d": cov.d.tolist(),
                "fraction": cov.fraction.tolist(),
                "error": cov.error.tolist(),
                "chi2_cdf": special.chdtr(2, cov.d).tolist(),
                "toys": cov.toys,
                "same_toys_for_every_d": cov.same_toys,
                "failed_toys": cov.failed,
                "toy_kind": cov.kind,
                "nominal": [
                    {
                        "d": level,
                        "nominal": float(special.chdtr(2, level)),
                        "measured": float(measured),
                        "error": float(error),
                        "toys": cov.measured_toys,
                    }
                    for level, measured, error in zip(CONTOUR_LEVELS, cov.measured, cov.measured_error, strict=True)
                ],
            },
            "seed": self.seed,
        }
        return strict_json(document, nulls)


def strict_json(document: dict[str, Any], nulls: dict[str, str] | None = None) -> dict[str, Any]:
    """``document`` with numpy scalars as Python numbers and every non-finite number as ``None``; the reason
    of each ``None`` (given in ``nulls`` by dotted path, else "not finite") goes to ``document["nulls"]``.

    Example:
        >>> strict_json({"a": {"b": float("inf"), "c": 1}})
        {'a': {'b': None, 'c': 1}, 'nulls': {'a.b': 'not finite (inf)'}}
    """
    reasons = dict(nulls or {})
    found: dict[str, str] = {}

    def clean(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {key: clean(item, f"{path}.{key}" if path else key) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [clean(item, f"{path}.{i}") for i, item in enumerate(value)]
        if isinstance(value, np.generic):
            value = value.item()
        if value is None:
            if path in reasons:
                found[path] = reasons[path]
            return None
        if isinstance(value, float) and not math.isfinite(value):
            found[path] = reasons.get(path, f"not finite ({value})")
            return None
        return value

    cleaned: dict[str, Any] = clean(document, "")
    if found:
        cleaned["nulls"] = found
    return cleaned


def _nominal(delta: np.ndarray) -> np.ndarray:
    return np.array([np.mean(delta <= level) for level in CONTOUR_LEVELS])


def significances(templates: Templates, mc_stat: bool, max_iter: int = 200) -> Significances:
    """Observed and expected significance of the Poisson likelihood ratio (with the same ``mc_stat``)."""
    model = Model(templates, "poisson", mc_stat, max_iter)
    best = model._fit((True, True), "fit of s_s and s_b (Poisson likelihood)")
    conditional = model._fit(
        (False, True), "fit of s_b at s_s = 1 (Poisson likelihood)", start=np.array([1.0, best.params[1]])
    )
    return Significances(
        observed=significance(model),
        expected=significance(model, *model.expected(best.params)),
        expected_sm=significance(model, *model.expected(conditional.params)),
        s_b_sm=float(conditional.params[1]),
        likelihood="poisson" + (" with Barlow-Beeston-lite gamma per bin (HistFactory staterror)" if mc_stat else ""),
    )


def analyse(
    templates: Templates,
    statistic: Statistic = DEFAULT_STATISTIC,
    *,
    method: Method = "profile",
    mc_stat: bool = False,
    gof_toys: int = 10_000,
    coverage_toys: int = 500,
    coverage_points: int = 40,
    seed: int = 1,
    max_iter: int = 200,
) -> FitReport:
    """Pre-fit chi^2, 1-D and 2-D fits, contours, significance, toy goodness of fit and coverage.

    ``method="profile"`` minimises (Poisson toys, refitted; the coverage counts ``coverage_points x
    coverage_toys`` toys at every d); ``method="tutorial"`` reproduces the tutorial's grids and Gaussian toys
    (fresh toys for every d). The significance is that of the Poisson likelihood ratio in both.
    ``max_iter`` bounds the Newton steps of each minimisation.
    Raises :class:`fitting.fit.FitError` when a fit of the data does not converge.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")
    model = Model(templates, statistic, mc_stat, max_iter)
    rng = np.random.default_rng(seed)
    d_values = np.linspace(1.0, 5.0, coverage_points)
    profile_fit = model.fit2d()
    if method == "profile":
        fit_s_s, fit_s_b, fit_2d = model.fit1d("s_s"), model.fit1d("s_b"), profile_fit
        best = np.array([fit_2d.s_s.value, fit_2d.s_b.value])
        kind, refit = "poisson", True
        gof = toys.goodness_of_fit_toys(model, best, gof_toys, rng, kind, refit)
        study = toys.coverage_toys(model, best, coverage_points * coverage_toys, rng, kind)
        fractions = np.array([np.mean(study.delta <= d) for d in d_values])
        coverage = Coverage(
            d_values, fractions, len(study.delta), kind, study.failed, True, _nominal(study.delta), len(study.delta)
        )
    else:
        fit_s_s, fit_s_b = tutorial.scan_1d(model, "s_s"), tutorial.scan_1d(model, "s_b")
        scan = tutorial.scan_2d(model)
        best = np.array([scan.s_s.value, scan.s_b.value])
        covariance = model.covariance(best)
        fit_2d = Fit2D(
            scan.s_s,
            scan.s_b,
            scan.chi2,
            scan.ndf,
            p_value(scan.chi2, scan.ndf),
            covariance,
            None if covariance is None else float(covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1])),
        )
        kind, refit = "gaussian", False
        gof = toys.goodness_of_fit_toys(model, best, gof_toys, rng, kind, refit)
        fractions = tutorial.coverage_grid(model, scan.cell, d_values, coverage_toys, rng)
        measured = tutorial.coverage_grid(model, scan.cell, np.array(CONTOUR_LEVELS), coverage_toys, rng)
        coverage = Coverage(d_values, fractions, coverage_toys, kind, 0, False, measured, coverage_toys)
    return FitReport(
        templates=templates,
        statistic=statistic,
        method=method,
        mc_stat=mc_stat,
        prefit_chi2=float(model.chi2(1.0, 1.0)),
        fit_s_s=fit_s_s,
        fit_s_b=fit_s_b,
        fit_2d=fit_2d,
        contours={level: model.contour(profile_fit, level) for level in CONTOUR_LEVELS},
        significance=significances(templates, mc_stat, max_iter),
        gof=GoodnessOfFit(fit_2d.chi2, fit_2d.ndf, fit_2d.p_value, gof.values, kind, refit, gof.failed),
        coverage=coverage,
        seed=seed,
    )
