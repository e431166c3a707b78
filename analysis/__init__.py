"""Orchestration of the hzz4l analysis: filesets, demo samples, executors, outputs, CLI, plot style.

Example:
    >>> import analysis
    >>> analysis.__version__.count(".") >= 2
    True
"""

from __future__ import annotations

from importlib.metadata import version

__all__ = ["__version__"]

#: The installed version of the hzz4l distribution (which holds ``analysis``, ``processors`` and ``fitting``).
__version__ = version("hzz4l")
