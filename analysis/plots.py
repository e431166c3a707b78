"""The plots of a run: m4l (all channels and per channel), the Z candidates' masses, the leptons' pT and eta, each
with the stacked backgrounds and Higgs signal, the data with Poisson error bars, and the ratio of data to prediction
in a panel below.

The hatched band is the prediction's uncertainty: the simulation's statistical uncertainty and the normalisation
uncertainties of the fit with systematics (:data:`fitting.systematics.NORMALISATIONS`: luminosity, ZZ*
cross-section) in quadrature.

Example:
    >>> from processors.histograms import mass_histogram
    >>> fig = plot_stack(mass_histogram(output["mass"]), roles, lumi_fb=10.0, synthetic=True)
    >>> [path.as_posix() for path in style.save(fig, "results/plots/m4l", formats=("png",))]
    ['results/plots/m4l.png']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from analysis import style
from analysis.samples import HIGGS, REDUCIBLE, SAMPLES, ZZ, process_groups
from fitting.systematics import NORMALISATIONS
from processors.histograms import Histogram

__all__ = [
    "BACKGROUND_GROUPS",
    "BAND_LABEL",
    "SIGNAL_LABEL",
    "SIGNAL_SAMPLES",
    "missing_note",
    "normalisation_variance",
    "plot_stack",
    "stack_components",
]

#: Display groups of the tutorial's background datasets (the catalogue's process groups); other backgrounds go to
#: "Other".
BACKGROUND_GROUPS = {
    label: tuple(name for name, sample in SAMPLES.items() if sample.group == group)
    for group, label in ((ZZ, "ZZ*"), (REDUCIBLE, "Z+jets, $t\\bar{t}$"))
}
#: The tutorial's Higgs signal samples.
SIGNAL_SAMPLES = tuple(name for name, sample in SAMPLES.items() if sample.group == HIGGS)
#: The legend entries of the signal and of the prediction's uncertainty band.
SIGNAL_LABEL, BAND_LABEL = "Higgs, $m_H$ = 125 GeV", "Stat. $\\oplus$ norm. unc."


def _sum(histogram: Histogram, datasets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The values and variances of ``Hist(dataset, x)`` summed over ``datasets``, read from its arrays at once
    (a projection per dataset cost 0.3 ms, about 10 ms a figure)."""
    rows, row_variances = histogram.values(), histogram.variances()  # (dataset, x)
    assert row_variances is not None  # Weight storage
    index = histogram.axes["dataset"].index
    values, variances = np.zeros(histogram.axes[-1].size), np.zeros(histogram.axes[-1].size)
    for name in datasets:
        values += rows[index(name)]
        variances += row_variances[index(name)]
    return values, variances


def normalisation_variance(histogram: Histogram, roles: dict[str, str]) -> np.ndarray:
    """Per bin, the variance of the prediction from the normalisation uncertainties: for each, (relative size x the
    prediction of the process groups it applies to)^2, summed (each fully correlated across its samples)."""
    present = set(histogram.axes["dataset"])
    groups = {name: group for name, group in process_groups(roles).items() if name in present}
    variance = np.zeros(histogram.axes[-1].size)
    for norm in NORMALISATIONS.values():
        members = [name for name, group in groups.items() if norm.samples is None or group in norm.samples]
        variance += (norm.size * _sum(histogram, members)[0]) ** 2
    return variance


def stack_components(histogram: Histogram, roles: dict[str, str]) -> list[tuple[str, np.ndarray, str]]:
    """The stack of ``Hist(dataset, x)``, bottom-up, as ``(label, values, role)``: the backgrounds by display group
    (:data:`BACKGROUND_GROUPS`, the rest as "Other"), then the Higgs signal; groups without a dataset are left out."""
    present = set(histogram.axes["dataset"])
    backgrounds = [d for d, r in roles.items() if r == "background" and d in present]
    grouped = {d for names in BACKGROUND_GROUPS.values() for d in names}
    groups = dict(BACKGROUND_GROUPS) | {"Other": tuple(d for d in backgrounds if d not in grouped)}
    out = [
        (label, _sum(histogram, members)[0], "background")
        for label, names in groups.items()
        if (members := [d for d in backgrounds if d in names])
    ]
    signal = [d for d, r in roles.items() if r == "signal" and d in present]
    if signal:
        out.append((SIGNAL_LABEL, _sum(histogram, signal)[0], "signal"))
    return out


def plot_stack(
    histogram: Histogram,
    roles: dict[str, str],
    lumi_fb: float,
    synthetic: bool = False,
    missing: Sequence[str] = (),
    note: str | None = None,
) -> Figure:
    """The distribution of ``Hist(dataset, x)`` for every dataset (m4l, a Z mass, lepton pT or eta): the simulation
    stacked by role and process group with its uncertainty band, the data on top, and data over prediction in a
    panel below; the x axis from the histogram's last axis (a "lepton ..." axis counts leptons, not events).

    ``synthetic`` labels the figure as the synthetic demo's; ``missing`` names samples absent from the prediction
    (see :func:`analysis.samples.missing_samples`), which the figure then states, without a ratio panel to a
    prediction known to be incomplete; ``note`` (e.g. the channel) is
    written under the experiment label.
    """
    axis = histogram.axes[-1]
    edges = axis.edges
    components = stack_components(histogram, roles)
    variance = np.zeros(len(edges) - 1)
    for name in (d for d, role in roles.items() if role != "data" and d in histogram.axes["dataset"]):
        variance += _sum(histogram, [name])[1]
    variance += normalisation_variance(histogram, roles)
    data_sets = [d for d, role in roles.items() if role == "data" and d in histogram.axes["dataset"]]
    data = _sum(histogram, data_sets)[0] if data_sets else None
    if data is not None and components and not missing:  # no ratio to a prediction known to be incomplete
        fig, ax, ratio = style.new_ratio_figure()
    else:
        (fig, ax), ratio = style.new_figure(), None
    total, handles = np.zeros(len(edges) - 1), list[Any]()
    if components:
        stack = [(label, values) for label, values, _ in components]
        fallback = {"signal": style.COLORS["signal"]}
        colors = [style.COLORS.get(label, fallback.get(role, style.COLORS["other"])) for label, _, role in components]
        total, handles = style.draw_stack(ax, edges, stack, variance, colors, BAND_LABEL)
    top = float(np.max(total + np.sqrt(variance), initial=0.0))
    if data is not None:
        points = style.draw_data(ax, edges, data, style.data_label(synthetic), prediction=total if components else None)
        handles.insert(0, points)
        top = max(top, float(np.max(style.poisson_interval(data)[1])))
    unit = "GeV" if axis.label.endswith("[GeV]") else ""
    entries = "Leptons" if axis.label.startswith("lepton") else "Events"
    ax.set_ylabel(style.per_bin(edges, entries, unit))
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1.05 * top if top > 0 else 1.0)
    lines = [text for text in (note, missing_note(missing) if missing else None) if text]
    label = style.atlas_label(ax, lumi_fb, synthetic, lines=lines)
    style.legend_clear_of_data(ax, label, handles=handles, labels=[h.get_label() for h in handles])
    if ratio is not None and data is not None:
        style.draw_ratio(ratio, edges, data, total, variance, synthetic)
    (ratio or ax).set_xlabel(axis.label)
    return fig


def missing_note(missing: Sequence[str]) -> str:
    """What a prediction lacks, by display group: a whole group by its name, else the samples.

    Example:
        >>> print(missing_note(["llll", "llvv", "ZqqZll", "ggH125_ZZ4lep", "VBFH125_ZZ4lep"]))
        Prediction incomplete, not in the fileset:
        ZZ*; Higgs ggH125_ZZ4lep, VBFH125_ZZ4lep
    """
    groups = dict(BACKGROUND_GROUPS) | {"Higgs": SIGNAL_SAMPLES}
    parts = []
    for label, names in groups.items():
        absent = [name for name in names if name in missing]
        if absent:
            parts.append(label if len(absent) == len(names) else f"{label} {', '.join(absent)}")
    others = [name for name in missing if not any(name in names for names in groups.values())]
    return "Prediction incomplete, not in the fileset:\n" + "; ".join(parts + others)
