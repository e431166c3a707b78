"""Synthetic ATLAS-Open-Data-like ``4lep`` samples for development, tests, notebooks and benchmarks.

``generate_demo`` writes one ROOT file per dataset of :mod:`analysis.samples` (named as in
the release, tree ``mini``, momenta in MeV, the release's branch names and element types)
plus ``fileset.json`` beside them, with the metadata of ``samples.json``.

The physics is built to be believable for the selection and the fit:

* genuine four-lepton events (Higgs at 125 GeV with a 2 GeV experimental width; ZZ with the
  Z->4l peak, a low-mass continuum and the on-shell ZZ rise above 182 GeV) are decayed
  Z1 Z2 -> 4 leptons in their rest frame and boosted, so m4l is exact;
* reducible backgrounds (Z+jets, ttbar, ZZ->llvv, ZZ->qqll) have two prompt leptons and
  two soft, mostly non-isolated fake leptons of random charge and flavour;
* some events carry a fifth lepton, a few per mille fail the trigger, some samples have
  negative weights;
* ``mcWeight`` is calibrated so that the expected weighted yield of each file at 10 fb^-1 is
  fixed whatever ``scale`` is; ``data`` is drawn from the same generators with Poisson
  counts of the expected yields times the true scale factors recorded in the fileset
  (``metadata.truth`` of ``data``).

The files carry the real ``mini`` tree's 81 branches in the real order with the real element types
(:data:`MINI_BRANCHES`, read off the shipped real files), and the traps of the real format: in data the
truth branches (``lep_truthMatched``, ``jet_truthMatched``, ``jet_trueflav``) are empty in every event,
``mcWeight`` and the scale factors are 0 and ``XSection``/``SumWeights`` are 1; some events have five
leptons. What uproot cannot write differs from the real files: jagged branches are counted C arrays
(``lep_pt[lep_n]``) rather than ``std::vector``, counters are ``Int_t`` rather than ``UInt_t``, and the
empty truth branches of data need counters of their own (``lep_truthMatched_n``, ...). The shipped
real files (``tests/data/atlas``) cover the ``std::vector`` layout in the tests.

Example:
    >>> path = generate_demo("demo", scale=0.01, seed=1)
    >>> path.name
    'fileset.json'
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from analysis.errors import HZZ4lError
from analysis.inputs import SYNTHETIC_KEY
from analysis.outputs import check_output, publish
from analysis.samples import DATA_PERIODS, SAMPLES, data_filename
from processors.kinematics import ELECTRON, M_Z, MEV_PER_GEV, MUON
from processors.weights import normalisation

__all__ = [
    "DEMO_PROCESSES",
    "GENERATOR_VERSION",
    "MAX_SCALE",
    "MINI_BRANCHES",
    "DemoError",
    "DemoProcess",
    "default_demo",
    "generate_demo",
]

GENERATOR_VERSION = 5  # 5: every file carries analysis.inputs.SYNTHETIC_KEY
LUMI_FB = 10.0
M_H = 125.0
BLOCK = 250_000  # events generated at a time, bounds memory at large scale
BASKET = 10_000  # events per basket: ROOT's default 32 kB baskets hold a few thousand events
MAX_SCALE = 100.0  # 8 million simulated events, about 0.5 GB of files


class DemoError(HZZ4lError, ValueError):
    """Demo settings that cannot be used."""


@dataclass(frozen=True)
class DemoProcess:
    """How one sample is generated.

    ``kind``: ``higgs``, ``zz`` (genuine 4l) or ``fakes`` (2 prompt + 2 fake leptons);
    ``events``: simulated events at ``scale=1``; ``skim_yield``: expected weighted events in
    the file at 10 fb^-1; ``extra_lepton``: fraction with a fifth lepton; ``negative``:
    fraction of negative ``mcWeight``; ``prompt``: origin of the prompt pair (``Z`` or ``W``).
    """

    kind: str
    events: int
    skim_yield: float
    extra_lepton: float = 0.008
    negative: float = 0.0
    prompt: str = "Z"


DEMO_PROCESSES: dict[str, DemoProcess] = {
    "Zee": DemoProcess("fakes", 898, 200.0, negative=0.03),
    "Zmumu": DemoProcess("fakes", 684, 200.0, negative=0.03),
    "ttbar_lep": DemoProcess("fakes", 1031, 85.0, prompt="W"),
    "llll": DemoProcess("zz", 40_000, 280.0, negative=0.01),
    "llvv": DemoProcess("fakes", 2000, 5.0),
    "ZqqZll": DemoProcess("fakes", 2000, 10.0, negative=0.05),
    "ggH125_ZZ4lep": DemoProcess("higgs", 20_000, 10.0),
    "WH125_ZZ4lep": DemoProcess("higgs", 3000, 0.25, extra_lepton=0.17),
    "VBFH125_ZZ4lep": DemoProcess("higgs", 8000, 0.85),
    "ZH125_ZZ4lep": DemoProcess("higgs", 3000, 0.0018, extra_lepton=0.16),
}

_F, _I, _U, _B = "f4", "i4", "u4", "?"

#: The real ``mini`` tree: ``(branch, element dtype, jagged)`` in the files' order (read off the release's files).
MINI_BRANCHES: tuple[tuple[str, str, bool], ...] = (
    *((name, _I, False) for name in ("runNumber", "eventNumber", "channelNumber")),
    ("mcWeight", _F, False),
    *((f"scaleFactor_{sf}", _F, False) for sf in ("PILEUP", "ELE", "MUON", "PHOTON", "TAU", "BTAG", "LepTRIGGER")),
    ("scaleFactor_PhotonTRIGGER", _F, False),
    *((name, _B, False) for name in ("trigE", "trigM", "trigP")),
    ("lep_n", _U, False),
    *((f"lep_{a}", _B, True) for a in ("truthMatched", "trigMatched")),
    *((f"lep_{a}", _F, True) for a in ("pt", "eta", "phi", "E", "z0")),
    ("lep_charge", _I, True),
    ("lep_type", _U, True),
    ("lep_isTightID", _B, True),
    *((f"lep_{a}", _F, True) for a in ("ptcone30", "etcone20", "trackd0pvunbiased", "tracksigd0pvunbiased")),
    *((f"met_{a}", _F, False) for a in ("et", "phi")),
    ("jet_n", _U, False),
    *((f"jet_{a}", _F, True) for a in ("pt", "eta", "phi", "E", "jvt")),
    ("jet_trueflav", _I, True),
    ("jet_truthMatched", _B, True),
    ("jet_MV2c10", _F, True),
    ("photon_n", _U, False),
    *((f"photon_{a}", _B, True) for a in ("truthMatched", "trigMatched")),
    *((f"photon_{a}", _F, True) for a in ("pt", "eta", "phi", "E")),
    ("photon_isTightID", _B, True),
    *((f"photon_{a}", _F, True) for a in ("ptcone30", "etcone20")),
    ("photon_convType", _I, True),
    ("tau_n", _U, False),
    *((f"tau_{a}", _F, True) for a in ("pt", "eta", "phi", "E")),
    *((f"tau_{a}", _B, True) for a in ("isTightID", "truthMatched", "trigMatched")),
    ("tau_nTracks", _I, True),
    ("tau_BDTid", _F, True),
    ("ditau_m", _F, False),
    ("lep_pt_syst", _F, True),
    ("met_et_syst", _F, False),
    *((f"{o}_pt_syst", _F, True) for o in ("jet", "photon", "tau")),
    *((name, _F, False) for name in ("XSection", "SumWeights")),
    ("largeRjet_n", _U, False),
    *((f"largeRjet_{a}", _F, True) for a in ("pt", "eta", "phi", "E", "m", "truthMatched", "D2", "tau32", "pt_syst")),
    ("tau_charge", _I, True),
)

#: Branches filled only in simulation: empty vectors in every data event of the release.
TRUTH_BRANCHES = ("lep_truthMatched", "jet_truthMatched", "jet_trueflav")

# ---------------------------------------------------------------- kinematics (GeV, numpy)


def _boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-vectors ``p4[..., (E, px, py, pz)]`` by velocity ``beta[..., 3]``."""
    b2 = np.sum(beta**2, axis=-1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p4[..., 1:], axis=-1, keepdims=True)
    gamma2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    energy = gamma * (p4[..., :1] + bp)
    momentum = p4[..., 1:] + gamma2 * bp * beta + gamma * beta * p4[..., :1]
    return np.concatenate([energy, momentum], axis=-1)


def _isotropic(rng: np.random.Generator, n: int) -> np.ndarray:
    cos_theta = rng.uniform(-1, 1, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    sin_theta = np.sqrt(1 - cos_theta**2)
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=-1)


def _two_body(
    rng: np.random.Generator, mass: np.ndarray, m1: np.ndarray, m2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic decay at rest of ``mass`` into daughters of ``m1``, ``m2``; returns their four-vectors."""
    p = np.sqrt(np.clip((mass**2 - (m1 + m2) ** 2) * (mass**2 - (m1 - m2) ** 2), 0, None)) / (2 * mass)
    direction = _isotropic(rng, len(mass)) * p[:, None]
    d1 = np.concatenate([np.sqrt(p**2 + m1**2)[:, None], direction], axis=-1)
    d2 = np.concatenate([np.sqrt(p**2 + m2**2)[:, None], -direction], axis=-1)
    return d1, d2


def _lab_boost(rng: np.random.Generator, p4: np.ndarray, mass: np.ndarray, mean_pt: float) -> np.ndarray:
    """Give systems at rest (``p4[:, k, :]`` daughters) a transverse momentum and a rapidity."""
    n = len(mass)
    pt = rng.exponential(mean_pt, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    rapidity = rng.normal(0, 1.2, n)
    mt = np.sqrt(mass**2 + pt**2)
    energy = mt * np.cosh(rapidity)
    beta = np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rapidity)], axis=-1) / energy[:, None]
    return _boost(p4, beta[:, None, :])


def _z_pair(rng: np.random.Generator, mass: np.ndarray) -> np.ndarray:
    """Massless lepton pairs from systems of ``mass`` at rest: shape (n, 2, 4)."""
    zero = np.zeros_like(mass)
    l1, l2 = _two_body(rng, mass, zero, zero)
    return np.stack([l1, l2], axis=1)


def _four_lepton_masses(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "higgs":
        return rng.normal(M_H, 2.0, n)
    component = rng.choice(3, size=n, p=[0.18, 0.27, 0.55])
    peak = rng.normal(M_Z, 2.2, n)
    continuum = rng.uniform(75.0, 2 * M_Z, n)
    on_shell = 2 * M_Z - 3.0 + rng.gamma(1.5, 30.0, n)
    return np.choose(component, [peak, continuum, on_shell])


def _genuine_four_leptons(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Four prompt leptons from X -> Z1 Z2 -> 4l, shape (n, 4, 4) as (E, px, py, pz)."""
    m4l = _four_lepton_masses(rng, kind, n)
    on_shell_z1 = m4l > M_Z + 16.0
    m12 = np.where(on_shell_z1, np.clip(rng.normal(M_Z, 2.5, n), 60.0, m4l - 14.0), m4l * rng.uniform(0.5, 0.8, n))
    both_on_shell = m4l > 2 * M_Z + 1.0
    room = m4l - m12
    m34 = np.where(
        both_on_shell,
        np.clip(rng.normal(M_Z, 2.5, n), 12.0, room - 0.5),
        np.maximum(rng.uniform(0.3, 0.97, n) * room, np.minimum(4.0, 0.5 * room)),
    )
    z1, z2 = _two_body(rng, m4l, m12, m34)
    leptons = np.concatenate(
        [
            _boost(_z_pair(rng, m12), (z1[:, 1:] / z1[:, :1])[:, None, :]),
            _boost(_z_pair(rng, m34), (z2[:, 1:] / z2[:, :1])[:, None, :]),
        ],
        axis=1,
    )
    return _lab_boost(rng, leptons, m4l, 25.0 if kind == "higgs" else 15.0)


def _prompt_pair(rng: np.random.Generator, origin: str, n: int) -> np.ndarray:
    """Two prompt leptons: from a Z (boosted pair) or from two independent W decays."""
    if origin == "Z":
        mass = np.clip(rng.normal(M_Z, 2.5, n), 60.0, 120.0)
        return _lab_boost(rng, _z_pair(rng, mass), mass, 25.0)
    pt = 15.0 + rng.exponential(30.0, (n, 2))
    return _massless(rng, pt, rng.normal(0, 1.3, (n, 2)))


def _massless(rng: np.random.Generator, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    phi = rng.uniform(-np.pi, np.pi, pt.shape)
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def _soft_leptons(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``k`` soft leptons per event (fakes, extra leptons), shape (n, k, 4)."""
    return _massless(rng, 5.0 + rng.exponential(10.0, (n, k)), rng.uniform(-2.7, 2.7, (n, k)))


def _pt_eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(p4[..., 1], p4[..., 2])
    return pt, np.arcsinh(p4[..., 3] / pt), np.arctan2(p4[..., 2], p4[..., 1])


# ---------------------------------------------------------------- events


def _leptons(rng: np.random.Generator, proc: DemoProcess, n: int) -> dict[str, np.ndarray]:
    """Per-lepton arrays of shape (n, 5) (fifth lepton slot masked by ``valid``), in GeV."""
    if proc.kind == "fakes":
        p4 = np.concatenate([_prompt_pair(rng, proc.prompt, n), _soft_leptons(rng, n, 2)], axis=1)
        prompt = np.array([True, True, False, False])
        pair_flavour = rng.choice([ELECTRON, MUON], size=(n, 1))
        if proc.prompt == "Z":
            flavour = np.concatenate([np.repeat(pair_flavour, 2, axis=1), rng.choice([ELECTRON, MUON], (n, 2))], axis=1)
        else:
            flavour = rng.choice([ELECTRON, MUON], size=(n, 4))
        charge = np.concatenate([np.tile([1, -1], (n, 1)), rng.choice([-1, 1], (n, 2))], axis=1)
    else:
        p4 = _genuine_four_leptons(rng, proc.kind, n)
        prompt = np.ones(4, dtype=bool)
        flavour = np.repeat(rng.choice([ELECTRON, MUON], size=(n, 2)), 2, axis=1)
        charge = np.tile([1, -1, 1, -1], (n, 1))
    p4 = np.concatenate([p4, _soft_leptons(rng, n, 1)], axis=1)
    flavour = np.concatenate([flavour, rng.choice([ELECTRON, MUON], (n, 1))], axis=1)
    charge = np.concatenate([charge, rng.choice([-1, 1], (n, 1))], axis=1)
    is_prompt = np.broadcast_to(np.append(prompt, False), (n, 5))
    valid = np.ones((n, 5), dtype=bool)
    valid[:, 4] = rng.random(n) < proc.extra_lepton
    pt, eta, phi = _pt_eta_phi(p4)
    return {
        "pt": pt,
        "eta": eta,
        "phi": phi,
        "E": p4[..., 0],
        "charge": charge,
        "type": flavour,
        "prompt": is_prompt,
        "valid": valid,
    }


def _skim(lep: dict[str, np.ndarray]) -> np.ndarray:
    """The release's skim, loosened so that the analysis cuts still bite: >= 4 leptons with
    pT > 5 GeV and |eta| < 2.7, the leading one above 15 GeV."""
    accepted = lep["valid"] & (lep["pt"] > 5.0) & (np.abs(lep["eta"]) < 2.7)
    enough = np.sum(accepted, axis=1) == np.sum(lep["valid"], axis=1)
    return np.asarray(enough & (np.max(np.where(lep["valid"], lep["pt"], 0), axis=1) > 15.0))


def _isolation(rng: np.random.Generator, prompt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative isolation (ptcone30/pT, etcone20/pT): prompt leptons isolated, fakes mostly not."""
    shape = prompt.shape
    loose = rng.random(shape) < 0.015
    pt_rel = np.where(prompt & ~loose, rng.exponential(0.03, shape), rng.exponential(0.6, shape))
    et_rel = np.where(prompt & ~loose, rng.normal(0.02, 0.05, shape), 0.5 * pt_rel + rng.exponential(0.2, shape))
    return pt_rel, et_rel


def _simulate(rng: np.random.Generator, proc: DemoProcess, n: int) -> dict[str, Any]:
    """``n`` skimmed events of ``proc``: jagged leptons and jets, triggers, MET (MeV)."""
    chunks: list[dict[str, np.ndarray]] = []
    have = 0
    while have < n:
        lep = _leptons(rng, proc, max(64, int(1.3 * (n - have))))
        keep = _skim(lep)
        chunks.append({k: v[keep] for k, v in lep.items()})
        have += int(keep.sum())
    lep = {k: np.concatenate([c[k] for c in chunks])[:n] for k in chunks[0]}

    order = np.argsort(np.where(lep["valid"], -lep["pt"], np.inf), axis=1, kind="stable")
    lep = {k: np.take_along_axis(v, order, axis=1) for k, v in lep.items()}
    counts = lep["valid"].sum(axis=1)
    flat = {k: v[lep["valid"]] for k, v in lep.items()}
    m = len(flat["pt"])
    pt_rel, et_rel = _isolation(rng, flat["prompt"])

    def jag(values: np.ndarray, dtype: str) -> ak.Array:
        return ak.unflatten(np.asarray(values, dtype=dtype), counts)

    leptons = {
        "pt": jag(flat["pt"] * MEV_PER_GEV, "f4"),
        "eta": jag(flat["eta"], "f4"),
        "phi": jag(flat["phi"], "f4"),
        "E": jag(flat["E"] * MEV_PER_GEV, "f4"),
        "z0": jag(rng.normal(0, 0.05, m), "f4"),
        "charge": jag(flat["charge"], "i4"),
        "type": jag(flat["type"], "u4"),
        "ptcone30": jag(pt_rel * flat["pt"] * MEV_PER_GEV, "f4"),
        "etcone20": jag(et_rel * flat["pt"] * MEV_PER_GEV, "f4"),
        "trackd0pvunbiased": jag(rng.normal(0, 0.01, m), "f4"),
        "tracksigd0pvunbiased": jag(np.abs(rng.normal(0, 1.0, m)), "f4"),
        "pt_syst": jag(0.01 * flat["pt"] * MEV_PER_GEV, "f4"),
        "isTightID": jag(np.where(flat["prompt"], rng.random(m) < 0.97, rng.random(m) < 0.5), "?"),
        "truthMatched": jag(flat["prompt"], "?"),
        "trigMatched": jag(flat["pt"] > 27.0, "?"),
    }
    lead_flavour = lep["type"][:, 0]
    has_e = np.any(lep["valid"] & (lep["type"] == ELECTRON) & (lep["pt"] > 25.0), axis=1) | (lead_flavour == ELECTRON)
    has_mu = np.any(lep["valid"] & (lep["type"] == MUON) & (lep["pt"] > 25.0), axis=1) | (lead_flavour == MUON)
    fired = rng.random(n) > 0.003

    n_jets = rng.poisson(2.5 if proc.prompt == "W" else 1.2, n)
    j = int(n_jets.sum())
    jet_pt = (25.0 + rng.exponential(30.0, j)) * MEV_PER_GEV
    jet_eta = rng.uniform(-2.5, 2.5, j)
    b_like = rng.random(j) < (0.5 if proc.prompt == "W" else 0.1)
    jets = {
        "pt": jet_pt,
        "eta": jet_eta,
        "phi": rng.uniform(-np.pi, np.pi, j),
        "E": 1.02 * jet_pt * np.cosh(jet_eta),
        "jvt": rng.uniform(0.5, 1.0, j),
        "trueflav": np.where(b_like, 5, 0),
        "truthMatched": rng.random(j) < 0.9,
        "MV2c10": np.where(b_like, rng.uniform(0.6, 1.0, j), rng.uniform(-1.0, 0.7, j)),
        "pt_syst": 0.02 * jet_pt,
    }
    jet_types = {"trueflav": "i4", "truthMatched": "?"}
    return {
        "lep_n": counts,
        "lep": leptons,
        "jet_n": n_jets,
        "jet": {k: ak.unflatten(np.asarray(v, dtype=jet_types.get(k, "f4")), n_jets) for k, v in jets.items()},
        "trigE": has_e & fired,
        "trigM": has_mu & fired,
        "trigP": np.zeros(n, dtype=bool),
        "met_et": rng.exponential(60.0 if proc.prompt == "W" else 15.0, n).astype("f4") * MEV_PER_GEV,
        "met_phi": rng.uniform(-np.pi, np.pi, n).astype("f4"),
        "met_et_syst": np.where(rng.random(n) < 0.3, 0.0, rng.exponential(8.0, n) * MEV_PER_GEV).astype("f4"),
    }


# ---------------------------------------------------------------- files

_SCALE_FACTORS = ("PILEUP", "ELE", "MUON", "PHOTON", "TAU", "BTAG", "LepTRIGGER", "PhotonTRIGGER")


def _branches(block: dict[str, Any]) -> dict[str, Any]:
    """Every branch of :data:`MINI_BRANCHES` from a block of events: collections (``block["lep"]``) become
    ``lep_<attribute>`` branches; branches the generator does not model (photons, taus, large-R jets: none in
    the release's 4-lepton files) are zeros or empty lists, as in the real files."""
    n = len(block["trigE"])
    flat: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, dict):
            flat |= {f"{key}_{field}": array for field, array in value.items()}
        else:
            flat[key] = value
    out: dict[str, Any] = {}
    for name, dtype, jagged in MINI_BRANCHES:
        if name in flat:
            out[name] = flat[name] if jagged else np.asarray(flat[name], dtype=dtype)
        elif jagged:
            out[name] = ak.unflatten(np.zeros(0, dtype=dtype), np.zeros(n, dtype=np.int64))
        else:
            out[name] = np.zeros(n, dtype=dtype)
    return out


def _write(path: Path, blocks: list[dict[str, Any]]) -> None:
    """Write event blocks to ``path`` as tree ``mini`` with the branches of :data:`MINI_BRANCHES`, in their order,
    in baskets of ``BASKET`` events like the real files. A jagged branch is counted by its object's counter
    (``lep_n``) unless its lengths disagree with it (the empty truth branches of data): it then gets a counter of
    its own (``lep_truthMatched_n``)."""
    with uproot.recreate(path) as f:
        tree = None
        for block in blocks:
            branches = _branches(block)
            # counters are written by uproot from the jagged branches (in place of the scalar named like them)
            columns = {name: array for name, array in branches.items() if not name.endswith("_n")}
            if tree is None:
                counters = {}
                for name, array in columns.items():
                    counter = f"{name.partition('_')[0]}_n"
                    if isinstance(array, ak.Array):
                        counters[name] = counter if ak.all(ak.num(array) == branches[counter]) else f"{name}_n"
                types = {
                    name: array.type.content if isinstance(array, ak.Array) else array.dtype
                    for name, array in branches.items()
                }
                tree = f.mktree("mini", types, counter_name=counters.__getitem__)
            n = len(columns["trigE"])
            for start in range(0, max(n, 1), BASKET):  # one extend writes one basket per branch
                tree.extend({k: v[start : start + BASKET] for k, v in columns.items()})
        f[SYNTHETIC_KEY] = "synthetic events generated by hzz4l demo: not ATLAS data"


def _mc_blocks(rng: np.random.Generator, name: str, n: int) -> list[dict[str, Any]]:
    sample, proc = SAMPLES[name], DEMO_PROCESSES[name]
    norm = normalisation(LUMI_FB, sample.xsec, sample.sumw, sample.red_eff)
    magnitude = proc.skim_yield / (norm * n * (1.0 - 2.0 * proc.negative))
    blocks = []
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        ev = _simulate(rng, proc, size)
        sign = np.where(rng.random(size) < proc.negative, -1.0, 1.0)
        ev["mcWeight"] = (magnitude * sign * rng.uniform(0.8, 1.2, size)).astype("f4")
        for sf in _SCALE_FACTORS:
            used = sf in ("PILEUP", "ELE", "MUON", "LepTRIGGER")
            ev[f"scaleFactor_{sf}"] = (rng.normal(1.0, 0.02, size) if used else np.ones(size)).astype("f4")
        ev |= {"runNumber": np.full(size, 284500), "channelNumber": np.full(size, sample.dsid)}
        ev |= {
            "eventNumber": np.arange(start, start + size) + 1,
            "XSection": np.full(size, sample.xsec, "f4"),
            "SumWeights": np.full(size, sample.sumw, "f4"),
        }
        blocks.append(ev)
    return blocks


def _data_blocks(rng: np.random.Generator, truth: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Pseudo-data per period: Poisson counts of every process's expected yield x truth."""
    parts = []
    for name, proc in DEMO_PROCESSES.items():
        factor = truth["s_s"] if SAMPLES[name].role == "signal" else truth["s_b"]
        count = rng.poisson(proc.skim_yield * factor)
        if count:
            parts.append(_simulate(rng, proc, count))
    merged = _concatenate(parts)
    n = len(merged["trigE"])
    merged = _take(merged, rng.permutation(n))
    lumi = np.array(list(DATA_PERIODS.values()))
    period = np.sort(rng.choice(len(lumi), size=n, p=lumi / lumi.sum()))
    out = {}
    for i, key in enumerate(DATA_PERIODS):
        block = _take(merged, np.flatnonzero(period == i))
        size = len(block["trigE"])
        run = np.sort(rng.integers(297730 + 4000 * i, 297730 + 4000 * (i + 1), size))
        block |= {"runNumber": run, "channelNumber": run, "eventNumber": rng.integers(1, 2**31 - 1, size)}
        # as in the release's data files: no weights, no scale factors, no systematic shifts, no truth
        block |= {
            "mcWeight": np.zeros(size, "f4"),
            "XSection": np.ones(size, "f4"),
            "SumWeights": np.ones(size, "f4"),
            "met_et_syst": np.zeros(size, "f4"),
        }
        block |= {f"scaleFactor_{sf}": np.zeros(size, "f4") for sf in _SCALE_FACTORS}
        for name in TRUTH_BRANCHES:
            prefix, _, attribute = name.partition("_")
            block[prefix][attribute] = ak.unflatten(ak.flatten(block[prefix][attribute])[:0], np.zeros(size, int))
        for prefix in ("lep", "jet"):
            block[prefix]["pt_syst"] = ak.zeros_like(block[prefix]["pt_syst"])
        out[key] = block
    return out


def _concatenate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parts[0].items():
        if isinstance(value, dict):
            out[key] = {f: ak.concatenate([p[key][f] for p in parts]) for f in value}
        else:
            out[key] = np.concatenate([p[key] for p in parts])
    return out


def _take(block: dict[str, Any], index: np.ndarray) -> dict[str, Any]:
    return {k: ({f: a[index] for f, a in v.items()} if isinstance(v, dict) else v[index]) for k, v in block.items()}


def generate_demo(
    output: str | os.PathLike[str],
    scale: float = 1.0,
    seed: int = 42,
    truth: dict[str, float] | None = None,
) -> Path:
    """Write the demo samples and ``fileset.json`` into ``output``; return the fileset path.

    Args:
        output: a new or empty folder, or one of an earlier demo, whose demo files are replaced as a set (a
            folder holding anything else is refused: see :func:`analysis.outputs.publish`).
        scale: multiplies every simulated sample's event count; expected yields do not change.
        seed: the same seed gives the same files.
        truth: true scale factors ``{"s_s", "s_b"}`` of the pseudo-data (default 1.0 and 1.2).
    """
    if not 0 < scale <= MAX_SCALE:
        raise DemoError(f"scale must be in (0, {MAX_SCALE:g}], got {scale}")
    truth = {"s_s": 1.0, "s_b": 1.2} | (truth or {})
    output = Path(output)
    check_output(output, names=(), only_for="demo")
    with publish(output, "demo") as tmp:
        fileset: dict[str, Any] = {}
        for index, name in enumerate(DEMO_PROCESSES):
            rng = np.random.default_rng([seed, index])
            n = max(1, round(DEMO_PROCESSES[name].events * scale))
            _write(tmp / SAMPLES[name].filename, _mc_blocks(rng, name, n))
            metadata = SAMPLES[name].metadata() | {"synthetic": True}
            fileset[name] = {"files": {SAMPLES[name].filename: "mini"}, "metadata": metadata}
        data = _data_blocks(np.random.default_rng([seed, len(DEMO_PROCESSES)]), truth)
        for period, block in data.items():
            _write(tmp / data_filename(period), [block])
        generator = {"version": GENERATOR_VERSION, "seed": seed, "scale": scale}
        fileset["data"] = {
            "files": {data_filename(p): "mini" for p in data},
            "metadata": {"role": "data", "synthetic": True, "truth": truth, "generator": generator},
        }
        (tmp / "fileset.json").write_text(json.dumps(fileset, indent=2) + "\n")
    return output / "fileset.json"


def cache_dir() -> Path:
    """Where the default demo is cached: ``$HZZ4L_CACHE`` or ``$XDG_CACHE_HOME/hzz4l``."""
    if "HZZ4L_CACHE" in os.environ:
        return Path(os.environ["HZZ4L_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hzz4l"


def default_demo(scale: float = 1.0, seed: int = 42, announce: Callable[[Path], None] | None = None) -> Path:
    """The fileset of the default demo, generated into the cache on first use and reused after; ``announce`` is
    called with the folder before a generation (which takes a few seconds)."""
    folder = cache_dir() / f"demo-v{GENERATOR_VERSION}-seed{seed}-scale{scale:g}"
    fileset = folder / "fileset.json"
    if not fileset.exists():
        if announce is not None:
            announce(folder)
        generate_demo(folder, scale=scale, seed=seed)
    return fileset
