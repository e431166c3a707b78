"""The project's expected errors: one hierarchy, one line each.

An :class:`HZZ4lError` is a problem with what the user gave (a fileset, an input file, an option, a results
folder) or a result that cannot honestly be computed; its message is one line naming the file, dataset or
option it is about. The command line prints it as that line and exits with status 2. Any other exception
escaping a command is a bug: it keeps its traceback and exits with status 1. :class:`HZZ4lWarning` is the
base of the warnings, printed as one line each.

This module imports nothing, so every package (``analysis``, ``processors``, ``fitting``) can derive its
errors from :class:`HZZ4lError` without pulling in the others.

Example:
    >>> class FilesetProblem(HZZ4lError, ValueError): ...
    >>> isinstance(FilesetProblem("samples.json: dataset 'data': has no files"), HZZ4lError)
    True
"""

from __future__ import annotations

__all__ = ["HZZ4lError", "HZZ4lWarning"]


class HZZ4lError(Exception):
    """Base of every expected hzz4l error; the message is one line naming what it is about."""


class HZZ4lWarning(UserWarning):
    """Base of hzz4l's warnings: something used as given that is probably a mistake, or left out of a result;
    the message is one line naming what it is about (the command line prints it as ``warning: ...``)."""
