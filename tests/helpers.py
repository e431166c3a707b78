"""Hand-built events for the tests: leptons in GeV, written by uproot, read with the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from coffea.nanoevents import NanoEventsFactory

from processors.schema import MiniSchema

SCALE_FACTORS = ("scaleFactor_PILEUP", "scaleFactor_ELE", "scaleFactor_MUON", "scaleFactor_LepTRIGGER")


def lepton(
    pt: float,
    eta: float = 0.0,
    phi: float = 0.0,
    charge: int = 1,
    flavour: int = 11,
    *,
    ptcone30: float = 0.0,
    etcone20: float = 0.0,
    mass: float = 0.0,
) -> dict[str, Any]:
    """One lepton with pT in GeV (stored in MeV, as in the files)."""
    p = pt * np.cosh(eta)
    return {
        "pt": pt * 1000,
        "eta": eta,
        "phi": phi,
        "E": np.hypot(p, mass) * 1000,
        "charge": charge,
        "type": flavour,
        "ptcone30": ptcone30 * 1000,
        "etcone20": etcone20 * 1000,
    }


def good_event(**changes: Any) -> dict[str, Any]:
    """A four-lepton event (e+ e- mu+ mu-) that passes every cut of the default preset."""
    event = {
        "leptons": [
            lepton(50, 0.1, 0.0, +1, 11),
            lepton(40, -0.5, 2.0, -1, 11),
            lepton(30, 1.0, -2.0, +1, 13),
            lepton(20, -1.5, 1.0, -1, 13),
        ],
        "trigE": True,
        "trigM": False,
        "mcWeight": 1.0,
    }
    event.update(changes)
    return event


def read_events(path: Path, metadata: dict[str, Any] | None = None) -> ak.Array:
    """Read a ``mini`` tree with the project's schema, as the processor sees it."""
    meta = {"dataset": "hand", "role": "data"} | (metadata or {})
    return NanoEventsFactory.from_root(
        {str(path): "mini"}, schemaclass=MiniSchema, metadata=meta, mode="eager"
    ).events()
