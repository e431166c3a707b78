"""The H->ZZ*->4l coffea processor, its selection and the ``mini`` tree schema."""

from __future__ import annotations

from processors.processor import DEFAULT_MASS_BINS, HZZ4lProcessor, event_weights, four_lepton_mass
from processors.schema import MiniSchema
from processors.selection import PRESETS, Leptons, Selection, SelectionConfig, active_cuts, select

__all__ = [
    "DEFAULT_MASS_BINS",
    "PRESETS",
    "HZZ4lProcessor",
    "Leptons",
    "MiniSchema",
    "Selection",
    "SelectionConfig",
    "active_cuts",
    "event_weights",
    "four_lepton_mass",
    "select",
]
