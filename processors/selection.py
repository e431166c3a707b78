"""The four-lepton event selection: one function per cut, thresholds in one frozen config.

Event cuts (``trigger``, ``four_leptons``) take the events (a record array with a ``lep``
collection, as made by :class:`processors.schema.MiniSchema`). Lepton cuts (``kinematics``,
``flavour``, ``isolation``, ``charge``) take :class:`Leptons`: the leptons of the events that
passed the event cuts, as dense ``(events, 4)`` numpy arrays, so no jagged record is built for
events the cuts already dropped. Every cut returns a boolean numpy mask; momenta are in MeV in
the arrays and in GeV in :class:`SelectionConfig`. All comparisons are strict, as in the tutorial.

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
    "LEPTON_CUTS",
    "PRESETS",
    "Leptons",
    "Selection",
    "SelectionConfig",
    "active_cuts",
    "charge",
    "event_cuts",
    "flavour",
    "four_leptons",
    "isolation",
    "kinematics",
    "select",
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


@dataclass(frozen=True)
class Leptons:
    """Leptons of events that all have the same number of them, as dense ``(events, n)`` arrays.

    Momenta and energies in MeV, as in the files; ``flavour`` is ``lep_type`` (11 e, 13 mu).
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    charge: np.ndarray
    flavour: np.ndarray
    ptcone30: np.ndarray
    etcone20: np.ndarray

    @classmethod
    def of(cls, lep: ak.Array, events: np.ndarray, n: int) -> Leptons:
        """The leptons of the events where the boolean mask ``events`` is true, each with exactly ``n``.

        The arrays are gathered straight from the flat lepton columns, lepton-major in memory (shape
        ``(events, n)``, Fortran order), so per-event reductions over the ``n`` leptons run as
        vectorised operations across ``n`` contiguous columns.
        """
        layout = ak.to_layout(lep)
        if not (
            isinstance(layout, ak.contents.ListOffsetArray) and isinstance(layout.content, ak.contents.RecordArray)
        ):
            layout = ak.to_layout(ak.to_packed(lep))  # e.g. a sliced collection: make it plain lists of records
        offsets = np.asarray(layout.offsets.data)
        starts = offsets[:-1][events]
        if np.any(offsets[1:][events] - starts != n):
            raise ValueError(f"every selected event must have exactly {n} leptons")
        index = starts + np.arange(n)[:, None]  # (n, events): lepton k of each event in row k

        def gather(field: str) -> np.ndarray:
            # the field "type" (lep["type"]; lep.type would be awkward's type of the array)
            return np.asarray(layout.content.content(field).data)[index].T

        return cls(
            pt=gather("pt"),
            eta=gather("eta"),
            phi=gather("phi"),
            energy=gather("energy"),
            charge=gather("charge"),
            flavour=gather("type"),
            ptcone30=gather("ptcone30"),
            etcone20=gather("etcone20"),
        )

    def __len__(self) -> int:
        return len(self.pt)

    def take(self, mask: np.ndarray) -> Leptons:
        """The leptons of the events where ``mask`` is true."""
        rows = np.flatnonzero(mask)  # taken along the contiguous axis, which keeps the arrays lepton-major
        return Leptons(**{f.name: np.take(getattr(self, f.name).T, rows, axis=1).T for f in dataclasses.fields(self)})


def trigger(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Single-electron or single-muon trigger fired: ``trigE or trigM``."""
    return np.asarray(events.trigE, dtype=bool) | np.asarray(events.trigM, dtype=bool)


def four_leptons(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Exactly ``cfg.n_leptons`` leptons."""
    return ak.to_numpy(ak.num(events.lep, axis=1)) == cfg.n_leptons


def kinematics(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Leading pT > ``lead_pt``, every pT > ``min_pt`` and every |eta| < ``max_abs_eta``."""
    lead = np.max(leptons.pt, axis=1) > cfg.lead_pt * MEV_PER_GEV
    every = np.all((leptons.pt > cfg.min_pt * MEV_PER_GEV) & (np.abs(leptons.eta) < cfg.max_abs_eta), axis=1)
    return lead & every


def flavour(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Sum of ``lep_type`` (11 e, 13 mu) in ``flavour_sums``: eeee 44, ee-mumu 48, mumumu 52."""
    return np.isin(np.sum(leptons.flavour, axis=1, dtype=np.int64), cfg.flavour_sums)


def isolation(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Every lepton ptcone30/pT < ``max_ptcone30_rel`` (and etcone20/pT < ``max_etcone20_rel``)."""
    isolated = leptons.ptcone30 / leptons.pt < cfg.max_ptcone30_rel
    if cfg.max_etcone20_rel is not None:
        isolated &= leptons.etcone20 / leptons.pt < cfg.max_etcone20_rel
    return np.all(isolated, axis=1)


def charge(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Sum of lepton charges equal to ``charge_sum``."""
    return np.sum(leptons.charge, axis=1, dtype=np.int64) == cfg.charge_sum


EventCut = Callable[[ak.Array, SelectionConfig], np.ndarray]
LeptonCut = Callable[[Leptons, SelectionConfig], np.ndarray]
LEPTON_CUTS: tuple[tuple[str, LeptonCut], ...] = (
    ("kinematics", kinematics),
    ("flavour", flavour),
    ("isolation", isolation),
    ("charge", charge),
)


def event_cuts(cfg: SelectionConfig) -> list[tuple[str, EventCut]]:
    """The event cuts ``cfg`` applies, in order."""
    return [*([("trigger", trigger)] if cfg.require_trigger else []), ("four_leptons", four_leptons)]


def active_cuts(cfg: SelectionConfig) -> list[tuple[str, EventCut | LeptonCut]]:
    """The cuts ``cfg`` applies, in cutflow order, as ``(name, function)`` pairs."""
    return [*event_cuts(cfg), *LEPTON_CUTS]


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select`: cumulative masks over all events (``masks[cut]`` holds the events
    passing every cut up to ``cut``) and the leptons of the events passing them all."""

    masks: dict[str, np.ndarray]
    leptons: Leptons

    @property
    def passed(self) -> np.ndarray:
        """Events passing every cut."""
        return next(reversed(self.masks.values()))


def select(events: ak.Array, cfg: SelectionConfig) -> Selection:
    """Apply the cuts of ``cfg`` in order; lepton cuts only see the events that passed the event cuts."""
    masks: dict[str, np.ndarray] = {}
    passing = np.ones(len(events), dtype=bool)
    for name, cut in event_cuts(cfg):
        passing = passing & cut(events, cfg)
        masks[name] = passing
    index = np.flatnonzero(passing)
    leptons = Leptons.of(events.lep, passing, cfg.n_leptons)
    keep = np.ones(len(index), dtype=bool)
    for name, cut in LEPTON_CUTS:  # dense numpy over the candidates: cheaper than shrinking them cut by cut
        keep &= cut(leptons, cfg)
        passing = np.zeros(len(events), dtype=bool)
        passing[index[keep]] = True
        masks[name] = passing
    return Selection(masks, leptons.take(keep))
