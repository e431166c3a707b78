"""The H->ZZ*->4l coffea processor: selection, weights, and the m4l histogram per dataset.

It knows nothing about executors: give it to any coffea ``Runner`` with
:class:`processors.schema.MiniSchema` and a fileset whose metadata carries ``role`` and, for
simulation, ``xsec`` (pb), ``sumw`` and ``red_eff``.

Example:
    >>> proc = HZZ4lProcessor(lumi_fb=10.0)
    >>> proc.make_histogram().axes.name
    ('dataset', 'mass')
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import awkward as ak
import hist
import numpy as np
from coffea import processor

from analysis.errors import HZZ4lError
from processors.schema import check_counts
from processors.selection import MEV_PER_GEV, PRESETS, Leptons, SelectionConfig, select

__all__ = [
    "COLUMNS",
    "DEFAULT_MASS_BINS",
    "SCALE_FACTORS",
    "BranchType",
    "HZZ4lProcessor",
    "NonFiniteValue",
    "event_weights",
    "four_lepton_mass",
]

#: (number of bins, low edge, high edge) of the m4l axis, in GeV — the tutorial's binning.
DEFAULT_MASS_BINS: tuple[int, float, float] = (34, 80.0, 250.0)

#: Scale-factor branches multiplied into the simulation weight.
SCALE_FACTORS = ("scaleFactor_PILEUP", "scaleFactor_ELE", "scaleFactor_MUON", "scaleFactor_LepTRIGGER")


class BranchType(NamedTuple):
    """What a branch must hold: one value per event or a list per event (``jagged``), of numpy dtype ``kinds``.

    Both ROOT layouts of a jagged branch qualify: the ``std::vector`` branches of the real files and the counted
    arrays (``lep_pt[lep_n]``) that uproot writes.

    Example:
        >>> COLUMNS["lep_pt"]
        BranchType(jagged=True, kinds='f')
    """

    jagged: bool
    kinds: str  # numpy dtype kinds accepted: "f" float, "i"/"u" (un)signed integer, "b" boolean


_FLOAT, _INTEGER, _BOOL = BranchType(False, "f"), BranchType(False, "iu"), BranchType(False, "b")
_FLOATS, _INTEGERS = BranchType(True, "f"), BranchType(True, "iu")

#: Every branch the processor reads and what it must hold: a runner loads them in bulk (one request per chunk)
#: and checks them in every file before processing. ``lep_n`` is the lepton collection's counter.
COLUMNS: dict[str, BranchType] = {
    "trigE": _BOOL,
    "trigM": _BOOL,
    "mcWeight": _FLOAT,
    **dict.fromkeys(SCALE_FACTORS, _FLOAT),
    "lep_n": _INTEGER,
    **dict.fromkeys(("lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_ptcone30", "lep_etcone20"), _FLOATS),
    **dict.fromkeys(("lep_charge", "lep_type"), _INTEGERS),
}

_JAGGED_COLUMNS = tuple(name for name, kind in COLUMNS.items() if kind.jagged)


def event_weights(events: ak.Array, metadata: Mapping[str, Any], lumi_fb: float) -> np.ndarray:
    """Per-event weights, shape ``(n_events,)``: 1 for data, else the normalised MC weight.

    Simulation: ``lumi_fb * 1000 * xsec / (sumw * red_eff) * mcWeight * prod(SCALE_FACTORS)``,
    with ``xsec`` in pb and ``lumi_fb`` in fb^-1.
    """
    n = len(events)
    if metadata["role"] == "data":
        return np.ones(n)
    norm = lumi_fb * 1000.0 * float(metadata["xsec"]) / (float(metadata["sumw"]) * float(metadata["red_eff"]))
    weight = norm * np.asarray(events.mcWeight, dtype=np.float64)
    for name in SCALE_FACTORS:
        weight = weight * np.asarray(events[name], dtype=np.float64)
    return weight


class NonFiniteValue(HZZ4lError):
    """A NaN or infinite value where the selection or the weights need a number; the message names the file,
    dataset, branch and first entry."""


#: The lepton fields the selection and m4l compute with, and their branches.
_LEPTON_FLOATS = {f: f"lep_{f}" for f in ("pt", "eta", "phi", "ptcone30", "etcone20")} | {"energy": "lep_E"}


def require_finite(events: ak.Array, weights: np.ndarray) -> None:
    """Refuse a chunk with a non-finite lepton momentum, isolation or event weight: a NaN would fail every cut
    silently or land in a histogram's overflow, an infinity would make a yield infinite.

    Raises:
        NonFiniteValue: naming the file, dataset, branch and first bad entry of the chunk.
    """
    meta = events.metadata
    where = f"{meta.get('filename', '?')}: dataset '{meta.get('dataset', '?')}'"
    first = meta.get("entrystart", 0)
    lep = ak.to_layout(events.lep)
    if not (isinstance(lep, ak.contents.ListOffsetArray) and isinstance(lep.content, ak.contents.RecordArray)):
        lep = ak.to_layout(ak.to_packed(events.lep))
    offsets = np.asarray(lep.offsets.data)
    for field, branch in _LEPTON_FLOATS.items():  # on the flat columns: no jagged array is built
        values = np.asarray(lep.content.content(field).data)[offsets[0] : offsets[-1]]
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            index = int(np.searchsorted(offsets, offsets[0] + bad[0], side="right")) - 1
            raise NonFiniteValue(f"{where}: entry {first + index}: {branch} is {values[bad[0]]}")
    if not np.all(np.isfinite(weights)):
        index = int(np.argmax(~np.isfinite(weights)))
        culprit = next((b for b in ("mcWeight", *SCALE_FACTORS) if not np.isfinite(events[b][index])), None)
        problem = (
            f"{culprit} is {events[culprit][index]}"
            if culprit
            else f"the weight lumi*1000*xsec/(sumw*red_eff)*mcWeight*scale factors is {weights[index]}"
        )
        raise NonFiniteValue(f"{where}: entry {first + index}: {problem}")


def four_lepton_mass(leptons: Leptons) -> np.ndarray:
    """Invariant mass of the sum of each event's lepton four-vectors (pT, eta, phi, E), in GeV; ``(events,)``.

    The file's float32 values are summed in float64, so m4l does not suffer from the cancellation in
    E^2 - p^2. Two transcendental functions per lepton instead of three: sin(phi) is
    ``copysign(sqrt(1 - cos^2), phi)`` with phi brought into [-pi, pi], and sinh(eta) is
    ``(e^eta - e^-eta) / 2``; both agree with ``np.sin``/``np.sinh`` to about 1e-13 of m4l.
    """
    px, py, pz, energy = (np.zeros(len(leptons)) for _ in range(4))
    for k in range(leptons.pt.shape[1]):  # lepton by lepton: contiguous columns of the lepton-major arrays
        pt, phi = leptons.pt[:, k].astype(np.float64), leptons.phi[:, k].astype(np.float64)
        if np.any(np.abs(phi) > np.pi):  # e.g. float32(pi) > pi, or a file storing phi in [0, 2 pi)
            phi = np.remainder(phi + np.pi, 2 * np.pi) - np.pi
        cos = np.cos(phi)
        exp_eta = np.exp(leptons.eta[:, k].astype(np.float64))
        px += pt * cos
        py += pt * np.copysign(np.sqrt(np.maximum(1.0 - cos * cos, 0.0)), phi)
        pz += pt * 0.5 * (exp_eta - 1.0 / exp_eta)
        energy += leptons.energy[:, k]
    return np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0)) / MEV_PER_GEV


class HZZ4lProcessor(processor.ProcessorABC):
    """Select four-lepton events and fill m4l per dataset, with a cutflow.

    Args:
        selection: the cut thresholds (default: ``PRESETS["default"]``).
        lumi_fb: integrated luminosity the simulation is normalised to, in fb^-1.
        mass_bins: ``(nbins, low, high)`` of the m4l axis in GeV.

    ``process`` returns ``{"mass": Hist(dataset, mass), "cutflow": {dataset: {"events":
    {cut: n}, "weighted": {cut: sum_w}}}, "processed": {dataset: n_events}}``; the cutflow's
    first entry, ``all``, counts every event read.
    """

    def __init__(
        self,
        selection: SelectionConfig = PRESETS["default"],
        lumi_fb: float = 10.0,
        mass_bins: tuple[int, float, float] = DEFAULT_MASS_BINS,
    ) -> None:
        self.selection = selection
        self.lumi_fb = lumi_fb
        self.mass_bins = mass_bins
        self._fingerprint: str | None = None

    def fingerprint(self) -> str:
        """A short hash of everything that determines the output: the selection, luminosity, binning and
        the source code of the processor, the selection and the schema. Computed once per instance (a
        checkpointer asks for it for every chunk)."""
        if self._fingerprint is None:
            from processors import schema, selection

            config = json.dumps([self.selection.to_dict(), self.lumi_fb, list(self.mass_bins)], sort_keys=True)
            digest = hashlib.sha256(config.encode())
            for module in (sys.modules[__name__], selection, schema):
                digest.update(Path(module.__file__).read_bytes())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    @property
    def columns(self) -> dict[str, BranchType]:
        """The branches ``process`` reads, with what each must hold."""
        return COLUMNS

    def make_histogram(self, datasets: tuple[str, ...] = ()) -> hist.Hist:
        """An empty m4l histogram with a growable ``dataset`` axis and ``Weight`` storage."""
        nbins, low, high = self.mass_bins
        return hist.Hist(
            hist.axis.StrCategory(list(datasets), name="dataset", label="Dataset", growth=True),
            hist.axis.Regular(nbins, low, high, name="mass", label=r"$m_{4\ell}$ [GeV]"),
            storage=hist.storage.Weight(),
        )

    def process(self, events: ak.Array) -> dict[str, Any]:
        """Run the selection on one chunk of events and return its accumulator.

        Raises:
            processors.schema.BranchLengthError: a lepton branch disagrees with ``lep_n`` (file, branch, entry).
            NonFiniteValue: a NaN or infinite lepton momentum, isolation or weight (file, dataset, branch, entry).
        """
        dataset = events.metadata["dataset"]
        check_counts(events, _JAGGED_COLUMNS)
        weights = event_weights(events, events.metadata, self.lumi_fb)
        require_finite(events, weights)
        selection = select(events, self.selection)

        events_after = {"all": len(events)}
        weighted_after = {"all": float(weights.sum())}
        for name, mask in selection.masks.items():
            events_after[name] = int(mask.sum())
            weighted_after[name] = float(weights[mask].sum())

        # the category exists even when nothing is selected, so every dataset reaches the output
        histogram = self.make_histogram((dataset,))
        histogram.fill(dataset=dataset, mass=four_lepton_mass(selection.leptons), weight=weights[selection.passed])
        return {
            "mass": histogram,
            "cutflow": {dataset: {"events": events_after, "weighted": weighted_after}},
            "processed": {dataset: len(events)},
        }

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        """Nothing to do: the accumulator is the result."""
        return accumulator
