"""The four-lepton event selection: one function per cut, thresholds in one frozen config.

Event cuts (``trigger``, ``four_leptons``) take the events (a record array with a ``lep``
collection, as made by :class:`processors.schema.MiniSchema`). Lepton cuts (``kinematics``,
``flavour``, ``isolation``, ``charge`` and the ATLAS paper's ``z1_mass``, ``z2_mass``, ``delta_r``,
``sfos_mass``) take :class:`Leptons`: the candidate leptons of the events that passed the event cuts,
as dense ``(events, 4)`` numpy arrays, so no jagged record is built for events the cuts already
dropped. Every cut returns a boolean numpy mask; momenta are in MeV in the arrays and in GeV in
:class:`SelectionConfig`. All comparisons are strict, as in the tutorial.

The event cuts are applied once per chunk (:func:`preselect`); the lepton cuts can then be applied to
the nominal candidates and to momentum-shifted copies of them (:meth:`Leptons.shifted`), so that
systematic variations cost one read of the data.

Example:
    >>> cfg = PRESETS["default"]
    >>> [name for name, _ in active_cuts(cfg)]
    ['trigger', 'four_leptons', 'kinematics', 'flavour', 'isolation', 'charge']
    >>> [name for name, _ in active_cuts(PRESETS["tutorial"])]
    ['four_leptons', 'kinematics', 'flavour', 'isolation', 'charge']
    >>> [name for name, _ in active_cuts(PRESETS["outreach"])]
    ['four_leptons', 'flavour', 'charge']
    >>> [name for name, _ in active_cuts(PRESETS["paper"])][-4:]
    ['z1_mass', 'z2_mass', 'delta_r', 'sfos_mass']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import awkward as ak
import numpy as np

from processors.compat import flat_columns
from processors.kinematics import (
    ELECTRON,
    MEV_PER_GEV,
    PAIRS,
    FourVectors,
    ZCandidates,
    delta_r,
    four_lepton_mass,
    four_vectors,
    pair_masses,
    sfos,
    z_candidates,
)

__all__ = [
    "LEPTON_CUTS",
    "PRESETS",
    "Candidates",
    "Cut",
    "Leptons",
    "Selection",
    "SelectionConfig",
    "active_cuts",
    "charge",
    "delta_r_cut",
    "event_cuts",
    "flavour",
    "four_leptons",
    "isolation",
    "kinematics",
    "lepton_cuts",
    "preselect",
    "select",
    "select_candidates",
    "sfos_mass",
    "trigger",
    "z1_mass",
    "z2_mass",
]

@dataclass(frozen=True)
class SelectionConfig:
    """Thresholds of the selection. Momenta in GeV; isolation as a fraction of the lepton pT.

    ``n_leptons`` leptons are required, exactly, or at least with ``allow_extra_leptons`` (the first
    ``n_leptons`` as stored in the file are then the candidates the lepton cuts and m4l use). A threshold set to
    ``None`` is not applied; the kinematic and isolation cuts drop out of the cutflow when all of theirs are
    ``None``, and ``require_trigger=False`` drops the trigger requirement.

    The ATLAS paper's cuts on the candidates paired into Z1 and Z2 (:func:`processors.kinematics.z_candidates`),
    all ``None`` (not applied) but in the ``paper`` preset: ``z1_mass_window`` (low, high) on m_Z1;
    ``z2_mass_max`` and ``z2_mass_threshold`` (m4l_low, threshold_low, m4l_high, threshold_high) on m_Z2, whose
    lower threshold rises linearly in m4l between the two points and is constant outside; ``min_delta_r``
    (same flavour, different flavour) between every two leptons; ``min_sfos_mass`` for every same-flavour
    opposite-charge pair.
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
    z1_mass_window: tuple[float, float] | None = None
    z2_mass_max: float | None = None
    z2_mass_threshold: tuple[float, float, float, float] | None = None
    min_delta_r: tuple[float, float] | None = None
    min_sfos_mass: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The thresholds as a JSON-friendly dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


#: ``default``: the full selection. ``tutorial``: the tutorial's selection exactly — its trigger requirement is
#: computed but never applied, and its isolation tests ptcone30/pT twice. ``outreach``: the ATLAS outreach HZZ
#: notebook's selection exactly — at least four leptons, the first four with charges summing to 0 and
#: ``lep_type`` summing to 44, 48 or 52, nothing else. ``paper``: ``default`` plus the event selection of the
#: ATLAS 13 TeV H->ZZ*->4l paper (JHEP 03 (2018) 095) as far as the open-data branches allow: 50 < m_Z1 < 106
#: GeV; m_thr < m_Z2 < 115 GeV with m_thr 12 GeV below m4l = 140 GeV rising linearly to 50 GeV at 190 GeV;
#: Delta R > 0.10 (same flavour) or 0.20 (different flavour) between leptons; m_ll > 5 GeV for every
#: same-flavour opposite-charge pair.
PRESETS: dict[str, SelectionConfig] = {
    "default": SelectionConfig(),
    "paper": SelectionConfig(
        z1_mass_window=(50.0, 106.0),
        z2_mass_max=115.0,
        z2_mass_threshold=(140.0, 12.0, 190.0, 50.0),
        min_delta_r=(0.10, 0.20),
        min_sfos_mass=5.0,
    ),
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


_CHANNEL_BY_ELECTRONS = np.array(["4mu", "1e3mu", "2e2mu", "3e1mu", "4e"])


@dataclass(frozen=True)
class Leptons:
    """Candidate leptons, ``n`` per event, as dense ``(events, n)`` arrays.

    Momenta and energies in MeV, as in the files; ``flavour`` is ``lep_type`` (11 e, 13 mu); ``pt_syst`` is the
    file's momentum-scale uncertainty ``lep_pt_syst`` (MeV; 0 in data). Their four-vectors, m4l and Z candidates
    are computed once, when first asked for.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray
    charge: np.ndarray
    flavour: np.ndarray
    ptcone30: np.ndarray
    etcone20: np.ndarray
    pt_syst: np.ndarray

    @classmethod
    def of(cls, lep: ak.Array, events: np.ndarray, n: int) -> Leptons:
        """The first ``n`` leptons of the events where the boolean mask ``events`` is true (each has ``n`` or more).

        The arrays are gathered straight from the flat lepton columns, lepton-major in memory (shape
        ``(events, n)``, Fortran order), so per-event reductions over the ``n`` leptons run as
        vectorised operations across ``n`` contiguous columns.
        """
        fields = {f.name: f.name for f in dataclasses.fields(cls)} | {"flavour": "type"}  # lep["type"], not lep.type
        offsets, columns = flat_columns(lep, tuple(fields.values()))
        starts = offsets[:-1][events]
        if np.any(offsets[1:][events] - starts < n):
            raise ValueError(f"every selected event must have at least {n} leptons")
        index = starts + np.arange(n)[:, None]  # (n, events): lepton k of each event in row k
        return cls(**{name: np.asarray(columns[field][index].T) for name, field in fields.items()})

    def __len__(self) -> int:
        return len(self.pt)

    def take(self, mask: np.ndarray) -> Leptons:
        """The leptons of the events where ``mask`` is true."""
        rows = np.flatnonzero(mask)  # taken along the contiguous axis, which keeps the arrays lepton-major
        return Leptons(**{f.name: np.take(getattr(self, f.name).T, rows, axis=1).T for f in dataclasses.fields(self)})

    def shifted(self, sign: float) -> Leptons:
        """The leptons with every pT moved by ``sign`` times ``pt_syst`` and the energy scaled with it (eta, phi
        and the mass of the lepton unchanged): the lepton momentum-scale variation. The shifted values are stored
        as float32, as a file would hold them."""
        pt = self.pt.astype(np.float64)
        shifted = (pt + sign * self.pt_syst.astype(np.float64)).astype(np.float32)
        energy = (self.energy.astype(np.float64) * shifted.astype(np.float64) / pt).astype(np.float32)
        return dataclasses.replace(self, pt=shifted, energy=energy)

    @cached_property
    def p4(self) -> FourVectors:
        """Cartesian four-vectors (MeV, float64)."""
        return four_vectors(self)

    @cached_property
    def m4l(self) -> np.ndarray:
        """Invariant mass of the candidates in GeV; ``(events,)``."""
        return four_lepton_mass(self, self.p4)

    @cached_property
    def channel(self) -> np.ndarray:
        """The decay channel of each event's leptons by their electrons (``4e``, ``4mu``, ``2e2mu``; ``1e3mu`` and
        ``3e1mu`` only for candidates of a selection without the flavour cut), as strings; ``(events,)``."""
        return np.asarray(_CHANNEL_BY_ELECTRONS[self.count(ELECTRON)])

    @cached_property
    def z(self) -> ZCandidates:
        """The Z1, Z2 pairing of the candidates."""
        return z_candidates(self, self.p4)

    def count(self, flavour: int) -> np.ndarray:
        """Number of candidates of ``flavour`` (11 e, 13 mu) in each event; ``(events,)``."""
        return np.asarray(np.sum(self.flavour == flavour, axis=1))


def trigger(events: ak.Array, cfg: SelectionConfig) -> np.ndarray:
    """Single-electron or single-muon trigger fired: ``trigE or trigM``."""
    return np.asarray(np.asarray(events.trigE, dtype=bool) | np.asarray(events.trigM, dtype=bool))


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
    return np.asarray(passed & np.all(every, axis=1))


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
    return np.asarray(np.all(isolated, axis=1))


def charge(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Sum of lepton charges equal to ``charge_sum``."""
    return np.asarray(np.sum(leptons.charge, axis=1, dtype=np.int64) == cfg.charge_sum)


def z1_mass(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """The leptons pair into two same-flavour opposite-charge Z candidates, and low < m_Z1 < high."""
    assert cfg.z1_mass_window is not None
    low, high = cfg.z1_mass_window
    mass = leptons.z.z1_mass
    return leptons.z.paired & (mass > low) & (mass < high)


def z2_mass(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """m_thr(m4l) < m_Z2 < ``z2_mass_max``, the threshold interpolated linearly in m4l (constant outside)."""
    passed = leptons.z.paired.copy()
    mass = leptons.z.z2_mass
    if cfg.z2_mass_max is not None:
        passed &= mass < cfg.z2_mass_max
    if cfg.z2_mass_threshold is not None:
        m4l_low, low, m4l_high, high = cfg.z2_mass_threshold
        passed &= mass > np.interp(leptons.m4l, [m4l_low, m4l_high], [low, high])
    return passed


def delta_r_cut(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Delta R between every two leptons above ``min_delta_r[0]`` (same flavour) or ``[1]`` (different)."""
    assert cfg.min_delta_r is not None
    same, different = cfg.min_delta_r
    passed = np.ones(len(leptons), dtype=bool)
    for i, j in PAIRS:
        minimum = np.where(leptons.flavour[:, i] == leptons.flavour[:, j], same, different)
        passed &= delta_r(leptons, (i, j)) > minimum
    return passed


def sfos_mass(leptons: Leptons, cfg: SelectionConfig) -> np.ndarray:
    """Every same-flavour opposite-charge pair heavier than ``min_sfos_mass`` (the J/psi veto)."""
    assert cfg.min_sfos_mass is not None
    masses = pair_masses(leptons, leptons.p4)
    passed = np.ones(len(leptons), dtype=bool)
    for k, pair in enumerate(PAIRS):
        passed &= ~sfos(leptons, pair) | (masses[k] > cfg.min_sfos_mass)
    return passed


EventCut = Callable[[ak.Array, SelectionConfig], np.ndarray]
LeptonCut = Callable[[Leptons, SelectionConfig], np.ndarray]


class Cut(NamedTuple):
    """A lepton cut, and whether a configuration applies it (not when all its thresholds are None)."""

    name: str
    function: LeptonCut
    applies: Callable[[SelectionConfig], bool]


def _set(*values: object) -> bool:
    return any(value is not None for value in values)


LEPTON_CUTS: tuple[Cut, ...] = (
    Cut("kinematics", kinematics, lambda c: _set(c.lead_pt, c.min_pt, c.max_abs_eta)),
    Cut("flavour", flavour, lambda c: True),
    Cut("isolation", isolation, lambda c: _set(c.max_ptcone30_rel, c.max_etcone20_rel)),
    Cut("charge", charge, lambda c: True),
    Cut("z1_mass", z1_mass, lambda c: _set(c.z1_mass_window)),
    Cut("z2_mass", z2_mass, lambda c: _set(c.z2_mass_max, c.z2_mass_threshold)),
    Cut("delta_r", delta_r_cut, lambda c: _set(c.min_delta_r)),
    Cut("sfos_mass", sfos_mass, lambda c: _set(c.min_sfos_mass)),
)


def event_cuts(cfg: SelectionConfig) -> list[tuple[str, EventCut]]:
    """The event cuts ``cfg`` applies, in order."""
    return [*([("trigger", trigger)] if cfg.require_trigger else []), ("four_leptons", four_leptons)]


def lepton_cuts(cfg: SelectionConfig) -> list[tuple[str, LeptonCut]]:
    """The lepton cuts ``cfg`` applies, in order."""
    return [(cut.name, cut.function) for cut in LEPTON_CUTS if cut.applies(cfg)]


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


@dataclass(frozen=True)
class Candidates:
    """The outcome of the event cuts: their cumulative masks over all events, the events passing them
    (``index``) and those events' candidate leptons."""

    masks: dict[str, np.ndarray]
    index: np.ndarray
    leptons: Leptons
    events: int


def preselect(events: ak.Array, cfg: SelectionConfig) -> Candidates:
    """Apply the event cuts of ``cfg`` and gather the candidate leptons of the events that pass."""
    masks: dict[str, np.ndarray] = {}
    passing = np.ones(len(events), dtype=bool)
    for name, cut in event_cuts(cfg):
        passing = passing & cut(events, cfg)
        masks[name] = passing
    return Candidates(masks, np.flatnonzero(passing), Leptons.of(events.lep, passing, cfg.n_leptons), len(events))


def select_candidates(candidates: Candidates, cfg: SelectionConfig, leptons: Leptons | None = None) -> Selection:
    """Apply the lepton cuts of ``cfg`` to the candidates, or to ``leptons``: a variation of them (same events)."""
    leptons = candidates.leptons if leptons is None else leptons
    masks = dict(candidates.masks)
    keep = np.ones(len(candidates.index), dtype=bool)
    for name, cut in lepton_cuts(cfg):  # dense numpy over the candidates: cheaper than shrinking them cut by cut
        keep &= cut(leptons, cfg)
        passing = np.zeros(candidates.events, dtype=bool)
        passing[candidates.index[keep]] = True
        masks[name] = passing
    return Selection(masks, leptons.take(keep))


def select(events: ak.Array, cfg: SelectionConfig) -> Selection:
    """Apply the cuts of ``cfg`` in order; lepton cuts only see the events that passed the event cuts."""
    return select_candidates(preselect(events, cfg), cfg)
