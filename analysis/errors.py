"""The project's expected errors: one hierarchy, one line each.

An :class:`HZZ4lError` is a problem with what the user gave (a fileset, an input file, an option, a results
folder) or a result that cannot honestly be computed; its message is one line naming the file, dataset or
option it is about. The command line prints it as that line and exits with status 2. Any other exception
escaping a command is a bug: it keeps its traceback and exits with status 1. :class:`HZZ4lWarning` is the
base of the warnings, printed as one line each.

A results file (``summary.json``, ``fit.json``) is read back through :func:`read_json`, which turns any problem
with it into one :class:`ResultsError` line naming the file.

This module imports nothing of the project (pydantic only when a file is read), so every package (``analysis``,
``processors``, ``fitting``) can derive its errors from :class:`HZZ4lError` without pulling in the others.

Example:
    >>> class FilesetProblem(HZZ4lError, ValueError): ...
    >>> isinstance(FilesetProblem("samples.json: dataset 'data': has no files"), HZZ4lError)
    True
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

__all__ = [
    "MAX_TEXT_BYTES",
    "HZZ4lError",
    "HZZ4lWarning",
    "ResultsError",
    "first_error",
    "parse_json",
    "read_json",
    "read_limited",
    "read_text",
]

Model = TypeVar("Model", bound="BaseModel")

#: Longest text file hzz4l reads (a fileset, ``summary.json``, ``fit.json``): far above any real one (the whole
#: release's fileset is 4 kB), far below the memory of a laptop (``--fileset /dev/zero`` never ends).
MAX_TEXT_BYTES = 256 * 2**20


class HZZ4lError(Exception):
    """Base of every expected hzz4l error; the message is one line naming what it is about."""


class HZZ4lWarning(UserWarning):
    """Base of hzz4l's warnings: something used as given that is probably a mistake, or left out of a result;
    the message is one line naming what it is about (the command line prints it as ``warning: ...``)."""


class ResultsError(HZZ4lError, ValueError):
    """A results folder or file that cannot be read back; the message names the file and the problem."""


def read_limited(path: Path) -> str:
    """The UTF-8 text of ``path``, read to at most :data:`MAX_TEXT_BYTES` (a pipe or a device may never end).

    Raises:
        OSError: unreadable, or longer than that (``EFBIG``).
        UnicodeDecodeError: not UTF-8.
    """
    with open(path, "rb") as f:
        data = f.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise OSError(errno.EFBIG, f"longer than {MAX_TEXT_BYTES // 2**20} MB: not a file hzz4l reads")
    return data.decode("utf-8")


def read_text(path: Path, what: str) -> str:
    """The text of ``path`` (``what`` it is read for, for the message).

    Raises:
        ResultsError: missing, unreadable or too long.
    """
    try:
        return read_limited(path)
    except FileNotFoundError:
        raise ResultsError(f"{path}: cannot read {what}: the file does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path}: cannot read {what}: {getattr(err, 'strerror', None) or err}") from None


def parse_json(path: Path, text: str, model: type[Model], what: str) -> Model:
    """``text``, read from ``path``, as ``model``.

    Raises:
        ResultsError: not JSON, or not what ``model`` says (the first problem named).
    """
    from pydantic import ValidationError

    try:
        return model.model_validate_json(text)
    except ValidationError as err:
        raise ResultsError(f"{path}: cannot read {what}: {first_error(err)}") from None


def read_json(path: Path, model: type[Model], what: str) -> Model:
    """The JSON object in ``path`` as ``model`` (``what`` it is read for, for the message).

    Raises:
        ResultsError: missing, unreadable, not JSON, or not what ``model`` says (the first problem named).
    """
    return parse_json(path, read_text(path, what), model, what)


def first_error(err: ValidationError) -> str:
    """The first problem pydantic found, as ``key.path: what is wrong``; a ``schema_version`` this hzz4l does not
    read comes first, said as such (the other problems follow from it)."""
    errors = err.errors(include_url=False)
    version = next((e for e in errors if e["loc"] == ("schema_version",) and e["type"] == "literal_error"), None)
    if version is not None:
        expected = (version.get("ctx") or {}).get("expected")
        return (
            f"schema_version {version['input']!r}: written by another version of hzz4l (this one reads {expected}); "
            "make it again"
        )
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]
