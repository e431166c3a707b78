"""Figures drawn and saved by worker processes, beside the command's own work.

A figure in the project's style costs a quarter to half a second of matplotlib (drawn once per file, see
:func:`analysis.style.save`). ``hzz4l run`` writes 8 figures and ``hzz4l fit`` 6, so the commands hand them to a
:class:`Renderer`: worker processes forked once the
command's inputs are checked, which import matplotlib and the plot modules while the command imports coffea and
computes, then draw the figures in parallel, while the command writes its other outputs. A figure that fails
raises its exception in the command, with the worker's traceback.

Example (the figures of a demo run, drawn by two workers):
    >>> with Renderer() as renderer:
    ...     renderer.submit("analysis.outputs:run_figures", (output, roles, 10.0, True), "plots", ("png",))
    ...     paths = renderer.wait()
    >>> sorted(path.name for path in paths)  # doctest: +NORMALIZE_WHITESPACE
    ['lepton_eta.png', 'lepton_pt.png', 'm4l.png', 'm4l_2e2mu.png', 'm4l_4e.png', 'm4l_4mu.png', 'z1_mass.png',
     'z2_mass.png']
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import importlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from analysis.interrupts import children_ignore_interrupts, stop_workers

__all__ = ["Renderer", "render"]

#: What a worker imports before its first figure: matplotlib and the run's plots.
PLOT_MODULES = ("analysis.plots",)


def _prepare(modules: Sequence[str], parent: int) -> None:
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    for module in modules:
        importlib.import_module(module)
    # what the worker inherited and imported lives as long as it: out of the garbage collector's full passes, which
    # otherwise walk it again and again as the figures' artists come and go (0.1 s each, 0.4 s over a run's figures)
    gc.freeze()


def _exit_with(parent: int) -> None:
    """End this worker once its parent is gone (killed with SIGKILL, or ended by ``os._exit``): a worker never
    outlives its command (the pool's pipes would not tell it, as its sibling workers hold them open too)."""
    while os.getppid() == parent:
        time.sleep(0.25)
    os._exit(1)


def _resolve(name: str) -> Callable[..., Any]:
    module, _, attribute = name.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return function


def render(
    figures: str,
    args: Sequence[Any],
    folder: str | os.PathLike[str],
    formats: Sequence[str],
    part: int = 0,
    parts: int = 1,
) -> list[Path]:
    """Save the figures of ``figures(*args)`` (``"module:function"`` returning ``{name: make}``, each ``make()``
    a figure) as ``folder/name.<format>`` for each of ``formats``; only every ``parts``-th, from the
    ``part``-th. Returns the files written.

    Example:
        >>> render("analysis.outputs:run_figures", (output, roles, 10.0, True), "plots", ("png",), part=0, parts=8)
        [PosixPath('plots/m4l.png')]
    """
    from analysis.style import save

    made = _resolve(figures)(*args)
    return [file for name in list(made)[part::parts] for file in save(made[name](), Path(folder) / name, formats)]


class Renderer:
    """``workers`` processes that draw and save figures; started at once, so that they import matplotlib and
    ``modules`` while the caller goes on. Use it as a context manager: leaving the block stops the workers
    (at once when an exception, or Ctrl-C, leaves it)."""

    def __init__(self, workers: int = 2, modules: Sequence[str] = PLOT_MODULES) -> None:
        children_ignore_interrupts()
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_prepare,
            initargs=(tuple(modules), os.getpid()),
        )
        self._workers = workers
        self._pool.submit(int)  # forks every worker now (a fork pool starts all of them on the first task)
        self._futures: list[concurrent.futures.Future[list[Path]]] = []

    def submit(self, figures: str, args: Sequence[Any], folder: str | os.PathLike[str], formats: Sequence[str]) -> None:
        """Queue the figures of ``figures(*args)`` (see :func:`render`; the arguments must pickle), shared among the
        workers."""
        for part in range(self._workers):
            self._futures.append(
                self._pool.submit(render, figures, tuple(args), folder, tuple(formats), part, self._workers)
            )

    def wait(self) -> list[Path]:
        """Wait for every queued figure; return the files written, in order. The first failure is raised."""
        futures, self._futures = self._futures, []
        return [file for future in futures for file in future.result()]

    def stop(self) -> None:
        """Stop the workers now, whatever they are drawing."""
        stop_workers(self._pool)

    @contextlib.contextmanager
    def stopped_on_error(self) -> Iterator[None]:
        """Stop the workers if the block fails (or is interrupted): inside a staging folder that the failure
        removes, so that no worker writes there afterwards."""
        try:
            yield
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> Renderer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self._pool.shutdown(wait=True)
        else:
            self.stop()
