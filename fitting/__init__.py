"""Statistical analysis of the m4l histograms: templates, test statistics, fits, toys."""

from __future__ import annotations
