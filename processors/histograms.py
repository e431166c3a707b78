"""The histograms of the processor's accumulator: their axes, the decay channels and the systematic variations.

Every histogram has a growable ``dataset`` axis and a growable ``channel`` axis (:data:`CHANNELS`), with
``Weight`` storage; m4l has a ``variation`` axis (:data:`VARIATIONS`) as well. This module needs no coffea: the
outputs, the fit and the plots read the histograms through it.

Example:
    >>> h = make_histograms((34, 80.0, 250.0), VARIATIONS, ("data",))
    >>> h["mass"].axes.name, h["z1_mass"].axes.name
    (('dataset', 'channel', 'variation', 'mass'), ('dataset', 'channel', 'mass'))
    >>> VARIATIONS
    ('nominal', 'lep_scale_up', 'lep_scale_down', 'ele_eff_up', 'ele_eff_down', 'mu_eff_up', 'mu_eff_down')
    >>> mass_histogram(h["mass"]).axes.name, mass_histogram(h["mass"], "lep_scale_up", "4e").axes.name
    (('dataset', 'mass'), ('dataset', 'mass'))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import hist
import numpy as np

from processors.kinematics import ELECTRON, MEV_PER_GEV, MUON

if TYPE_CHECKING:
    from processors.selection import Selection

#: A histogram of this project (``Weight`` storage; hist's indexing types its results loosely).
Histogram = hist.Hist[Any]

__all__ = [
    "CHANNELS",
    "CONTROL_AXES",
    "EFFICIENCY_UNCERTAINTY",
    "VARIATIONS",
    "Accumulator",
    "Cutflow",
    "Histogram",
    "fill_controls",
    "fill_mass",
    "make_histograms",
    "mass_histogram",
    "project",
    "total",
]


#: Decay channels by the flavours of the four leptons (Z -> ee or mumu pairs); events of other flavour content
#: (possible only with a selection that does not require 44, 48 or 52) go to "1e3mu" and "3e1mu".
CHANNELS = ("4e", "4mu", "2e2mu")

#: Per-lepton uncertainty of the efficiency scale factors, by flavour (the release carries none; these are
#: assumptions of the size of ATLAS's lepton reconstruction, identification and isolation uncertainties): an
#: event's scale factor moves by (1 +- u)^k for its k leptons of that flavour.
EFFICIENCY_UNCERTAINTY = {"ele_eff": (ELECTRON, 0.02), "mu_eff": (MUON, 0.01)}

#: The m4l histogram's variations: nominal; the lepton momentum scale from ``lep_pt_syst`` (pT and E shifted, the
#: selection and m4l recomputed); the efficiency scale factors up and down. Simulation only: data fill nominal.
VARIATIONS = (
    "nominal",
    "lep_scale_up",
    "lep_scale_down",
    *(f"{name}_{direction}" for name in EFFICIENCY_UNCERTAINTY for direction in ("up", "down")),
)

#: The control histograms: (axis label, bins, low, high), in GeV for masses and momenta; the axis is named after
#: the last part of the key (``mass``, ``pt``, ``eta``).
CONTROL_AXES = {
    "z1_mass": (r"$m_{Z_1}$ [GeV]", 60, 0.0, 150.0),
    "z2_mass": (r"$m_{Z_2}$ [GeV]", 60, 0.0, 150.0),
    "lepton_pt": (r"lepton $p_{T}$ [GeV]", 50, 0.0, 250.0),
    "lepton_eta": (r"lepton $\eta$", 54, -2.7, 2.7),
}


def make_histograms(
    mass_bins: tuple[int, float, float], variations: Sequence[str] = VARIATIONS, datasets: Sequence[str] = ()
) -> dict[str, Histogram]:
    """Empty histograms: ``mass`` (m4l with ``mass_bins`` in GeV and the ``variations``) and the control ones."""

    def make(*axes: hist.axis.AxesMixin) -> Histogram:
        return hist.Hist(  # type: ignore[call-overload,no-any-return]  # hist's overloads omit its axes' types
            hist.axis.StrCategory(list(datasets), name="dataset", label="Dataset", growth=True),
            hist.axis.StrCategory(list(CHANNELS), name="channel", label="Channel", growth=True),
            *axes,
            storage=hist.storage.Weight(),
        )

    nbins, low, high = mass_bins
    histograms = {
        "mass": make(
            hist.axis.StrCategory(list(variations), name="variation", label="Variation"),
            hist.axis.Regular(nbins, low, high, name="mass", label=r"$m_{4\ell}$ [GeV]"),
        )
    }
    for name, (label, bins, start, stop) in CONTROL_AXES.items():
        histograms[name] = make(hist.axis.Regular(bins, start, stop, name=name.split("_")[-1], label=label))
    return histograms


class Cutflow(TypedDict):
    """Events (raw and weighted) left after each cut of the selection, in order; ``all`` first."""

    events: dict[str, int]
    weighted: dict[str, float]


class Accumulator(TypedDict):
    """What the processor returns for a chunk, and coffea sums over chunks: the result of a run.

    ``mass`` is ``Hist(dataset, channel, variation, mass)``; the control histograms ``Hist(dataset, channel, x)``;
    ``cutflow`` and ``processed`` (events read) by dataset.
    """

    mass: Histogram
    z1_mass: Histogram
    z2_mass: Histogram
    lepton_pt: Histogram
    lepton_eta: Histogram
    cutflow: dict[str, Cutflow]
    processed: dict[str, int]


def mass_histogram(histogram: Histogram, variation: str = "nominal", channel: str | None = None) -> Histogram:
    """The m4l histogram ``Hist(dataset, mass)`` of one variation, summed over the channels or of one ``channel``."""
    return project(histogram, {"variation": variation, "channel": sum if channel is None else channel})


def project(histogram: Histogram, index: dict[str, Any]) -> Histogram:
    """``histogram[index]``, which must leave a histogram (not a single bin's value).

    Example:
        >>> h = make_histograms((2, 0.0, 2.0), ("nominal",), ("data",))["mass"]
        >>> project(h, {"channel": sum, "variation": "nominal"}).axes.name
        ('dataset', 'mass')
    """
    result = histogram[index]  # type: ignore[index]  # hist types a dict index's values narrower than it takes
    if not isinstance(result, hist.Hist):
        raise TypeError(f"indexing a histogram with {index} leaves a single value, not a histogram")
    return result


def total(histogram: Histogram, variance: bool = False) -> float:
    """The sum of the weights in every bin of ``histogram`` (no under- or overflow), as a Python float; with
    ``variance``, the sum of their variances (the histograms have ``Weight`` storage).

    Example:
        >>> h = make_histograms((2, 0.0, 2.0), ("nominal",), ("data",))["mass"]
        >>> h.fill(dataset="data", channel="4e", variation="nominal", mass=[0.5, 1.5, 9.0])
        Hist(...)
        >>> total(h)
        2.0
    """
    summed = histogram.variances() if variance else histogram.values()
    assert summed is not None  # Weight storage has variances
    return float(np.sum(summed))


def fill_mass(histogram: Histogram, dataset: str, variation: str, selection: Selection, weight: np.ndarray) -> None:
    """Fill m4l of the selected events into one variation, by channel."""
    leptons = selection.leptons
    histogram.fill(dataset=dataset, channel=leptons.channel, variation=variation, mass=leptons.m4l, weight=weight)


def fill_controls(histograms: dict[str, Histogram], dataset: str, selection: Selection, weight: np.ndarray) -> None:
    """Z1 and Z2 masses (events whose leptons pair into two SFOS pairs) and the pT and eta of the four leptons."""
    leptons = selection.leptons
    channel = leptons.channel
    paired = leptons.z.paired
    for name in ("z1_mass", "z2_mass"):
        masses = getattr(leptons.z, name)[paired]
        histograms[name].fill(dataset=dataset, channel=channel[paired], mass=masses, weight=weight[paired])
    n = leptons.pt.shape[1]
    each: dict[str, Any] = {"channel": np.repeat(channel, n), "weight": np.repeat(weight, n)}
    histograms["lepton_pt"].fill(dataset=dataset, pt=leptons.pt.ravel() / MEV_PER_GEV, **each)
    histograms["lepton_eta"].fill(dataset=dataset, eta=leptons.eta.ravel(), **each)
