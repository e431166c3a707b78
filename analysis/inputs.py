"""Check every input file before processing: reachable, a ROOT file, with the tree and the branches.

A problem found here (or a chunk that fails later) either stops the run with one message naming
the file, or — when bad files may be skipped — is recorded with the events it costs, so that a
histogram never silently misses events.

Example:
    >>> checked = preflight(fileset, columns=("lep_pt",), timeout=30, retries=2, skip_bad_files=True)  # doctest: +SKIP
    >>> checked.skipped  # doctest: +SKIP
    (SkippedFile(dataset='data', path='.../data_A.4lep.root', reason='...', events=None),)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import uproot

__all__ = ["Checked", "FileInfo", "InputError", "Mapper", "SkippedFile", "check_file", "preflight", "thread_map"]


class InputError(RuntimeError):
    """An input file that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of a run (``events``: its entries if they could be read, else None)."""

    dataset: str
    path: str
    reason: str
    events: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FileInfo:
    """What a run needs to know about a readable file: its entries, its ROOT UUID (16 bytes) and the
    entry numbers where the basket clusters of the checked branches start (ending with ``entries``)."""

    entries: int
    uuid: bytes
    clusters: tuple[int, ...]


@dataclass(frozen=True)
class Checked:
    """The fileset of usable files, what was skipped, and per ``(dataset, path)`` the :class:`FileInfo` of
    every usable file."""

    fileset: dict[str, Any]
    skipped: tuple[SkippedFile, ...]
    files: dict[tuple[str, str], FileInfo]

    @property
    def entries(self) -> dict[str, int]:
        """Entries of the usable files, per dataset."""
        totals = dict.fromkeys(self.fileset, 0)
        for (name, _), info in self.files.items():
            totals[name] += info.entries
        return totals


class _Permanent(Exception):
    """A problem that retrying cannot fix (missing tree or branch)."""


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _open_and_inspect(path: str, tree: str, columns: Sequence[str], timeout: float) -> FileInfo:
    with uproot.open(path, timeout=timeout) as f:
        if tree not in f:
            raise _Permanent(f"no tree '{tree}' (keys: {', '.join(sorted(set(f.keys(cycle=False)))) or 'none'})")
        ttree = f[tree]
        missing = [c for c in columns if c not in ttree]
        if missing:
            raise _Permanent(f"tree '{tree}' lacks the branch(es) {', '.join(missing)}")
        clusters = ttree.common_entry_offsets(filter_name=list(columns) or None)
        return FileInfo(int(ttree.num_entries), f.file.fUUID, tuple(int(c) for c in clusters))


def check_file(path: str, tree: str, columns: Sequence[str], timeout: float, retries: int) -> FileInfo:
    """Open ``path`` and inspect ``tree`` and its ``columns``; retry transient failures ``retries`` times.

    Raises:
        InputError: naming the file and the last problem.
    """
    for attempt in range(retries + 1):
        try:
            return _open_and_inspect(path, tree, columns, timeout)
        except _Permanent as err:
            raise InputError(f"{path}: {err}") from None
        except Exception as err:  # network, HTTP status, truncated or non-ROOT file: try again, then give up
            if attempt == retries:
                tries = f" after {retries + 1} attempts" if retries else ""
                raise InputError(f"{path}: cannot be read{tries}: {_one_line(err)}") from None
            time.sleep(min(0.2 * 2**attempt, 2.0))
    raise AssertionError("unreachable")


#: Runs a function over a list of arguments and returns the results in order (``map`` of a pool).
Mapper = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


def thread_map(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``map`` in up to 8 threads: remote files are slow to open, and opening them waits on the network."""
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(items)))) as pool:
        return list(pool.map(function, items))


def _check(job: tuple[str, str, Sequence[str], float, int]) -> FileInfo | InputError:
    try:
        return check_file(*job)
    except InputError as err:
        return err


def preflight(
    fileset: dict[str, Any],
    columns: Sequence[str],
    timeout: float,
    retries: int,
    skip_bad_files: bool,
    mapper: Mapper = thread_map,
) -> Checked:
    """Check every file of a validated fileset, in parallel with ``mapper`` (threads by default; a runner
    passes its worker pool or Dask cluster, so that files are checked where they will be read).

    Raises:
        InputError: on the first bad file, unless ``skip_bad_files``.
    """
    jobs = [(name, path, tree) for name, entry in fileset.items() for path, tree in entry["files"].items()]
    outcomes = mapper(_check, [(path, tree, tuple(columns), timeout, retries) for _, path, tree in jobs])
    kept: dict[str, Any] = {name: {**entry, "files": {}} for name, entry in fileset.items()}
    skipped, files = [], {}
    for (name, path, tree), outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, InputError):
            if not skip_bad_files:
                raise InputError(f"dataset '{name}': {outcome}")
            skipped.append(SkippedFile(name, path, str(outcome), None))
        else:
            kept[name]["files"][path] = tree
            files[name, path] = outcome
    kept = {name: entry for name, entry in kept.items() if entry["files"]}
    return Checked(kept, tuple(skipped), files)
