"""The H->ZZ*->4l coffea processor: selection, weights, systematic variations, and the histograms.

It knows nothing about executors: give it to any coffea ``Runner`` with
:class:`processors.schema.MiniSchema` and a fileset whose metadata carries ``role`` and, for
simulation, ``xsec`` (pb), ``sumw`` and ``red_eff``.

Example:
    >>> proc = HZZ4lProcessor(lumi_fb=10.0)
    >>> proc.make_histograms()["mass"].axes.name
    ('dataset', 'channel', 'variation', 'mass')
    >>> HZZ4lProcessor(systematics=False).variations
    ('nominal',)
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import awkward as ak
import numpy as np
from coffea import processor

from analysis.errors import HZZ4lError
from processors.compat import flat_columns
from processors.histograms import (
    EFFICIENCY_UNCERTAINTY,
    VARIATIONS,
    Accumulator,
    Histogram,
    fill_controls,
    fill_mass,
    make_histograms,
)
from processors.schema import check_counts
from processors.selection import PRESETS, SelectionConfig, preselect, select_candidates
from processors.weights import normalisation

__all__ = [
    "COLUMNS",
    "DEFAULT_MASS_BINS",
    "SCALE_FACTORS",
    "BranchType",
    "HZZ4lProcessor",
    "NonFiniteValue",
    "event_weights",
    "require_finite",
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
    **dict.fromkeys(("lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_ptcone30", "lep_etcone20", "lep_pt_syst"), _FLOATS),
    **dict.fromkeys(("lep_charge", "lep_type"), _INTEGERS),
}

_JAGGED_COLUMNS = tuple(name for name, kind in COLUMNS.items() if kind.jagged)

def event_weights(events: ak.Array, metadata: Mapping[str, Any], lumi_fb: float) -> np.ndarray:
    """Per-event weights, shape ``(n_events,)``: 1 for data, else the normalised MC weight.

    Simulation: :func:`~processors.weights.normalisation` ``* mcWeight * prod(SCALE_FACTORS)``,
    with ``xsec`` in pb and ``lumi_fb`` in fb^-1.
    """
    n = len(events)
    if metadata["role"] == "data":
        return np.ones(n)
    norm = normalisation(lumi_fb, float(metadata["xsec"]), float(metadata["sumw"]), float(metadata["red_eff"]))
    weight = norm * np.asarray(events.mcWeight, dtype=np.float64)
    for name in SCALE_FACTORS:
        weight = weight * np.asarray(events[name], dtype=np.float64)
    return weight


class NonFiniteValue(HZZ4lError):
    """A NaN or infinite value where the selection or the weights need a number; the message names the file,
    dataset, branch and first entry."""


#: The lepton fields the selection and m4l compute with, and their branches.
_LEPTON_FLOATS = {f: f"lep_{f}" for f in ("pt", "eta", "phi", "ptcone30", "etcone20", "pt_syst")} | {"energy": "lep_E"}


def require_finite(events: ak.Array, weights: np.ndarray) -> None:
    """Refuse a chunk with a non-finite lepton momentum, isolation or event weight: a NaN would fail every cut
    silently or land in a histogram's overflow, an infinity would make a yield infinite.

    Raises:
        NonFiniteValue: naming the file, dataset, branch and first bad entry of the chunk.
    """
    meta = events.metadata
    where = f"{meta.get('filename', '?')}: dataset '{meta.get('dataset', '?')}'"
    first = meta.get("entrystart", 0)
    offsets, columns = flat_columns(events.lep, tuple(_LEPTON_FLOATS))
    for field, branch in _LEPTON_FLOATS.items():  # on the flat columns: no jagged array is built
        values = columns[field][offsets[0] : offsets[-1]]
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


class HZZ4lProcessor(processor.ProcessorABC):  # type: ignore[misc]  # coffea is untyped
    """Select four-lepton events and fill m4l per dataset, channel and variation, control histograms, a cutflow.

    Args:
        selection: the cut thresholds (default: ``PRESETS["default"]``).
        lumi_fb: integrated luminosity the simulation is normalised to, in fb^-1.
        mass_bins: ``(nbins, low, high)`` of the m4l axis in GeV.
        systematics: fill the systematic variations of m4l (:data:`VARIATIONS`) as well as the nominal.

    ``process`` returns the accumulator::

        {"mass": Hist(dataset, channel, variation, mass),        # m4l; data fill only "nominal"
         "z1_mass", "z2_mass": Hist(dataset, channel, mass),      # the Z candidates (nominal)
         "lepton_pt", "lepton_eta": Hist(dataset, channel, ...),  # the four candidates of each event (nominal)
         "cutflow": {dataset: {"events": {cut: n}, "weighted": {cut: sum_w}}},
         "processed": {dataset: n_events}}

    The cutflow's first entry, ``all``, counts every event read; summing the ``channel`` axis of the nominal m4l
    histogram gives the selection's m4l histogram of each dataset.
    """

    def __init__(
        self,
        selection: SelectionConfig = PRESETS["default"],
        lumi_fb: float = 10.0,
        mass_bins: tuple[int, float, float] = DEFAULT_MASS_BINS,
        systematics: bool = True,
    ) -> None:
        self.selection = selection
        self.lumi_fb = lumi_fb
        self.mass_bins = mass_bins
        self.systematics = systematics
        self._fingerprint: str | None = None

    def fingerprint(self) -> str:
        """A short hash of everything that determines the output: the selection, luminosity, binning, systematics
        and the source code of the processor, the selection, the kinematics and the schema. Computed once per
        instance (a checkpointer asks for it for every chunk)."""
        if self._fingerprint is None:
            from processors import histograms, kinematics, schema, selection

            settings = [self.selection.to_dict(), self.lumi_fb, list(self.mass_bins), self.systematics]
            config = json.dumps(settings, sort_keys=True)
            digest = hashlib.sha256(config.encode())
            for module in (sys.modules[__name__], selection, kinematics, histograms, schema):
                assert module.__file__ is not None  # imported from source files
                digest.update(Path(module.__file__).read_bytes())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    @property
    def variations(self) -> tuple[str, ...]:
        """The variations of m4l this processor fills."""
        return VARIATIONS if self.systematics else VARIATIONS[:1]

    @property
    def columns(self) -> dict[str, BranchType]:
        """The branches ``process`` reads, with what each must hold."""
        return COLUMNS

    def make_histograms(self, datasets: tuple[str, ...] = ()) -> dict[str, Histogram]:
        """Empty histograms of the accumulator (:func:`processors.histograms.make_histograms`)."""
        return make_histograms(self.mass_bins, self.variations, datasets)

    def process(self, events: ak.Array) -> Accumulator:
        """Run the selection (and its variations, on simulation) on one chunk of events; return its accumulator.

        Raises:
            processors.schema.BranchLengthError: a lepton branch disagrees with ``lep_n`` (file, branch, entry).
            NonFiniteValue: a NaN or infinite lepton momentum, isolation or weight (file, dataset, branch, entry).
        """
        dataset = events.metadata["dataset"]
        check_counts(events, _JAGGED_COLUMNS)
        weights = event_weights(events, events.metadata, self.lumi_fb)
        require_finite(events, weights)
        candidates = preselect(events, self.selection)
        nominal = select_candidates(candidates, self.selection)

        events_after = {"all": len(events)}
        weighted_after = {"all": float(weights.sum())}
        for name, mask in nominal.masks.items():
            events_after[name] = int(mask.sum())
            weighted_after[name] = float(weights[mask].sum())

        # the dataset category exists even when nothing is selected, so every dataset reaches the output
        histograms = self.make_histograms((dataset,))
        selected = weights[nominal.passed]
        fill_mass(histograms["mass"], dataset, "nominal", nominal, selected)
        if self.systematics and events.metadata["role"] != "data":
            for sign, direction in ((+1.0, "up"), (-1.0, "down")):
                shifted = select_candidates(candidates, self.selection, candidates.leptons.shifted(sign))
                fill_mass(histograms["mass"], dataset, f"lep_scale_{direction}", shifted, weights[shifted.passed])
                for name, (flavour, uncertainty) in EFFICIENCY_UNCERTAINTY.items():
                    factor = (1.0 + sign * uncertainty) ** nominal.leptons.count(flavour)
                    fill_mass(histograms["mass"], dataset, f"{name}_{direction}", nominal, selected * factor)
        fill_controls(histograms, dataset, nominal, selected)
        return Accumulator(
            mass=histograms["mass"],
            z1_mass=histograms["z1_mass"],
            z2_mass=histograms["z2_mass"],
            lepton_pt=histograms["lepton_pt"],
            lepton_eta=histograms["lepton_eta"],
            cutflow={dataset: {"events": events_after, "weighted": weighted_after}},
            processed={dataset: len(events)},
        )

    def postprocess(self, accumulator: Accumulator) -> Accumulator:
        """Nothing to do: the accumulator is the result."""
        return accumulator
