"""An independent, plain per-event Python implementation of the selection, the Z pairing, the weights and
the systematic variations.

It reads the ROOT files with uproot into Python lists and applies the cuts event by event, with no awkward,
coffea or project code involved, so the processor can be checked against it. It reads both layouts of the
jagged branches (the real files' ``std::vector`` and uproot's counted arrays) and counts leptons by the length
of ``lep_pt`` itself, not by ``lep_n``.

Presets: ``default``; ``tutorial`` (no trigger, no etcone20 isolation); ``outreach`` (the ATLAS outreach
notebook: at least four leptons, the first four with charges summing to 0 and types summing to 44, 48 or 52;
m4l of those four); ``paper`` (``default`` plus the ATLAS paper's Z1/Z2 mass windows, Delta R and J/psi veto).

Variations (simulation): ``lep_scale_up``/``down`` move every lepton pT by +-``lep_pt_syst`` (stored back as
float32, as a file would) and scale E with it, then select again; ``ele_eff``/``mu_eff`` ``_up``/``_down``
multiply the weight by (1 +- 0.02)^electrons or (1 +- 0.01)^muons of the nominal selection.
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
    "lep_pt_syst",
]

PRESETS = ("default", "tutorial", "outreach", "paper")
MZ = 91.1876
EFFICIENCY = {"ele_eff": (11, 0.02), "mu_eff": (13, 0.01)}


def outreach_cuts(ev: dict[str, Any]) -> list[str]:
    """The outreach notebook's cuts on the first four leptons."""
    if len(ev["lep_pt"]) < 4:
        return []
    if sum(ev["lep_type"][:4]) not in (44, 48, 52):
        return ["four_leptons"]
    if sum(ev["lep_charge"][:4]) != 0:
        return ["four_leptons", "flavour"]
    return ["four_leptons", "flavour", "charge"]


def four_vector(ev: dict[str, Any], k: int) -> tuple[float, float, float, float]:
    """(E, px, py, pz) of lepton ``k`` in MeV."""
    pt, eta, phi = float(ev["lep_pt"][k]), float(ev["lep_eta"][k]), float(ev["lep_phi"][k])
    return float(ev["lep_E"][k]), pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)


def invariant_mass(ev: dict[str, Any], leptons: tuple[int, ...]) -> float:
    """Invariant mass in GeV of the sum of the given leptons."""
    e, px, py, pz = (sum(four_vector(ev, k)[c] for k in leptons) for c in range(4))
    return math.sqrt(max(e * e - px * px - py * py - pz * pz, 0.0)) / 1000


def sfos(ev: dict[str, Any], i: int, j: int) -> bool:
    return ev["lep_type"][i] == ev["lep_type"][j] and ev["lep_charge"][i] == -ev["lep_charge"][j]


def z_pairing(ev: dict[str, Any]) -> tuple[float, float] | None:
    """(m_Z1, m_Z2): of the three ways to split the four leptons into two pairs, those with two same-flavour
    opposite-charge pairs; Z1 is the pair closest to the Z mass among them, Z2 the other pair of its split. Ties go
    to the pair listed first in (0,1), (0,2), (0,3), (1,2), (1,3), (2,3). None if no such split exists."""
    order = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    best = None
    for first, second in (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))):
        if not (sfos(ev, *first) and sfos(ev, *second)):
            continue
        for z1, z2 in ((first, second), (second, first)):
            m1 = invariant_mass(ev, z1)
            key = (abs(m1 - MZ), order.index(z1))
            if best is None or key < best[0]:
                best = (key, m1, invariant_mass(ev, z2))
    return None if best is None else (best[1], best[2])


def paper_cuts(ev: dict[str, Any]) -> list[str]:
    """The paper's cuts after the default ones, in order, stopping at the first failure."""
    passed: list[str] = []
    pairing = z_pairing(ev)
    if pairing is None or not 50 < pairing[0] < 106:
        return passed
    passed.append("z1_mass")
    m4l = invariant_mass(ev, (0, 1, 2, 3))
    threshold = 12.0 if m4l <= 140 else 50.0 if m4l >= 190 else 12.0 + (m4l - 140.0) * 38.0 / 50.0
    if not threshold < pairing[1] < 115:
        return passed
    passed.append("z2_mass")
    for i in range(4):
        for j in range(i + 1, 4):
            d_eta = float(ev["lep_eta"][i]) - float(ev["lep_eta"][j])
            d_phi = float(ev["lep_phi"][i]) - float(ev["lep_phi"][j])
            while d_phi > math.pi:
                d_phi -= 2 * math.pi
            while d_phi < -math.pi:
                d_phi += 2 * math.pi
            minimum = 0.10 if ev["lep_type"][i] == ev["lep_type"][j] else 0.20
            if not math.sqrt(d_eta * d_eta + d_phi * d_phi) > minimum:
                return passed
    passed.append("delta_r")
    for i in range(4):
        for j in range(i + 1, 4):
            if sfos(ev, i, j) and not invariant_mass(ev, (i, j)) > 5.0:
                return passed
    passed.append("sfos_mass")
    return passed


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
    if preset == "paper":
        passed += paper_cuts(ev)
    return passed


def passes(passed: list[str], preset: str) -> bool:
    return bool(passed) and passed[-1] == ("sfos_mass" if preset == "paper" else "charge")


def mass(ev: dict[str, Any]) -> float:
    """m4l in GeV of the first four leptons, from (pT, eta, phi, E) in MeV."""
    return invariant_mass(ev, (0, 1, 2, 3))


def channel(ev: dict[str, Any]) -> str:
    electrons = sum(1 for t in ev["lep_type"][:4] if t == 11)
    return {4: "4e", 2: "2e2mu", 0: "4mu"}.get(electrons, f"{electrons}e{4 - electrons}mu")


def shifted(ev: dict[str, Any], sign: float) -> dict[str, Any]:
    """The event with every lepton pT moved by sign * lep_pt_syst (float32) and E scaled by the same ratio."""
    pts, energies = [], []
    for pt, syst, e in zip(ev["lep_pt"], ev["lep_pt_syst"], ev["lep_E"], strict=True):
        new = np.float32(float(pt) + sign * float(syst))
        pts.append(float(new))
        energies.append(float(np.float32(float(e) * float(new) / float(pt))))
    return ev | {"lep_pt": pts, "lep_E": energies}


def weight(ev: dict[str, Any], meta: dict[str, Any], lumi_fb: float) -> float:
    if meta["role"] == "data":
        return 1.0
    w = lumi_fb * 1000 * meta["xsec"] / (meta["sumw"] * meta["red_eff"]) * ev["mcWeight"]
    for sf in ("scaleFactor_PILEUP", "scaleFactor_ELE", "scaleFactor_MUON", "scaleFactor_LepTRIGGER"):
        w *= ev[sf]
    return w


class Filled:
    """Per-bin sums of weights and squared weights of one histogram."""

    def __init__(self, bins: tuple[int, float, float]) -> None:
        self.bins = bins
        self.values = [0.0] * bins[0]
        self.variances = [0.0] * bins[0]

    def fill(self, x: float, w: float) -> None:
        nbins, lo, hi = self.bins
        if lo <= x < hi:
            k = int((x - lo) / (hi - lo) * nbins)
            self.values[k] += w
            self.variances[k] += w * w


def reference(fileset: dict[str, Any], preset: str, lumi_fb: float, bins: tuple[int, float, float]) -> dict:
    """Per dataset: ``values``, ``variances`` (nominal m4l summed over channels, lists per bin), ``cutflow``
    ``{cut: events}``, ``weighted`` ``{cut: sum}``, ``selected`` (m4l of every selected event, in file order),
    ``channels`` ``{channel: values}``, ``variations`` ``{variation: values}`` (simulation only), ``z``
    ``[(m_Z1, m_Z2, weight)]`` of the selected events that pair."""
    assert preset in PRESETS, preset
    out = {}
    for name, entry in fileset.items():
        meta = entry["metadata"]
        nominal = Filled(bins)
        by_channel: dict[str, Filled] = {}
        by_variation: dict[str, Filled] = {}
        cutflow: dict[str, int] = {"all": 0}
        weighted: dict[str, float] = {"all": 0.0}
        selected: list[float] = []
        z: list[tuple[float, float, float]] = []
        for path, tree in entry["files"].items():
            arrays = uproot.open(path)[tree].arrays(BRANCHES, library="np")
            for i in range(len(arrays["trigE"])):
                ev = {b: (arrays[b][i].tolist() if hasattr(arrays[b][i], "tolist") else arrays[b][i]) for b in BRANCHES}
                w = weight(ev, meta, lumi_fb)
                cutflow["all"] += 1
                weighted["all"] += w
                passed = event_cuts(ev, preset)
                for cut in passed:
                    cutflow[cut] = cutflow.get(cut, 0) + 1
                    weighted[cut] = weighted.get(cut, 0.0) + w
                if meta["role"] != "data":
                    for sign, direction in ((1.0, "up"), (-1.0, "down")):
                        moved = shifted(ev, sign)
                        if passes(event_cuts(moved, preset), preset):
                            by_variation.setdefault(f"lep_scale_{direction}", Filled(bins)).fill(mass(moved), w)
                if not passes(passed, preset):
                    continue
                m = mass(ev)
                selected.append(m)
                nominal.fill(m, w)
                by_channel.setdefault(channel(ev), Filled(bins)).fill(m, w)
                pairing = z_pairing(ev)
                if pairing is not None:
                    z.append((*pairing, w))
                if meta["role"] != "data":
                    for variation, (flavour, uncertainty) in EFFICIENCY.items():
                        count = sum(1 for t in ev["lep_type"][:4] if t == flavour)
                        for sign, direction in ((1.0, "up"), (-1.0, "down")):
                            factor = (1.0 + sign * uncertainty) ** count
                            by_variation.setdefault(f"{variation}_{direction}", Filled(bins)).fill(m, w * factor)
        out[name] = {
            "values": nominal.values,
            "variances": nominal.variances,
            "cutflow": cutflow,
            "weighted": weighted,
            "selected": selected,
            "channels": {c: f.values for c, f in by_channel.items()},
            "variations": {v: f.values for v, f in by_variation.items()},
            "z": z,
        }
    return out
