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
    >>> [name for name, _ in active_cuts(PRESETS["outreach"])]
    ['four_leptons', 'flavour', 'charge']
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
    "lepton_cuts",
    "select",
    "trigger",
]

MEV_PER_GEV = 1000.0


@dataclass(frozen=True)
class SelectionConfig:
    """Thresholds of the selection. Momenta in GeV; isolation as a fraction of the lepton pT.

    ``n_leptons`` leptons are required, exactly, or at least with ``allow_extra_leptons`` (the first
    ``n_leptons`` as stored in the file are then the candidates the lepton cuts and m4l use). A threshold set to
    ``None`` is not applied; the kinematic and isolation cuts drop out of the cutflow when all of theirs are
    ``None``, and ``require_trigger=False`` drops the trigger requirement.
    """

    require_trigger: bool = True
    n_leptons: int = 4
    allow_extra_leptons: bool = False
    lead_pt: float | None = 20.0
    min_pt: float | None = 7.0
    max_abs_eta: float | None = 2.5
    flavour_sums: tuple[int, ...] = (44, 48, 52)
    max_ptcone30_rel: float | None = 0.3
    max_etcone20_rel: float | None = 0.3
    charge_sum: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The thresholds as a JSON-friendly dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


#: ``default``: the full selection. ``tutorial``: the tutorial's selection exactly — its trigger requirement is
#: computed but never applied, and its isolation tests ptcone30/pT twice. ``outreach``: the ATLAS outreach HZZ
#: notebook's selection exactly — at least four leptons, the first four with charges summing to 0 and
#: ``lep_type`` summing to 44, 48 or 52, nothing else.
PRESETS: dict[str, SelectionConfig] = {
    "default": SelectionConfig(),
    "tutorial": SelectionConfig(require_trigger=False, max_etcone20_rel=None),
    "outreach": SelectionConfig(
        require_trigger=False,
        allow_extra_leptons=True,
        lead_pt=None,
        min_pt=None,
        max_abs_eta=None,
        max_ptcone30_rel=None,
        max_etcone20_rel=None,
    ),
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
        """The first ``n`` leptons of the events where the boolean mask ``events`` is true (each has ``n`` or more).

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
        if np.any(offsets[1:][events] - starts < n):
            raise ValueError(f"every selected event must have at least {n} leptons")
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
    """Exactly ``cfg.n_leptons`` leptons (at least, with ``allow_extra_leptons``), counted by ``lep_n``."""
    counts = np.asarray(events.lep_n)
    return counts >= cfg.n_leptons if cfg.allow_extra_leptons else counts == cfg.n_leptons


def kinematics(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Leading pT > ``lead_pt``, every pT > ``min_pt`` and every |eta| < ``max_abs_eta`` (those not None)."""
    passed = np.ones(len(leptons), dtype=bool)
    if cfg.lead_pt is not None:
        passed &= np.max(leptons.pt, axis=1) > cfg.lead_pt * MEV_PER_GEV
    every = np.ones(leptons.pt.shape, dtype=bool)
    if cfg.min_pt is not None:
        every &= leptons.pt > cfg.min_pt * MEV_PER_GEV
    if cfg.max_abs_eta is not None:
        every &= np.abs(leptons.eta) < cfg.max_abs_eta
    return passed & np.all(every, axis=1)


def flavour(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Sum of ``lep_type`` (11 e, 13 mu) in ``flavour_sums``: eeee 44, ee-mumu 48, mumumu 52."""
    return np.isin(np.sum(leptons.flavour, axis=1, dtype=np.int64), cfg.flavour_sums)


def isolation(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Every lepton ptcone30/pT < ``max_ptcone30_rel`` and etcone20/pT < ``max_etcone20_rel`` (those not None)."""
    isolated = np.ones(leptons.pt.shape, dtype=bool)
    if cfg.max_ptcone30_rel is not None:
        isolated &= leptons.ptcone30 / leptons.pt < cfg.max_ptcone30_rel
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


def lepton_cuts(cfg: SelectionConfig) -> list[tuple[str, LeptonCut]]:
    """The lepton cuts ``cfg`` applies, in order: a cut whose thresholds are all None is left out."""
    thresholds = {
        "kinematics": (cfg.lead_pt, cfg.min_pt, cfg.max_abs_eta),
        "isolation": (cfg.max_ptcone30_rel, cfg.max_etcone20_rel),
    }
    return [(name, cut) for name, cut in LEPTON_CUTS if any(t is not None for t in thresholds.get(name, (0,)))]


def active_cuts(cfg: SelectionConfig) -> list[tuple[str, EventCut | LeptonCut]]:
    """The cuts ``cfg`` applies, in cutflow order, as ``(name, function)`` pairs."""
    return [*event_cuts(cfg), *lepton_cuts(cfg)]


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
    for name, cut in lepton_cuts(cfg):  # dense numpy over the candidates: cheaper than shrinking them cut by cut
        keep &= cut(leptons, cfg)
        passing = np.zeros(len(events), dtype=bool)
        passing[index[keep]] = True
        masks[name] = passing
    return Selection(masks, leptons.take(keep))
