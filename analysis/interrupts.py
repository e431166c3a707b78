"""How hzz4l stops on SIGINT (Ctrl-C) and SIGTERM: as one exception in the main thread, so that every
``finally`` and context manager cleans up what it started (worker processes, temporary files).

* :class:`deliver_once` turns the first SIGINT or SIGTERM into :class:`Interrupted` (a ``KeyboardInterrupt``)
  and ignores later ones while the cleanup runs; if Python drops the exception (a signal handler may run
  inside a garbage-collector callback or a ``__del__``, where exceptions are printed and discarded), it is
  raised again;
* worker processes forked by hzz4l ignore SIGINT (:func:`children_ignore_interrupts`): Ctrl-C reaches the whole
  process group, and the parent stops them itself (:func:`stop_workers`);
* :func:`held` holds both signals back around a step that must not be cut in half (renaming a set of output
  files into place, starting a cluster whose processes could not be stopped otherwise), then acts on them.

Example:
    >>> with deliver_once():
    ...     try:
    ...         signal.raise_signal(signal.SIGTERM)
    ...     except Interrupted as err:
    ...         print(err.signum == signal.SIGTERM)
    True
"""

from __future__ import annotations

import _thread
import concurrent.futures
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["Interrupted", "children_ignore_interrupts", "deliver_once", "held", "stop_workers"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (``signum``), raised in the main thread."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class deliver_once:
    """Within the block, the first SIGINT or SIGTERM raises :class:`Interrupted` in the main thread, once;
    later signals are ignored. Main thread only."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.again = False

    def __enter__(self) -> deliver_once:
        self.previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        self.hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = self.hook

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None or self.again:
            self.signum, self.again = self.signum or signum, False
            raise Interrupted(self.signum)

    def _unraisable(self, unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, Interrupted) and self.signum is not None:
            self.again = True
            # runs _handle again in the main thread, outside the callback
            _thread.interrupt_main(signal.Signals(self.signum))
        else:
            self.hook(unraisable)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the duration (in the main thread; elsewhere nothing changes), then act on
    the first that arrived as the previous handler would have."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _: arrived.append(signum)) for s in SIGNALS}
    try:
        yield
    finally:
        for held_signal, handler in previous.items():
            signal.signal(held_signal, handler)
        for signum in arrived[:1]:
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to send this process SIGTERM when the thread that forked it ends (its command was killed with
    SIGKILL: it had no moment to stop its workers, whose pool pipes stay open in their siblings). Elsewhere,
    nothing: a killed command's workers then end when their work does."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl: nobody will send the signal
        os._exit(1)


@functools.cache
def children_ignore_interrupts() -> None:
    """Make every process forked from now on ignore SIGINT and die on SIGTERM (the default), whatever handlers
    this process installed: Ctrl-C reaches the whole process group, and the parent stops its workers itself.
    On Linux they also end when the parent is killed outright (SIGKILL)."""
    parent = os.getpid()

    def child() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if os.getppid() == parent:  # a worker of this process, not a grandchild forked by a worker
            _die_with_parent(parent)

    os.register_at_fork(after_in_child=child)


def stop_workers(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """End a process pool now: terminate its workers (a pool's own shutdown waits for the chunks they run)."""
    # Python 3.14 has pool.terminate_workers(); before, the workers are only reachable here
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(wait=True, cancel_futures=True)
