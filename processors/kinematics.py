"""Four-lepton kinematics on dense candidate arrays: four-vectors, m4l, Z candidates, angular separations.

Every function takes :class:`processors.selection.Leptons` (``(events, 4)`` arrays in MeV, as in the files) and
returns per-event numpy arrays; masses are in GeV. Sums are done in float64, so m4l does not suffer from the
cancellation in E^2 - p^2 of the files' float32 values.

Example:
    >>> import numpy as np
    >>> from processors.selection import Leptons
    >>> pt = np.array([[45.6e3, 45.6e3, 45.6e3, 45.6e3]])  # two Z -> ll pairs at rest, back to back
    >>> phi = np.array([[0.0, np.pi, np.pi / 2, -np.pi / 2]])
    >>> zeros = np.zeros((1, 4))
    >>> leptons = Leptons(pt, zeros, phi, pt, np.array([[1, -1, 1, -1]]), np.array([[11, 11, 13, 13]]),
    ...                   zeros, zeros, zeros)
    >>> four_lepton_mass(leptons).round(1).tolist()
    [182.4]
    >>> z = z_candidates(leptons)
    >>> z.z1_mass.round(1).tolist(), z.z2_mass.round(1).tolist(), z.paired.tolist()
    ([91.2], [91.2], [True])
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from processors.selection import Leptons

__all__ = [
    "M_Z",
    "PAIRS",
    "FourVectors",
    "ZCandidates",
    "delta_r",
    "four_lepton_mass",
    "four_vectors",
    "pair_masses",
    "sfos",
    "z_candidates",
]

#: The files' unit of energy and momentum, MeV, per GeV (the unit of histograms and plots).
MEV_PER_GEV = 1000.0
#: The Z boson mass in GeV (PDG), to which the leading pair is closest.
M_Z = 91.1876
#: ``lep_type`` of an electron and of a muon (their PDG codes).
ELECTRON, MUON = 11, 13
#: The six lepton pairs of four candidates, and the pair made of the other two leptons.
PAIRS: tuple[tuple[int, int], ...] = tuple(combinations(range(4), 2))
COMPLEMENTS: tuple[tuple[int, int], ...] = tuple(
    tuple(k for k in range(4) if k not in pair) for pair in PAIRS  # type: ignore[misc]
)
#: For each pair of :data:`PAIRS`, the index of its complement.
_COMPLEMENT_INDEX = np.array([PAIRS.index(other) for other in COMPLEMENTS])


class FourVectors(NamedTuple):
    """Cartesian four-vectors of each candidate lepton, ``(events, n)`` arrays in MeV (float64)."""

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray


def four_vectors(leptons: Leptons) -> FourVectors:
    """(px, py, pz, E) of each lepton from (pT, eta, phi, E).

    Two transcendental functions per lepton instead of three: sin(phi) is ``copysign(sqrt(1 - cos^2), phi)``
    with phi brought into [-pi, pi], and sinh(eta) is ``(e^eta - e^-eta) / 2``; both agree with
    ``np.sin``/``np.sinh`` to about 1e-13 of m4l.
    """
    pt = leptons.pt.astype(np.float64)
    phi = leptons.phi.astype(np.float64)
    if np.any(np.abs(phi) > np.pi):  # e.g. float32(pi) > pi, or a file storing phi in [0, 2 pi)
        phi = np.remainder(phi + np.pi, 2 * np.pi) - np.pi
    cos = np.cos(phi)
    exp_eta = np.exp(leptons.eta.astype(np.float64))
    return FourVectors(
        px=pt * cos,
        py=pt * np.copysign(np.sqrt(np.maximum(1.0 - cos * cos, 0.0)), phi),
        pz=pt * 0.5 * (exp_eta - 1.0 / exp_eta),
        energy=leptons.energy.astype(np.float64),
    )


def _mass(p4: FourVectors, columns: tuple[int, ...]) -> np.ndarray:
    """Invariant mass in GeV of the sum of the leptons in ``columns``; ``(events,)``."""
    px, py, pz, energy = (sum(getattr(p4, field)[:, k] for k in columns) for field in FourVectors._fields)
    return np.asarray(np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0)) / MEV_PER_GEV)


def four_lepton_mass(leptons: Leptons, p4: FourVectors | None = None) -> np.ndarray:
    """Invariant mass of the sum of each event's lepton four-vectors, in GeV; ``(events,)``."""
    p4 = four_vectors(leptons) if p4 is None else p4
    return _mass(p4, tuple(range(leptons.pt.shape[1])))


class ZCandidates(NamedTuple):
    """The two Z candidates of each event's four leptons (GeV); ``paired`` is False where no pairing into two
    same-flavour opposite-charge pairs exists (e.g. e+ e+ mu- mu-), and the masses are NaN there."""

    z1_mass: np.ndarray
    z2_mass: np.ndarray
    paired: np.ndarray


def sfos(leptons: Leptons, pair: tuple[int, int]) -> np.ndarray:
    """Whether the leptons ``pair`` of each event are of the same flavour and opposite charge; ``(events,)``."""
    i, j = pair
    same_flavour = leptons.flavour[:, i] == leptons.flavour[:, j]
    return np.asarray(same_flavour & (leptons.charge[:, i] == -leptons.charge[:, j]))


def z_candidates(leptons: Leptons, p4: FourVectors | None = None) -> ZCandidates:
    """Pair four leptons into Z1 and Z2: of the pairings into two same-flavour opposite-charge (SFOS) pairs,
    the one whose pair is closest to :data:`M_Z` makes that pair Z1 and the other Z2. In 4e and 4mu events two
    pairings exist and the choice resolves the ambiguity; in 2e2mu only one. Two pairs exactly as close to the Z
    mass (possible only in constructed events) are resolved in favour of the first in :data:`PAIRS`."""
    p4 = four_vectors(leptons) if p4 is None else p4
    n = len(leptons)
    distance = np.full((len(PAIRS), n), np.inf)
    masses = np.empty((len(PAIRS), n))
    for k, (pair, other) in enumerate(zip(PAIRS, COMPLEMENTS, strict=True)):
        valid = sfos(leptons, pair) & sfos(leptons, other)
        masses[k] = _mass(p4, pair)
        distance[k] = np.where(valid, np.abs(masses[k] - M_Z), np.inf)
    best = np.argmin(distance, axis=0)
    rows = np.arange(n)
    paired = np.isfinite(distance[best, rows])
    complement = _COMPLEMENT_INDEX[best]
    return ZCandidates(
        z1_mass=np.where(paired, masses[best, rows], np.nan),
        z2_mass=np.where(paired, masses[complement, rows], np.nan),
        paired=paired,
    )


def delta_r(leptons: Leptons, pair: tuple[int, int]) -> np.ndarray:
    """Angular separation sqrt(d_eta^2 + d_phi^2) of two leptons, d_phi in [-pi, pi]; ``(events,)``."""
    i, j = pair
    d_eta = leptons.eta[:, i].astype(np.float64) - leptons.eta[:, j]
    d_phi = np.remainder(leptons.phi[:, i].astype(np.float64) - leptons.phi[:, j] + np.pi, 2 * np.pi) - np.pi
    return np.asarray(np.hypot(d_eta, d_phi))


def pair_masses(leptons: Leptons, p4: FourVectors | None = None) -> np.ndarray:
    """Invariant mass in GeV of each of the six lepton pairs of :data:`PAIRS`; ``(6, events)``."""
    p4 = four_vectors(leptons) if p4 is None else p4
    return np.stack([_mass(p4, pair) for pair in PAIRS])
