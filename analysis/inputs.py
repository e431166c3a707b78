"""Check every input file before processing: it exists, is a ROOT file, holds the tree and every branch with
the type the processor needs, and is not another entry's file under a second name.

A problem found here (or a chunk that fails later) either stops the run with one message naming the file,
or — when bad files may be skipped — is recorded with the events it costs, so that a histogram never
silently misses events. Local files that do not exist are found at once, all of them, without retries;
only failures that may pass are retried (see :func:`retryable`).

Example:
    >>> from processors.processor import COLUMNS
    >>> data = {"data": {**fileset["data"], "files": {**fileset["data"]["files"], "gone.root": "mini"}}}
    >>> checked = preflight(data, columns=COLUMNS, timeout=30, retries=2, skip_bad_files=True)
    >>> checked.skipped
    (SkippedFile(dataset='data', path='gone.root', reason='does not exist', events=None),)
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import uproot

from analysis.errors import HZZ4lError

log = logging.getLogger(__name__)

__all__ = [
    "SYNTHETIC_KEY",
    "Checked",
    "FileInfo",
    "InputError",
    "Mapper",
    "SkippedFile",
    "check_file",
    "exception_chain",
    "is_url",
    "one_line",
    "pause_before_retry",
    "preflight",
    "retryable",
    "thread_map",
    "with_cause",
]

#: errno values of local I/O that may pass on a second try (network file systems, interrupted calls).
TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.EAGAIN, errno.EINTR, errno.ETIMEDOUT, errno.ESTALE, errno.EBUSY})


class InputError(HZZ4lError):
    """An input file that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of a run, whole or in part: ``events`` are its events that were not processed (all its
    entries if the file was left out whole), or None when the file could not be read to count them."""

    dataset: str
    path: str
    reason: str
    events: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The key of the string every file of hzz4l's synthetic demo carries, so that its events are labelled as the demo's
#: whatever the fileset says.
SYNTHETIC_KEY = "hzz4l_synthetic_demo"


@dataclass(frozen=True)
class FileInfo:
    """What a run needs to know about a readable file: its entries, its ROOT UUID (16 bytes), the
    entry numbers where the basket clusters of the checked branches start (ending with ``entries``), the bytes
    the check read (its metadata; a small file's baskets come with it, and the run reads them from there), and
    whether it is a file of hzz4l's synthetic demo (it holds :data:`SYNTHETIC_KEY`)."""

    entries: int
    uuid: bytes
    clusters: tuple[int, ...]
    bytes_read: int = 0
    synthetic: bool = False


@dataclass(frozen=True)
class _Problem:
    """Why a file cannot be used, and its entries if the tree could be read."""

    reason: str
    entries: int | None = None


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
    """A problem that retrying cannot fix (no such tree, a missing branch or one of the wrong type)."""

    def __init__(self, reason: str, entries: int | None = None) -> None:
        super().__init__(reason)
        self.entries = entries


def is_url(path: str) -> bool:
    """Whether ``path`` is a URL (``https://``, ``root://``, ...) rather than a local path."""
    return "://" in path


def one_line(err: BaseException) -> str:
    """An exception as one line: ``Type: message`` with the whitespace collapsed (``zlib.error: ...``).

    Example:
        >>> one_line(OSError("file too short:   12 bytes"))
        'OSError: file too short: 12 bytes'
    """
    kind = type(err).__qualname__
    if type(err).__module__ not in ("builtins", "__main__"):
        kind = f"{type(err).__module__}.{kind}"
    text = " ".join(str(err).split())
    return f"{kind}: {text}" if text else kind


def with_cause(err: BaseException) -> str:
    """:func:`one_line` of ``err``, followed by the exception at the root of its chain (:func:`exception_chain`),
    if any: fsspec turns every failed HTTP request, a host name that does not resolve as much
    as a 404, into ``FileNotFoundError(url)``, and only its cause says which.

    Example:
        >>> try:
        ...     try:
        ...         raise OSError("Name or service not known")
        ...     except OSError as dns:
        ...         raise FileNotFoundError("https://host/a.root") from dns
        ... except FileNotFoundError as err:
        ...     print(with_cause(err))
        FileNotFoundError: https://host/a.root (OSError: Name or service not known)
    """
    root = exception_chain(err)[-1]
    return one_line(err) if root is err else f"{one_line(err)} ({one_line(root)})"


def exception_chain(err: BaseException) -> list[BaseException]:
    """``err`` and its causes (``raise ... from``), outermost first."""
    chain: list[BaseException] = []
    cause: BaseException | None = err
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def retryable(err: BaseException, path: str) -> bool:
    """Whether another attempt at reading ``path`` may succeed after ``err``.

    Never after an :class:`~analysis.errors.HZZ4lError` (the data itself is wrong). For a remote file, after
    anything else (networks fail in many ways); for a local file, only after an I/O error the system reports
    as possibly transient (``EIO``, ``EAGAIN``, ``ETIMEDOUT``, ``ESTALE``, ...): a missing, unreadable,
    truncated or corrupt local file stays so.

    Example:
        >>> retryable(FileNotFoundError(errno.ENOENT, "No such file"), "/data/a.root")
        False
        >>> retryable(OSError(errno.EIO, "Input/output error"), "/eos/a.root")
        True
        >>> retryable(TimeoutError("read timed out"), "https://host/a.root")
        True
    """
    chain = exception_chain(err)
    if any(isinstance(e, HZZ4lError | _Permanent) for e in chain):
        return False
    if is_url(path):
        return True
    return any(isinstance(e, TimeoutError) or (isinstance(e, OSError) and e.errno in TRANSIENT_ERRNOS) for e in chain)


def pause_before_retry(attempt: int) -> None:
    """Wait before attempt ``attempt + 2``: 0.2 s, 0.4 s, 0.8 s, ... at most 2 s."""
    time.sleep(min(0.2 * 2**attempt, 2.0))


_KINDS = {"f": "floating-point number", "b": "boolean", "i": "signed integer", "u": "unsigned integer"}


def _expected(expected: Any) -> str:
    """``a list of integers per event``, ``one floating-point number per event``, ... for a ``BranchType``."""
    kinds = expected.kinds
    words = (["integer"] if "i" in kinds and "u" in kinds else []) + [
        _KINDS[k] for k in kinds if not ("i" in kinds and "u" in kinds and k in "iu")
    ]
    what = " or ".join(words)
    return f"a list of {what}s per event" if expected.jagged else f"one {what} per event"


def _branch_problem(branch: Any, expected: Any) -> str | None:
    """What is wrong with ``branch`` given what it must hold (a ``BranchType``), or None.

    Both layouts of a list per event pass: ``std::vector<T>`` (the real files) and counted arrays
    ``x[n]`` (written by uproot); uproot reads both as ``AsJagged(AsDtype)``."""
    interpretation = branch.interpretation
    if isinstance(interpretation, uproot.AsJagged):
        jagged, dtype = True, getattr(interpretation.content, "from_dtype", None)
    elif isinstance(interpretation, uproot.AsDtype):
        jagged, dtype = False, interpretation.from_dtype
    else:
        jagged, dtype = None, None
    wanted = _expected(expected)
    if dtype is None or np.dtype(dtype).shape:
        return f"branch '{branch.name}' is {branch.typename}, expected {wanted}"
    dtype = np.dtype(dtype)
    if jagged == expected.jagged and dtype.kind in expected.kinds:
        return None
    holds = f"a list of {dtype.name} per event" if jagged else f"one {dtype.name} per event"
    return f"branch '{branch.name}' holds {holds} ({branch.typename}), expected {wanted}"


#: Takes over a file that passed the checks, opened with its tree parsed: ``keep(path, tree, file)``; returns
#: False if it does not (the file is then closed).
Keeper = Callable[[str, str, Any], bool]


#: What a local path that is not a regular file is, by the file type bits of its mode.
_SPECIAL = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _not_a_file(path: str) -> str | None:
    """Why the local ``path`` cannot be a ROOT file although it exists (a FIFO would block the run for ever), or
    None for a regular file (or a link to one).

    Example:
        >>> _not_a_file("/dev/null"), _not_a_file("/")
        ('is a character device, not a file', 'is a directory, not a file')
    """
    kind = _SPECIAL.get(stat.S_IFMT(os.stat(path).st_mode))
    return f"is {kind}, not a file" if kind else None


def _dangling(path: str) -> str:
    """What to add to "``path`` does not exist": that it is a symbolic link to nothing, if it is one."""
    return " (a symbolic link to nothing: broken, or a loop)" if os.path.islink(path) else ""


def _open_and_inspect(
    path: str,
    tree: str,
    columns: Mapping[str, Any] | Sequence[str],
    timeout: float,
    options: Mapping[str, Any],
    keep: Keeper | None,
) -> FileInfo:
    if not is_url(path) and (problem := _not_a_file(path)) is not None:
        raise _Permanent(problem)
    # {path: None}: a colon in the path is part of the file name, not an object path
    f = uproot.open({path: None}, timeout=timeout, **options)
    try:
        info = _inspect_tree(f, tree, columns)
    except BaseException:
        f.close()
        raise
    if keep is None or not keep(path, tree, f):
        f.close()
    return info


def _inspect_tree(f: Any, tree: str, columns: Mapping[str, Any] | Sequence[str]) -> FileInfo:
    """The :class:`FileInfo` of the opened file ``f`` if its ``tree`` holds ``columns``; else raise a _Permanent."""
    if tree not in f:
        raise _Permanent(f"no tree '{tree}' (keys: {', '.join(sorted(set(f.keys(cycle=False)))) or 'none'})")
    ttree = f[tree]
    if not isinstance(ttree, uproot.TTree):
        raise _Permanent(f"'{tree}' is a {f.classname_of(tree)}, not a TTree")
    entries = int(ttree.num_entries)
    missing = [c for c in columns if c not in ttree]
    if missing:
        raise _Permanent(f"tree '{tree}' lacks the branch(es) {', '.join(missing)}", entries)
    if isinstance(columns, Mapping):
        for name, expected in columns.items():
            problem = _branch_problem(ttree[name], expected)
            if problem:
                raise _Permanent(problem, entries)
    clusters = ttree.common_entry_offsets(filter_name=list(columns) or None)
    read = int(f.file.source.num_requested_bytes)
    return FileInfo(entries, f.file.fUUID, tuple(int(c) for c in clusters), read, SYNTHETIC_KEY in f)


def _inspect(
    path: str,
    tree: str,
    columns: Mapping[str, Any] | Sequence[str],
    timeout: float,
    retries: int,
    options: Mapping[str, Any] | None = None,
    keep: Keeper | None = None,
) -> FileInfo | _Problem:
    """:class:`FileInfo` of a usable file, else a :class:`_Problem`; transient failures are tried ``retries``
    more times, with back-off. ``options`` go to ``uproot.open``; ``keep`` may take over the opened file."""
    for attempt in range(retries + 1):
        try:
            return _open_and_inspect(path, tree, columns, timeout, options or {}, keep)
        except _Permanent as err:
            return _Problem(str(err), err.entries)
        except Exception as err:  # network, HTTP status, truncated, corrupt or non-ROOT file
            if not retryable(err, path):
                return _Problem(f"cannot be read: {with_cause(err)}")
            if attempt == retries:
                tries = f" after {retries + 1} attempts" if retries else ""
                return _Problem(f"cannot be read{tries}: {with_cause(err)}")
            log.info("%s: attempt %d of %d failed (%s); trying again", path, attempt + 1, retries + 1, one_line(err))
            pause_before_retry(attempt)
    raise AssertionError("unreachable")


def check_file(
    path: str, tree: str, columns: Mapping[str, Any] | Sequence[str], timeout: float, retries: int
) -> FileInfo:
    """Open ``path`` and inspect ``tree`` and its ``columns`` (names, or ``{name: BranchType}`` to check their
    types too); retry transient failures ``retries`` times.

    Raises:
        InputError: naming the file and the problem.
    """
    outcome = _inspect(path, tree, columns, timeout, retries)
    if isinstance(outcome, _Problem):
        raise InputError(f"{path}: {outcome.reason}")
    return outcome


#: Runs a function over a list of arguments and returns the results in order (``map`` of a pool).
Mapper = Callable[[Callable[[Any], Any], list[Any]], list[Any]]


def thread_map(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``map`` in up to 8 threads: remote files are slow to open, and opening them waits on the network.

    Interrupted (Ctrl-C), it returns at once: queued items are cancelled and running ones are not waited for.
    """
    pool = ThreadPoolExecutor(max_workers=min(8, max(1, len(items))))
    try:
        return list(pool.map(function, items))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _in_turn(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [function(item) for item in items]


def _check(
    job: tuple[str, str, Mapping[str, Any] | Sequence[str], float, int, Mapping[str, Any], Keeper | None],
) -> FileInfo | _Problem:
    return _inspect(*job)


def preflight(
    fileset: dict[str, Any],
    columns: Mapping[str, Any] | Sequence[str],
    timeout: float,
    retries: int,
    skip_bad_files: bool,
    mapper: Mapper | None = None,
    options: Mapping[str, Any] | None = None,
    keep: Keeper | None = None,
) -> Checked:
    """Check every file of a validated fileset with ``mapper`` (a runner passes its worker pool or Dask cluster,
    so that files are checked where they will be read); by default in this process: in threads if any file is
    remote (they wait on the network side by side), else one after the other (parsing a tree's metadata holds the
    GIL: threads only take turns); ``options`` go to ``uproot.open`` (a runner's source handler); ``keep`` (a
    module-level function, as it may travel to the workers) may take over each opened file that passes, for the run.

    Local files that do not exist are reported first, all in one message. Two entries that are the same file
    (the same ROOT UUID: a copy, a link, the same file over HTTP) are always an error.

    Raises:
        InputError: on bad files (unless ``skip_bad_files``) and on files listed twice.
    """
    jobs = [(name, path, tree) for name, entry in fileset.items() for path, tree in entry["files"].items()]
    skipped: list[SkippedFile] = []
    missing = [(name, path) for name, path, _ in jobs if not is_url(path) and not os.path.exists(path)]
    if missing and not skip_bad_files:
        listing = ", ".join(f"{path}{_dangling(path)} (dataset '{name}')" for name, path in missing)
        raise InputError(f"{len(missing)} input file(s) do not exist: {listing}")
    skipped += [SkippedFile(name, path, "does not exist" + _dangling(path), None) for name, path in missing]
    jobs = [job for job in jobs if job[:2] not in set(missing)]
    columns = dict(columns) if isinstance(columns, Mapping) else tuple(columns)
    options = dict(options or {})
    if mapper is None:
        mapper = thread_map if any(is_url(path) for _, path, _ in jobs) else _in_turn
    start = time.perf_counter()
    outcomes = mapper(_check, [(path, tree, columns, timeout, retries, options, keep) for _, path, tree in jobs])
    log.debug("checked %d input files in %.2f s", len(jobs), time.perf_counter() - start)
    kept: dict[str, Any] = {name: {**entry, "files": {}} for name, entry in fileset.items()}
    files: dict[tuple[str, str], FileInfo] = {}
    owners: dict[bytes, tuple[str, str]] = {}
    for (name, path, tree), outcome in zip(jobs, outcomes, strict=True):
        if isinstance(outcome, _Problem):
            if not skip_bad_files:
                raise InputError(f"dataset '{name}': {path}: {outcome.reason}")
            skipped.append(SkippedFile(name, path, outcome.reason, outcome.entries))
            log.info("dataset '%s': %s skipped: %s", name, path, outcome.reason)
            continue
        if outcome.uuid in owners:
            other_name, other_path = owners[outcome.uuid]
            raise InputError(
                f"dataset '{name}': {path} is the same file as {other_path} of dataset '{other_name}' "
                "(the same ROOT UUID): its events would be counted twice"
            )
        owners[outcome.uuid] = (name, path)
        kept[name]["files"][path] = tree
        files[name, path] = outcome
    kept = {name: entry for name, entry in kept.items() if entry["files"]}
    return Checked(kept, tuple(skipped), files)
