"""The H->ZZ*->4l coffea processor, its selection, the four-lepton kinematics, the histograms and the ``mini``
tree schema.

The names below are imported on first use, so that ``import processors.histograms`` (the outputs, the fit and the
plots need only it) does not import coffea.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analysis.lazy import exports

if TYPE_CHECKING:
    from processors.histograms import CHANNELS, VARIATIONS, mass_histogram
    from processors.kinematics import four_lepton_mass, z_candidates
    from processors.processor import DEFAULT_MASS_BINS, HZZ4lProcessor, event_weights
    from processors.schema import MiniSchema
    from processors.selection import PRESETS, Leptons, Selection, SelectionConfig, active_cuts, select

_WHERE = {
    "CHANNELS": "histograms",
    "VARIATIONS": "histograms",
    "mass_histogram": "histograms",
    "four_lepton_mass": "kinematics",
    "z_candidates": "kinematics",
    "DEFAULT_MASS_BINS": "processor",
    "HZZ4lProcessor": "processor",
    "event_weights": "processor",
    "MiniSchema": "schema",
    "PRESETS": "selection",
    "Leptons": "selection",
    "Selection": "selection",
    "SelectionConfig": "selection",
    "active_cuts": "selection",
    "select": "selection",
}

__all__ = [
    "CHANNELS",
    "DEFAULT_MASS_BINS",
    "PRESETS",
    "VARIATIONS",
    "HZZ4lProcessor",
    "Leptons",
    "MiniSchema",
    "Selection",
    "SelectionConfig",
    "active_cuts",
    "event_weights",
    "four_lepton_mass",
    "mass_histogram",
    "select",
    "z_candidates",
]

__getattr__ = exports(__name__, _WHERE)
