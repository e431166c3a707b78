"""One chunk of a run: hzz4l's work function for coffea's ``Runner``, reusing opened files across chunks.

coffea's own work function opens the file, parses its TTree's metadata (every branch, in pure Python: 50 to
150 ms for the 84 branches of the ``mini`` tree) and builds the NanoEvents form again for every chunk. Here each
process (the iterative run, each futures or Dask worker) keeps the files it read last open, with their parsed
trees, so that the chunks of one file pay for that once; only the branches the processor declares go into the
form. The file checks before the run parse every tree already: the files they opened are handed over
(:func:`adopt`), and the first chunk of each file takes its file from there instead of parsing it again.
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
import os
import threading
import time
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

import cloudpickle
import lz4.frame
import uproot
from coffea.nanoevents import NanoEventsFactory
from coffea.processor import ProcessorABC

__all__ = ["ADOPTED_FILES", "OPEN_FILES", "adopt", "close_files", "work_function"]

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
    try:
        directory = _directory(item.filename, item.treename, options)
        source = directory.file.source
        before = source.num_requested_bytes
        materialized: list[Any] = []
        events = NanoEventsFactory.from_root(
            file=directory,
            treepath=item.treename,
            schemaclass=schema,
            metadata=metadata,
            access_log=materialized,
            mode="virtual",
            entry_start=item.entrystart,
            entry_stop=item.entrystop,
            iteritems_options=iteritems_options,
            preload=item.preload,
            buffer_cache=cache_function(),
        ).events()
        tic = time.time()
        out = processor_instance.process(events)
        toc = time.time()
    except BaseException:
        _discard(item.filename, item.treename)  # a retry opens the file afresh
        raise
    if out is None:
        raise ValueError("the processor's process() returned None instead of its accumulator")
    result: dict[str, Any] = {"out": out, "processed": {item}}
    if savemetrics:
        result["metrics"] = {
            "bytesread": source.num_requested_bytes - before,
            "columns": {x.branch for x in materialized},
            "entries": len(events),
            "processtime": toc - tic,
        }
    if checkpointer is not None:
        checkpointer.save(result, metadata, processor_instance)
    return result
