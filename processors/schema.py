"""NanoEvents schema for the ATLAS Open Data 2020 ``mini`` tree.

The flat ``mini`` tree stores one branch per object attribute (``lep_pt``, ``lep_eta``,
...). :class:`MiniSchema` groups the jagged branches of each object prefix into one
collection, so that analysis code reads ``events.lep.pt`` instead of ``events.lep_pt``.
``lep`` and ``jet`` carry ``PtEtaPhiELorentzVector`` behaviour (``lep_E`` becomes
``energy``); everything else stays a top-level field.

Units are those of the file: MeV for momenta and energies.

Example:
    >>> from coffea.nanoevents import NanoEventsFactory
    >>> events = NanoEventsFactory.from_root(
    ...     {"mc_345060.ggH125_ZZ4lep.4lep.root": "mini"}, schemaclass=MiniSchema
    ... ).events()  # doctest: +SKIP
    >>> (events.lep.sum(axis=1).mass / 1000.0)  # m4l in GeV  # doctest: +SKIP

Pitfall: the lepton flavour is ``events.lep["type"]`` — ``events.lep.type`` is the
awkward type of the array.
"""

from __future__ import annotations

from typing import Any, ClassVar

from coffea.nanoevents.schemas.base import BaseSchema, zip_forms

__all__ = ["COLLECTIONS", "MiniSchema"]

#: Object prefixes grouped into collections, and the record behaviour each one gets.
COLLECTIONS: dict[str, str | None] = {
    "lep": "PtEtaPhiELorentzVector",
    "jet": "PtEtaPhiELorentzVector",
    "photon": "PtEtaPhiELorentzVector",
    "tau": "PtEtaPhiELorentzVector",
    "largeRjet": "PtEtaPhiELorentzVector",
}

_RENAME = {"E": "energy"}


class MiniSchema(BaseSchema):
    """Group ``<prefix>_<attr>`` jagged branches of the ``mini`` tree into collections."""

    __dask_capable__ = True
    collections: ClassVar[dict[str, str | None]] = COLLECTIONS

    def __init__(self, base_form: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(base_form, *args, **kwargs)
        branches = dict(zip(self._form["fields"], self._form["contents"], strict=True))
        output: dict[str, Any] = {}
        grouped: dict[str, dict[str, Any]] = {name: {} for name in self.collections}
        for name, form in branches.items():
            prefix, _, attr = name.partition("_")
            if prefix in grouped and attr and form["class"].startswith("ListOffsetArray"):
                grouped[prefix][_RENAME.get(attr, attr)] = form
            else:
                output[name] = form
        for prefix, fields in grouped.items():
            if not fields:
                continue
            behaviour = self.collections[prefix]
            if behaviour is not None and not {"pt", "eta", "phi", "energy"} <= fields.keys():
                behaviour = None
            output[prefix] = zip_forms(fields, prefix, behaviour)
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
