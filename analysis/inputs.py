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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import uproot

__all__ = ["Checked", "InputError", "SkippedFile", "check_file", "preflight"]


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
class Checked:
    """The fileset of usable files, their entries per dataset, and what was skipped."""

    fileset: dict[str, Any]
    entries: dict[str, int]
    skipped: tuple[SkippedFile, ...]


class _Permanent(Exception):
    """A problem that retrying cannot fix (missing tree or branch)."""


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _open_and_count(path: str, tree: str, columns: Sequence[str], timeout: float) -> int:
    with uproot.open(path, timeout=timeout) as f:
        if tree not in f:
            raise _Permanent(f"no tree '{tree}' (keys: {', '.join(sorted(set(f.keys(cycle=False)))) or 'none'})")
        ttree = f[tree]
        missing = [c for c in columns if c not in ttree]
        if missing:
            raise _Permanent(f"tree '{tree}' lacks the branch(es) {', '.join(missing)}")
        return int(ttree.num_entries)


def check_file(path: str, tree: str, columns: Sequence[str], timeout: float, retries: int) -> int:
    """Open ``path`` and return the entries of ``tree``; retry transient failures ``retries`` times.

    Raises:
        InputError: naming the file and the last problem.
    """
    for attempt in range(retries + 1):
        try:
            return _open_and_count(path, tree, columns, timeout)
        except _Permanent as err:
            raise InputError(f"{path}: {err}") from None
        except Exception as err:  # network, HTTP status, truncated or non-ROOT file: try again, then give up
            if attempt == retries:
                tries = f" after {retries + 1} attempts" if retries else ""
                raise InputError(f"{path}: cannot be read{tries}: {_one_line(err)}") from None
            time.sleep(min(0.2 * 2**attempt, 2.0))
    raise AssertionError("unreachable")


def preflight(
    fileset: dict[str, Any],
    columns: Sequence[str],
    timeout: float,
    retries: int,
    skip_bad_files: bool,
) -> Checked:
    """Check every file of a validated fileset (in parallel threads, as remote files are slow to open).

    Raises:
        InputError: on the first bad file, unless ``skip_bad_files``.
    """
    jobs = [(name, path, tree) for name, entry in fileset.items() for path, tree in entry["files"].items()]

    def check(job: tuple[str, str, str]) -> int | InputError:
        try:
            return check_file(job[1], job[2], columns, timeout, retries)
        except InputError as err:
            return err

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(jobs)))) as pool:
        outcomes = list(pool.map(check, jobs))
    kept: dict[str, Any] = {name: {**entry, "files": {}} for name, entry in fileset.items()}
    entries = dict.fromkeys(fileset, 0)
    skipped = []
    for (name, path, tree), outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, InputError):
            if not skip_bad_files:
                raise InputError(f"dataset '{name}': {outcome}")
            skipped.append(SkippedFile(name, path, str(outcome), None))
        else:
            kept[name]["files"][path] = tree
            entries[name] += outcome
    kept = {name: entry for name, entry in kept.items() if entry["files"]}
    return Checked(kept, entries, tuple(skipped))
