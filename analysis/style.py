"""One plotting style for the CLI, the report and the notebooks, after ATLAS's conventions.

The experiment label: "ATLAS Open Data", or "Synthetic demo — not ATLAS data" for the demo, with √s = 13 TeV and
the luminosity (:func:`atlas_label`); data as points with Poisson (Garwood) error bars, first in the legend; the
simulation stacked with its uncertainty band; a data/prediction ratio panel under a distribution
(:func:`new_ratio_figure`, :func:`draw_ratio`); proper minus signs; legends and labels kept clear of everything drawn
(:func:`make_room`: the y range is raised just enough, from one layout of the legend and label, without drawing the
figure); PNG and PDF files (:func:`save`).

Example:
    >>> import numpy as np
    >>> fig, ax = new_figure()
    >>> edges, counts = np.array([0.0, 1.0, 2.0]), np.array([3.0, 5.0])
    >>> points = draw_data(ax, edges, counts)
    >>> label = atlas_label(ax, lumi_fb=10.0)
    >>> legend = legend_clear_of_data(ax, label, loc="upper right")
    >>> bool(ax.get_ylim()[1] > max(poisson_interval(counts)[1]))
    True
    >>> [path.as_posix() for path in save(fig, "plots/m4l")]
    ['plots/m4l.png', 'plots/m4l.pdf']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import Collection, QuadMesh
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure, SubFigure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnchoredOffsetbox, HPacker, TextArea, VPacker
from matplotlib.patches import Patch
from scipy import special

__all__ = [
    "COLORS",
    "atlas_label",
    "data_label",
    "draw_data",
    "draw_ratio",
    "draw_stack",
    "legend_above",
    "legend_clear_of_data",
    "make_room",
    "new_figure",
    "new_ratio_figure",
    "per_bin",
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
#: The uncertainty band of a prediction: hatched, in the main panel and the ratio panel alike.
BAND: dict[str, Any] = {"hatch": "////", "facecolor": "none", "edgecolor": "#555555", "linewidth": 0}
#: The range and ticks of the data/prediction ratio panel; points beyond it are drawn as arrows at its edge.
RATIO_RANGE, RATIO_TICKS = (0.0, 2.5), (0.5, 1.0, 1.5, 2.0)
#: Saved files: PNG resolution [dots per inch], the margin around what is drawn [inches], and the PNG's zlib level
#: (3 writes a figure in half the time of PIL's default 6, the file 9% larger).
DPI, PAD, PNG_COMPRESSION = 150, 0.1, 3


def new_figure(figsize: tuple[float, float] = (8.0, 6.0)) -> tuple[Figure, Axes]:
    """A figure and axes in the ATLAS style."""
    # mathtext tick labels cost ~1 s per figure (pyparsing) and look the same as plain text here
    plt.style.use([mplhep.style.ATLAS, {"axes.formatter.use_mathtext": False, "axes.unicode_minus": True}])
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def new_ratio_figure(figsize: tuple[float, float] = (8.0, 7.6)) -> tuple[Figure, Axes, Axes]:
    """A figure with a main panel and, under it on the same x axis, a ratio panel a third of its height."""
    fig, ax = new_figure(figsize)
    grid = fig.add_gridspec(2, 1, height_ratios=(3.0, 1.0), hspace=0.06)
    ax.set_subplotspec(grid[0])
    ratio = fig.add_subplot(grid[1], sharex=ax)
    ax.tick_params(labelbottom=False)
    return fig, ax, ratio


def atlas_label(
    ax: Axes,
    lumi_fb: float,
    synthetic: bool = False,
    *,
    toys: bool = False,
    lines: Sequence[str] = (),
    loc: str = "upper left",
) -> AnchoredOffsetbox:
    """The experiment label in the upper left corner: "ATLAS Open Data", or for results of the synthetic demo
    "Synthetic demo — not ATLAS data", so that no demo figure passes for ATLAS's; under it "√s = 13 TeV, L fb⁻¹"
    (``toys``: "toys of the fit to L fb⁻¹", for pseudo-experiments) and any further ``lines``; ``loc``: another
    corner. Returns the label's box, for :func:`make_room`."""
    large = {"size": "x-large"}
    head: list[Artist]
    if synthetic:
        head = [
            TextArea("Synthetic demo", textprops=large | {"weight": "bold"}),
            TextArea("— not ATLAS data", textprops=large),
        ]
    else:
        head = [
            TextArea("ATLAS", textprops=large | {"weight": "bold", "style": "italic"}),
            TextArea("Open Data", textprops=large),
        ]
    lumi = f"{lumi_fb:g} fb$^{{\\mathregular{{-1}}}}$"
    energy = "√s = 13 TeV, " + (f"toys of the fit to {lumi}" if toys else lumi)
    rows: list[Artist] = [HPacker(children=head, sep=7, align="baseline")]
    rows += [TextArea(text) for text in (energy, *lines)]
    box = AnchoredOffsetbox(
        loc, child=VPacker(children=rows, sep=5, align="left"), pad=0.3, borderpad=0.8, frameon=False
    )
    ax.add_artist(box)
    return box


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


def _points(
    ax: Axes, x: np.ndarray, y: np.ndarray, low: np.ndarray, high: np.ndarray, empty: np.ndarray, label: str
) -> ErrorbarContainer:
    """Markers with error bars at ``y`` (``low``/``high``: the bars' ends); where ``empty``, the bar only."""
    full = ~empty
    points = ax.errorbar(
        x[full],
        y[full],
        yerr=[y[full] - low[full], high[full] - y[full]],
        fmt="o",
        color="black",
        markersize=6,
        capsize=0,
        elinewidth=1.5,
        label=label,
        zorder=5,
    )
    if empty.any():  # no marker at zero, half hidden by the axis: the Garwood upper limit shows the measurement
        ax.vlines(x[empty], low[empty], high[empty], color="black", linewidth=1.5, zorder=5)
    return points


def draw_data(
    ax: Axes, edges: np.ndarray, counts: np.ndarray, label: str = "Data", prediction: np.ndarray | None = None
) -> ErrorbarContainer:
    """Data points at bin centres with Garwood error bars. An empty bin shows its error bar (0 to 1.84) without a
    marker, and nothing where the ``prediction`` is zero too. Returns the points, for the legend."""
    counts = np.asarray(counts, dtype=float)
    centres = 0.5 * (edges[1:] + edges[:-1])
    lower, upper = poisson_interval(counts)
    shown = np.ones(len(counts), bool) if prediction is None else (counts > 0) | (np.asarray(prediction) > 0)
    return _points(ax, centres[shown], counts[shown], lower[shown], upper[shown], counts[shown] == 0, label)


def draw_stack(
    ax: Axes,
    edges: np.ndarray,
    components: Sequence[tuple[str, np.ndarray]],
    variance: np.ndarray,
    colors: Sequence[str],
    band_label: str = "Stat. unc.",
) -> tuple[np.ndarray, list[Artist]]:
    """Stack ``(label, values)`` components bottom-up and hatch the uncertainty ``sqrt(variance)`` of the total;
    return the total and the legend handles, top of the stack first and the band last."""
    totals = np.cumsum([values for _, values in components], axis=0)
    handles: list[Artist] = []
    for (label, _), color, top, bottom in zip(
        components, colors, totals, [np.zeros(len(edges) - 1), *totals[:-1]], strict=True
    ):
        handles.append(ax.stairs(top, edges, baseline=bottom, fill=True, color=color, label=label))
    total = totals[-1]
    error = np.sqrt(variance)
    band = ax.stairs(total + error, edges, baseline=total - error, fill=True, label=band_label, **BAND)
    return total, [*reversed(handles), band]


def draw_ratio(
    ax: Axes, edges: np.ndarray, counts: np.ndarray, total: np.ndarray, variance: np.ndarray, synthetic: bool = False
) -> None:
    """The ratio panel: data over the prediction ``total`` with the data's Garwood errors, and the relative
    uncertainty ``sqrt(variance) / total`` of the prediction as a band around 1. Bins without a prediction or without
    data are left empty (a bar from 0 to 1.84 / a tiny prediction would cross the panel); points beyond the panel's
    range are arrows at its edge."""
    counts = np.asarray(counts, dtype=float)
    predicted = total > 0
    safe = np.where(predicted, total, 1.0)
    relative = np.where(predicted, np.sqrt(variance) / safe, 0.0)
    ax.stairs(np.where(predicted, 1 + relative, np.nan), edges, baseline=np.where(predicted, 1 - relative, np.nan),
              fill=True, **BAND)  # fmt: skip
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    lower, upper = poisson_interval(counts)
    ratio, low, high = counts / safe, lower / safe, upper / safe
    top = RATIO_RANGE[1]
    inside = predicted & (ratio <= top) & (counts > 0)
    _points(ax, centres[inside], ratio[inside], low[inside], high[inside], np.zeros(inside.sum(), bool), "")
    beyond = predicted & (ratio > top)
    if beyond.any():
        ax.plot(centres[beyond], np.full(beyond.sum(), top - 0.12), marker="^", color="black", markersize=8,
                linestyle="none", clip_on=False)  # fmt: skip
    ax.set_ylim(*RATIO_RANGE)
    ax.set_yticks(RATIO_TICKS)
    ax.set_ylabel(f"{'Pseudo-data' if synthetic else 'Data'} / Pred.", loc="center", fontsize="large")


def per_bin(edges: np.ndarray, entries: str = "Events", unit: str = "") -> str:
    """The y-axis title of a histogram: "Events / 5 GeV" (three significant digits), or "Events / bin" for
    bins of different widths.

    Example:
        >>> per_bin(np.linspace(80, 250, 8), unit="GeV"), per_bin(np.array([0.0, 1.0, 3.0]))
        ('Events / 24.3 GeV', 'Events / bin')
    """
    widths = np.diff(edges)
    if not np.allclose(widths, widths[0], rtol=1e-6):
        return f"{entries} / bin"
    return f"{entries} / {widths[0]:.3g}" + (f" {unit}" if unit else "")


def _drawn(ax: Axes) -> np.ndarray:
    """Everything drawn in data coordinates as rows (x0, x1, y0, y1): the display-x extent of each line segment,
    marker or patch edge and its lowest and highest data y. Artists across the whole axes (axhline, axvspan) and
    colour maps are not content a legend must avoid."""
    to_data = ax.transData.inverted()
    rows = []

    def add(display: np.ndarray, connected: bool, pad: float = 0.0) -> None:
        if len(display) == 0:
            return
        x, y = display[:, 0], to_data.transform(display)[:, 1]
        finite = np.isfinite(x) & np.isfinite(y)
        if connected and len(x) > 1:
            ok = finite[:-1] & finite[1:]
            ends = np.column_stack([x[:-1], x[1:]]), np.column_stack([y[:-1], y[1:]])
            rows.append(np.column_stack([ends[0].min(1), ends[0].max(1), ends[1].min(1), ends[1].max(1)])[ok])
        else:
            rows.append(np.column_stack([x - pad, x + pad, y, y])[finite])

    for artist in (*ax.lines, *ax.collections, *ax.patches):
        transform = artist.get_transform()
        if not artist.get_visible() or isinstance(artist, QuadMesh) or not transform.contains_branch(ax.transData):
            continue
        if isinstance(artist, Line2D):
            marker = artist.get_marker() not in (None, "", "None", "none", " ")
            pad = 0.5 * artist.get_markersize() * ax.figure.dpi / 72 if marker else 0.0
            add(transform.transform(artist.get_xydata()), artist.get_linestyle() not in ("None", "", " "), pad)
        elif isinstance(artist, Collection | Patch):
            paths = artist.get_paths() if isinstance(artist, Collection) else [artist.get_path()]
            for path in paths:
                for polygon in path.to_polygons(closed_only=False):
                    add(transform.transform(polygon), connected=True)
    return np.concatenate(rows) if rows else np.empty((0, 4))


def _renderer(fig: Figure | SubFigure) -> Any:
    """The renderer that lays out the figure's text (Agg's, or the figure's own for other canvases)."""
    canvas = fig.canvas
    return canvas.get_renderer() if hasattr(canvas, "get_renderer") else fig._get_renderer()  # type: ignore[union-attr]  # private, as mplhep uses it


#: The least share of the axes' height the content keeps: a top that squeezes it further counts as no fit.
MIN_CONTENT = 0.3


def _top_needed(ax: Axes, boxes: Sequence[Artist], drawn: np.ndarray, pad: float) -> float | None:
    """The lowest top of ``ax``'s (linear) y range, at least the present one, at which nothing ``drawn``
    (:func:`_drawn`) across the width of one of ``boxes`` overlaps that box (with ``pad`` around it): content may lie
    under a box or wholly above it. ``None`` if only a top that leaves the content less than :data:`MIN_CONTENT` of
    the height would do.

    Raising the top shrinks every y towards the bottom while a box stays where it is; a segment from y0 to y1 under
    a box spanning the fractions [b0, b1] of the height overlaps it for the tops T in
    [low + (y0 - low) / b1, low + (y1 - low) / b0]: the answer is the first top not inside any such interval.
    """
    renderer = _renderer(ax.figure)
    frame = ax.get_window_extent(renderer)
    low, top = ax.get_ylim()
    starts, ends = [], []
    for box in boxes:
        extent = box.get_window_extent(renderer)
        inside = drawn[(drawn[:, 1] >= extent.x0) & (drawn[:, 0] <= extent.x1)]
        b0 = (extent.y0 - frame.y0) / frame.height - pad
        b1 = (extent.y1 - frame.y0) / frame.height + pad
        y0, y1 = inside[:, 2] - low, inside[:, 3] - low
        starts.append(low + y0 / b1)
        ends.append(low + y1 / b0 if b0 > 0 else np.full(len(y1), np.inf))
    start, end = np.concatenate(starts), np.concatenate(ends)
    for a, b in sorted(zip(start[end >= top], end[end >= top], strict=True)):
        if a > top:
            break
        top = max(top, float(b))
    content = float(drawn[:, 3].max(initial=low)) - low if len(drawn) else 0.0
    if not np.isfinite(top) or (content > 0 and content / (top - low) < MIN_CONTENT):
        return None
    return top


def make_room(ax: Axes, *boxes: Artist, pad: float = 0.02) -> None:
    """Raise the top of ``ax``'s (linear) y range just enough that nothing drawn in data coordinates lies under any
    of ``boxes`` (a legend, :func:`atlas_label`'s box, a text): from one layout of the boxes, without drawing the
    figure, since a box placed in axes coordinates stays where it is when the y range changes. ``pad``: the gap kept
    around each box, as a fraction of the axes' height."""
    top = _top_needed(ax, boxes, _drawn(ax), pad)
    if top is not None:
        ax.set_ylim(ax.get_ylim()[0], top)


#: Where a legend may go, in order of preference: beside the label, under it (left or right), then lower down.
LEGEND_PLACES = ("upper right", "under the label", "right, under the label", "center right", "lower right")


def legend_clear_of_data(ax: Axes, *others: Artist, pad: float = 0.02, **legend: Any) -> Legend:
    """Draw the legend (``legend``: :meth:`matplotlib.axes.Axes.legend`'s arguments) where it and the ``others``
    (the label) cover nothing drawn with the least raise of the y range (:func:`make_room`), at ``legend["loc"]``
    or the best of :data:`LEGEND_PLACES`, in one or (without ``ncol``) two columns; return the legend."""
    legend = {"frameon": False} | legend
    renderer = _renderer(ax.figure)
    frame = ax.get_window_extent(renderer)
    drawn = _drawn(ax)
    low = ax.get_ylim()[0]
    under = min((o.get_window_extent(renderer).y0 - frame.y0) / frame.height for o in others) if others else 1.0
    places = [legend.pop("loc")] if "loc" in legend else list(LEGEND_PLACES)
    columns = [{}] if "ncol" in legend else [{}, {"ncol": 2}]
    best: tuple[float, dict[str, Any]] | None = None
    for place in places:
        where: dict[str, Any] = {"loc": place}
        if place.endswith("under the label"):
            corner = ("upper right", 1.0) if place.startswith("right") else ("upper left", 0.0)
            where = {"loc": corner[0], "bbox_to_anchor": (corner[1], under - pad), "bbox_transform": ax.transAxes}
        for ncol in columns:
            made = ax.legend(**legend | where | ncol)
            extent = made.get_window_extent(renderer)
            if extent.width > frame.width or any(extent.overlaps(o.get_window_extent(renderer)) for o in others):
                continue
            top = _top_needed(ax, [made, *others], drawn, pad)
            if top is not None and (best is None or top - low < 0.95 * (best[0] - low)):
                best = (top, where | ncol)
    if best is None:  # nowhere clear: the legend under the label on the right, the y range raised for both
        where = {"loc": "upper right", "bbox_to_anchor": (1.0, under - pad), "bbox_transform": ax.transAxes}
        made = ax.legend(**legend | where)
        make_room(ax, made, *others, pad=pad)
        return made
    ax.set_ylim(low, best[0])
    return ax.legend(**legend | best[1])


def legend_above(ax: Axes, box: Artist, **legend: Any) -> Legend:
    """The legend right-aligned just above ``box`` (a label in the lower right corner), without frame."""
    renderer = _renderer(ax.figure)
    frame, extent = ax.get_window_extent(renderer), box.get_window_extent(renderer)
    where = {"loc": "lower right", "bbox_to_anchor": (1.0, (extent.y1 - frame.y0) / frame.height)}
    return ax.legend(**{"frameon": False} | legend | where)


def save(fig: Figure, path: str | os.PathLike[str], formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``path``.png and ``path``.pdf (or in the ``formats`` given), cropped to what is drawn with a
    margin of :data:`PAD` inches; close it and return the paths.

    Each file draws the figure once: the crop is the figure's tight bounding box, computed from the layout of its
    text and ticks without drawing (``savefig(bbox_inches="tight")`` would draw the figure once more to find it).
    PNG at :data:`DPI` dots per inch, compressed at zlib level :data:`PNG_COMPRESSION`.
    """
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    out = [base.with_suffix(f".{ext}") for ext in formats]
    try:
        fig.set_dpi(DPI)  # the text measured at the resolution it is drawn at, for the crop
        crop = fig.get_tightbbox(_renderer(fig)).padded(PAD)
        for target in out:
            png = target.suffix == ".png"
            options: dict[str, Any] = {"dpi": DPI, "pil_kwargs": {"compress_level": PNG_COMPRESSION}} if png else {}
            try:
                fig.savefig(target, bbox_inches=crop, **options)
            except OSError as err:  # a failed write names no file (disk full): name the plot
                err.filename = err.filename or str(target)
                raise
    finally:
        plt.close(fig)
    return out
