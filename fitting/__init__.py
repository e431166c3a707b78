"""Statistical analysis of the m4l histograms: templates, test statistics, fits, toys, plots.

Example:
    >>> from fitting import Templates, analyse
    >>> from processors.histograms import mass_histogram
    >>> report = analyse(Templates.from_hist(mass_histogram(output["mass"]), roles), gof_toys=500)
    >>> fits = report.document().fits  # fit.json, typed (fitting.document)
    >>> report.statistic, fits.both.s_s.value == report.fit_2d.s_s.value
    ('poisson', True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.lazy import exports

if TYPE_CHECKING:
    from fitting.analysis import DEFAULT_STATISTIC, METHODS, FitReport, analyse
    from fitting.document import SCHEMA_VERSION, FailedFit, FitDocument, read_fit
    from fitting.fit import (
        CONTOUR_LEVELS,
        Contour,
        Fit1D,
        Fit2D,
        FitError,
        Interval,
        Model,
        Significance,
        significance,
    )
    from fitting.minimizer import DegenerateTemplatesError, Minimum
    from fitting.statistics import STATISTICS, chi2
    from fitting.templates import TemplateError, Templates
    from fitting.workspace import workspace

# imported on first use, so that a module of the package (fitting.systematics for the outputs of a run) does not
# import the fit and its dependencies
_WHERE = {
    **dict.fromkeys(("DEFAULT_STATISTIC", "METHODS", "FitReport", "analyse"), "analysis"),
    **dict.fromkeys(("SCHEMA_VERSION", "FailedFit", "FitDocument", "read_fit"), "document"),
    **dict.fromkeys(
        (
            "CONTOUR_LEVELS",
            "Contour",
            "Fit1D",
            "Fit2D",
            "FitError",
            "Interval",
            "Model",
            "Significance",
            "significance",
        ),
        "fit",
    ),
    **dict.fromkeys(("DegenerateTemplatesError", "Minimum"), "minimizer"),
    **dict.fromkeys(("STATISTICS", "chi2"), "statistics"),
    **dict.fromkeys(("TemplateError", "Templates"), "templates"),
    "workspace": "workspace",
}

__all__ = [
    "CONTOUR_LEVELS",
    "DEFAULT_STATISTIC",
    "METHODS",
    "SCHEMA_VERSION",
    "STATISTICS",
    "Contour",
    "DegenerateTemplatesError",
    "FailedFit",
    "Fit1D",
    "Fit2D",
    "FitDocument",
    "FitError",
    "FitReport",
    "Interval",
    "Minimum",
    "Model",
    "Significance",
    "TemplateError",
    "Templates",
    "analyse",
    "chi2",
    "read_fit",
    "significance",
    "workspace",
]

__getattr__ = exports(__name__, _WHERE)
