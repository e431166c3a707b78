"""An independent, plain per-event Python implementation of the selection and weights.

It reads the ROOT files with uproot into Python lists and applies the cuts event by event,
with no awkward, coffea or project code involved, so the processor can be checked against it.
It reads both layouts of the jagged branches (the real files' ``std::vector`` and uproot's counted
arrays) and counts leptons by the length of ``lep_pt`` itself, not by ``lep_n``.

Presets: ``default``, ``tutorial`` (no trigger, no etcone20 isolation) and ``outreach`` (the ATLAS
outreach notebook: at least four leptons, the first four with charges summing to 0 and types summing
to 44, 48 or 52; m4l of those four).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import uproot

BRANCHES = [
    "trigE",
    "trigM",
    "mcWeight",
    "scaleFactor_PILEUP",
    "scaleFactor_ELE",
    "scaleFactor_MUON",
    "scaleFactor_LepTRIGGER",
    "lep_pt",
    "lep_eta",
    "lep_phi",
    "lep_E",
    "lep_charge",
    "lep_type",
    "lep_ptcone30",
    "lep_etcone20",
]


PRESETS = ("default", "tutorial", "outreach")


def outreach_cuts(ev: dict[str, Any]) -> list[str]:
    """The outreach notebook's cuts on the first four leptons."""
    if len(ev["lep_pt"]) < 4:
        return []
    if sum(ev["lep_type"][:4]) not in (44, 48, 52):
        return ["four_leptons"]
    if sum(ev["lep_charge"][:4]) != 0:
        return ["four_leptons", "flavour"]
    return ["four_leptons", "flavour", "charge"]


def event_cuts(ev: dict[str, Any], preset: str) -> list[str]:
    """Names of the cuts passed in order, stopping at the first failure."""
    if preset == "outreach":
        return outreach_cuts(ev)
    tutorial = preset == "tutorial"
    passed = []
    n = len(ev["lep_pt"])
    if not tutorial:
        if not (ev["trigE"] or ev["trigM"]):
            return passed
        passed.append("trigger")
    if n != 4:
        return passed
    passed.append("four_leptons")
    if not (max(ev["lep_pt"]) > 20000 and min(ev["lep_pt"]) > 7000 and all(abs(e) < 2.5 for e in ev["lep_eta"])):
        return passed
    passed.append("kinematics")
    if sum(ev["lep_type"]) not in (44, 48, 52):
        return passed
    passed.append("flavour")
    # the files hold float32, and the tutorial divided and compared in float32 (numpy casts the Python 0.3)
    cut = np.float32(0.3)
    for pt, ptc, etc in zip(ev["lep_pt"], ev["lep_ptcone30"], ev["lep_etcone20"], strict=True):
        pt32 = np.float32(pt)
        if not np.float32(ptc) / pt32 < cut or (not tutorial and not np.float32(etc) / pt32 < cut):
            return passed
    passed.append("isolation")
    if sum(ev["lep_charge"]) != 0:
        return passed
    passed.append("charge")
    return passed


def mass(ev: dict[str, Any]) -> float:
    """m4l in GeV of the first four leptons, from (pT, eta, phi, E) in MeV."""
    pts, etas, phis = ev["lep_pt"][:4], ev["lep_eta"][:4], ev["lep_phi"][:4]
    px = sum(pt * math.cos(phi) for pt, phi in zip(pts, phis, strict=True))
    py = sum(pt * math.sin(phi) for pt, phi in zip(pts, phis, strict=True))
    pz = sum(pt * math.sinh(eta) for pt, eta in zip(pts, etas, strict=True))
    e = sum(ev["lep_E"][:4])
    return math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0)) / 1000


def weight(ev: dict[str, Any], meta: dict[str, Any], lumi_fb: float) -> float:
    if meta["role"] == "data":
        return 1.0
    w = lumi_fb * 1000 * meta["xsec"] / (meta["sumw"] * meta["red_eff"]) * ev["mcWeight"]
    for sf in ("scaleFactor_PILEUP", "scaleFactor_ELE", "scaleFactor_MUON", "scaleFactor_LepTRIGGER"):
        w *= ev[sf]
    return w


def reference(fileset: dict[str, Any], preset: str, lumi_fb: float, bins: tuple[int, float, float]) -> dict:
    """{dataset: {"values", "variances" (lists per bin), "cutflow" {cut: events}, "weighted" {cut: sum},
    "selected": [m4l of every selected event, in file order]}}."""
    assert preset in PRESETS, preset
    nbins, lo, hi = bins
    out = {}
    for name, entry in fileset.items():
        values, variances = [0.0] * nbins, [0.0] * nbins
        cutflow: dict[str, int] = {"all": 0}
        weighted: dict[str, float] = {"all": 0.0}
        selected: list[float] = []
        for path, tree in entry["files"].items():
            arrays = uproot.open(path)[tree].arrays(BRANCHES, library="np")
            for i in range(len(arrays["trigE"])):
                ev = {b: (arrays[b][i].tolist() if hasattr(arrays[b][i], "tolist") else arrays[b][i]) for b in BRANCHES}
                w = weight(ev, entry["metadata"], lumi_fb)
                cutflow["all"] += 1
                weighted["all"] += w
                passed = event_cuts(ev, preset)
                for cut in passed:
                    cutflow[cut] = cutflow.get(cut, 0) + 1
                    weighted[cut] = weighted.get(cut, 0.0) + w
                if passed and passed[-1] == "charge":
                    m = mass(ev)
                    selected.append(m)
                    if lo <= m < hi:
                        k = int((m - lo) / (hi - lo) * nbins)
                        values[k] += w
                        variances[k] += w * w
        out[name] = {
            "values": values,
            "variances": variances,
            "cutflow": cutflow,
            "weighted": weighted,
            "selected": selected,
        }
    return out
