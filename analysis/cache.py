"""Local copies of remote input files, so that a second run over the same HTTP(S) files does not download them again.

A remote file is fetched whole, once, into the cache folder (``hzz4l run``: ``$HZZ4L_CACHE/remote``, by default
``~/.cache/hzz4l/remote``), through fsspec's HTTP filesystem; later opens read the local copy. A copy is used only
while the server still describes the file as when it was fetched: before every use, one HEAD request compares its
size, ``ETag`` and ``Last-Modified`` with those recorded beside the copy, and a file that changed is fetched again.
The folder is kept under a size limit by removing the least recently used copies; a file larger than the limit, or
from a server that gives no size, ``ETag`` or ``Last-Modified``, is read remotely, as without a cache.

fsspec's own ``filecache::`` chaining is not used: its HTTP filesystem assumes that files never change (the key it
compares is made of the URL alone), so it would use a stale copy, and it has no size limit.

Example (``server``: an HTTP server of the real files ``tests/data/atlas/``, as ``https://opendata.cern.ch/...``):
    >>> cache = RemoteCache("remote", limit_bytes=10**9)
    >>> url = f"{server}/Data/data_A.4lep.root"
    >>> copy = cache.local(url, timeout=60)  # fetched now
    >>> copy
    'remote/....root'
    >>> cache.local(url, timeout=60) == copy, cache.applies(url), cache.applies("Data/data_A.4lep.root")
    (True, True, False)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

__all__ = ["CACHED_SCHEMES", "DEFAULT_LIMIT_GB", "RemoteCache"]

log = logging.getLogger(__name__)

#: The URL schemes whose files are cached (XRootD and object stores have caches of their own).
CACHED_SCHEMES = ("http://", "https://")
#: Default size limit of the cache folder, in GB (the whole 4-lepton release is about 1 GB).
DEFAULT_LIMIT_GB = 10.0
#: What identifies a version of a remote file: the fields of fsspec's HTTP ``info`` compared before every use.
VALIDATORS = ("size", "ETag", "Last-Modified")


class RemoteCache:
    """A folder of local copies of remote files, at most ``limit_bytes`` in all (see the module's docstring)."""

    def __init__(self, folder: str | os.PathLike[str], limit_bytes: int) -> None:
        self.folder = Path(folder)
        self.limit_bytes = int(limit_bytes)

    def applies(self, url: str) -> bool:
        """Whether ``url`` is a remote file that this cache keeps."""
        return url.startswith(CACHED_SCHEMES)

    def local(self, url: str, timeout: float) -> str:
        """The path of an up-to-date local copy of ``url``, fetched now if there is none (or it is stale); ``url``
        itself when it is not to be cached (see the module's docstring)."""
        import fsspec

        fs = fsspec.filesystem("http", client_kwargs=_client(timeout))
        now = _version(fs.info(url))
        key = hashlib.sha256(url.encode()).hexdigest()
        data, record = self.folder / f"{key}.root", self.folder / f"{key}.json"
        if _recorded(record) == {"url": url, **now} and data.is_file() and data.stat().st_size == now.get("size"):
            os.utime(record)  # recently used
            log.debug("%s: the cached copy %s is up to date", url, data)
            return str(data)
        size = now.get("size")
        if not isinstance(size, int) or size > self.limit_bytes or len(now) == 1:
            if not isinstance(size, int):
                why = "the server gives no size"
            else:
                why = "larger than the cache's limit" if size > self.limit_bytes else "the server gives no ETag or date"
            log.info("%s: not cached (%s): read remotely", url, why)
            return url  # too large, or a server that does not say when the file changes: read remotely
        self.folder.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        partial, note = data.with_name(f"{key}.{token}.part"), record.with_name(f"{key}.{token}.part.json")
        log.info("%s: fetching %d bytes into the cache %s", url, size, self.folder)
        try:
            fs.get_file(url, str(partial))
            if partial.stat().st_size != size:
                raise OSError(f"{url}: fetched {partial.stat().st_size} bytes, the server announced {size}")
            note.write_text(json.dumps({"url": url, **now}), encoding="utf-8")
            record.unlink(missing_ok=True)  # no moment where an old record describes the new copy, or vice versa
            os.replace(partial, data)
            os.replace(note, record)
        finally:
            partial.unlink(missing_ok=True)
            note.unlink(missing_ok=True)
        self.prune(keep=data)
        return str(data)

    def prune(self, keep: Path | None = None) -> list[Path]:
        """Remove the least recently used copies until the folder is within its limit (never ``keep``); return
        the copies removed."""
        copies = sorted(self.folder.glob("*.root"), key=lambda p: _last_use(p.with_suffix(".json")))
        total = sum(p.stat().st_size for p in copies)
        removed = []
        for copy in copies:
            if total <= self.limit_bytes:
                break
            if copy == keep:
                continue
            total -= copy.stat().st_size
            copy.with_suffix(".json").unlink(missing_ok=True)
            copy.unlink(missing_ok=True)
            removed.append(copy)
        return removed


def _client(timeout: float) -> dict[str, Any]:
    import aiohttp

    return {"timeout": aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)}


def _version(info: dict[str, Any]) -> dict[str, Any]:
    return {key: info[key] for key in VALIDATORS if info.get(key) is not None}


def _recorded(record: Path) -> dict[str, Any] | None:
    try:
        return json.loads(record.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _last_use(record: Path) -> float:
    try:
        return record.stat().st_mtime
    except OSError:
        return 0.0
