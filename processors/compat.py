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
* coffea's progress bars (:func:`progress_bars`): they ignore ``status=False`` (the executors draw a finished bar
  anyway, on coffea's own rich console ``coffea.util.coffea_console``), so that console is silenced instead; the
  futures executor's "Merging (local)" bar restarts its count at every batch it merges (it ended at e.g. 1/14), and
  the Dask bar counts every task of the graph, the processor's broadcast and the merges too (16 for 14 chunks);
* coffea: NanoEvents of arrays already read, built lazily (:func:`preloaded_events`): ``from_preloaded`` builds
  every column at once, so that a branch disagreeing with its counter fails in awkward (``size of array is less
  than size of form``) before the processor's own check can name it;
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
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

if TYPE_CHECKING:
    from coffea.processor.executor import FileMeta, WorkItem
    from uproot.source.fsspec import FSSpecSource

__all__ = [
    "RUNNER_HOOKS",
    "FSSpecSource",
    "FileMeta",
    "WorkItem",
    "flat_columns",
    "preloaded_events",
    "progress_bars",
]

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


def preloaded_events(
    arrays: dict[str, Any],
    uuid: str,
    treename: str,
    schema: Any,
    metadata: dict[str, Any],
    buffer_cache: MutableMapping[str, Any] | None = None,
) -> ak.Array:
    """The NanoEvents (``schema``) of one chunk's branches as read (``tree.arrays(how=dict)``, in the tree's
    order), from the file of ``uuid``: coffea's ``NanoEventsFactory.from_preloaded`` with its columns built when
    first used, as ``from_root(mode="virtual")`` builds them, instead of all at once. ``metadata`` becomes
    ``events.metadata``."""
    from coffea.nanoevents import NanoEventsFactory
    from coffea.nanoevents.mapping.preloaded import (
        PreloadedOpener,
        PreloadedSourceMapping,
        SimplePreloadedColumnSource,
    )

    entries = len(next(iter(arrays.values()))) if arrays else 0
    source = SimplePreloadedColumnSource(arrays, uuid, entries, treename)
    mapping = PreloadedSourceMapping(PreloadedOpener({uuid: source}), 0, entries, buffer_cache=buffer_cache)
    mapping._virtual = True  # what from_preloaded leaves False
    mapping.preload_column_source(uuid, treename, source)
    base_form = mapping._extract_base_form(source)
    key = (uuid, treename, f"0-{entries}")
    return NanoEventsFactory._from_mapping(mapping, key, base_form, schema, metadata, mode="virtual").events()


#: The key prefixes of the tasks coffea's ``DaskExecutor`` adds to the chunks: the broadcast of the processor
#: (``client.submit(lambda x: x, heavy_input)``) and the tree reduction of the outputs.
DASK_NOT_CHUNKS = frozenset({"lambda", "reduce"})


@contextlib.contextmanager
def progress_bars(shown: bool, dask: bool = False) -> Iterator[None]:
    """coffea's progress bars for the duration: on the terminal or (``shown=False``) not at all, each counting what
    it says (the merges merged, the chunks processed); ``dask`` for a run on Dask (which imports distributed)."""
    import coffea.processor.executor as coffea_executor
    from coffea.util import coffea_console

    quiet, rich_bar = coffea_console.quiet, coffea_executor.rich_bar
    coffea_console.quiet, coffea_executor.rich_bar = quiet or not shown, _continued_bar
    with contextlib.ExitStack() as restore:
        restore.callback(setattr, coffea_console, "quiet", quiet)
        restore.callback(setattr, coffea_executor, "rich_bar", rich_bar)
        if dask:
            import coffea.processor._dask as coffea_dask

            restore.callback(setattr, coffea_dask, "progress", coffea_dask.progress)
            coffea_dask.progress = _dask_chunk_bar
        yield


def _continued_bar() -> Any:
    """coffea's bar, whose ``track`` over an existing task goes on counting where it was (rich restarts at 0)."""
    from coffea.util import rich_bar
    from rich.progress import Progress, ProgressType, TaskID

    class Continued(Progress):
        def track(
            self,
            sequence: Iterable[ProgressType],
            total: float | None = None,
            completed: int = 0,
            task_id: TaskID | None = None,
            description: str = "Working...",
            update_period: float = 0.1,
        ) -> Iterable[ProgressType]:
            if task_id is not None:
                completed = int(self._tasks[task_id].completed)
            return super().track(sequence, total, completed, task_id, description, update_period)

    bar = rich_bar()
    bar.__class__ = Continued  # coffea's columns and console, one method changed
    return bar


def _dask_chunk_bar(*futures: Any, description: str = "Processing", unit: str = "tasks", **_: Any) -> None:
    """coffea's Dask bar (``coffea.processor._dask.progress``), counting only the chunks; returns when they are done."""
    from coffea.util import rich_bar
    from distributed.client import futures_of
    from distributed.diagnostics.progressbar import MultiProgressBar
    from distributed.utils import LoopRunner

    class ChunkBar(MultiProgressBar):
        def _draw_bar(self, remaining: dict[str, int], all: dict[str, int], **_: Any) -> None:
            total = sum(n for group, n in all.items() if group not in DASK_NOT_CHUNKS)
            left = sum(n for group, n in remaining.items() if group not in DASK_NOT_CHUNKS)
            bar.update(task, total=total, completed=total - left, refresh=True)

    bar = rich_bar()
    task = bar.add_task(description, total=None, unit=unit)
    with bar:
        keys = futures_of(futures)  # type: ignore[no-untyped-call]
        listen = ChunkBar(keys, complete=True).listen  # type: ignore[no-untyped-call]
        LoopRunner(loop=None).run_sync(listen)  # type: ignore[no-untyped-call]
