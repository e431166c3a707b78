"""The model with nuisance parameters: m4l per channel with its systematic variations as a HistFactory workspace,
fitted with cabinetry (on pyhf) for s_s with its total, statistical and systematic uncertainty, the pulls and the
impact of every nuisance parameter.

The workspace has one region per decay channel (``m4l_4e``, ``m4l_4mu``, ``m4l_2e2mu``; or one ``m4l`` region
summed over channels), one sample per process group, and the modifiers

* ``s_s`` (signal) and ``s_b`` (every background): free ``normfactor`` s, the tutorial's two parameters;
* a ``histosys`` for every shape variation the histograms carry as ``<name>_up``/``<name>_down`` (the processor
  fills the lepton momentum scale ``lep_scale`` and the efficiency scale factors ``ele_eff``, ``mu_eff``), bounded
  to the range where HistFactory's linear extrapolation keeps every prediction positive (at most +-5);
* a ``normsys`` for each normalisation uncertainty of :data:`NORMALISATIONS` (luminosity, ZZ* cross-section);
* a ``staterror`` per region for the simulation's statistical uncertainty (Barlow-Beeston lite).

Bins where the simulation predicts nothing and no data are seen are left out; data in a bin with no prediction is
an error naming the region and bin. A process group whose prediction is negative in a bin (negative event weights
in a sparse channel) is set to 0 there, as HistFactory requires, with a :class:`NegativePredictionWarning` naming
the region, group and bins. The χ²-based
tutorial statistics of :mod:`fitting.analysis` are not affected: this model is fitted only on request.

Example:
    >>> import hist, numpy as np
    >>> h = hist.Hist(hist.axis.StrCategory(["data", "H", "ZZ"], name="dataset"),
    ...               hist.axis.StrCategory(["4mu"], name="channel"),
    ...               hist.axis.StrCategory(["nominal", "lep_scale_up", "lep_scale_down"], name="variation"),
    ...               hist.axis.Regular(2, 110.0, 140.0, name="mass"), storage=hist.storage.Weight())
    >>> _ = h.fill(dataset="H", channel="4mu", variation=["nominal", "lep_scale_up", "lep_scale_down"],
    ...            mass=[125.0, 125.0, 125.0], weight=5.0)
    >>> for variation in ("nominal", "lep_scale_up", "lep_scale_down"):
    ...     _ = h.fill(dataset="ZZ", channel="4mu", variation=variation, mass=[115.0, 135.0], weight=20.0)
    >>> _ = h.fill(dataset="data", channel="4mu", variation="nominal", mass=[115.0] * 21 + [135.0] * 26)
    >>> spec = workspace(h, {"data": "data", "H": "signal", "ZZ": "background"})
    >>> [region["name"] for region in spec["channels"]], sorted(m["name"] for m in
    ...     spec["channels"][0]["samples"][0]["modifiers"])
    (['m4l_4mu'], ['lep_scale', 'lumi', 'mc_stat_m4l_4mu', 's_s'])
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from analysis.errors import HZZ4lError, HZZ4lWarning
from fitting import document as doc
from fitting.templates import TemplateError, bin_label
from fitting.workspace import BOUNDS, staterror_widths
from processors.histograms import Histogram, project

__all__ = [
    "NORMALISATIONS",
    "Impact",
    "NegativePredictionWarning",
    "Normalisation",
    "Pull",
    "SystematicFit",
    "SystematicsUnavailable",
    "Uncertainty",
    "fit_systematics",
    "shape_systematics",
    "workspace",
]

NOMINAL = "nominal"
POI, BACKGROUND_SCALE = "s_s", "s_b"
#: The furthest a shape parameter may go (in units of its prior width), less where a prediction would vanish.
SHAPE_REACH = 5.0


class Normalisation(NamedTuple):
    """A normalisation uncertainty: relative ``size`` on ``samples`` (process groups; ``None``: every simulated
    sample), and where the number comes from."""

    size: float
    samples: tuple[str, ...] | None
    source: str


#: The normalisation uncertainties of the model, as ``normsys`` modifiers.
NORMALISATIONS: dict[str, Normalisation] = {
    "lumi": Normalisation(
        0.032,
        None,
        "uncertainty of the 2015-2016 integrated luminosity quoted by the ATLAS H->ZZ*->4l paper with 36 fb^-1, "
        "JHEP 03 (2018) 095 (its 2016 data include the open-data periods)",
    ),
    "zz_xsec": Normalisation(
        0.10,
        ("ZZ*",),
        "assumed: QCD scale and PDF uncertainty of qq->ZZ* and the missing gg->ZZ* (ROOT's df106 tutorial scales "
        "the ZZ* sample by 1.3 for it); the paper constrains ZZ* differently",
    ),
}


class NegativePredictionWarning(HZZ4lWarning):
    """A process group predicted fewer than zero events in a bin; the workspace holds 0 there."""


class SystematicsUnavailable(HZZ4lError, RuntimeError):
    """The fit with nuisance parameters needs cabinetry (and pyhf), an optional extra."""


def shape_systematics(variations: Sequence[str]) -> list[str]:
    """The shape systematics among variation names: those present as both ``<name>_up`` and ``<name>_down``.

    Example:
        >>> shape_systematics(["nominal", "lep_scale_up", "lep_scale_down", "ele_eff_up"])
        ['lep_scale']
    """
    return [v[: -len("_up")] for v in variations if v.endswith("_up") and f"{v[: -len('_up')]}_down" in variations]


def _regions(histogram: Histogram, channels: bool) -> dict[str, Histogram]:
    """``{region: Hist(dataset, variation, mass)}``: one per channel, or the channels summed."""
    if not channels:
        return {"m4l": project(histogram, {"channel": sum})}
    return {f"m4l_{channel}": project(histogram, {"channel": channel}) for channel in histogram.axes["channel"]}


def _group_sums(region: Histogram, datasets: Sequence[str], variation: str) -> tuple[np.ndarray, np.ndarray]:
    """Summed values and variances of ``datasets`` in one variation of a region; zeros if none is present."""
    nbins = region.axes["mass"].size
    values, variances = np.zeros(nbins), np.zeros(nbins)
    present = set(region.axes["dataset"])
    for name in datasets:
        if name in present:
            one = project(region, {"dataset": name, "variation": variation})
            values += one.values()
            variances += one.variances()  # Weight storage: never None
    return values, variances


def workspace(
    histogram: Histogram,
    roles: Mapping[str, str],
    groups: Mapping[str, str] | None = None,
    channels: bool = True,
    normalisations: Mapping[str, Normalisation] = NORMALISATIONS,
) -> dict[str, Any]:
    """The pyhf workspace (a JSON-ready dict, schema 1.0.0) of ``Hist(dataset, channel, variation, mass)``.

    Args:
        roles: ``{dataset: role}``; ``data`` datasets are summed into the observations.
        groups: ``{dataset: process group}``, the workspace's samples (default: one ``signal`` and one
            ``background`` sample); datasets of one group must share a role.
        channels: one region per channel (a simultaneous fit) rather than one region summed over channels.
        normalisations: the ``normsys`` modifiers (:data:`NORMALISATIONS`).

    Raises:
        TemplateError: data in a bin with no prediction, a negative prediction, no data or no signal.
    """
    groups = dict(groups) if groups is not None else {d: r for d, r in roles.items() if r != "data"}
    samples: dict[str, list[str]] = {}
    role_of: dict[str, str] = {}
    for dataset, group in groups.items():
        if roles.get(dataset) in (None, "data"):
            continue
        if role_of.setdefault(group, roles[dataset]) != roles[dataset]:
            raise TemplateError(f"process group '{group}' mixes signal and background datasets")
        samples.setdefault(group, []).append(dataset)
    if "signal" not in role_of.values():
        raise TemplateError("no signal dataset among the histograms")
    data_sets = [d for d, r in roles.items() if r == "data"]
    shapes = shape_systematics(list(histogram.axes["variation"]))
    reach = {name: [-SHAPE_REACH, SHAPE_REACH] for name in shapes}
    edges = histogram.axes["mass"].edges
    channels_out, observations = [], []
    for region_name, region in _regions(histogram, channels).items():
        data, _ = _group_sums(region, data_sets, NOMINAL)
        nominal = {group: _group_sums(region, names, NOMINAL) for group, names in samples.items()}
        for group, (values, _) in nominal.items():
            negative = np.flatnonzero(values < 0)
            if negative.size:
                bins = ", ".join(bin_label(edges, int(k)) for k in negative)
                message = f"{region_name}: '{group}' predicts < 0 events in {bins}: set to 0"
                warnings.warn(message, NegativePredictionWarning, stacklevel=2)
                values[negative] = 0.0
        total = np.sum([values for values, _ in nominal.values()], axis=0)
        for k in np.flatnonzero((total <= 0) & (data > 0)):
            count = int(data[k])
            raise TemplateError(f"{region_name}: {bin_label(edges, int(k))} has {count} data events but no prediction")
        used = total > 0
        if not used.any():
            continue
        widths = staterror_widths([np.sqrt(variances)[used] for _, variances in nominal.values()], total[used])
        region_samples = []
        for (group, names), width in zip(samples.items(), widths, strict=True):
            values = nominal[group][0]
            modifiers: list[dict[str, Any]] = [
                {"name": POI if role_of[group] == "signal" else BACKGROUND_SCALE, "type": "normfactor", "data": None}
            ]
            for name in shapes:
                up, down = (np.maximum(_group_sums(region, names, f"{name}_{d}")[0][used], 0.0) for d in ("up", "down"))
                shape = {"hi_data": up.tolist(), "lo_data": down.tolist()}
                low, high = _physical_range(values[used], up, down)
                reach[name] = [max(reach[name][0], low), min(reach[name][1], high)]
                modifiers.append({"name": name, "type": "histosys", "data": shape})
            for name, norm in normalisations.items():
                if norm.samples is None or group in norm.samples:
                    factors = {"hi": 1 + norm.size, "lo": 1 - norm.size}
                    modifiers.append({"name": name, "type": "normsys", "data": factors})
            modifiers.append({"name": f"mc_stat_{region_name}", "type": "staterror", "data": width.tolist()})
            region_samples.append({"name": group, "data": values[used].tolist(), "modifiers": modifiers})
        channels_out.append({"name": region_name, "samples": region_samples})
        observations.append({"name": region_name, "data": data[used].tolist()})
    if not channels_out or sum(sum(o["data"]) for o in observations) <= 0:
        raise TemplateError("no data events in any region of the fit")
    parameters = [{"name": name, "bounds": [list(BOUNDS)], "inits": [1.0]} for name in (POI, BACKGROUND_SCALE)]
    parameters += [{"name": name, "bounds": [bounds]} for name, bounds in reach.items()]
    return {
        "channels": channels_out,
        "observations": observations,
        "measurements": [{"name": "hzz4l_systematics", "config": {"poi": POI, "parameters": parameters}}],
        "version": "1.0.0",
    }


def _physical_range(nominal: np.ndarray, up: np.ndarray, down: np.ndarray) -> tuple[float, float]:
    """The range of a ``histosys`` parameter theta over which HistFactory's linear extrapolation of one sample,
    nominal + |theta| (up or down - nominal) beyond +-1, stays positive in every bin (kept 1 % inside the point
    where a bin reaches zero, so that no fit evaluates an empty prediction)."""
    high, low = SHAPE_REACH, -SHAPE_REACH
    with np.errstate(divide="ignore", invalid="ignore"):
        falls_up = np.where(up < nominal, nominal / (nominal - up), np.inf)
        falls_down = np.where(down < nominal, nominal / (nominal - down), np.inf)
    if np.isfinite(falls_up).any():
        high = min(high, 1.0 + 0.99 * (float(falls_up.min()) - 1.0))
    if np.isfinite(falls_down).any():
        low = max(low, -(1.0 + 0.99 * (float(falls_down.min()) - 1.0)))
    return low, high


class Pull(NamedTuple):
    """A constrained nuisance parameter after the fit: (best fit - prior) / prior width, and the post-fit width
    relative to the prior one (below 1: constrained by the data)."""

    name: str
    pull: float
    constraint: float


class Impact(NamedTuple):
    """The shift of s_s when a nuisance parameter is moved by +-1 of its prior (pre-fit) or post-fit width and the
    others are fitted again."""

    name: str
    prefit_up: float
    prefit_down: float
    postfit_up: float
    postfit_down: float


class Uncertainty(NamedTuple):
    """An asymmetric uncertainty: positive distances down and up."""

    down: float
    up: float


class SystematicFit(NamedTuple):
    """The fit with nuisance parameters: s_s with its total uncertainty (MINOS), the statistical one (MINOS with
    every nuisance parameter fixed at its best value) and the systematic one (their difference in quadrature, side
    by side), s_b, the pulls and the impacts (largest post-fit impact first). ``at_boundary``: the best s_s lies on
    the lower bound 0 of the workspace, where the downward uncertainties are cut."""

    s_s: float
    total: Uncertainty
    stat: Uncertainty
    syst: Uncertainty
    at_boundary: bool
    s_b: float
    s_b_error: float
    pulls: tuple[Pull, ...]
    impacts: tuple[Impact, ...]
    twice_nll: float

    def document(self, per_channel: bool) -> doc.Systematics:
        """The ``systematics`` part of ``fit.json``, of a fit of the channels simultaneously (``per_channel``) or of
        their sum."""
        return doc.Systematics(
            s_s=doc.SignalStrength(
                value=self.s_s,
                total=doc.Uncertainty(**self.total._asdict()),
                stat=doc.Uncertainty(**self.stat._asdict()),
                syst=doc.Uncertainty(**self.syst._asdict()),
                at_boundary=self.at_boundary,
            ),
            s_b=doc.BackgroundScale(value=self.s_b, error=self.s_b_error),
            pulls=[doc.Pull(**p._asdict()) for p in self.pulls],
            impacts=[doc.Impact(**i._asdict()) for i in self.impacts],
            twice_nll=self.twice_nll,
            normalisations={
                name: doc.Normalisation(
                    size=n.size, samples=None if n.samples is None else list(n.samples), source=n.source
                )
                for name, n in NORMALISATIONS.items()
            },
            per_channel=per_channel,
        )


def _cabinetry() -> Any:
    try:
        import cabinetry
    except ImportError:
        raise SystematicsUnavailable(
            "the fit with systematic uncertainties needs cabinetry and pyhf: pip install 'hzz4l[systematics]'"
        ) from None
    return cabinetry


def fit_systematics(spec: dict[str, Any]) -> SystematicFit:
    """Fit the workspace ``spec`` (:func:`workspace`) with cabinetry: maximum likelihood with MINOS errors on s_s;
    again with every nuisance parameter fixed at its best value, for the statistical uncertainty; and with each
    named nuisance parameter (shapes and normalisations) fixed at its best value moved by +-1 pre-fit and post-fit
    width, for its impact. The simulation's statistical uncertainty (one gamma per bin) enters the impacts as the
    group ``mc_stat``: s_s's uncertainty with the gammas free, in quadrature less that with them fixed.

    Raises:
        SystematicsUnavailable: cabinetry is not installed.
        fitting.fit.FitError: a fit did not converge.
    """
    cabinetry = _cabinetry()
    import pyhf

    from fitting.fit import FitError

    model, data = cabinetry.model_utils.model_and_data(pyhf.Workspace(spec))
    labels = list(model.config.par_names)
    k, b = labels.index(POI), labels.index(BACKGROUND_SCALE)
    free = [False] * len(labels)

    def fit(what: str, fixed: Sequence[bool] = free, init: Sequence[float] | None = None, minos: bool = False) -> Any:
        # the fits quoted: MIGRAD's careful strategy to a tight tolerance; the many impact fits: the fast strategy,
        # and the careful one where the fast one does not converge
        attempts = [{"strategy": 1, "tolerance": 1e-3}] if minos else [{"strategy": 0}, {"strategy": 1}]
        for settings in attempts:
            try:
                return cabinetry.fit.fit(
                    model, data, init_pars=init, fix_pars=list(fixed), minos=[POI] if minos else None, **settings
                )
            except (ValueError, pyhf.exceptions.FailedMinimization):  # MIGRAD did not converge
                continue
        raise FitError(f"the fit with systematic uncertainties did not converge ({what})")

    best = fit("all parameters free", minos=True)
    start = best.bestfit.tolist()
    gammas = [name.startswith("mc_stat_") for name in labels]
    stat_only = fit("nuisance parameters fixed", [name not in (POI, BACKGROUND_SCALE) for name in labels], start, True)
    without_mc_stat = fit("simulation statistics fixed", gammas, start).uncertainty[k]
    prefit_widths = cabinetry.model_utils.prefit_uncertainties(model)
    initial, bounds = model.config.suggested_init(), model.config.suggested_bounds()
    named = [j for j, name in enumerate(labels) if j not in (k, b) and not gammas[j]]
    impacts = []
    for j in named:
        shifts = []
        for when, width in (("pre-fit", prefit_widths[j]), ("post-fit", best.uncertainty[j])):
            for sign in (+1, -1):
                init = list(start)
                low, high = bounds[j]
                init[j] = min(max(start[j] + sign * width, low), high)  # an impact at the bound if it is closer
                fixed = [i == j for i in range(len(labels))]
                impact = fit(f"impact of {labels[j]} at {sign:+d} {when} width", fixed, init)
                shifts.append(float(impact.bestfit[k] - start[k]))
        impacts.append(Impact(labels[j], *shifts))
    mc_stat = math.sqrt(max(best.uncertainty[k] ** 2 - without_mc_stat**2, 0.0))
    impacts.append(Impact("mc_stat", mc_stat, -mc_stat, mc_stat, -mc_stat))
    impacts.sort(key=lambda i: -max(abs(i.postfit_up), abs(i.postfit_down)))
    pulls = tuple(
        Pull(labels[j], (start[j] - initial[j]) / prefit_widths[j], best.uncertainty[j] / prefit_widths[j])
        for j in named
    )
    total, stat = (Uncertainty(*(abs(float(x)) for x in f.minos_uncertainty[POI])) for f in (best, stat_only))
    syst = Uncertainty(*(math.sqrt(max(t**2 - s**2, 0.0)) for t, s in zip(total, stat, strict=True)))
    return SystematicFit(
        s_s=float(start[k]),
        total=total,
        stat=stat,
        syst=syst,
        at_boundary=bool(start[k] - total.down <= BOUNDS[0] + 1e-6),  # MINOS stopped at the bound
        s_b=float(start[b]),
        s_b_error=float(best.uncertainty[b]),
        pulls=pulls,
        impacts=tuple(impacts),
        twice_nll=float(best.best_twice_nll),
    )
