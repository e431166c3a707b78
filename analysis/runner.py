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
import functools
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

from analysis.inputs import InputError, SkippedFile, preflight
from processors.schema import MiniSchema

__all__ = ["EXECUTORS", "RunResult", "run_fileset"]

EXECUTORS = ("iterative", "futures", "dask")


@dataclass(frozen=True)
class RunResult:
    """The accumulated output of a run and how it went.

    ``output``: the processor's accumulator; ``executor``: its name; ``wall_s``: wall time of
    the executor run itself (seconds); ``bytes_read``: compressed bytes requested from files;
    ``events``: events processed; ``skipped``: files left out with ``--skip-bad-files``;
    ``lost_events``: per dataset, events of readable files that were not processed (chunks that
    failed and were skipped).
    """

    output: dict[str, Any]
    executor: str
    wall_s: float
    bytes_read: int
    events: int
    skipped: tuple[SkippedFile, ...] = ()
    lost_events: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        """Processing rate of the run."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0


@contextlib.contextmanager
def _executor(name: str, workers: int, scheduler: str | None, status: bool) -> Iterator[processor.ExecutorBase]:
    if name == "iterative":
        yield processor.IterativeExecutor(status=status)
    elif name == "futures":
        # forked workers inherit the interpreter with coffea already imported, instead of importing it
        # again in every worker (seconds each): the pool is ready at once
        pool = functools.partial(concurrent.futures.ProcessPoolExecutor, mp_context=multiprocessing.get_context("fork"))
        yield processor.FuturesExecutor(workers=workers, status=status, pool=pool)
    elif name == "dask":
        import dask
        from distributed import Client, LocalCluster

        with contextlib.ExitStack() as stack:
            if scheduler is None:
                # forked workers start with this interpreter's imports instead of importing everything again
                stack.enter_context(dask.config.set({"distributed.worker.multiprocessing-method": "fork"}))
                cluster = stack.enter_context(
                    LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
                )
                client = stack.enter_context(Client(cluster))
            else:
                client = stack.enter_context(Client(scheduler, timeout="30s"))
            yield processor.DaskExecutor(client=client, status=status)
    else:
        raise ValueError(f"unknown executor {name!r} (expected one of {', '.join(EXECUTORS)})")


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
    checked = preflight(fileset, columns, timeout, retries, skip_bad_files)
    fileset = checked.fileset
    if columns:  # read the processor's branches in bulk, one request per chunk
        fileset = {name: {**entry, "preload": list(columns)} for name, entry in fileset.items()}
    with _executor(executor, workers, scheduler, status) as exe, warnings.catch_warnings():
        # skipped chunks are accounted for below, not only warned about
        warnings.filterwarnings("ignore", message="Skipping bad file", category=UserWarning)
        exe.retries = retries
        runner = processor.Runner(
            executor=exe,
            schema=MiniSchema,
            chunksize=chunksize,
            maxchunks=maxchunks,
            savemetrics=True,
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
        skipped=checked.skipped,
        lost_events=lost,
    )
