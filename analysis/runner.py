"""Run the processor over a fileset with one of coffea's executors.

``iterative`` (one process, for development), ``futures`` (a local process pool, for a
workstation) and ``dask`` (``distributed``: a ``LocalCluster`` started and stopped here, or
an existing cluster at a scheduler address — the way to scale out to many machines).

Example:
    >>> from processors import HZZ4lProcessor
    >>> result = run_fileset(fileset, HZZ4lProcessor(), executor="futures", workers=2)  # doctest: +SKIP
    >>> result.output["mass"]["ggH125_ZZ4lep", :]  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import hashlib
import json
import multiprocessing
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coffea import processor
from coffea.processor import SimpleCheckpointer
from coffea.processor.executor import FileMeta

from analysis.inputs import Checked, InputError, Mapper, SkippedFile, preflight, thread_map
from processors.schema import MiniSchema

__all__ = ["EXECUTORS", "RunResult", "local_cluster", "run_fileset"]

EXECUTORS = ("iterative", "futures", "dask")


@dataclass(frozen=True)
class RunResult:
    """The accumulated output of a run and how it went.

    ``output``: the processor's accumulator; ``executor``: its name; ``wall_s``: wall time of
    the executor run itself (seconds); ``bytes_read``: compressed bytes requested from files;
    ``events``: events processed; ``skipped``: files left out with ``--skip-bad-files``;
    ``lost_events``: per dataset, events of readable files that were not processed (chunks that
    failed and were skipped); ``preflight_s``: wall time of the file checks before the run;
    ``process_s``: time spent in the processor's ``process``, summed over chunks (and workers).
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

    @property
    def events_per_s(self) -> float:
        """Processing rate of the run."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A Dask ``LocalCluster`` of ``workers`` single-threaded worker processes on this machine, closed on exit.

    The workers are forked, so they start with this interpreter's imports (coffea, uproot, numba) instead of
    importing them again, which takes seconds per worker.

    Example:
        >>> with local_cluster(2) as cluster:  # doctest: +SKIP
        ...     result = run_fileset(fileset, HZZ4lProcessor(), executor="dask", scheduler=cluster.scheduler_address)
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    with cluster:
        yield cluster


@contextlib.contextmanager
def _executor(
    name: str, workers: int, scheduler: str | None, status: bool
) -> Iterator[tuple[processor.ExecutorBase, Mapper]]:
    """coffea's executor ``name``, and a mapper that runs the file checks on the same workers."""
    if name == "iterative":
        yield processor.IterativeExecutor(status=status), thread_map
    elif name == "futures":
        # forked workers inherit the interpreter with coffea already imported, instead of importing it
        # again in every worker (seconds each): the pool is ready at once, for the checks and the chunks
        context = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            yield processor.FuturesExecutor(workers=workers, status=status, pool=pool), _pool_map(pool)
    elif name == "dask":
        from distributed import Client

        with contextlib.ExitStack() as stack:
            if scheduler is None:
                scheduler = stack.enter_context(local_cluster(workers)).scheduler_address
            client = stack.enter_context(Client(scheduler, timeout="30s"))
            yield processor.DaskExecutor(client=client, status=status), _dask_map(client)
    else:
        raise ValueError(f"unknown executor {name!r} (expected one of {', '.join(EXECUTORS)})")


def _pool_map(pool: concurrent.futures.Executor) -> Mapper:
    return lambda function, items: list(pool.map(function, items))


def _dask_map(client: Any) -> Mapper:
    return lambda function, items: client.gather(client.map(function, items, pure=False))


_WORK_ITEM = re.compile(
    r"WorkItem\(dataset='(?P<dataset>[^']*)', filename='(?P<file>[^']*)', treename='[^']*', "
    r"entrystart=(?P<start>\d+), entrystop=(?P<stop>\d+)"
)


def _chunk_error(err: Exception) -> Exception:
    """coffea's error for a failed chunk, restated as one line naming the file, dataset and entries."""
    chain, cause = [], err
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__
    match = next((m for m in (_WORK_ITEM.search(str(e)) for e in chain) if m), None)
    if match is None:
        return err
    root = chain[-1]
    problem = " ".join(f"{type(root).__name__}: {root}".split())
    return InputError(
        f"{match['file']} (dataset '{match['dataset']}', entries {match['start']}-{match['stop']}) failed: {problem}"
    )


class KeyedCheckpointer(SimpleCheckpointer):
    """coffea's checkpointer, keyed so that a chunk is reused only with the same processor configuration
    and code (``processor.fingerprint()``), the same dataset metadata, and the same file (its ROOT UUID)
    and entry range."""

    def filepath(self, metadata: Any, processor_instance: processor.ProcessorABC) -> str:
        fingerprint = getattr(processor_instance, "fingerprint", lambda: type(processor_instance).__name__)()
        usermeta = {k: v for k, v in metadata.items() if k not in ("filename", "entrystart", "entrystop", "fileuuid")}
        meta_key = hashlib.sha256(json.dumps(usermeta, sort_keys=True, default=str).encode()).hexdigest()[:12]
        path = Path(super().filepath(metadata, processor_instance))
        return str(Path(self.checkpoint_dir) / fingerprint / meta_key / path.relative_to(self.checkpoint_dir))


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Move the objects that exist before the run out of the garbage collector's sight (``gc.freeze``) for its
    duration, so that collecting after every chunk scans only that chunk's objects. Forked workers inherit it."""
    freeze = gc.get_freeze_count() == 0  # never undo a freeze that is not ours
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()


def _chunk_buffers() -> dict[str, Any]:
    """A new chunk's NanoEvents buffer cache (coffea's ``Runner(cachestrategy=...)``), made after collecting the
    previous chunk: its NanoEvents and uproot objects are cyclic garbage holding about 25 MB per 100k events,
    which Python's generational collector frees only every several chunks, so that peak memory grew with the
    number of chunks (see docs/performance.md). In a worker that did not inherit
    :func:`_frozen_heap` (a remote Dask worker), the worker's own objects are frozen at its first chunk."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
    gc.collect()
    return {}


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


def _file_metadata(checked: Checked, chunksize: int) -> dict[FileMeta, dict[str, Any]]:
    """coffea's per-file metadata (entries, UUID, chunk edges) from the preflight, given to the ``Runner`` as
    its metadata cache so that coffea does not open every file a second time to plan the chunks."""
    metadata = {}
    for (name, path), info in checked.files.items():
        entry = checked.fileset[name]
        metadata[FileMeta(name, path, entry["files"][path])] = {
            **entry.get("metadata", {}),
            "numentries": info.entries,
            "uuid": info.uuid,
            "clusters": _chunk_edges(info.clusters, chunksize),
        }
    return metadata


def run_fileset(
    fileset: dict[str, Any],
    processor_instance: processor.ProcessorABC,
    executor: str = "iterative",
    workers: int = 2,
    scheduler: str | None = None,
    chunksize: int = 100_000,
    maxchunks: int | None = None,
    status: bool = True,
    timeout: float = 60.0,
    retries: int = 3,
    skip_bad_files: bool = False,
    checkpoint: str | None = None,
) -> RunResult:
    """Process a validated fileset (see :func:`analysis.fileset.load_fileset`) with ``executor``.

    Every file is checked first (:func:`analysis.inputs.preflight`). Without ``skip_bad_files`` the
    first bad file or failing chunk stops the run with an error naming it; with it, bad files and
    failed chunks are left out and accounted for in ``RunResult.skipped`` and ``lost_events``.

    Args:
        workers: processes for ``futures``, workers of the ``dask`` LocalCluster.
        scheduler: address of an existing Dask scheduler (``tcp://host:port``); ``dask`` only.
        chunksize: events per work item; maxchunks: limit per dataset (for quick looks).
        status: show coffea's progress bars.
        timeout: seconds to wait on a remote file; retries: further attempts after a failure.
        checkpoint: folder keeping finished chunks, reused by a rerun with the same settings.
    """
    if scheduler is not None and executor != "dask":
        raise ValueError("--scheduler needs --executor dask")
    columns = tuple(getattr(processor_instance, "columns", ()))
    with (
        _frozen_heap(),
        _executor(executor, workers, scheduler, status) as (exe, mapper),
        warnings.catch_warnings(),
    ):
        start = time.perf_counter()
        checked = preflight(fileset, columns, timeout, retries, skip_bad_files, mapper)
        preflight_s = time.perf_counter() - start
        fileset = checked.fileset
        if columns:  # read the processor's branches in bulk, one request per chunk
            fileset = {name: {**entry, "preload": list(columns)} for name, entry in fileset.items()}
        # skipped chunks are accounted for below, not only warned about
        warnings.filterwarnings("ignore", message="Skipping bad file", category=UserWarning)
        exe.retries = retries
        runner = processor.Runner(
            executor=exe,
            schema=MiniSchema,
            chunksize=chunksize,
            maxchunks=maxchunks,
            savemetrics=True,
            align_clusters=True,  # chunks start on the edges of _chunk_edges
            metadata_cache=_file_metadata(checked, chunksize),
            cachestrategy=_chunk_buffers,
            xrootdtimeout=int(timeout),
            skipbadfiles=(Exception,) if skip_bad_files else False,
            checkpointer=KeyedCheckpointer(checkpoint) if checkpoint else None,
        )
        start = time.perf_counter()
        try:
            output, metrics = runner(fileset, processor_instance=processor_instance)
        except Exception as err:
            raise _chunk_error(err) from err
        wall = time.perf_counter() - start
    processed = output.get("processed", {}) if output else {}
    lost = {}
    if maxchunks is None:
        lost = {
            name: n - int(processed.get(name, 0))
            for name, n in checked.entries.items()
            if n != int(processed.get(name, 0))
        }
    return RunResult(
        output=output,
        executor=executor,
        wall_s=wall,
        bytes_read=int(metrics.get("bytesread", 0)),
        events=int(sum(processed.values())),
        preflight_s=preflight_s,
        process_s=float(metrics.get("processtime", 0.0)),
        skipped=checked.skipped,
        lost_events=lost,
    )
