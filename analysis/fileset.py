"""Load and validate a coffea fileset JSON before any processing starts.

A fileset maps dataset names to ``{"files": {path_or_url: treename}, "metadata": {...}}``.
Metadata must give ``role`` (``signal``, ``background`` or ``data``); simulation also needs
``xsec`` (pb) and ``sumw``, and may give ``red_eff`` (default 1). Relative file paths are
resolved against the folder of the JSON file, so a demo folder can be moved as a whole.

Every problem raises :class:`FilesetError` with one line naming the file, the dataset and
the problem.

Example:
    >>> fileset = load_fileset("samples.json")  # doctest: +SKIP
    >>> roles(fileset)["ggH125_ZZ4lep"]  # doctest: +SKIP
    'signal'
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from analysis.samples import ROLES

__all__ = ["FilesetError", "is_synthetic", "load_fileset", "roles", "validate_fileset"]


class FilesetError(ValueError):
    """A fileset that cannot be used; the message is one line naming where and what."""


def _is_url(path: str) -> bool:
    return "://" in path


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _files(where: str, name: str, files: Any, base: Path | None) -> dict[str, str]:
    if isinstance(files, list):
        files = dict.fromkeys(files, "mini")
    if not isinstance(files, dict):
        raise FilesetError(f"{where}: dataset '{name}': 'files' must be an object {{path: treename}} or a list")
    if not files:
        raise FilesetError(f"{where}: dataset '{name}': has no files")
    out: dict[str, str] = {}
    for path, tree in files.items():
        if not isinstance(path, str) or not path:
            raise FilesetError(f"{where}: dataset '{name}': file entry {path!r} is not a path or URL")
        if not isinstance(tree, str) or not tree:
            raise FilesetError(f"{where}: dataset '{name}': file '{path}' has no tree name")
        relative = base is not None and not _is_url(path) and not os.path.isabs(path)
        out[str((base / path).resolve()) if relative else path] = tree
    return out


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
        for key in ("xsec", "sumw", "red_eff"):
            if not _positive_number(out[key]):
                raise FilesetError(f"{where}: dataset '{name}': '{key}' must be a positive number, got {out[key]!r}")
    return out


def validate_fileset(fileset: Any, where: str = "fileset", base: Path | None = None) -> dict[str, Any]:
    """Check a fileset mapping and return it normalised (files as ``{path: tree}``, paths resolved).

    Raises:
        FilesetError: on the first problem, naming ``where`` and the dataset.
    """
    if not isinstance(fileset, dict) or not fileset:
        raise FilesetError(f"{where}: expected a non-empty JSON object {{dataset: {{files, metadata}}}}")
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for name, entry in fileset.items():
        if not isinstance(entry, dict):
            raise FilesetError(f"{where}: dataset '{name}': expected an object with 'files' and 'metadata'")
        if "files" not in entry:
            raise FilesetError(f"{where}: dataset '{name}': has no files")
        files = _files(where, name, entry["files"], base)
        for path in files:
            if path in seen:
                also = f"also in dataset '{seen[path]}'"
                raise FilesetError(f"{where}: dataset '{name}': file '{path}' is listed twice ({also})")
            seen[path] = name
        out[name] = {"files": files, "metadata": _metadata(where, name, entry.get("metadata"))}
    return out


def load_fileset(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate the fileset JSON at ``path``.

    Raises:
        FilesetError: if the file cannot be read, is not JSON, or fails :func:`validate_fileset`.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise FilesetError(f"{path}: cannot read fileset: {err.strerror or err}") from None
    try:
        fileset = json.loads(text)
    except json.JSONDecodeError as err:
        raise FilesetError(f"{path}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    return validate_fileset(fileset, where=str(path), base=path.resolve().parent)


def roles(fileset: dict[str, Any]) -> dict[str, str]:
    """``{dataset: role}`` of a validated fileset."""
    return {name: entry["metadata"]["role"] for name, entry in fileset.items()}


def is_synthetic(fileset: dict[str, Any]) -> bool:
    """Whether any dataset of the fileset is marked ``"synthetic": true`` in its metadata (as the demo's are):
    its results must then never be labelled as ATLAS data."""
    return any(entry["metadata"].get("synthetic") is True for entry in fileset.values())
