"""One chunk of a run: hzz4l's work function for coffea's ``Runner``, reusing opened files across chunks.

coffea's own work function opens the file, parses its TTree's metadata (every branch, in pure Python: 50 to
150 ms for the 84 branches of the ``mini`` tree) and builds the NanoEvents form again for every chunk. Here each
process (the iterative run, each futures or Dask worker) keeps the files it read last open, with their parsed
trees, so that the chunks of one file pay for that once; only the branches the processor declares go into the
form. The file checks before the run parse every tree already: the files they opened are handed over
(:func:`adopt`), and the first chunk of each file takes its file from there instead of parsing it again.
The declared branches (the chunk's ``preload``) are read in bulk and the events built from those arrays
(:func:`processors.compat.preloaded_events`): no NanoEvents form is made from the TTree for every chunk.

In one process (coffea's iterative executor) the reading overlaps the processing (:func:`read_ahead`): while
``process()`` runs on chunk k, one background thread reads and decompresses chunk k+1 (zlib, lz4 and numpy
release the GIL; uproot's basket parsing does not, so the overlap is partial: 1.2 x with a core free, nothing
without one; docs/performance.md). Every read of that
run, and every opening or closing of its files, happens in that thread, one at a time; a chunk read ahead that
fails is raised by that chunk, as if it had been read then.

What a chunk returns is what coffea's work function returns (``out``, ``metrics``, ``processed``); a chunk
that fails closes its file, so that a retry opens it afresh.

This replaces coffea's private ``Runner._work_function`` (``analysis.runner._Runner``): with ``coffea.processor
.executor.WorkItem``, the one place where hzz4l depends on coffea's internals for reading.

Example (as ``analysis.runner`` uses it):
    >>> from coffea import processor
    >>> class Runner(processor.Runner):
    ...     _work_function = staticmethod(work_function)
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import cloudpickle
import lz4.frame
import uproot
from coffea.nanoevents import NanoEventsFactory
from coffea.processor import ProcessorABC

from processors import compat

__all__ = ["ADOPTED_FILES", "OPEN_FILES", "adopt", "close_files", "read_ahead", "work_function"]

#: Files kept open per thread: a worker rarely interleaves chunks of more than two files.
OPEN_FILES = 2
#: Files opened by the checks that are kept for the run (the rest are closed: each holds a file descriptor).
ADOPTED_FILES = 64

#: The open files, per (thread, file, tree), least recently used first. Each thread reads only its own.
_open: collections.OrderedDict[tuple[int, str, str], Any] = collections.OrderedDict()
#: Files opened (their tree parsed) by the checks before the run, per (file, tree), until a chunk takes them.
_adopted: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def adopt(filename: str, treename: str, directory: Any) -> bool:
    """Keep ``directory``, the opened file ``filename`` whose tree ``treename`` is parsed, for the first chunk of
    that file in this process; False if this process keeps enough files already (the caller closes it)."""
    with _lock:
        if len(_adopted) >= ADOPTED_FILES or (filename, treename) in _adopted:
            return False
        _adopted[filename, treename] = directory
    return True


def close_files() -> None:
    """Close every file kept open in this process (at the end of a run; a failed chunk closes its own)."""
    with _lock:
        directories = [*_open.values(), *_adopted.values()]
        _open.clear()
        _adopted.clear()
    for directory in directories:
        directory.close()


def _forget() -> None:
    _open.clear()
    _adopted.clear()
    _plan.clear()


# a forked child must not read through its parent's open files (they share file offsets): it forgets them
os.register_at_fork(after_in_child=_forget)


def _directory(filename: str, treename: str, options: dict[str, Any]) -> Any:
    """The opened file ``filename`` with its TTree ``treename`` parsed (kept in uproot's object cache), kept open
    for the thread's next chunks (its last :data:`OPEN_FILES` files)."""
    thread = threading.get_ident()
    key = (thread, filename, treename)
    with _lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key]
        directory = _adopted.pop((filename, treename), None)
    if directory is None:
        # {path: None}: a colon in the path is part of the file name, not an object path
        directory = uproot.open({filename: None}, **options)
        directory[treename]  # parsed once: uproot keeps it in the file's object cache
    with _lock:
        _open[key] = directory
        mine = [k for k in _open if k[0] == thread]
        stale = [_open.pop(k) for k in mine[: max(0, len(mine) - OPEN_FILES)]]
    for old in stale:
        old.close()
    return directory


def _discard(filename: str, treename: str) -> None:
    with _lock:
        directory = _open.pop((threading.get_ident(), filename, treename), None)
    if directory is not None:
        directory.close()


class _Arrays(NamedTuple):
    """The declared branches of one chunk as read (``tree.arrays(how=dict)``), and the bytes that took."""

    arrays: dict[str, Any]
    uuid: str
    bytes_read: int


def _read(item: Any, options: dict[str, Any]) -> _Arrays:
    """Read and decompress the branches ``item.preload`` of the chunk ``item`` (a coffea WorkItem), as
    coffea's ``NanoEventsFactory.from_root(preload=...)`` does; a failure closes the file."""
    names = frozenset(item.preload)
    try:
        directory = _directory(item.filename, item.treename, options)
        tree = directory[item.treename]
        source = directory.file.source
        before = source.num_requested_bytes
        arrays = tree.arrays(
            filter_branch=lambda branch: branch.name in names,
            entry_start=item.entrystart,
            entry_stop=item.entrystop,
            ak_add_doc=True,
            how=dict,
        )
        return _Arrays(arrays, str(tree.file.uuid), source.num_requested_bytes - before)
    except BaseException:
        _discard(item.filename, item.treename)  # a retry opens the file afresh
        raise


_Key = tuple[str, str, str, int, int]


def _key(item: Any) -> _Key:
    return (item.dataset, item.filename, item.treename, item.entrystart, item.entrystop)


class _ReadAhead:
    """The chunks of a run in the order they are processed, and the one thread that reads them: each chunk is
    read while the one before it is processed (see :func:`read_ahead`)."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.following = {_key(item): after for item, after in itertools.pairwise(items)}
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hzz4l-read-ahead")
        self.ahead: tuple[_Key, Future[_Arrays]] | None = None

    def arrays(self, item: Any, options: dict[str, Any]) -> _Arrays:
        """The arrays of ``item``: those read ahead, or read now (a failure raised as it is); then the chunk
        after it starts being read."""
        key = _key(item)
        if self.ahead is not None and self.ahead[0] == key:
            future = self.ahead[1]
        else:  # not the chunk read ahead (the first, a retry, one after a checkpoint): the reader's next job
            future = self.reader.submit(_read, item, options)
        self.ahead = None
        arrays = future.result()
        after = self.following.get(key)
        if after is not None:
            self.ahead = _key(after), self.reader.submit(_read, after, options)
        return arrays

    def discard(self, filename: str, treename: str) -> None:
        """Drop the chunk read ahead, and close ``filename`` once the reader is done with what it was reading."""
        self.ahead = None
        self.reader.submit(_discard, filename, treename).result()

    def close(self) -> None:
        """Stop reading ahead: a read under way is finished (never cut off in a file then closed), none is
        started."""
        self.ahead = None
        self.reader.shutdown(wait=True, cancel_futures=True)


#: The read-ahead of the run in progress in this process (:func:`read_ahead`), if any.
_plan: list[_ReadAhead] = []


@contextlib.contextmanager
def read_ahead(items: Sequence[Any]) -> Iterator[None]:
    """Within the block, the work function reads each chunk of ``items`` (coffea WorkItems, in the order it is
    given them: coffea's iterative executor calls it on its items one by one) while the chunk before is being
    processed, in one background thread of this process. At most one chunk is read ahead (memory stays flat in
    the number of events), and every read is over when the block ends. Only the declared branches of a chunk
    (its ``preload``) are read ahead.

    Example (as ``analysis.runner`` uses it):
        >>> from coffea import processor
        >>> class Executor(processor.IterativeExecutor):
        ...     def __call__(self, items, function, accumulator):
        ...         with read_ahead(items):
        ...             return super().__call__(items, function, accumulator)
    """
    if _plan:
        raise RuntimeError("a run reading ahead is in progress in this process already")
    plan = _ReadAhead(list(items))
    _plan.append(plan)
    try:
        yield
    finally:
        _plan.clear()
        plan.close()


def work_function(
    format: str,
    xrootdtimeout: int,
    schema: Any,
    use_dataframes: bool,
    savemetrics: bool,
    item: Any,  # a coffea WorkItem (processors.compat), or (WorkItem, processor) from Dask
    processor_instance: Any,
    uproot_options: dict[str, Any],
    iteritems_options: dict[str, Any],
    checkpointer: Any,
    cache_function: Callable[[], MutableMapping[str, Any]],
) -> dict[str, Any]:
    """Process one chunk, as coffea's ``Runner._work_function`` (same arguments, same result) for ROOT files
    and NanoEvents schemas, with the file and its parsed tree kept open for the next chunk."""
    if format != "root" or use_dataframes:
        raise ValueError("hzz4l's work function reads ROOT files into NanoEvents only")
    options = dict(uproot_options)
    options["timeout"] = options.get("timeout", xrootdtimeout)
    if processor_instance == "heavy":  # Dask: the processor travels with the item
        item, processor_instance = item
    if not isinstance(processor_instance, ProcessorABC):
        processor_instance = cloudpickle.loads(lz4.frame.decompress(processor_instance))
    metadata = {
        "dataset": item.dataset,
        "filename": item.filename,
        "treename": item.treename,
        "entrystart": item.entrystart,
        "entrystop": item.entrystop,
        "fileuuid": str(uuid.UUID(bytes=item.fileuuid)) if len(item.fileuuid) > 0 else "",
        **(item.usermeta or {}),
    }
    if checkpointer is not None:
        saved: dict[str, Any] | None = checkpointer.load(metadata, processor_instance)
        if saved is not None:
            return saved
    plan = _plan[0] if _plan and item.preload else None
    materialized: list[Any] = []
    try:
        if item.preload:  # the declared branches, read in bulk: the events are made of those arrays
            chunk = plan.arrays(item, options) if plan is not None else _read(item, options)
            events = compat.preloaded_events(
                chunk.arrays, chunk.uuid, item.treename, schema, metadata, buffer_cache=cache_function()
            )
            bytes_read = chunk.bytes_read
        else:  # every branch, read when the processor first uses it
            directory = _directory(item.filename, item.treename, options)
            before = directory.file.source.num_requested_bytes
            events = NanoEventsFactory.from_root(
                file=directory,
                treepath=item.treename,
                schemaclass=schema,
                metadata=metadata,
                mode="virtual",
                access_log=materialized,
                entry_start=item.entrystart,
                entry_stop=item.entrystop,
                iteritems_options=iteritems_options,
                buffer_cache=cache_function(),
            ).events()
        tic = time.time()
        out = processor_instance.process(events)
        toc = time.time()
        if not item.preload:
            bytes_read = directory.file.source.num_requested_bytes - before
    except BaseException:
        if plan is not None:
            plan.discard(item.filename, item.treename)  # a retry opens the file afresh
        else:
            _discard(item.filename, item.treename)
        raise
    if out is None:
        raise ValueError("the processor's process() returned None instead of its accumulator")
    result: dict[str, Any] = {"out": out, "processed": {item}}
    if savemetrics:
        result["metrics"] = {
            "bytesread": bytes_read,
            "columns": set(item.preload or ()) | {x.branch for x in materialized},
            "entries": len(events),
            "processtime": toc - tic,
        }
    if checkpointer is not None:
        checkpointer.save(result, metadata, processor_instance)
    return result
