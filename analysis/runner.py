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

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from coffea import processor

from processors.schema import MiniSchema

__all__ = ["EXECUTORS", "RunResult", "run_fileset"]

EXECUTORS = ("iterative", "futures", "dask")


@dataclass(frozen=True)
class RunResult:
    """The accumulated output of a run and how it went.

    ``output``: the processor's accumulator; ``executor``: its name; ``wall_s``: wall time of
    the executor run itself (seconds); ``bytes_read``: compressed bytes requested from files;
    ``events``: events processed.
    """

    output: dict[str, Any]
    executor: str
    wall_s: float
    bytes_read: int
    events: int

    @property
    def events_per_s(self) -> float:
        """Processing rate of the run."""
        return self.events / self.wall_s if self.wall_s > 0 else 0.0


@contextlib.contextmanager
def _executor(name: str, workers: int, scheduler: str | None, status: bool) -> Iterator[processor.ExecutorBase]:
    if name == "iterative":
        yield processor.IterativeExecutor(status=status)
    elif name == "futures":
        yield processor.FuturesExecutor(workers=workers, status=status)
    elif name == "dask":
        from distributed import Client, LocalCluster

        with contextlib.ExitStack() as stack:
            if scheduler is None:
                cluster = stack.enter_context(
                    LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
                )
                client = stack.enter_context(Client(cluster))
            else:
                client = stack.enter_context(Client(scheduler, timeout="30s"))
            yield processor.DaskExecutor(client=client, status=status)
    else:
        raise ValueError(f"unknown executor {name!r} (expected one of {', '.join(EXECUTORS)})")


def run_fileset(
    fileset: dict[str, Any],
    processor_instance: processor.ProcessorABC,
    executor: str = "iterative",
    workers: int = 2,
    scheduler: str | None = None,
    chunksize: int = 100_000,
    maxchunks: int | None = None,
    status: bool = True,
) -> RunResult:
    """Process a validated fileset (see :func:`analysis.fileset.load_fileset`) with ``executor``.

    Args:
        workers: processes for ``futures``, workers of the ``dask`` LocalCluster.
        scheduler: address of an existing Dask scheduler (``tcp://host:port``); ``dask`` only.
        chunksize: events per work item; maxchunks: limit per dataset (for quick looks).
        status: show coffea's progress bars.
    """
    if scheduler is not None and executor != "dask":
        raise ValueError("--scheduler needs --executor dask")
    columns = getattr(processor_instance, "columns", None)
    if columns is not None:  # read the processor's branches in bulk, one request per chunk
        fileset = {name: {**entry, "preload": list(columns)} for name, entry in fileset.items()}
    with _executor(executor, workers, scheduler, status) as exe:
        runner = processor.Runner(
            executor=exe,
            schema=MiniSchema,
            chunksize=chunksize,
            maxchunks=maxchunks,
            savemetrics=True,
        )
        start = time.perf_counter()
        output, metrics = runner(fileset, processor_instance=processor_instance)
        wall = time.perf_counter() - start
    return RunResult(
        output=output,
        executor=executor,
        wall_s=wall,
        bytes_read=int(metrics.get("bytesread", 0)),
        events=int(sum(output["processed"].values())),
    )
