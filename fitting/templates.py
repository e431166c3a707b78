"""Data, signal and background templates formed from the accumulated m4l histogram.

The prediction is linear in the two parameters: ``nu = s_s * signal + s_b * background``.
Bins with zero prediction and zero data carry no information and are dropped; a bin with zero
prediction but data, negative counts, no data or no signal are errors naming the problem.

Example:
    >>> import numpy as np
    >>> t = Templates.from_arrays(np.array([0.0, 1.0, 2.0]), data=[3, 5], signal=[1.0, 0.0],
    ...                           background=[2.0, 4.0])
    >>> t.predict(1.0, 1.0).tolist()
    [3.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import hist
import numpy as np

from analysis.errors import HZZ4lError

__all__ = ["TemplateError", "Templates", "bin_label"]


class TemplateError(HZZ4lError, ValueError):
    """Histograms that cannot be fitted; the message says which and why."""


@dataclass(frozen=True)
class Templates:
    """Binned inputs of the fit, restricted to the bins used (shape ``(nbins,)`` each).

    ``edges`` has ``nbins + 1`` entries of the full histogram; ``used`` marks which of its bins
    enter the fit. Variances are the sums of squared weights of the simulation.
    """

    edges: np.ndarray
    used: np.ndarray
    data: np.ndarray
    signal: np.ndarray
    background: np.ndarray
    signal_var: np.ndarray
    background_var: np.ndarray

    @property
    def nbins(self) -> int:
        """Number of bins entering the fit."""
        return len(self.data)

    @property
    def r2(self) -> np.ndarray:
        """Squared relative statistical uncertainty of the nominal simulation per bin."""
        total = self.signal + self.background
        return np.asarray((self.signal_var + self.background_var) / total**2)

    def predict(self, s_s: float | np.ndarray, s_b: float | np.ndarray) -> np.ndarray:
        """``s_s * signal + s_b * background``; array parameters broadcast on a new last bin axis."""
        return np.asarray(np.multiply.outer(s_s, self.signal) + np.multiply.outer(s_b, self.background))

    @classmethod
    def from_arrays(
        cls,
        edges: Sequence[float] | np.ndarray,
        data: Sequence[float] | np.ndarray,
        signal: Sequence[float] | np.ndarray,
        background: Sequence[float] | np.ndarray,
        signal_var: Sequence[float] | np.ndarray | None = None,
        background_var: Sequence[float] | np.ndarray | None = None,
        fit_range: tuple[float, float] | None = None,
    ) -> Templates:
        """Validate per-bin arrays (GeV edges) and keep the bins that carry information.

        ``fit_range=(lo, hi)`` keeps only the bins lying inside it.
        """
        edges = np.asarray(edges, dtype=float)
        arrays = {
            "data": np.asarray(data, dtype=float),
            "signal": np.asarray(signal, dtype=float),
            "background": np.asarray(background, dtype=float),
        }
        arrays["signal_var"] = np.zeros_like(arrays["signal"]) if signal_var is None else np.asarray(signal_var, float)
        arrays["background_var"] = (
            np.zeros_like(arrays["background"]) if background_var is None else np.asarray(background_var, float)
        )
        nbins = len(edges) - 1
        for name, values in arrays.items():
            if values.shape != (nbins,):
                raise TemplateError(f"{name} has {values.size} bins but the edges define {nbins}")
            bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
            if bad.size:
                k = bad[0]
                raise TemplateError(f"{name} is negative or not finite in {bin_label(edges, k)}: {values[k]:g}")
        fractional = np.flatnonzero(arrays["data"] != np.round(arrays["data"]))
        if fractional.size:
            k = fractional[0]
            raise TemplateError(f"data must be integer counts: {arrays['data'][k]:g} in {bin_label(edges, k)}")
        inside = np.ones(nbins, dtype=bool)
        if fit_range is not None:
            lo, hi = fit_range
            inside = (edges[:-1] >= lo - 1e-9) & (edges[1:] <= hi + 1e-9)
            if not inside.any():
                raise TemplateError(f"no bin lies inside the fit range [{lo:g}, {hi:g}] GeV")
        for name in ("data", "signal", "background"):
            if arrays[name][inside].sum() <= 0:
                raise TemplateError(f"the {name} histogram is empty in the fit range")
        prediction = arrays["signal"] + arrays["background"]
        for k in np.flatnonzero(inside & (prediction == 0) & (arrays["data"] > 0)):
            count = int(arrays["data"][k])
            raise TemplateError(f"{bin_label(edges, int(k))} has {count} data events but zero predicted events")
        used = inside & (prediction > 0)
        return cls(edges=edges, used=used, **{name: values[used] for name, values in arrays.items()})

    @classmethod
    def from_hist(
        cls,
        histogram: hist.Hist[Any],
        roles: Mapping[str, str],
        fit_range: tuple[float, float] | None = None,
    ) -> Templates:
        """Sum the ``dataset`` categories of a ``Hist(dataset, mass)`` by role (``data``, ``signal``,
        ``background``), keeping the simulation's sums of squared weights."""
        present = set(histogram.axes["dataset"])
        sums: dict[str, np.ndarray] = {}
        variances: dict[str, np.ndarray] = {}
        nbins = histogram.axes["mass"].size
        for role in ("data", "signal", "background"):
            names = [name for name, r in roles.items() if r == role and name in present]
            if not names:
                raise TemplateError(f"no {role} dataset among the histograms (roles: {dict(roles)})")
            sums[role], variances[role] = np.zeros(nbins), np.zeros(nbins)
            for name in names:
                one = histogram[name, :]
                assert isinstance(one, hist.Hist)  # a name and a slice leave the mass axis
                sums[role] += one.values()
                variances[role] += one.variances()  # Weight storage: never None
        return cls.from_arrays(
            histogram.axes["mass"].edges,
            sums["data"],
            sums["signal"],
            sums["background"],
            variances["signal"],
            variances["background"],
            fit_range=fit_range,
        )


def bin_label(edges: np.ndarray, k: int) -> str:
    """How an error message names bin ``k`` of ``edges`` (GeV).

    Example:
        >>> bin_label(np.array([80.0, 85.0, 90.0]), 1)
        'bin 1 [85, 90) GeV'
    """
    return f"bin {k} [{edges[k]:g}, {edges[k + 1]:g}) GeV"
