"""The four-lepton event selection: one function per cut, thresholds in one frozen config.

Every cut takes the events (a record array with a ``lep`` collection, as made by
:class:`processors.schema.MiniSchema`, with momenta in MeV) and a
:class:`SelectionConfig` (thresholds in GeV), and returns a boolean numpy mask of shape
``(n_events,)``. All comparisons are strict, as in the tutorial.

Example:
    >>> cfg = PRESETS["default"]
    >>> [name for name, _ in active_cuts(cfg)]
    ['trigger', 'four_leptons', 'kinematics', 'flavour', 'isolation', 'charge']
    >>> [name for name, _ in active_cuts(PRESETS["tutorial"])]
    ['four_leptons', 'kinematics', 'flavour', 'isolation', 'charge']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

__all__ = [
    "PRESETS",
    "SelectionConfig",
    "active_cuts",
    "charge",
    "cut_masks",
    "flavour",
    "four_leptons",
    "isolation",
    "kinematics",
    "trigger",
]

MEV_PER_GEV = 1000.0


@dataclass(frozen=True)
class SelectionConfig:
    """Thresholds of the selection. Momenta in GeV; isolation as a fraction of the lepton pT.

    ``max_etcone20_rel=None`` drops the calorimeter isolation and ``require_trigger=False``
    drops the trigger requirement (both as in the tutorial preset).
    """

    require_trigger: bool = True
    n_leptons: int = 4
    lead_pt: float = 20.0
    min_pt: float = 7.0
    max_abs_eta: float = 2.5
    flavour_sums: tuple[int, ...] = (44, 48, 52)
    max_ptcone30_rel: float = 0.3
    max_etcone20_rel: float | None = 0.3
    charge_sum: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The thresholds as a JSON-friendly dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


#: ``default``: the full selection. ``tutorial``: the tutorial's selection exactly — its trigger
#: requirement is computed but never applied, and its isolation tests ptcone30/pT twice.
PRESETS: dict[str, SelectionConfig] = {
    "default": SelectionConfig(),
    "tutorial": SelectionConfig(require_trigger=False, max_etcone20_rel=None),
}


def _mask(array: ak.Array) -> np.ndarray:
    """A per-event boolean awkward array as a numpy mask (missing values fail the cut)."""
    return ak.to_numpy(ak.fill_none(array, False)).astype(bool, copy=False)


def trigger(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Single-electron or single-muon trigger fired: ``trigE or trigM``."""
    return np.asarray(events.trigE, dtype=bool) | np.asarray(events.trigM, dtype=bool)


def four_leptons(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Exactly ``cfg.n_leptons`` leptons."""
    return ak.to_numpy(ak.num(events.lep, axis=1)) == cfg.n_leptons


def kinematics(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Leading pT > ``lead_pt``, every pT > ``min_pt`` and every |eta| < ``max_abs_eta``."""
    lep = events.lep
    lead = ak.max(lep.pt, axis=1) > cfg.lead_pt * MEV_PER_GEV
    every = ak.all((lep.pt > cfg.min_pt * MEV_PER_GEV) & (abs(lep.eta) < cfg.max_abs_eta), axis=1)
    return _mask(lead) & _mask(every)


def flavour(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Sum of ``lep_type`` (11 e, 13 mu) in ``flavour_sums``: eeee 44, ee-mumu 48, mumumu 52."""
    type_sum = ak.to_numpy(ak.sum(events.lep["type"], axis=1))
    return np.isin(type_sum, cfg.flavour_sums)


def isolation(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Every lepton ptcone30/pT < ``max_ptcone30_rel`` (and etcone20/pT < ``max_etcone20_rel``)."""
    lep = events.lep
    isolated = lep.ptcone30 / lep.pt < cfg.max_ptcone30_rel
    if cfg.max_etcone20_rel is not None:
        isolated = isolated & (lep.etcone20 / lep.pt < cfg.max_etcone20_rel)
    return _mask(ak.all(isolated, axis=1))


def charge(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Sum of lepton charges equal to ``charge_sum``."""
    return ak.to_numpy(ak.sum(events.lep.charge, axis=1)) == cfg.charge_sum


Cut = Callable[[ak.Array, SelectionConfig], np.ndarray]


def active_cuts(cfg: SelectionConfig) -> list[tuple[str, Cut]]:
    """The cuts ``cfg`` applies, in cutflow order, as ``(name, function)`` pairs."""
    cuts: list[tuple[str, Cut]] = [("trigger", trigger)] if cfg.require_trigger else []
    cuts += [
        ("four_leptons", four_leptons),
        ("kinematics", kinematics),
        ("flavour", flavour),
        ("isolation", isolation),
        ("charge", charge),
    ]
    return cuts


def cut_masks(events: ak.Array, cfg: SelectionConfig) -> dict[str, np.ndarray]:
    """Cumulative masks: entry ``k`` holds the events that pass cuts ``0..k`` of :func:`active_cuts`.

    The last entry is the full selection. Each cut is evaluated only on the events that
    survived the previous ones, so no work is spent on events already dropped.
    """
    passing = np.ones(len(events), dtype=bool)
    out: dict[str, np.ndarray] = {}
    for name, cut in active_cuts(cfg):
        index = np.flatnonzero(passing)
        passing = np.zeros(len(events), dtype=bool)
        if len(index):
            passing[index] = cut(events[index], cfg)
        out[name] = passing
    return out
