"""Every statistical step of the tutorial on one set of templates, gathered in a :class:`FitReport`.

Example:
    >>> from processors.histograms import mass_histogram
    >>> report = analyse(Templates.from_hist(mass_histogram(output["mass"]), roles), gof_toys=500)
    >>> report.statistic, report.gof.p_value_toys == report.document().gof.p_value_toys
    ('poisson', True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special

from fitting import document as doc
from fitting import toys, tutorial
from fitting.document import SCHEMA_VERSION, Method, ToyKind
from fitting.fit import CONTOUR_LEVELS, Contour, Fit1D, Fit2D, Interval, Model, Significance, p_value, significance
from fitting.scans import Scan, ScanMap, scan, scan_map
from fitting.statistics import Statistic
from fitting.templates import Templates

__all__ = [
    "DEFAULT_STATISTIC",
    "METHODS",
    "SCHEMA_VERSION",
    "Coverage",
    "FitReport",
    "GoodnessOfFit",
    "Method",
    "Prefit",
    "Significances",
    "analyse",
    "significances",
]

METHODS: tuple[Method, ...] = ("profile", "tutorial")
#: The statistic of the default fit: the Poisson likelihood ratio, the one that covers (README: the coverage study).
DEFAULT_STATISTIC: Statistic = "poisson"
SIGNIFICANCE_DEFINITION = (
    "one-sided discovery significance Z = sqrt(q0) (Cowan, Cranmer, Gross, Vitells 2011, eq. 12): "
    "q0 = -2 ln[L(s_s = 0, s_b profiled) / L(best fit)] of the Poisson likelihood, 0 when the best s_s < 0; "
    "observed_signed = sign(s_s) sqrt(-2 ln lambda(0)); expected: the same on the Asimov data of the best fit, "
    "and (expected_sm) of s_s = 1 with s_b fitted to the data at s_s = 1"
)


class Prefit(NamedTuple):
    """The statistic at s_s = s_b = 1 against the data, with ``ndf`` = the number of bins, and its p-value."""

    chi2: float
    ndf: int
    p_value: float


class GoodnessOfFit(NamedTuple):
    """Post-fit statistic of the data against toys drawn at the best fit: ``p_value`` from the chi^2 distribution,
    ``p_value_toys`` the fraction of ``toys`` (their statistics) at least as large (NaN without toys)."""

    chi2: float
    ndf: int
    p_value: float
    p_value_toys: float
    toys: np.ndarray
    kind: ToyKind
    refit: bool
    failed: int


class Coverage(NamedTuple):
    """The coverage study: fraction of toys with Delta chi^2 at the truth <= d, for each d, with its binomial
    ``error`` and the chi^2 cdf with 2 dof it should follow (``chi2_cdf``).

    ``same_toys``: every d counts the same toys (``toys`` of them); else fresh toys for every d (the tutorial).
    ``measured`` is the coverage at the levels ``CONTOUR_LEVELS`` (68.3% and 95.4%, ``nominal``), of
    ``measured_toys`` toys each.
    """

    d: np.ndarray
    fraction: np.ndarray
    error: np.ndarray
    chi2_cdf: np.ndarray
    toys: int
    kind: ToyKind
    failed: int
    same_toys: bool
    nominal: np.ndarray
    measured: np.ndarray
    measured_error: np.ndarray
    measured_toys: int


def _coverage(
    d: np.ndarray,
    fraction: np.ndarray,
    toys: int,
    kind: ToyKind,
    failed: int,
    same_toys: bool,
    measured: np.ndarray,
    measured_toys: int,
) -> Coverage:
    """The :class:`Coverage` of the measured fractions, with their errors and the asymptotic expectation."""
    return Coverage(
        d=d,
        fraction=fraction,
        error=binomial_error(fraction, toys),
        chi2_cdf=special.chdtr(2, d),
        toys=toys,
        kind=kind,
        failed=failed,
        same_toys=same_toys,
        nominal=special.chdtr(2, np.array(CONTOUR_LEVELS)),
        measured=measured,
        measured_error=binomial_error(measured, measured_toys),
        measured_toys=measured_toys,
    )


def binomial_error(fraction: np.ndarray, trials: int) -> np.ndarray:
    """Standard error of measured fractions of ``trials`` trials, sqrt(f (1 - f) / n); NaN without trials.

    Example:
        >>> binomial_error(np.array([0.5, 0.0]), 100).tolist()
        [0.05, 0.0]
    """
    with np.errstate(invalid="ignore", divide="ignore"):
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
    """Results of :func:`analyse`; :meth:`document` gives the ``fit.json`` content.

    Beside what ``fit.json`` holds: the ``templates`` fitted, the toys' statistics (``gof.toys``), and what the
    figures draw (:mod:`fitting.scans`): the ``scans`` of each parameter by name and the Delta chi^2 ``scan_map``.
    """

    templates: Templates
    statistic: Statistic
    method: Method
    mc_stat: bool
    prefit: Prefit
    fit_s_s: Fit1D
    fit_s_b: Fit1D
    fit_2d: Fit2D
    contours: dict[float, Contour]
    significance: Significances
    gof: GoodnessOfFit
    coverage: Coverage
    scans: dict[str, Scan]
    scan_map: ScanMap
    seed: int

    @property
    def best(self) -> np.ndarray:
        """The two-parameter best fit (s_s, s_b)."""
        return np.array([self.fit_2d.s_s.value, self.fit_2d.s_b.value])

    def document(self, systematics: doc.Systematics | None = None) -> doc.FitDocument:
        """The ``fit.json`` document (with the fit with nuisance parameters, ``systematics``, if there is one)."""
        t, two, sig, gof, cov = self.templates, self.fit_2d, self.significance, self.gof, self.coverage
        used = np.flatnonzero(t.used)
        nulls: dict[str, str] = {}

        def finite(path: str, value: float, reason: str) -> float | None:
            """``value``, or ``None`` with its ``reason`` in ``nulls`` where it is not finite."""
            if np.isfinite(value):
                return float(value)
            nulls[path] = reason
            return None

        def ends(i: Interval) -> doc.Ends:
            return doc.Ends(low=i.at_boundary_low, high=i.at_boundary_high)

        def interval(i: Interval) -> doc.Interval:
            return doc.Interval(value=i.value, err_low=i.err_low, err_high=i.err_high, at_boundary=ends(i))

        def one(fit: Fit1D) -> doc.Fit1D:
            i = fit.interval
            return doc.Fit1D(
                value=i.value,
                err_low=i.err_low,
                err_high=i.err_high,
                at_boundary=ends(i),
                best_at_boundary=fit.at_boundary,
                chi2=fit.chi2,
                ndf=fit.ndf,
            )

        no_dof = f"no degrees of freedom ({t.nbins} bins, 2 parameters)"
        no_covariance = (
            "the best fit lies on the physical boundary: no Gaussian covariance"
            if two.at_boundary
            else "the curvature at the best fit is not positive"
        )
        if two.covariance is None:
            nulls["fits.s_s,s_b.covariance"] = nulls["fits.s_s,s_b.correlation"] = no_covariance
        infinite = "infinite: the background-only prediction is zero in a bin with {} events"
        observed, expected = infinite.format("data"), infinite.format("expected (Asimov)")
        no_toys = "no toy converged"
        return doc.FitDocument(
            statistic=self.statistic,
            method=self.method,
            mc_stat=self.mc_stat,
            range=(float(t.edges[used[0]]), float(t.edges[used[-1] + 1])),
            nbins=t.nbins,
            yields=doc.Yields(
                data=float(t.data.sum()), signal=float(t.signal.sum()), background=float(t.background.sum())
            ),
            prefit=doc.Prefit(
                chi2=self.prefit.chi2,
                ndf=self.prefit.ndf,
                chi2_ndf=self.prefit.chi2 / self.prefit.ndf,
                p_value=self.prefit.p_value,
            ),
            fits=doc.Fits(
                s_s=one(self.fit_s_s),
                s_b=one(self.fit_s_b),
                both=doc.Fit2D(
                    s_s=interval(two.s_s),
                    s_b=interval(two.s_b),
                    best_at_boundary=two.at_boundary,
                    chi2=two.chi2,
                    ndf=two.ndf,
                    chi2_ndf=finite("fits.s_s,s_b.chi2_ndf", two.chi2 / two.ndf if two.ndf else math.nan, no_dof),
                    p_value=finite("fits.s_s,s_b.p_value", two.p_value, no_dof),
                    correlation=two.correlation,
                    covariance=None if two.covariance is None else _pair(two.covariance),
                    contours={
                        f"{level:.2f}": doc.Contour(
                            points=[_point(p) for p in c.points], at_boundary=[bool(b) for b in c.at_boundary]
                        )
                        for level, c in self.contours.items()
                    },
                ),
            ),
            significance=doc.Significance(
                definition=SIGNIFICANCE_DEFINITION,
                likelihood=sig.likelihood,
                observed=finite("significance.observed", sig.observed.z, observed),
                observed_signed=finite("significance.observed_signed", sig.observed.z_signed, observed),
                q0=finite("significance.q0", sig.observed.q0, observed),
                s_s_hat=sig.observed.s_s_hat,
                expected=finite("significance.expected", sig.expected.z, expected),
                expected_sm=finite("significance.expected_sm", sig.expected_sm.z, expected),
                s_b_at_s_s_1=sig.s_b_sm,
            ),
            gof=doc.GoodnessOfFit(
                chi2=gof.chi2,
                ndf=gof.ndf,
                p_value=finite("gof.p_value", gof.p_value, no_dof),
                p_value_toys=finite("gof.p_value_toys", gof.p_value_toys, no_toys),
                toys=len(gof.toys),
                failed_toys=gof.failed,
                toy_kind=gof.kind,
                refit=gof.refit,
            ),
            coverage=doc.Coverage(
                d=cov.d.tolist(),
                fraction=[finite(f"coverage.fraction.{i}", f, no_toys) for i, f in enumerate(cov.fraction)],
                error=[finite(f"coverage.error.{i}", e, no_toys) for i, e in enumerate(cov.error)],
                chi2_cdf=cov.chi2_cdf.tolist(),
                toys=cov.toys,
                same_toys_for_every_d=cov.same_toys,
                failed_toys=cov.failed,
                toy_kind=cov.kind,
                nominal=[
                    doc.Nominal(
                        d=level,
                        nominal=float(nominal),
                        measured=finite(f"coverage.nominal.{i}.measured", measured, no_toys),
                        error=finite(f"coverage.nominal.{i}.error", error, no_toys),
                        toys=cov.measured_toys,
                    )
                    for i, (level, nominal, measured, error) in enumerate(
                        zip(CONTOUR_LEVELS, cov.nominal, cov.measured, cov.measured_error, strict=True)
                    )
                ],
            ),
            seed=self.seed,
            nulls=nulls,
            systematics=systematics,
        )


def _point(values: np.ndarray) -> tuple[float, float]:
    """A pair of numbers as Python floats."""
    first, second = values.tolist()
    return first, second


def _pair(matrix: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """A 2 x 2 matrix as pairs of Python floats."""
    return _point(matrix[0]), _point(matrix[1])


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
    kind: ToyKind
    if method == "profile":
        fit_s_s, fit_s_b, fit_2d = model.fit1d("s_s"), model.fit1d("s_b"), profile_fit
        best = np.array([fit_2d.s_s.value, fit_2d.s_b.value])
        kind, refit = "poisson", True
        gof = toys.goodness_of_fit_toys(model, best, gof_toys, rng, kind, refit)
        study = toys.coverage_toys(model, best, coverage_points * coverage_toys, rng, kind)
        fractions = np.array([np.mean(study.delta <= d) for d in d_values])
        counted = len(study.delta)
        found = _coverage(d_values, fractions, counted, kind, study.failed, True, _nominal(study.delta), counted)
    else:
        fit_s_s, fit_s_b = tutorial.scan_1d(model, "s_s"), tutorial.scan_1d(model, "s_b")
        grid = tutorial.scan_2d(model)
        best = np.array([grid.s_s.value, grid.s_b.value])
        covariance = model.covariance(best)
        fit_2d = Fit2D(
            grid.s_s,
            grid.s_b,
            grid.chi2,
            grid.ndf,
            p_value(grid.chi2, grid.ndf),
            covariance,
            None if covariance is None else float(covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1])),
        )
        kind, refit = "gaussian", False
        gof = toys.goodness_of_fit_toys(model, best, gof_toys, rng, kind, refit)
        fractions = tutorial.coverage_grid(model, grid.cell, d_values, coverage_toys, rng)
        measured = tutorial.coverage_grid(model, grid.cell, np.array(CONTOUR_LEVELS), coverage_toys, rng)
        found = _coverage(d_values, fractions, coverage_toys, kind, 0, False, measured, coverage_toys)
    prefit = float(model.chi2(1.0, 1.0))
    scans = {
        name: scan(model, name, alone, both, fit_2d.chi2, tutorial=method == "tutorial")
        for name, alone, both in (("s_s", fit_s_s, fit_2d.s_s), ("s_b", fit_s_b, fit_2d.s_b))
    }
    return FitReport(
        templates=templates,
        statistic=statistic,
        method=method,
        mc_stat=mc_stat,
        prefit=Prefit(prefit, templates.nbins, p_value(prefit, templates.nbins)),
        fit_s_s=fit_s_s,
        fit_s_b=fit_s_b,
        fit_2d=fit_2d,
        contours={level: model.contour(profile_fit, level) for level in CONTOUR_LEVELS},
        significance=significances(templates, mc_stat, max_iter),
        gof=GoodnessOfFit(
            fit_2d.chi2,
            fit_2d.ndf,
            fit_2d.p_value,
            float(np.mean(gof.values >= fit_2d.chi2)) if len(gof.values) else math.nan,
            gof.values,
            kind,
            refit,
            gof.failed,
        ),
        coverage=found,
        scans=scans,
        scan_map=scan_map(model, profile_fit),
        seed=seed,
    )
