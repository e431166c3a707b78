"""Statistical analysis of the m4l histograms: templates, test statistics, fits, toys, plots.

Example:
    >>> from fitting import Templates, analyse
    >>> from processors.histograms import mass_histogram
    >>> report = analyse(Templates.from_hist(mass_histogram(output["mass"]), roles))
    >>> report.statistic, sorted(report.to_json()["fits"])
    ('poisson', ['s_b', 's_s', 's_s,s_b'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.lazy import exports

if TYPE_CHECKING:
    from fitting.analysis import DEFAULT_STATISTIC, METHODS, SCHEMA_VERSION, FitReport, analyse
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
    **dict.fromkeys(("DEFAULT_STATISTIC", "METHODS", "SCHEMA_VERSION", "FitReport", "analyse"), "analysis"),
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
    "Fit1D",
    "Fit2D",
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
    "significance",
    "workspace",
]

__getattr__ = exports(__name__, _WHERE)
