"""The plots of a run: m4l (all channels and per channel), the Z candidates' masses, the leptons' pT and eta, each
with the stacked backgrounds and Higgs signal and the data with Poisson error bars.

Example:
    >>> fig = plot_stack(mass_histogram(output["mass"]), roles, lumi_fb=10.0)  # doctest: +SKIP
    >>> style.save(fig, "results/plots/m4l")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import hist
import numpy as np
from matplotlib.figure import Figure

from analysis import style
from analysis.samples import HIGGS, REDUCIBLE, SAMPLES, ZZ

__all__ = ["BACKGROUND_GROUPS", "SIGNAL_SAMPLES", "missing_note", "plot_stack"]

#: Display groups of the tutorial's background datasets (the catalogue's process groups); other backgrounds go to
#: "Other".
BACKGROUND_GROUPS = {
    label: tuple(name for name, sample in SAMPLES.items() if sample.group == group)
    for group, label in ((ZZ, "ZZ*"), (REDUCIBLE, "Z+jets, $t\\bar{t}$"))
}
#: The tutorial's Higgs signal samples.
SIGNAL_SAMPLES = tuple(name for name, sample in SAMPLES.items() if sample.group == HIGGS)


def _sum(histogram: hist.Hist, datasets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    nbins = histogram.axes[-1].size
    values, variances = np.zeros(nbins), np.zeros(nbins)
    for name in datasets:
        view = histogram[name, :].view()
        values += view.value
        variances += view.variance
    return values, variances


def plot_stack(
    histogram: hist.Hist,
    roles: dict[str, str],
    lumi_fb: float,
    synthetic: bool = False,
    missing: Sequence[str] = (),
    note: str | None = None,
) -> Figure:
    """The distribution of ``Hist(dataset, x)`` for every dataset (m4l, a Z mass, lepton pT or eta): the simulation
    stacked by role and process group, the data on top; the x axis from the histogram's last axis.

    ``synthetic`` labels the figure as the synthetic demo's; ``missing`` names samples absent from the prediction
    (see :func:`analysis.samples.missing_samples`), which the figure then states; ``note`` (e.g. the channel) is
    written under the experiment label.
    """
    present = set(histogram.axes["dataset"])
    by_role = {
        role: [d for d, r in roles.items() if r == role and d in present] for role in ("signal", "background", "data")
    }
    axis = histogram.axes[-1]
    edges = axis.edges
    components, colors = [], []
    variance = np.zeros(len(edges) - 1)
    grouped = [d for names in BACKGROUND_GROUPS.values() for d in names]
    groups = dict(BACKGROUND_GROUPS) | {"Other": tuple(d for d in by_role["background"] if d not in grouped)}
    for label, names in groups.items():
        members = [d for d in by_role["background"] if d in names]
        if members:
            values, var = _sum(histogram, members)
            components.append((label, values))
            colors.append(style.COLORS.get(label, style.COLORS["other"]))
            variance += var
    if by_role["signal"]:
        values, var = _sum(histogram, by_role["signal"])
        components.append(("Higgs, $m_H$ = 125 GeV", values))
        colors.append(style.COLORS["signal"])
        variance += var
    fig, ax = style.new_figure()
    total = style.draw_stack(ax, edges, components, variance, colors) if components else np.zeros(len(edges) - 1)
    top = float(np.max(total + np.sqrt(variance), initial=0.0))
    if by_role["data"]:
        data, _ = _sum(histogram, by_role["data"])
        style.draw_data(ax, edges, data, label=style.data_label(synthetic))
        top = max(top, float(np.max(style.poisson_interval(data)[1])))
    unit = " GeV" if axis.label.endswith("[GeV]") else ""
    ax.set_xlabel(axis.label)
    ax.set_ylabel(f"Events / {edges[1] - edges[0]:g}{unit}")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1.6 * top if top > 0 else 1.0)
    style.atlas_label(ax, lumi_fb, synthetic=synthetic)
    lines = [text for text in (note, missing_note(missing) if missing else None) if text]
    if lines:
        ax.text(0.03, 0.85, "\n".join(lines), transform=ax.transAxes, fontsize="small", va="top")
    style.legend_clear_of_data(ax, loc="upper right", frameon=False)
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
