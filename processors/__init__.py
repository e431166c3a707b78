"""The H->ZZ*->4l coffea processor, its selection, the four-lepton kinematics and the ``mini`` tree schema."""

from __future__ import annotations

from processors.kinematics import four_lepton_mass, z_candidates
from processors.processor import (
    CHANNELS,
    DEFAULT_MASS_BINS,
    VARIATIONS,
    HZZ4lProcessor,
    channels,
    event_weights,
    mass_histogram,
)
from processors.schema import MiniSchema
from processors.selection import PRESETS, Leptons, Selection, SelectionConfig, active_cuts, select

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
    "channels",
    "event_weights",
    "four_lepton_mass",
    "mass_histogram",
    "select",
    "z_candidates",
]
