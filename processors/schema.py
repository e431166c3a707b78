"""NanoEvents schema for the ATLAS Open Data 2020 ``mini`` tree.

The flat ``mini`` tree stores one branch per object attribute (``lep_pt``, ``lep_eta``, ...) and one counter
per object (``lep_n``, ``jet_n``, ...). :class:`MiniSchema` groups the jagged branches of each object prefix into
one collection, so that analysis code reads ``events.lep.pt`` instead of ``events.lep_pt``:

* a collection's multiplicity comes from its counter branch (``lep_n`` for ``lep``), never from one of its
  attribute branches: in real data the truth branches are empty vectors in every event, and a collection
  counted from them would have no objects;
* the truth branches (``*_truthMatched``, ``jet_trueflav``; see :data:`TRUTH_ATTRIBUTES`) are kept apart as
  top-level jagged fields (``events.lep_truthMatched``) with their own per-event lengths: filled in simulation,
  empty in data;
* ``events.jagged`` holds every jagged branch as stored, under its branch name and with its own per-event
  lengths, so that :func:`check_counts` can prove that the branches a selection uses agree with their counter;
* ``lep``, ``jet``, ``photon``, ``tau`` and ``largeRjet`` carry ``PtEtaPhiELorentzVector`` behaviour (``lep_E``
  becomes ``energy``); everything else stays a top-level field.

Both layouts of a jagged branch read the same: the ``std::vector`` branches of the real files and the counted
arrays (``lep_pt[lep_n]``) that uproot writes. Units are those of the file: MeV for momenta and energies.

Example:
    >>> from coffea.nanoevents import NanoEventsFactory
    >>> events = NanoEventsFactory.from_root(
    ...     {"tests/data/atlas/Data/data_A.4lep.root": "mini"}, schemaclass=MiniSchema, mode="eager"
    ... ).events()
    >>> events.lep_n[:3].tolist(), events.lep_truthMatched[:3].tolist()
    ([4, 4, 4], [[], [], []])
    >>> round(float(events.lep[0].sum().mass) / 1000.0, 2)  # m4l of the first event in GeV
    197.13

Pitfall: the lepton flavour is ``events.lep["type"]`` — ``events.lep.type`` is the awkward type of the array.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import awkward as ak
import numpy as np
from coffea.nanoevents import transforms
from coffea.nanoevents.schemas.base import BaseSchema, zip_forms
from coffea.nanoevents.util import quote

from analysis.errors import HZZ4lError

__all__ = ["COLLECTIONS", "TRUTH_ATTRIBUTES", "BranchLengthError", "MiniSchema", "check_counts"]

#: Object prefixes grouped into collections, and the record behaviour each one gets.
COLLECTIONS: dict[str, str | None] = {
    "lep": "PtEtaPhiELorentzVector",
    "jet": "PtEtaPhiELorentzVector",
    "photon": "PtEtaPhiELorentzVector",
    "tau": "PtEtaPhiELorentzVector",
    "largeRjet": "PtEtaPhiELorentzVector",
}

#: Attributes filled only in simulation: empty vectors in every data event, so never fields of a collection.
TRUTH_ATTRIBUTES = frozenset({"truthMatched", "trueflav"})

_RENAME = {"E": "energy"}


class BranchLengthError(HZZ4lError, ValueError):
    """A jagged branch whose per-event length disagrees with its collection's counter."""


class MiniSchema(BaseSchema):  # type: ignore[misc]  # coffea is untyped
    """Collections of the ``mini`` tree, counted by their ``<prefix>_n`` branches (see the module docs)."""

    __dask_capable__ = True
    collections: ClassVar[dict[str, str | None]] = COLLECTIONS

    def __init__(self, base_form: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(base_form, *args, **kwargs)
        branches = dict(zip(self._form["fields"], self._form["contents"], strict=True))
        output: dict[str, Any] = {}
        grouped: dict[str, dict[str, Any]] = {name: {} for name in self.collections}
        jagged: dict[str, Any] = {}
        for name, form in branches.items():
            prefix, _, attr = name.partition("_")
            is_list = form["class"].startswith("ListOffsetArray")
            if is_list:
                jagged[name] = form
            if is_list and prefix in grouped and attr not in TRUTH_ATTRIBUTES and f"{prefix}_n" in branches:
                grouped[prefix][_RENAME.get(attr, attr)] = form
            else:
                output[name] = form
        for prefix, fields in grouped.items():
            if not fields:
                continue
            behaviour = self.collections[prefix]
            if behaviour is not None and not {"pt", "eta", "phi", "energy"} <= fields.keys():
                behaviour = None
            offsets = transforms.counts2offsets_form(branches[f"{prefix}_n"])
            output[prefix] = zip_forms(fields, prefix, behaviour, offsets=offsets)
        if jagged:  # a record of the branches as they are, each with its own offsets
            output["jagged"] = {
                "class": "RecordArray",
                "fields": list(jagged),
                "contents": list(jagged.values()),
                "form_key": quote("!invalid,jagged"),
            }
        self._form["fields"] = list(output)
        self._form["contents"] = list(output.values())

    @classmethod
    def behavior(cls) -> dict[Any, Any]:
        """Behaviours of this schema: coffea's base and vector behaviours."""
        from coffea.nanoevents.methods import base, vector

        behavior: dict[Any, Any] = {}
        behavior.update(base.behavior)
        behavior.update(vector.behavior)
        return behavior


def check_counts(events: ak.Array, branches: Iterable[str]) -> None:
    """Check that every jagged branch in ``branches`` has, in every event, as many entries as its counter says.

    ``events`` are read with :class:`MiniSchema`; ``branches`` are file branch names (``lep_pt``), each checked
    against ``<prefix>_n``.

    Raises:
        BranchLengthError: naming the file, the branch and the first entry where they disagree.

    Example:
        >>> from coffea.nanoevents import NanoEventsFactory
        >>> path = "tests/data/atlas/Data/data_A.4lep.root"
        >>> events = NanoEventsFactory.from_root(
        ...     {path: "mini"}, schemaclass=MiniSchema, metadata={"filename": path}, mode="eager"
        ... ).events()
        >>> check_counts(events, ["lep_pt", "lep_type"])
        >>> check_counts(events, ["lep_truthMatched"])
        Traceback (most recent call last):
        ...
        processors.schema.BranchLengthError: tests/.../data_A.4lep.root: branch 'lep_truthMatched' has 0 entries in ...
    """
    stored = ak.to_layout(events.jagged)  # the record of the branches as stored, each with its own offsets
    counts: dict[str, np.ndarray] = {}
    for branch in branches:
        counter = f"{branch.partition('_')[0]}_n"
        if counter not in counts:
            counts[counter] = np.asarray(events[counter], dtype=np.int64)
        expected = counts[counter]
        found = _lengths(stored.content(branch))
        bad = np.flatnonzero(found != expected)
        if bad.size:
            k = int(bad[0])
            metadata = getattr(events, "metadata", None) or {}
            where = metadata.get("filename", "input file")
            entry = int(metadata.get("entrystart", 0)) + k
            raise BranchLengthError(
                f"{where}: branch '{branch}' has {found[k]} entries in entry {entry} where '{counter}' says "
                f"{expected[k]}"
            )


def _lengths(lists: ak.contents.Content) -> np.ndarray:
    """The number of entries of each list of a jagged layout: straight from its offsets (without a highlevel array
    per branch, which cost more than the comparison for a chunk of a few thousand events)."""
    if isinstance(lists, ak.contents.ListOffsetArray):
        return np.diff(np.asarray(lists.offsets.data))
    return np.asarray(ak.num(lists, axis=1))
