"""Statistical analysis of the m4l histograms: templates, test statistics, fits, toys, plots.

Example:
    >>> from fitting import Templates, analyse
    >>> report = analyse(Templates.from_hist(output["mass"], roles), statistic="poisson")  # doctest: +SKIP
    >>> report.to_json()["fits"]["s_s,s_b"]["s_s"]  # doctest: +SKIP
"""

from __future__ import annotations

from fitting.analysis import METHODS, FitReport, analyse
from fitting.fit import CONTOUR_LEVELS, Fit1D, Fit2D, Interval, Model
from fitting.statistics import STATISTICS, chi2
from fitting.templates import TemplateError, Templates

__all__ = [
    "CONTOUR_LEVELS",
    "METHODS",
    "STATISTICS",
    "Fit1D",
    "Fit2D",
    "FitReport",
    "Interval",
    "Model",
    "TemplateError",
    "Templates",
    "analyse",
    "chi2",
]
