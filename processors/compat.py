"""Every use of coffea's, uproot's and awkward's internals in one place, each checked by
``tests/processors/test_compat.py``, so that an upgrade that changes them fails those tests, not a physics result.

What hzz4l needs that the public APIs do not offer:

* awkward: the flat columns of a jagged collection of records, read without building jagged arrays
  (:func:`flat_columns`, for the selection and the finiteness checks);
* coffea: its chunk descriptions ``WorkItem`` and per-file keys ``FileMeta`` (``coffea.processor.executor``, not
  exported by ``coffea.processor``); the ``Runner`` methods :mod:`analysis.runner` replaces, ``_work_function``
  (one chunk: :func:`analysis.work.work_function`, same parameters) and ``automatic_retries`` (hzz4l's own chunk
  attempts); the ``metadata_cache`` entries the runner fills from the file checks (``FileMeta`` ->
  ``{"numentries", "uuid", "clusters"}``) and the ``cachestrategy`` hook;
* coffea's progress bars ignore ``status=False`` (the executors draw a finished bar anyway, on coffea's own rich
  console ``coffea.util.coffea_console``): :func:`progress_shown` silences that console instead;
* uproot: ``FSSpecSource``, the default source of a file that :mod:`analysis.runner` subclasses.

coffea and uproot are imported when one of their names here is first used, so that the selection can use
:func:`flat_columns` without importing coffea.

Example:
    >>> import awkward as ak
    >>> offsets, columns = flat_columns(ak.Array([[{"pt": 1.0}, {"pt": 2.0}], [], [{"pt": 3.0}]]), ("pt",))
    >>> offsets.tolist(), columns["pt"].tolist()
    ([0, 2, 2, 3], [1.0, 2.0, 3.0])
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

if TYPE_CHECKING:
    from coffea.processor.executor import FileMeta, WorkItem
    from uproot.source.fsspec import FSSpecSource

__all__ = ["RUNNER_HOOKS", "FSSpecSource", "FileMeta", "WorkItem", "flat_columns", "progress_shown"]

#: The internals named here, from where they come.
_INTERNALS = {
    "FileMeta": ("coffea.processor.executor", "FileMeta"),
    "WorkItem": ("coffea.processor.executor", "WorkItem"),
    "FSSpecSource": ("uproot.source.fsspec", "FSSpecSource"),
}

#: The methods of ``coffea.processor.Runner`` that :class:`analysis.runner._Runner` replaces.
RUNNER_HOOKS = ("_work_function", "automatic_retries")


def __getattr__(name: str) -> Any:
    if name not in _INTERNALS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _INTERNALS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def flat_columns(collection: ak.Array, fields: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The offsets ``(events + 1,)`` of a jagged collection of records and the flat column of each of ``fields``.

    Event ``i``'s objects are ``column[offsets[i]:offsets[i + 1]]``; ``offsets[0]`` need not be 0 (a slice of
    a larger buffer). A collection that is not plain lists of records (e.g. an indexed one) is packed first.
    """
    layout = ak.to_layout(collection)
    if not (isinstance(layout, ak.contents.ListOffsetArray) and isinstance(layout.content, ak.contents.RecordArray)):
        layout = ak.to_layout(ak.to_packed(collection))
    offsets = np.asarray(layout.offsets.data)
    return offsets, {field: np.asarray(layout.content.content(field).data) for field in fields}


@contextlib.contextmanager
def progress_shown(shown: bool) -> Iterator[None]:
    """coffea's progress bars shown on the terminal, or (``shown=False``) not at all, for the duration."""
    from coffea.util import coffea_console

    quiet = coffea_console.quiet
    coffea_console.quiet = quiet or not shown
    try:
        yield
    finally:
        coffea_console.quiet = quiet
