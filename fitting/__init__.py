"""Statistical analysis of the m4l histograms: templates, test statistics, fits, toys, plots.

Example:
    >>> from fitting import Templates, analyse
    >>> report = analyse(Templates.from_hist(output["mass"], roles))  # doctest: +SKIP
    >>> report.to_json()["fits"]["s_s,s_b"]["s_s"]  # doctest: +SKIP
"""

from __future__ import annotations

from fitting.analysis import DEFAULT_STATISTIC, METHODS, SCHEMA_VERSION, FitReport, analyse
from fitting.fit import CONTOUR_LEVELS, Contour, Fit1D, Fit2D, FitError, Interval, Model, Significance, significance
from fitting.minimizer import DegenerateTemplatesError, Minimum
from fitting.statistics import STATISTICS, chi2
from fitting.templates import TemplateError, Templates
from fitting.workspace import workspace

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
