"""Orchestration of the hzz4l analysis: filesets, demo samples, executors, outputs, CLI, plot style.

Example:
    >>> import analysis
    >>> analysis.__version__.count(".") >= 2
    True
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    """``__version__``: the installed version of the hzz4l distribution (which holds ``analysis``, ``processors``
    and ``fitting``), looked up when asked for: importlib.metadata costs the CLI's start-up about 50 ms."""
    if name != "__version__":
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    from importlib.metadata import version

    return version("hzz4l")
