"""Every statistical step of the tutorial on one set of templates, gathered in a :class:`FitReport`.

Example:
    >>> report = analyse(Templates.from_hist(output["mass"], roles))  # doctest: +SKIP
    >>> report.to_json()["fits"]["s_s,s_b"]["s_s"]["value"]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from fitting import toys, tutorial
from fitting.fit import CONTOUR_LEVELS, Fit1D, Fit2D, Interval, Model
from fitting.templates import Templates

__all__ = ["METHODS", "FitReport", "analyse"]

METHODS = ("profile", "tutorial")


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
    contours: dict[float, np.ndarray]
    significance_observed: float
    significance_expected: float
    significance_expected_sm: float
    gof_toys: np.ndarray
    gof_toy_kind: str
    gof_refit: bool
    coverage_d: np.ndarray
    coverage_fraction: np.ndarray
    coverage_toys: int
    seed: int

    @property
    def best(self) -> np.ndarray:
        """The two-parameter best fit (s_s, s_b)."""
        return np.array([self.fit_2d.s_s.value, self.fit_2d.s_b.value])

    @property
    def gof_p_value_toys(self) -> float:
        """Fraction of toys with a statistic at least as large as the data's post-fit value."""
        return float(np.mean(self.gof_toys >= self.fit_2d.chi2))

    def to_json(self) -> dict[str, Any]:
        """The ``fit.json`` document."""
        t = self.templates
        used = np.flatnonzero(t.used)
        ndf_prefit = t.nbins

        def interval(i: Interval) -> dict[str, float]:
            return {"value": float(i.value), "err_low": float(i.err_low), "err_high": float(i.err_high)}

        def one(fit: Fit1D) -> dict[str, Any]:
            return interval(fit.interval) | {"chi2": float(fit.chi2), "ndf": fit.ndf}

        coverage_error = np.sqrt(self.coverage_fraction * (1 - self.coverage_fraction) / self.coverage_toys)
        return {
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
                "ndf": ndf_prefit,
                "chi2_ndf": self.prefit_chi2 / ndf_prefit,
                "p_value": float(stats.chi2.sf(self.prefit_chi2, ndf_prefit)),
            },
            "fits": {
                "s_s": one(self.fit_s_s),
                "s_b": one(self.fit_s_b),
                "s_s,s_b": {
                    "s_s": interval(self.fit_2d.s_s),
                    "s_b": interval(self.fit_2d.s_b),
                    "chi2": self.fit_2d.chi2,
                    "ndf": self.fit_2d.ndf,
                    "chi2_ndf": self.fit_2d.chi2 / self.fit_2d.ndf,
                    "p_value": self.fit_2d.p_value,
                    "correlation": self.fit_2d.correlation,
                    "covariance": self.fit_2d.covariance.tolist(),
                    "contours": {f"{level:.2f}": points.tolist() for level, points in self.contours.items()},
                },
            },
            "significance": {
                "observed": self.significance_observed,
                "expected": self.significance_expected,
                "expected_sm": self.significance_expected_sm,
            },
            "gof": {
                "chi2": self.fit_2d.chi2,
                "ndf": self.fit_2d.ndf,
                "p_value": self.fit_2d.p_value,
                "p_value_toys": self.gof_p_value_toys,
                "toys": len(self.gof_toys),
                "toy_kind": self.gof_toy_kind,
                "refit": self.gof_refit,
            },
            "coverage": {
                "d": self.coverage_d.tolist(),
                "fraction": self.coverage_fraction.tolist(),
                "error": coverage_error.tolist(),
                "chi2_cdf": stats.chi2.cdf(self.coverage_d, 2).tolist(),
                "toys": self.coverage_toys,
                "toy_kind": self.gof_toy_kind,
            },
            "seed": self.seed,
        }


def analyse(
    templates: Templates,
    statistic: str = "pearson",
    method: str = "profile",
    mc_stat: bool = False,
    gof_toys: int = 10_000,
    coverage_toys: int = 500,
    coverage_points: int = 40,
    seed: int = 1,
) -> FitReport:
    """Pre-fit chi^2, 1-D and 2-D fits, contours, significance, toy goodness of fit and coverage.

    ``method="profile"`` minimises (Poisson toys, refitted); ``method="tutorial"`` reproduces the
    tutorial's grids and Gaussian toys. The significance is found by minimisation in both methods.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")
    model = Model(templates, statistic, mc_stat)
    rng = np.random.default_rng(seed)
    d_values = np.linspace(1.0, 5.0, coverage_points)
    profile_fit = model.fit2d()
    if method == "profile":
        fit_s_s, fit_s_b, fit_2d = model.fit1d("s_s"), model.fit1d("s_b"), profile_fit
        best = np.array([fit_2d.s_s.value, fit_2d.s_b.value])
        kind, refit = "poisson", True
        gof = toys.goodness_of_fit_toys(model, best, gof_toys, rng, kind, refit)
        fractions = toys.coverage(model, best, d_values, coverage_toys, rng, kind)
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
            float(stats.chi2.sf(scan.chi2, scan.ndf)),
            covariance,
            float(covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1])),
        )
        kind, refit = "gaussian", False
        gof = toys.goodness_of_fit_toys(model, best, gof_toys, rng, kind, refit)
        fractions = tutorial.coverage_grid(model, templates.predict(*best), scan.index, d_values, coverage_toys, rng)
    asimov = templates.predict(profile_fit.s_s.value, profile_fit.s_b.value)
    asimov_sm = templates.predict(1.0, profile_fit.s_b.value)
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
        significance_observed=model.significance(),
        significance_expected=model.significance(asimov),
        significance_expected_sm=model.significance(asimov_sm),
        gof_toys=gof,
        gof_toy_kind=kind,
        gof_refit=refit,
        coverage_d=d_values,
        coverage_fraction=fractions,
        coverage_toys=coverage_toys,
        seed=seed,
    )
