"""Load and validate a coffea fileset JSON before any processing starts.

A fileset maps dataset names to ``{"files": {path_or_url: treename}, "metadata": {...}}`` (``files`` may
also be a list of paths, tree ``mini``). Validation is strict, so that a typo never becomes a silently
wrong histogram:

* dataset names are 1-100 ASCII letters, digits, ``_``, ``-`` or ``+``, starting with a letter or digit
  (they become ROOT keys, HTML and JSON paths);
* a dataset has exactly the keys ``files`` and ``metadata``; a JSON key given twice anywhere is an error
  (JSON would silently keep the last); ``NaN`` and ``Infinity`` are not JSON numbers;
* ``metadata.role`` is ``signal``, ``background`` or ``data``; simulation needs ``xsec`` (pb, at most
  1e11 pb, the total inelastic pp cross-section being 8e10 pb) and ``sumw`` (finite, positive), and may
  give ``red_eff`` (in (0, 1], default 1); ``dsid`` is a non-negative integer, ``truth`` the true
  ``{"s_s", "s_b"}`` of pseudo-data, ``synthetic`` a boolean, ``generator`` the demo generator's settings.
  Other metadata keys are passed on to the processor with a :class:`FilesetWarning` naming them;
* relative file paths are taken from the folder of the JSON file (so a demo folder can be moved as a whole),
  ``file://`` URLs become paths, and one file listed twice under any spelling (``/d/./f``, ``/d//f``,
  ``/x/../d/f``, a symbolic link, ``file:///d/f``) is an error naming both entries. (Two copies of one file,
  or a local file and its URL, are found by their ROOT UUID when the files are checked.)

Every problem raises :class:`FilesetError` with one line naming the file, the dataset and the problem.

Example:
    >>> fileset = load_fileset("samples.json")
    >>> roles(fileset)["ggH125_ZZ4lep"]
    'signal'
    >>> validate_fileset({"x": {"files": ["a.root"], "metadata": {"role": "data"}, "filez": []}})
    Traceback (most recent call last):
    ...
    analysis.fileset.FilesetError: fileset: dataset 'x': unknown key(s) 'filez' (a dataset has 'files' and 'metadata')
"""

from __future__ import annotations

import json
import math
import os
import re
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

from analysis.errors import HZZ4lError, HZZ4lWarning, read_limited
from analysis.samples import ROLES

__all__ = [
    "DATASET_NAME",
    "MAX_XSEC_PB",
    "FilesetError",
    "FilesetWarning",
    "is_synthetic",
    "load_fileset",
    "roles",
    "validate_fileset",
]

#: Largest believable cross-section in pb: the total inelastic pp cross-section at 13 TeV is about 8e10 pb.
MAX_XSEC_PB = 1e11

#: Metadata keys the project reads or writes; others pass with a warning.
KNOWN_METADATA = ("role", "dsid", "xsec", "sumw", "red_eff", "truth", "synthetic", "generator")

#: What a dataset name may be: it becomes a ROOT key, HTML and a JSON path.
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]{0,99}")
_TREE_IN_PATH = re.compile(r"\.root:([^/]*)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FilesetError(HZZ4lError, ValueError):
    """A fileset that cannot be used; the message is one line naming where and what."""


class FilesetWarning(HZZ4lWarning):
    """Something in a fileset that is used as given but is probably a mistake (an unknown metadata key)."""


class _Object(dict[str, Any]):
    """A JSON object that remembers the keys given more than once (JSON itself keeps only the last)."""

    repeated: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    out = _Object()
    out.repeated = []
    for key, value in pairs:
        if key in out:
            out.repeated.append(key)
        out[key] = value
    return out


def _no_constant(token: str) -> float:
    raise ValueError(f"{token} is not a JSON number")


#: Where a value sits in a JSON document: its key and where its object sits (None at the top), a linked list.
_Place = tuple[str, "_Place"] | None


def _keys(place: _Place) -> list[str]:
    keys = []
    while place is not None:
        key, place = place
        keys.append(key)
    return keys[::-1]


def _repeated_keys(tree: Any, where: str) -> None:
    """Raise on the first key given twice in any object of a JSON document parsed with :func:`_object`, in document
    order; walked with a stack, not recursion, so that however deeply a document nests it is one line."""
    stack: list[tuple[Any, _Place]] = [(tree, None)]
    while stack:
        node, place = stack.pop()
        if isinstance(node, list):
            stack.extend((item, place) for item in reversed(node))
        if not isinstance(node, dict):
            continue
        for key in getattr(node, "repeated", ()):
            if place is None:
                raise FilesetError(f"{where}: dataset '{key}' is defined twice (JSON would keep only the last)")
            inside = ".".join(_keys(place))
            raise FilesetError(f"{where}: the key '{key}' appears twice in '{inside}' (JSON would keep only the last)")
        stack.extend((value, (key, place)) for key, value in reversed(node.items()))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_url(path: str) -> bool:
    return "://" in path


def _local_path(path: str, base: Path | None) -> str:
    """An absolute local path (``file://`` URLs decoded; relative to ``base``), spelt as given but for ``//`` and
    ``/./`` (``..`` is kept: after a symbolic link it is not the parent of what precedes it)."""
    if path.startswith("file://"):
        url = urllib.parse.urlparse(path)
        if url.netloc not in ("", "localhost"):
            raise ValueError(f"a file:// URL on another host ({url.netloc})")
        path = urllib.parse.unquote(url.path)
    elif base is not None and not os.path.isabs(path):
        return str(base / path)
    return str(Path(path).absolute())


def _files(where: str, name: str, files: Any, base: Path | None) -> list[tuple[str, str, str]]:
    """``(normalised path, tree, path as written)`` of each of a dataset's ``files``."""
    if isinstance(files, list):
        repeated = next((path for i, path in enumerate(files) if path in files[:i]), None)
        if repeated is not None:
            raise FilesetError(f"{where}: dataset '{name}': file {repeated!r} is listed twice")
        files = dict.fromkeys(files, "mini")
    if not isinstance(files, dict):
        raise FilesetError(f"{where}: dataset '{name}': 'files' must be an object {{path: treename}} or a list")
    if not files:
        raise FilesetError(f"{where}: dataset '{name}': has no files")
    out: list[tuple[str, str, str]] = []
    for path, tree in files.items():
        if not isinstance(path, str) or not path.strip() or _CONTROL.search(path):
            raise FilesetError(f"{where}: dataset '{name}': file entry {path!r} is not a path or URL")
        if not isinstance(tree, str) or not tree:
            raise FilesetError(f"{where}: dataset '{name}': file '{path}' has no tree name")
        if not tree.isascii() or not tree.isprintable():
            raise FilesetError(f"{where}: dataset '{name}': file '{path}': tree name {tree!r} is not printable ASCII")
        match = _TREE_IN_PATH.search(path)
        if match:
            raise FilesetError(
                f"{where}: dataset '{name}': file '{path}': give the tree as the value "
                f'({{"{path[: match.start() + 5]}": "{match[1]}"}}), not after a colon in the path'
            )
        try:
            normalised = path if _is_url(path) and not path.startswith("file://") else _local_path(path, base)
        except ValueError as err:
            raise FilesetError(f"{where}: dataset '{name}': file '{path}': {err}") from None
        out.append((normalised, tree, path))
    return out


def _positive(where: str, name: str, metadata: dict[str, Any], key: str, upper: float = math.inf) -> None:
    value = metadata[key]
    if not (_finite(value) and 0 < value <= upper):
        limit = f" and at most {upper:g}" if math.isfinite(upper) else ""
        raise FilesetError(f"{where}: dataset '{name}': '{key}' must be a positive number{limit}, got {value!r}")


def _metadata(where: str, name: str, metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise FilesetError(f"{where}: dataset '{name}': no 'metadata' object (it needs at least 'role')")
    role = metadata.get("role")
    if role not in ROLES:
        raise FilesetError(f"{where}: dataset '{name}': unknown role {role!r} (expected one of {', '.join(ROLES)})")
    out = dict(metadata)
    if role != "data":
        for key in ("xsec", "sumw"):
            if key not in out:
                raise FilesetError(f"{where}: dataset '{name}': simulation needs '{key}' in its metadata")
        out.setdefault("red_eff", 1.0)
    for key, upper in (("xsec", MAX_XSEC_PB), ("sumw", math.inf), ("red_eff", 1.0)):
        if key in out:
            _positive(where, name, out, key, upper)
    if "dsid" in out and not (isinstance(out["dsid"], int) and not isinstance(out["dsid"], bool) and out["dsid"] >= 0):
        raise FilesetError(f"{where}: dataset '{name}': 'dsid' must be a non-negative integer, got {out['dsid']!r}")
    if "synthetic" in out and not isinstance(out["synthetic"], bool):
        raise FilesetError(f"{where}: dataset '{name}': 'synthetic' must be true or false, got {out['synthetic']!r}")
    truth = out.get("truth", {"s_s": 1.0, "s_b": 1.0})
    if not (
        isinstance(truth, dict) and set(truth) == {"s_s", "s_b"} and all(_finite(v) and v >= 0 for v in truth.values())
    ):
        raise FilesetError(
            f"{where}: dataset '{name}': 'truth' must be {{\"s_s\": x, \"s_b\": y}} with finite x, y >= 0, "
            f"got {truth!r}"
        )
    unknown = [key for key in out if key not in KNOWN_METADATA]
    if unknown:
        warnings.warn(
            FilesetWarning(
                f"{where}: dataset '{name}': unknown metadata key(s) {', '.join(map(repr, unknown))} are passed "
                f"to the processor unused (known: {', '.join(KNOWN_METADATA)})"
            ),
            stacklevel=4,
        )
    return out


def validate_fileset(fileset: Any, where: str = "fileset", base: Path | None = None) -> dict[str, Any]:
    """Check a fileset mapping and return it normalised (files as ``{path: tree}``, local paths absolute).

    Raises:
        FilesetError: on the first problem, naming ``where`` and the dataset.
    """
    if not isinstance(fileset, dict) or not fileset:
        raise FilesetError(f"{where}: expected a non-empty JSON object {{dataset: {{files, metadata}}}}")
    _repeated_keys(fileset, where)
    out: dict[str, Any] = {}
    seen: dict[str, tuple[str, str]] = {}  # the same file, however spelt -> (dataset, path as written)
    for name, entry in fileset.items():
        if not isinstance(name, str) or not DATASET_NAME.fullmatch(name):
            raise FilesetError(
                f"{where}: dataset name {name!r} is not 1-100 ASCII letters, digits, '_', '-' or '+' "
                "starting with a letter or digit"
            )
        if not isinstance(entry, dict):
            raise FilesetError(f"{where}: dataset '{name}': expected an object with 'files' and 'metadata'")
        unknown = [key for key in entry if key not in ("files", "metadata")]
        if unknown:
            raise FilesetError(
                f"{where}: dataset '{name}': unknown key(s) {', '.join(map(repr, unknown))} "
                "(a dataset has 'files' and 'metadata')"
            )
        if "files" not in entry:
            raise FilesetError(f"{where}: dataset '{name}': has no files")
        files = _files(where, name, entry["files"], base)
        for path, _, written in files:
            same = path if _is_url(path) else os.path.realpath(path)
            if same in seen:
                other_name, other = seen[same]
                raise FilesetError(
                    f"{where}: dataset '{name}': file '{written}' is the same file as '{other}' of dataset "
                    f"'{other_name}': its events would be counted twice"
                )
            seen[same] = (name, written)
        out[name] = {
            "files": {path: tree for path, tree, _ in files},
            "metadata": _metadata(where, name, entry.get("metadata")),
        }
    return out


def load_fileset(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate the fileset JSON at ``path`` (UTF-8).

    Raises:
        FilesetError: if the file cannot be read, is not JSON, or fails :func:`validate_fileset`.
    """
    path = Path(path)
    try:
        text = read_limited(path)
    except OSError as err:
        raise FilesetError(f"{path}: cannot read fileset: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise FilesetError(f"{path}: not UTF-8 text (byte {err.start})") from None
    try:
        fileset = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise FilesetError(f"{path}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except ValueError as err:
        raise FilesetError(f"{path}: not valid JSON: {err}") from None
    except RecursionError:  # a fileset is four levels deep
        raise FilesetError(f"{path}: not a fileset: nested too deeply") from None
    return validate_fileset(fileset, where=str(path), base=path.resolve().parent)


def roles(fileset: dict[str, Any]) -> dict[str, str]:
    """``{dataset: role}`` of a validated fileset."""
    return {name: entry["metadata"]["role"] for name, entry in fileset.items()}


def is_synthetic(fileset: dict[str, Any]) -> bool:
    """Whether any dataset of the fileset is marked ``"synthetic": true`` in its metadata (as the demo's are):
    its results must then never be labelled as ATLAS data."""
    return any(entry["metadata"].get("synthetic") is True for entry in fileset.values())
