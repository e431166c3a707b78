"""Run the processor over a fileset with one of coffea's executors.

``iterative`` (one process, for development), ``futures`` (a local process pool, for a
workstation) and ``dask`` (``distributed``: a ``LocalCluster`` started and stopped here, or
an existing cluster at a scheduler address — the way to scale out to many machines).

What a run guarantees:

* every file is checked first (:func:`analysis.inputs.preflight`);
* a chunk that fails is retried only if another attempt may succeed (:func:`analysis.inputs.retryable`);
  an :class:`~analysis.errors.HZZ4lError` raised while processing it (bad data) is final. The run then
  stops with one :class:`ChunkError` naming the file, dataset and entries, or, when bad files may be
  skipped, the chunk's events are reported as lost for that file. Any other exception of the processor
  is a bug: it is raised as it is, with its traceback;
* an interrupt (``KeyboardInterrupt``) stops every executor within seconds: queued chunks are cancelled,
  the futures workers are terminated, a Dask ``LocalCluster`` is closed. Child processes ignore SIGINT
  (Ctrl-C reaches the whole process group; stopping them is the parent's job);
* checkpoints are JSON, which cannot run code when loaded, at paths made of hashes and the file's UUID,
  so no dataset or tree name can lead them out of the checkpoint folder;
* local paths with non-ASCII characters work (coffea hashes file names as ASCII: they are handed to it
  percent-encoded and decoded again when opened).

Example:
    >>> from processors import HZZ4lProcessor
    >>> result = run_fileset(fileset, HZZ4lProcessor(), executor="futures", workers=2, status=False)
    >>> result.executor, sorted(result.output)[:3]
    ('futures', ['cutflow', 'lepton_eta', 'lepton_pt'])
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import gc
import hashlib
import json
import logging
import multiprocessing
import os
import re
import threading
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import hist
import numpy as np
from coffea import processor
from coffea.processor.checkpointer import CheckpointerABC

from analysis.errors import HZZ4lError, HZZ4lWarning
from analysis.inputs import (
    Checked,
    InputError,
    Mapper,
    SkippedFile,
    exception_chain,
    is_url,
    one_line,
    pause_before_retry,
    preflight,
    retryable,
)
from analysis.interrupts import children_ignore_interrupts, held, stop_workers
from analysis.work import adopt, close_files, work_function
from analysis.work import read_ahead as reading_ahead
from processors import compat
from processors.schema import MiniSchema

if TYPE_CHECKING:
    from analysis.cache import RemoteCache

__all__ = [
    "BUG_NOTE",
    "EXECUTORS",
    "CheckpointError",
    "ChunkError",
    "Executor",
    "JsonCheckpointer",
    "RunError",
    "RunResult",
    "local_cluster",
    "run_fileset",
]

log = logging.getLogger(__name__)

#: coffea's executors hzz4l runs on: one process, a local process pool, a Dask cluster.
Executor = Literal["iterative", "futures", "dask"]
EXECUTORS: tuple[Executor, ...] = ("iterative", "futures", "dask")

#: Added to an exception raised by the processor itself that is not an HZZ4lError: a bug, never bad input.
BUG_NOTE = "hzz4l: raised by the processor's own code (a bug, not bad input)"


class RunError(HZZ4lError):
    """A run that cannot start (an unreachable Dask scheduler) or that has nothing to process."""


class ChunkError(InputError):
    """A chunk that failed for good; the message names the file, dataset and entry range."""


@dataclass(frozen=True)
class RunResult:
    """The accumulated output of a run and how it went.

    ``output``: the processor's accumulator; ``executor``: its name; ``wall_s``: wall time of
    the executor run itself (seconds); ``bytes_read``: bytes requested from files, by the checks and the chunks;
    ``events``: events processed; ``skipped``: files left out with ``--skip-bad-files``, whole
    (checks failed) or in part (chunks failed), each with its lost events; ``lost_events``: per
    dataset, the events of those files that were not processed (where they could be counted);
    ``preflight_s``: wall time of the file checks before the run; ``process_s``: time spent in the
    processor's ``process``, summed over chunks (and workers); ``synthetic``: a file read is one of hzz4l's synthetic
    demo (whatever the fileset says), so the results are the demo's.
    """

    output: dict[str, Any]
    executor: str
    wall_s: float
    bytes_read: int
    events: int
    preflight_s: float = 0.0
    process_s: float = 0.0
    skipped: tuple[SkippedFile, ...] = ()
    lost_events: dict[str, int] = field(default_factory=dict)
    synthetic: bool = False

    @property
    def events_per_s(self) -> float:
        """Processing rate of the run."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0


# ------------------------------------------------------------------------------------------ processes


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A Dask ``LocalCluster`` of ``workers`` single-threaded worker processes on this machine, closed on exit.

    The workers are forked, so they start with this interpreter's imports (coffea, uproot, numba) instead of
    importing them again, which takes seconds per worker. They ignore SIGINT; the cluster is closed on exit,
    interrupted or not.

    Example:
        >>> from processors import HZZ4lProcessor
        >>> with local_cluster(2) as cluster:
        ...     result = run_fileset(
        ...         fileset, HZZ4lProcessor(), executor="dask", scheduler=cluster.scheduler_address, status=False
        ...     )
        >>> sorted(result.output["processed"]) == sorted(fileset)
        True
    """
    import dask
    from distributed import LocalCluster

    children_ignore_interrupts()
    with contextlib.ExitStack() as stack:
        # held: a cluster interrupted while it starts could not be closed, and its processes would outlive us;
        # a signal that came meanwhile is raised once the cluster is entered, so that it is closed
        with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), held():
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                # its scheduler and workers log to this terminal: a failed chunk is reported by the run, and
                # distributed's shutdown noise (a progress feed cancelled at close, logged with a traceback) is not
                # the user's business
                silence_logs=logging.CRITICAL,
            )
            stack.enter_context(cluster)
        yield cluster


class _FailFastPool(concurrent.futures.Executor):
    """A process pool that hands coffea futures which never fail: the first chunk error is kept here and every
    future coffea still waits for is resolved empty at once, so that coffea's ``FuturesExecutor`` returns (it
    would print the error's traceback, then wait for every remaining chunk) and :meth:`reraise` gives the error;
    the workers are then stopped with the pool (:func:`analysis.interrupts.stop_workers`)."""

    def __init__(self, pool: concurrent.futures.ProcessPoolExecutor) -> None:
        self.pool = pool
        self.error: BaseException | None = None
        self._handed: list[concurrent.futures.Future[Any]] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        outer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        outer.set_running_or_notify_cancel()
        self._handed.append(outer)
        self.pool.submit(fn, *args, **kwargs).add_done_callback(functools.partial(self._relay, outer))
        return outer

    def _relay(self, outer: concurrent.futures.Future[Any], inner: concurrent.futures.Future[Any]) -> None:
        error = None if inner.cancelled() else inner.exception()
        with self._lock:
            if error is not None and self.error is None:
                self.error = error
                for other in self._handed:
                    if not other.done():
                        other.set_result(None)
            if not outer.done():
                outer.set_result(None if inner.cancelled() or error is not None else inner.result())

    def reraise(self) -> None:
        """Raise the first chunk error, if there was one."""
        if self.error is not None:
            raise self.error


class _ReadAheadExecutor(processor.IterativeExecutor):  # type: ignore[misc]  # coffea is untyped
    """coffea's iterative executor, reading each chunk while the one before it is processed
    (:func:`analysis.work.read_ahead`): it is given the chunks in the order it runs them."""

    def __call__(self, items: Any, function: Callable[..., Any], accumulator: Any) -> Any:
        with reading_ahead(items):
            return super().__call__(items, function, accumulator)


@contextlib.contextmanager
def _executor(
    name: str, workers: int, scheduler: str | None, status: bool, timeout: float = 30.0, ahead: bool = True
) -> Iterator[tuple[processor.ExecutorBase, Mapper | None]]:
    """coffea's executor ``name``, and a mapper that runs the file checks on the same workers (None: in this
    process, see :func:`analysis.inputs.preflight`); ``timeout``: the
    seconds to wait for the scheduler of a Dask cluster; ``ahead``: the iterative run reads ahead."""
    if name == "iterative":
        yield (_ReadAheadExecutor if ahead else processor.IterativeExecutor)(status=status), None
    elif name == "futures":
        # forked workers inherit the interpreter with coffea already imported, instead of importing it
        # again in every worker (seconds each): the pool is ready at once, for the checks and the chunks
        children_ignore_interrupts()
        context = multiprocessing.get_context("fork")
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            yield processor.FuturesExecutor(workers=workers, status=status, pool=_FailFastPool(pool)), _pool_map(pool)
        except BaseException:
            stop_workers(pool)
            raise
        pool.shutdown(wait=True)
    elif name == "dask":
        from distributed import Client

        with contextlib.ExitStack() as stack:
            external = scheduler is not None
            if scheduler is None:
                scheduler = stack.enter_context(local_cluster(workers)).scheduler_address
            try:
                client = stack.enter_context(Client(scheduler, timeout=f"{timeout}s"))  # type: ignore[no-untyped-call]
            except (OSError, TimeoutError, ValueError) as err:
                raise RunError(f"--scheduler {scheduler}: cannot connect: {one_line(err)}") from None
            yield processor.DaskExecutor(client=client, status=status), _dask_map(client)
            if external:  # workers that outlive the run close the files they kept open for it
                client.run(close_files, on_error="ignore")
    else:
        raise ValueError(f"unknown executor {name!r} (expected one of {', '.join(EXECUTORS)})")


def _pool_map(pool: concurrent.futures.Executor) -> Mapper:
    return lambda function, items: list(pool.map(function, items))


def _dask_map(client: Any) -> Mapper:
    def mapper(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        futures = client.map(function, items, pure=False)
        # wait here rather than in client.gather: gather interrupted half-way leaves coroutines in the client's
        # event loop that fail when it closes, each printing "Task exception was never retrieved"
        while not all(future.done() for future in futures):
            time.sleep(0.05)
        results: list[Any] = client.gather(futures)
        return results

    return mapper


# ------------------------------------------------------------------------------------------ chunks


class _Guarded(processor.ProcessorABC):  # type: ignore[misc]  # coffea is untyped
    """The processor, with every exception of its own that is not an HZZ4lError marked as a bug (:data:`BUG_NOTE`),
    so that it is neither retried nor reported as bad input."""

    def __init__(self, inner: processor.ProcessorABC) -> None:
        self.inner = inner

    def process(self, events: Any) -> Any:
        try:
            return self.inner.process(events)
        except HZZ4lError:
            raise
        except Exception as err:
            err.add_note(BUG_NOTE)
            raise

    def postprocess(self, accumulator: Any) -> Any:
        return self.inner.postprocess(accumulator)

    def fingerprint(self) -> str:
        return getattr(self.inner, "fingerprint", lambda: type(self.inner).__name__)()


@dataclass(frozen=True)
class _FailedChunk:
    """A chunk given up on with ``--skip-bad-files``."""

    dataset: str
    path: str
    start: int
    stop: int
    reason: str


def _display_path(filename: str) -> str:
    """The path a user wrote for a file name given to coffea (see :func:`_coffea_name`)."""
    return urllib.parse.unquote(filename.removeprefix("file://")) if filename.startswith("file://") else filename


def _coffea_name(path: str) -> str:
    """The spelling of ``path`` handed to coffea, which hashes file names as ASCII: non-ASCII characters are
    percent-encoded, a local path becoming a ``file://`` URL that :class:`_Source` decodes again. (The fileset
    holds no ``file://`` URLs: validation turns them into paths.)"""
    if path.isascii():
        return path
    if is_url(path):
        return "".join(c if c.isascii() else urllib.parse.quote(c) for c in path)
    return "file://" + urllib.parse.quote(path)


class _Source(compat.FSSpecSource):  # type: ignore[misc]  # uproot is untyped
    """uproot's default source, reading the ``file://`` URLs of :func:`_coffea_name` as the paths they encode, and
    remote files from their local copies in ``hzz4l_cache`` (an :class:`analysis.cache.RemoteCache`) if given."""

    def __init__(self, file_path: str, hzz4l_cache: RemoteCache | None = None, **options: Any) -> None:
        path = _display_path(file_path)
        if hzz4l_cache is not None and hzz4l_cache.applies(path):
            path = hzz4l_cache.local(path, timeout=options.get("timeout") or 60.0)
        super().__init__(path, **options)


def _adopt(path: str, tree: str, directory: Any) -> bool:
    """Hand a file opened by the checks before the run to the chunks that will read it
    (:func:`analysis.work.adopt`), under the name coffea gives them (:func:`_coffea_name`)."""
    return adopt(_coffea_name(path), tree, directory)


def _attempts(
    retries: int, _coffea_retries: int, skip: bool, work: Callable[..., Any], item: Any, **kwargs: Any
) -> Any:
    """Run one chunk (``work(item)``, coffea's work function), trying again while :func:`retryable` says another
    attempt may succeed, at most ``retries`` more times. Then raise a :class:`ChunkError` naming the file, dataset
    and entries, or with ``skip`` return the chunk as failed (``{"failed": {...}}``, accumulated by coffea).
    Bugs of the processor (:data:`BUG_NOTE`) are raised as they are."""
    kwargs.pop("use_result_type", None)
    chunk = item[0] if isinstance(item, tuple) else item  # Dask passes (item, processor)
    if not isinstance(chunk, compat.WorkItem):
        return work(item, **kwargs)
    path = _display_path(chunk.filename)
    for attempt in range(retries + 1):
        try:
            return work(item, **kwargs)
        except Exception as err:
            chain = exception_chain(err)
            bug = next((e for e in chain if BUG_NOTE in getattr(e, "__notes__", ())), None)
            if bug is not None:
                raise bug from None
            if attempt < retries and retryable(err, path):
                log.info("%s, entries %d-%d: attempt %d failed (%s); trying again", path, chunk.entrystart,
                         chunk.entrystop, attempt + 1, one_line(err))  # fmt: skip
                pause_before_retry(attempt)
                continue
            cause = next((e for e in chain if isinstance(e, HZZ4lError)), chain[-1])
            detail = str(cause) if isinstance(cause, HZZ4lError) else one_line(cause)
            detail = detail.removeprefix(f"{chunk.filename}: ").removeprefix(f"dataset '{chunk.dataset}': ")
            entries, tries = f"entries {chunk.entrystart}-{chunk.entrystop}", f" after {attempt + 1} attempts"
            failure = f"failed{tries if attempt else ''}: {' '.join(detail.split())}"
            if skip:
                failed = _FailedChunk(chunk.dataset, path, chunk.entrystart, chunk.entrystop, f"{entries} {failure}")
                return {"out": {}, "failed": {failed}}
            raise ChunkError(f"{path} (dataset '{chunk.dataset}', {entries}) {failure}") from err
    raise AssertionError("unreachable")


@dataclass
class _Runner(processor.Runner):  # type: ignore[misc]  # coffea is untyped; its hooks: processors.compat
    """coffea's Runner with hzz4l's chunk attempts (:func:`_attempts`) instead of coffea's retries, and hzz4l's
    work function (:func:`analysis.work.work_function`: files kept open across chunks)."""

    chunk_retries: int = 0
    _work_function = staticmethod(work_function)

    @property
    def automatic_retries(self) -> Callable[..., Any]:
        return functools.partial(_attempts, self.chunk_retries)


# ------------------------------------------------------------------------------------------ checkpoints


class CheckpointError(HZZ4lError):
    """A checkpoint file that cannot be used; the message names it."""


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _encode(value: Any) -> Any:
    """A chunk's output as JSON: containers and histograms tagged by type."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("checkpoint dictionaries need string keys")
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, set | frozenset):
        return {"set": sorted((_encode(v) for v in value), key=json.dumps)}
    if isinstance(value, list | tuple):
        return {"list": [_encode(v) for v in value]}
    if isinstance(value, hist.Hist):
        from hist.serialization import to_uhi

        return {"hist": json.loads(json.dumps(to_uhi(value), default=lambda a: np.asarray(a).tolist()))}
    raise TypeError(f"cannot keep a {type(value).__name__} in a checkpoint")


def _decode(value: Any) -> Any:
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if not (isinstance(value, dict) and len(value) == 1):
        raise ValueError(f"unexpected {type(value).__name__}")
    ((tag, content),) = value.items()
    if tag == "dict" and isinstance(content, dict):
        return {k: _decode(v) for k, v in content.items()}
    if tag == "set" and isinstance(content, list):
        return {_decode(v) for v in content}
    if tag == "list" and isinstance(content, list):
        return [_decode(v) for v in content]
    if tag == "hist" and isinstance(content, dict):
        from hist.serialization import from_uhi

        return from_uhi(content)
    raise ValueError(f"unexpected tag {tag!r}")


def _check_chunk(out: dict[str, Any], metadata: dict[str, Any], processor_instance: processor.ProcessorABC) -> None:
    """Raise ValueError unless ``out``, read from a checkpoint, is what the processor gives for the chunk of
    ``metadata``: every histogram with the processor's axes and only the chunk's dataset, and the counts of its
    events (a checkpoint edited or copied from elsewhere stopped the run with hist's "axes not mergable" traceback,
    or silently filled another dataset). Processors without ``make_histograms`` are not checked."""
    make = getattr(getattr(processor_instance, "inner", processor_instance), "make_histograms", None)
    if make is None:
        return
    dataset, events = metadata["dataset"], int(metadata["entrystop"]) - int(metadata["entrystart"])
    for name, expected in make((dataset,)).items():
        got = out.get(name)
        if not (isinstance(got, hist.Hist) and got.axes == expected.axes and got.storage_type is expected.storage_type):
            raise ValueError(f"its '{name}' is not the processor's histogram for dataset '{dataset}'")
    cutflow = out.get("cutflow")
    if out.get("processed") != {dataset: events} or not (
        isinstance(cutflow, dict) and set(cutflow) == {dataset} and cutflow[dataset]["events"]["all"] == events
    ):
        raise ValueError(f"its counts are not those of {events} events of dataset '{dataset}'")


class JsonCheckpointer(CheckpointerABC):  # type: ignore[misc]  # coffea is untyped
    """Keeps every finished chunk as JSON under ``folder`` and gives it back to a rerun with the same settings.

    A chunk is found at ``folder/<processor fingerprint>/<hash of dataset, tree and metadata>/<file UUID>-<first
    entry>-<end>.json``: reused only with the same processor configuration and code, dataset metadata, file and
    entry range. JSON cannot run code when loaded; a file there that is not a valid checkpoint is an error naming
    it. Files are written under a temporary name ending in ``.<token>.tmp`` and renamed into place.
    """

    def __init__(self, folder: str | os.PathLike[str], token: str) -> None:
        self.folder = Path(folder).resolve()
        self.token = token

    def path(self, metadata: dict[str, Any], processor_instance: processor.ProcessorABC) -> Path:
        """Where the chunk described by coffea's ``metadata`` is kept."""
        fingerprint = getattr(processor_instance, "fingerprint", lambda: type(processor_instance).__name__)()
        usermeta = {k: v for k, v in metadata.items() if k not in ("filename", "entrystart", "entrystop", "fileuuid")}
        meta_key = hashlib.sha256(json.dumps(usermeta, sort_keys=True, default=str).encode()).hexdigest()[:16]
        file_uuid = str(metadata["fileuuid"])
        if not re.fullmatch(r"\w+", fingerprint) or not _UUID.fullmatch(file_uuid):
            raise ValueError(f"unexpected checkpoint key {fingerprint!r}, {file_uuid!r}")
        name = f"{file_uuid}-{int(metadata['entrystart'])}-{int(metadata['entrystop'])}.json"
        return self.folder / fingerprint / meta_key / name

    def load(self, metadata: Any, processor_instance: processor.ProcessorABC) -> Any:
        path = self.path(metadata, processor_instance)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise CheckpointError(f"{path}: cannot read the checkpoint: {err.strerror}") from None
        try:
            output = _decode(json.loads(data.decode("utf-8")))
            if not isinstance(output, dict) or not isinstance(output.get("out"), dict):
                raise ValueError("no chunk output in it")
            _check_chunk(output["out"], metadata, processor_instance)
        except Exception as err:  # whatever the content, decoding it runs no code of its own
            raise CheckpointError(
                f"{path}: not an hzz4l checkpoint ({one_line(err)}): delete it or use another --checkpoint folder"
            ) from None
        return output

    def save(self, output: Any, metadata: Any, processor_instance: processor.ProcessorABC) -> None:
        path = self.path(metadata, processor_instance)
        kept = {k: v for k, v in output.items() if k != "processed"}  # coffea's WorkItems: not needed again
        try:
            text = json.dumps(_encode(kept))
        except TypeError as err:  # an output this checkpointer cannot keep: hzz4l's bug, not bad input
            err.add_note(BUG_NOTE)
            raise
        tmp = path.with_name(f".{path.name}.{self.token}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as err:
            raise CheckpointError(f"{path}: cannot write the checkpoint: {err.strerror or err}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove this run's temporary files (a worker may be stopped while writing one)."""
        for tmp in self.folder.rglob(f".*.{self.token}.tmp"):
            tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------ the run


@contextlib.contextmanager
def _frozen_heap() -> Iterator[Callable[[], None]]:
    """Move the objects that exist before the run out of the garbage collector's sight (``gc.freeze``) for its
    duration, so that collecting after every chunk scans only that chunk's objects. Forked workers inherit it.
    Gives a function that freezes the objects made since (the files the checks opened and keep for the run),
    a no-op if the freeze is not ours."""
    freeze = gc.get_freeze_count() == 0  # never undo a freeze that is not ours
    if freeze:
        gc.freeze()

    def more() -> None:
        if freeze:
            gc.collect()
            gc.freeze()

    try:
        yield more
    finally:
        if freeze:
            gc.unfreeze()


def _chunk_buffers() -> dict[str, Any]:
    """A new chunk's NanoEvents buffer cache (coffea's ``Runner(cachestrategy=...)``), made after collecting the
    previous chunk: its NanoEvents and uproot objects are cyclic garbage holding about 25 MB per 100k events,
    which Python's generational collector frees only every several chunks, so that peak memory grew with the
    number of chunks (see docs/performance.md). In a worker that did not inherit
    :func:`_frozen_heap` (a remote Dask worker), the worker's own objects are frozen at its first chunk."""
    _freeze_once()
    gc.collect()
    return {}


@functools.cache
def _freeze_once() -> None:
    """Freeze this process's objects at its first chunk (once: ``gc.get_freeze_count()``, which would tell, walks
    the whole frozen heap, ~20 ms at every chunk)."""
    gc.freeze()


def _chunk_edges(clusters: tuple[int, ...], chunksize: int) -> list[int]:
    """Entry numbers where chunks may start: the basket-cluster edges, plus extra edges every ``chunksize``
    entries inside clusters longer than that. coffea merges consecutive edges up to ``chunksize``: chunks that
    meet on a cluster edge share no basket (none is decompressed twice), and no chunk reaches twice
    ``chunksize`` however long the file's clusters are."""
    edges = [0]
    for stop in clusters[1:]:
        edges.extend(range(edges[-1] + chunksize, stop, chunksize))
        edges.append(stop)
    return edges


def _file_metadata(checked: Checked, chunksize: int) -> dict[Any, dict[str, Any]]:
    """coffea's per-file metadata (entries, UUID, chunk edges) from the preflight, given to the ``Runner`` as
    its metadata cache so that coffea does not open every file a second time to plan the chunks."""
    metadata = {}
    for (name, path), info in checked.files.items():
        entry = checked.fileset[name]
        metadata[compat.FileMeta(name, _coffea_name(path), entry["files"][path])] = {
            **entry.get("metadata", {}),
            "numentries": info.entries,
            "uuid": info.uuid,
            "clusters": _chunk_edges(info.clusters, chunksize),
        }
    return metadata


def _lost_per_file(failed: set[_FailedChunk]) -> list[SkippedFile]:
    """One :class:`SkippedFile` per file with failed chunks: their events and the first failure."""
    files: dict[tuple[str, str], list[_FailedChunk]] = {}
    for chunk in sorted(failed, key=lambda c: (c.dataset, c.path, c.start)):
        files.setdefault((chunk.dataset, chunk.path), []).append(chunk)
    out = []
    for (name, path), chunks in files.items():
        more = f" (and {len(chunks) - 1} more chunk(s))" if len(chunks) > 1 else ""
        out.append(SkippedFile(name, path, chunks[0].reason + more, sum(c.stop - c.start for c in chunks)))
    return out


def _nothing_left(skipped: tuple[SkippedFile, ...]) -> RunError:
    first = skipped[0]
    return RunError(
        f"no events could be processed: {len(skipped)} file(s) skipped "
        f"(first: {first.path} of dataset '{first.dataset}': {first.reason})"
    )


def _synthetic(checked: Checked) -> bool:
    """Whether any file read is one of hzz4l's synthetic demo; one warning naming the datasets whose metadata does
    not say so (the demo's files in a fileset written by hand), as their results are labelled the demo's all the
    same."""
    names = dict.fromkeys(name for (name, _), info in checked.files.items() if info.synthetic)
    unmarked = [name for name in names if checked.fileset[name]["metadata"].get("synthetic") is not True]
    if unmarked:
        warnings.warn(
            HZZ4lWarning(
                f"dataset(s) {', '.join(map(repr, unmarked))} read files of hzz4l's synthetic demo, though the fileset "
                'does not mark them "synthetic": the results are labelled as the synthetic demo\'s'
            ),
            stacklevel=3,
        )
    return bool(names)


def run_fileset(
    fileset: dict[str, Any],
    processor_instance: processor.ProcessorABC,
    *,
    executor: Executor = "iterative",
    workers: int = 2,
    scheduler: str | None = None,
    chunksize: int = 100_000,
    maxchunks: int | None = None,
    status: bool = True,
    timeout: float = 60.0,
    retries: int = 3,
    skip_bad_files: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    cache: RemoteCache | None = None,
    read_ahead: bool = True,
) -> RunResult:
    """Process a validated fileset (see :func:`analysis.fileset.load_fileset`) with ``executor``.

    Every file is checked first (:func:`analysis.inputs.preflight`). Without ``skip_bad_files`` the
    first bad file or failing chunk stops the run with an error naming it; with it, bad files and
    failed chunks are left out and accounted for, per file, in ``RunResult.skipped`` and ``lost_events``.

    Args:
        workers: processes for ``futures``, workers of the ``dask`` LocalCluster.
        scheduler: address of an existing Dask scheduler (``tcp://host:port``); ``dask`` only.
        chunksize: events per work item; maxchunks: limit per dataset (for quick looks).
        status: show coffea's progress bars.
        timeout: seconds to wait on a remote file, and on the scheduler of ``scheduler``.
        retries: further attempts after a failure that may pass.
        checkpoint: folder keeping finished chunks, reused by a rerun with the same settings.
        cache: where remote (HTTP) files are kept once fetched, for this run and the next (see :mod:`analysis.cache`).
        read_ahead: ``iterative`` reads each chunk in a background thread while the one before it is processed
            (:func:`analysis.work.read_ahead`); False reads it when its turn comes (the same histograms, slower).

    Raises:
        InputError: a bad input file (:class:`ChunkError`: a chunk of one).
        RunError: the Dask scheduler cannot be reached, or no file is left to process.
        CheckpointError: a file in the checkpoint folder that is not a checkpoint.
    """
    if scheduler is not None and executor != "dask":
        raise ValueError("--scheduler needs --executor dask")
    columns = getattr(processor_instance, "columns", ())
    checkpointer = JsonCheckpointer(checkpoint, token=uuid.uuid4().hex) if checkpoint else None
    with (
        compat.progress_bars(status, dask=executor == "dask"),
        _frozen_heap() as freeze_more,
        _executor(executor, workers, scheduler, status, timeout, read_ahead) as (exe, mapper),
        contextlib.ExitStack() as cleanup,
    ):
        if checkpointer is not None:
            cleanup.callback(checkpointer.sweep)
        cleanup.callback(close_files)  # the files the iterative run kept open across chunks
        start = time.perf_counter()
        names = {path: _coffea_name(path) for entry in fileset.values() for path in entry["files"]}
        # no array cache: a file kept open across chunks would hold up to 100 MB of them (uproot's default)
        options: dict[str, Any] = {"array_cache": None}
        if cache is not None or any(n != p for p, n in names.items()):
            options |= {"handler": _Source, "hzz4l_cache": cache}
        checked = preflight(fileset, columns, timeout, retries, skip_bad_files, mapper, options, _adopt)
        preflight_s = time.perf_counter() - start
        freeze_more()  # the parsed trees of the files kept open, scanned at every chunk otherwise
        if not checked.fileset:
            raise _nothing_left(checked.skipped)
        todo = {
            name: {
                "files": {names[path]: tree for path, tree in entry["files"].items()},
                "metadata": entry["metadata"],
                # read in bulk, one request per chunk, and the events made of those arrays (analysis.work)
                **({"preload": list(columns)} if columns else {}),
            }
            for name, entry in checked.fileset.items()
        }
        exe.retries = 0  # hzz4l's attempts (_attempts) decide, inside the work function
        runner = _Runner(
            executor=exe,
            schema=MiniSchema,
            chunksize=chunksize,
            maxchunks=maxchunks,
            savemetrics=True,
            align_clusters=True,  # chunks start on the edges of _chunk_edges
            metadata_cache=_file_metadata(checked, chunksize),
            cachestrategy=_chunk_buffers,
            xrootdtimeout=int(timeout),
            skipbadfiles=skip_bad_files,
            checkpointer=checkpointer,
            chunk_retries=retries,
        )
        pool = getattr(exe, "pool", None)
        start = time.perf_counter()
        try:
            out = runner.run(
                todo,
                _Guarded(processor_instance),
                uproot_options=options,
            )
        except Exception:
            if isinstance(pool, _FailFastPool):
                pool.reraise()
            raise
        if isinstance(pool, _FailFastPool):
            pool.reraise()
        wall = time.perf_counter() - start
    output, metrics = out.get("out") or {}, out.get("metrics", {})
    log.debug("%s executor: file checks %.2f s, processing %.2f s", executor, preflight_s, wall)
    failed = _lost_per_file(out.get("failed", set()))
    processed = {name: int(n) for name, n in output.get("processed", {}).items()}
    if maxchunks is None:  # every event of every usable file is processed or reported lost
        for name, entries in checked.entries.items():
            lost_here = sum(s.events or 0 for s in failed if s.dataset == name)
            if processed.get(name, 0) + lost_here != entries:
                raise RuntimeError(f"dataset '{name}': {processed.get(name, 0)} + {lost_here} lost != {entries} events")
    skipped = (*checked.skipped, *failed)
    lost: dict[str, int] = {}
    for entry in skipped:
        if entry.events:
            lost[entry.dataset] = lost.get(entry.dataset, 0) + entry.events
    if not processed:
        raise _nothing_left(skipped)
    return RunResult(
        output=output,
        executor=executor,
        wall_s=wall,
        bytes_read=int(metrics.get("bytesread", 0)) + sum(info.bytes_read for info in checked.files.values()),
        events=int(sum(processed.values())),
        preflight_s=preflight_s,
        process_s=float(metrics.get("processtime", 0.0)),
        skipped=skipped,
        lost_events=lost,
        synthetic=_synthetic(checked),
    )
