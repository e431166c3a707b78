"""One plotting style for the CLI, the report and the notebooks.

mplhep's ATLAS style with the "ATLAS Open Data" label, sqrt(s) = 13 TeV and the luminosity,
data points with Poisson (Garwood) error bars, stacked simulation with its statistical
uncertainty band, figures saved as PNG and PDF.

Example:
    >>> fig, ax = new_figure()
    >>> atlas_label(ax, lumi_fb=10.0)  # doctest: +SKIP
    >>> save(fig, "plots/m4l")  # writes plots/m4l.png and plots/m4l.pdf  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import special

__all__ = [
    "COLORS",
    "atlas_label",
    "data_label",
    "draw_data",
    "draw_stack",
    "legend_clear_of_data",
    "new_figure",
    "poisson_interval",
    "save",
]

#: Colours of the process groups, shared by every stack.
COLORS = {
    "signal": "#e41a1c",
    "ZZ*": "#6baed6",
    "Z+jets, $t\\bar{t}$": "#9e6ebd",
    "background": "#6baed6",
    "other": "#bdbdbd",
}


def new_figure(figsize: tuple[float, float] = (8.0, 6.0)) -> tuple[Figure, Axes]:
    """A figure and axes in the ATLAS style."""
    # mathtext tick labels cost ~1 s per figure (pyparsing) and look the same as plain text here
    plt.style.use([mplhep.style.ATLAS, {"axes.formatter.use_mathtext": False}])
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def atlas_label(ax: Axes, lumi_fb: float, loc: int = 0, synthetic: bool = False) -> None:
    """ "ATLAS Open Data" with sqrt(s) = 13 TeV and the luminosity in fb^-1; for results of the synthetic demo
    ``synthetic=True`` writes "Synthetic demo, not ATLAS data" instead, so that no demo figure passes for ATLAS's."""
    if synthetic:
        # mplhep strips the text's leading space; a zero-width space in front keeps it apart from the bold part
        text = "\u200b not ATLAS data"
        mplhep.label.exp_label(exp="Synthetic demo", text=text, data=True, lumi=f"{lumi_fb:g}", com=13, loc=loc, ax=ax)
    else:
        mplhep.atlas.label(text="Open Data", data=True, lumi=f"{lumi_fb:g}", com=13, loc=loc, ax=ax)


def data_label(synthetic: bool) -> str:
    """The legend entry of the data: "Data", or "Pseudo-data (synthetic)" for the demo."""
    return "Pseudo-data (synthetic)" if synthetic else "Data"


def poisson_interval(counts: np.ndarray, cl: float = 0.682689) -> tuple[np.ndarray, np.ndarray]:
    """Garwood (exact Poisson) interval of observed ``counts``: (lower, upper), same shape.

    ``chi2.ppf(q, 2n) / 2`` written as the inverse regularised gamma function ``gammaincinv(n, q)``:
    scipy.special is a tenth of scipy.stats' import time.
    """
    counts = np.asarray(counts, dtype=float)
    alpha = 1.0 - cl
    lower = np.where(counts > 0, special.gammaincinv(np.maximum(counts, 1.0), alpha / 2), 0.0)
    upper = special.gammaincinv(counts + 1, 1 - alpha / 2)
    return lower, upper


def draw_data(ax: Axes, edges: np.ndarray, counts: np.ndarray, label: str = "Data") -> None:
    """Data points at bin centres with Garwood error bars (empty bins drawn as zero)."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    lower, upper = poisson_interval(counts)
    ax.errorbar(
        centres,
        counts,
        yerr=[counts - lower, upper - counts],
        fmt="o",
        color="black",
        markersize=5,
        capsize=0,
        label=label,
        zorder=5,
    )


def draw_stack(
    ax: Axes,
    edges: np.ndarray,
    components: Sequence[tuple[str, np.ndarray]],
    variance: np.ndarray,
    colors: Sequence[str],
) -> np.ndarray:
    """Stack ``(label, values)`` components bottom-up, hatch the statistical uncertainty
    ``sqrt(variance)`` of the total; return the total."""
    mplhep.histplot(
        [values for _, values in components],
        edges,
        stack=True,
        histtype="fill",
        label=[label for label, _ in components],
        color=list(colors),
        ax=ax,
    )
    total = np.sum([values for _, values in components], axis=0)
    error = np.sqrt(variance)
    ax.stairs(
        total + error,
        edges,
        baseline=total - error,
        fill=True,
        hatch="////",
        facecolor="none",
        edgecolor="grey",
        linewidth=0,
        label="Stat. unc.",
    )
    return total


def legend_clear_of_data(ax: Axes, **legend: object) -> None:
    """Draw the legend and raise the y range until it overlaps no drawn data (mplhep's yscale_legend)."""
    ax.legend(**legend)
    mplhep.yscale_legend(ax, soft_fail=True)


def save(fig: Figure, path: str | os.PathLike[str], formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``path``.png and ``path``.pdf (or in the ``formats`` given); close it and return the paths."""
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    out = [base.with_suffix(f".{ext}") for ext in formats]
    try:
        for target in out:
            try:
                fig.savefig(target, dpi=150 if target.suffix == ".png" else None, bbox_inches="tight")
            except OSError as err:  # a failed write names no file (disk full): name the plot
                err.filename = err.filename or str(target)
                raise
    finally:
        plt.close(fig)
    return out
