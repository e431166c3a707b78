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

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import matplotlib.pyplot as plt
import mplhep_data
import numpy as np
from cycler import cycler
from matplotlib import font_manager
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis, XAxis
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.collections import Collection, QuadMesh
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure, SubFigure
from matplotlib.image import imsave
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.markers import TICKDOWN, TICKLEFT, TICKRIGHT, TICKUP
from matplotlib.mathtext import MathTextParser, VectorParse
from matplotlib.offsetbox import AnchoredOffsetbox, HPacker, TextArea, VPacker
from matplotlib.patches import Patch, StepPatch
from matplotlib.ticker import AutoMinorLocator, NullLocator
from matplotlib.transforms import Bbox
from scipy import special

__all__ = [
    "COLORS",
    "MinorTicks",
    "atlas_label",
    "data_label",
    "draw_data",
    "draw_ratio",
    "draw_stack",
    "fill_between_steps",
    "legend_above",
    "legend_clear_of_data",
    "make_room",
    "mathtext_parser",
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


#: mplhep's ATLAS style (``mplhep.style.ATLAS`` of mplhep 0.3/1.x, checked equal by tests/analysis/test_style.py),
#: written out so that drawing needs no mplhep: importing it cost each plotting worker 0.2 s (its plotting modules,
#: and 98 fonts registered where the style uses one family, TeX Gyre Heros, registered by :func:`_register_fonts`).
ATLAS_STYLE: dict[str, Any] = {
    "font.size": 14,
    "font.family": "sans-serif",
    "font.sans-serif": ["TeX Gyre Heros", "helvetica", "Helvetica", "Nimbus Sans L", "Mukti Narrow", "FreeSans"],
    "font.serif": ["Tex Gyre Termes", "Times", "Times Roman", "Times New Roman", "Nimbus Roman"],
    "font.monospace": ["Tex Gyre Cursor", "Courier", "Courier New", "Nimbus Mono"],
    "figure.figsize": (8.0, 6.0),
    "figure.dpi": 100,
    "figure.facecolor": "#FFFFFF",
    "figure.subplot.bottom": 0.16,
    "figure.subplot.top": 0.93,
    "figure.subplot.left": 0.16,
    "figure.subplot.right": 0.95,
    "axes.titlesize": "xx-large",
    "axes.labelsize": "x-large",
    "axes.linewidth": 1,
    "axes.grid": False,
    "axes.axisbelow": False,
    "axes.labelpad": 10,
    "axes.facecolor": "#FFFFFF",
    "axes.labelcolor": "#000000",
    "axes.formatter.limits": "-2, 4",
    "axes.formatter.use_mathtext": True,
    "axes.autolimit_mode": "round_numbers",
    "axes.unicode_minus": False,
    "axes.xmargin": 0.0,
    "xaxis.labellocation": "right",
    "yaxis.labellocation": "top",
    "xtick.direction": "in",
    "xtick.minor.visible": True,
    "xtick.top": True,
    "xtick.bottom": True,
    "xtick.major.top": True,
    "xtick.major.bottom": True,
    "xtick.minor.top": True,
    "xtick.minor.bottom": True,
    "xtick.labelsize": "large",
    "xtick.major.size": 5,
    "xtick.minor.size": 3,
    "xtick.color": "#000000",
    "ytick.direction": "in",
    "ytick.left": True,
    "ytick.right": True,
    "ytick.major.left": True,
    "ytick.major.right": True,
    "ytick.minor.left": True,
    "ytick.minor.right": True,
    "ytick.minor.visible": True,
    "ytick.labelsize": "large",
    "ytick.major.size": 14,
    "ytick.minor.size": 7,
    "lines.linewidth": 2,
    "lines.markersize": 8,
    "legend.numpoints": 1,
    "legend.fontsize": "medium",
    "legend.title_fontsize": "medium",
    "legend.labelspacing": 0.3,
    "legend.frameon": False,
    "legend.handlelength": 2,
    "legend.borderpad": 1.0,
    "savefig.transparent": False,
    "mathtext.fontset": "custom",
    "mathtext.rm": "TeX Gyre Heros",
    "mathtext.bf": "TeX Gyre Heros:bold",
    "mathtext.sf": "TeX Gyre Heros",
    "mathtext.it": "TeX Gyre Heros:italic",
    "mathtext.tt": "TeX Gyre Heros",
    "mathtext.cal": "TeX Gyre Heros",
    "mathtext.default": "it",
    "axes.prop_cycle": cycler(color=["#d55e00", "#56b4e9", "#e69f00", "#f0e442", "#009e73", "#cc79a7", "#0072b2"]),
}
#: The project's changes to it: plain-text tick labels (mathtext ones cost ~1 s per figure in pyparsing and look the
#: same here) with proper minus signs.
OVERRIDES = {"axes.formatter.use_mathtext": False, "axes.unicode_minus": True}


def _register_fonts() -> None:
    """Make TeX Gyre Heros (from mplhep-data, mplhep's fonts) known to matplotlib, as importing mplhep would."""
    folder = Path(mplhep_data.__file__).parent / "fonts" / "texgyreheros"
    for file in sorted(folder.glob("*.otf")):
        font_manager.fontManager.addfont(file)


_register_fonts()


@functools.cache
def mathtext_parser() -> MathTextParser[VectorParse]:
    """The mathtext parser of every figure of :func:`new_figure` (drawn with Agg) in this process: matplotlib caches
    parsed mathtext per parser, keyed by the text, resolution, font properties, antialiasing and hinting, and gives
    each renderer (each figure) a parser of its own, so every figure parsed the legend entries, the luminosity and the
    axis titles that the figures before it had parsed already (pyparsing, 5-15 ms a string). A forked child makes its
    own (the fork handler below): the parses cached in its parent hold the parent's FreeType fonts, whose open files
    (and file offsets) it would share with its siblings, so that two plotting workers drawing at once corrupted each
    other's glyph reads ("FT_Load_Glyph ... broken file"); matplotlib drops its own font cache in a child likewise."""
    return MathTextParser("path")


os.register_at_fork(after_in_child=mathtext_parser.cache_clear)


def new_figure(figsize: tuple[float, float] = (8.0, 6.0), minor: str = "xy") -> tuple[Figure, Axes]:
    """A figure and axes in the ATLAS style, at the resolution of the PNG files (:data:`DPI`): the text measured to
    place the label and the legend is measured, and its mathtext parsed, once for the figure and its file. Minor
    ticks on the axes named in ``minor`` (:class:`MinorTicks`)."""
    plt.style.use([ATLAS_STYLE, OVERRIDES])
    fig, ax = plt.subplots(figsize=figsize, dpi=DPI)
    renderer = _renderer(fig)
    if isinstance(renderer, RendererAgg):
        renderer.mathtext_parser = mathtext_parser()
    MinorTicks.install(ax, minor)
    return fig, ax


def new_ratio_figure(figsize: tuple[float, float] = (8.0, 7.6)) -> tuple[Figure, Axes, Axes]:
    """A figure with a main panel and, under it on the same x axis, a ratio panel a third of its height."""
    fig, ax = new_figure(figsize)
    grid = fig.add_gridspec(2, 1, height_ratios=(3.0, 1.0), hspace=0.06)
    ax.set_subplotspec(grid[0])
    ratio = fig.add_subplot(grid[1], sharex=ax)
    MinorTicks.install(ratio)
    ax.tick_params(labelbottom=False)
    return fig, ax, ratio


def _axis_name(axis: Axis) -> str:
    return "x" if isinstance(axis, XAxis) else "y"


class MinorTicks(Artist):
    """The minor tick marks of an axis, where :class:`~matplotlib.ticker.AutoMinorLocator` puts them when the figure
    is drawn, on the sides and with the size, width and direction the style's rcParams give minor ticks: one line of
    markers per side.

    matplotlib makes each minor tick a :class:`~matplotlib.axis.Tick` of five artists (two marks, a grid line, two
    labels), 1 ms apiece to make, and draws them one by one: with minor ticks on the four sides of every panel that
    was about 40 % of the time to draw and save a figure. Linear axes only.

    Example:
        >>> fig, ax = new_figure()  # minor ticks on both axes, none of matplotlib's
        >>> [type(a).__name__ for a in ax.artists], len(ax.xaxis.get_minorticklocs())
        (['MinorTicks', 'MinorTicks'], 0)
        >>> _ = ax.set_xlim(0, 1)  # majors every 0.2: four minor marks between two
        >>> ax.artists[0].locations()[:5]
        array([0.05, 0.1 , 0.15, 0.25, 0.3 ])
        >>> plt.close(fig)
    """

    #: The marks of the two sides (bottom/left, top/right) by axis and tick direction, as matplotlib's ticks have.
    MARKERS: ClassVar[dict[tuple[str, str], tuple[Any, Any]]] = {
        ("x", "in"): (TICKUP, TICKDOWN),
        ("x", "out"): (TICKDOWN, TICKUP),
        ("x", "inout"): ("|", "|"),
        ("y", "in"): (TICKRIGHT, TICKLEFT),
        ("y", "out"): (TICKLEFT, TICKRIGHT),
        ("y", "inout"): ("_", "_"),
    }
    SIDES: ClassVar[dict[str, tuple[str, str]]] = {"x": ("bottom", "top"), "y": ("left", "right")}

    def __init__(self, axis: Axis) -> None:
        super().__init__()
        self.axis = axis
        self.locator = AutoMinorLocator()
        self.locator.set_axis(axis)
        self.name = name = _axis_name(axis)
        rc = cast(dict[str, Any], plt.rcParams)
        transform = axis.axes.get_xaxis_transform if name == "x" else axis.axes.get_yaxis_transform
        self.marks: list[tuple[float, Line2D]] = []
        markers = self.MARKERS[name, rc[f"{name}tick.direction"]]
        which: tuple[Literal["tick1"], Literal["tick2"]] = ("tick1", "tick2")
        for at, (side, marker) in enumerate(zip(self.SIDES[name], markers, strict=True)):
            if not (rc[f"{name}tick.{side}"] and rc[f"{name}tick.minor.{side}"]):
                continue
            color = rc[f"{name}tick.color"]
            mark = Line2D([], [], linestyle="none", marker=marker, color=color, markeredgecolor=color,
                          markersize=rc[f"{name}tick.minor.size"], markeredgewidth=rc[f"{name}tick.minor.width"],
                          transform=transform(which[at]), clip_on=False)  # fmt: skip
            mark.set_figure(axis.axes.figure)
            self.marks.append((float(at), mark))
        self.set_zorder(axis.get_zorder())  # drawn with the axis
        self.set_in_layout(False)  # inside the axes

    @classmethod
    def install(cls, ax: Axes, axes: str = "xy") -> None:
        """Minor tick marks on ``ax``'s axes named in ``axes`` ("x", "y", "xy", ""), if the style shows minor ticks,
        in place of matplotlib's (none on the others)."""
        rc = cast(dict[str, Any], plt.rcParams)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_minor_locator(NullLocator())
            if _axis_name(axis) in axes and rc[f"{_axis_name(axis)}tick.minor.visible"]:
                ax.add_artist(cls(axis))

    def locations(self) -> np.ndarray:
        """Where the marks go: the minor locator's positions in the view, except those of major ticks (as
        :meth:`matplotlib.axis.Axis.get_minorticklocs` and the drawing of the ticks select them)."""
        locs: np.ndarray = np.asarray(self.locator(), dtype=float)
        majors = np.asarray(self.axis.get_majorticklocs(), dtype=float)
        low, high = sorted(self.axis.get_view_interval())
        major = np.isclose(locs[:, None], majors[None, :], atol=(high - low) * 1e-5, rtol=0).any(axis=1)
        margin = (high - low) * 1e-10
        shown: np.ndarray = locs[~major & (locs >= low - margin) & (locs <= high + margin)]
        return shown

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        locs = self.locations()
        for at, mark in self.marks:
            other = np.full(len(locs), at)
            mark.set_data((locs, other) if self.name == "x" else (other, locs))
            mark.draw(renderer)
        self.stale = False


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


def fill_between_steps(ax: Axes, edges: np.ndarray, low: np.ndarray, high: np.ndarray, **props: Any) -> StepPatch:
    """Fill each bin of ``edges`` from ``low`` to ``high`` (NaN: nothing in that bin), without outline unless
    ``props`` (a :class:`~matplotlib.patches.StepPatch`'s properties) give one: what ``ax.stairs(high, edges,
    baseline=low, fill=True, **props)`` draws, with the same data limits, found from the outline's corners at once.
    ``Axes.stairs`` adds the patch with ``add_patch``, which finds them segment by segment in Python (10 ms for a
    component of a stack: 50 ms a stacked figure).

    Example:
        >>> fig, ax = new_figure()
        >>> patch = fill_between_steps(ax, np.array([0.0, 1.0, 2.0]), np.zeros(2), np.array([3.0, 5.0]))
        >>> ax.dataLim.extents.tolist()  # x0, y0, x1, y1
        [0.0, 0.0, 2.0, 5.0]
        >>> plt.close(fig)
    """
    # (matplotlib's stub types the baseline as a number; Axes.stairs passes arrays too)
    patch = StepPatch(high, edges, baseline=low, fill=True, **{"linewidth": 0} | props)  # type: ignore[arg-type]
    ax.add_artist(patch)
    ax.update_datalim(patch.get_path().vertices)  # the outline's corners: its extent, as add_patch finds it
    bottom = np.min(low)  # as Axes.stairs: the baseline's lowest point sticks to the axis when autoscaling
    patch.sticky_edges.y.append(bottom)
    ax.update_datalim([(edges[0], bottom)])
    ax.autoscale_view()
    return patch


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
        handles.append(fill_between_steps(ax, edges, bottom, top, facecolor=color, label=label))
    total = totals[-1]
    error = np.sqrt(variance)
    band = fill_between_steps(ax, edges, total - error, total + error, label=band_label, **BAND)
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
    fill_between_steps(ax, edges, np.where(predicted, 1 - relative, np.nan), np.where(predicted, 1 + relative, np.nan),
                       **BAND)  # fmt: skip
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


def _top_needed(ax: Axes, boxes: Sequence[Bbox], drawn: np.ndarray, pad: float) -> float | None:
    """The lowest top of ``ax``'s (linear) y range, at least the present one, at which nothing ``drawn``
    (:func:`_drawn`) across the width of one of ``boxes`` (display extents) overlaps that box (with ``pad`` around
    it): content may lie under a box or wholly above it. ``None`` if only a top that leaves the content less than
    :data:`MIN_CONTENT` of the height would do.

    Raising the top shrinks every y towards the bottom while a box stays where it is; a segment from y0 to y1 under
    a box spanning the fractions [b0, b1] of the height overlaps it for the tops T in
    [low + (y0 - low) / b1, low + (y1 - low) / b0]: the answer is the first top not inside any such interval.
    """
    frame = ax.get_window_extent(_renderer(ax.figure))
    low, top = ax.get_ylim()
    starts, ends = [], []
    for extent in boxes:
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
    renderer = _renderer(ax.figure)
    top = _top_needed(ax, [box.get_window_extent(renderer) for box in boxes], _drawn(ax), pad)
    if top is not None:
        ax.set_ylim(ax.get_ylim()[0], top)


#: Where matplotlib anchors a legend in its box (:meth:`matplotlib.transforms.BboxBase.anchored`), by location.
_ANCHORS: dict[str, Literal["C", "SW", "S", "SE", "E", "NE", "N", "NW", "W"]] = {
    "upper right": "NE",
    "upper left": "NW",
    "lower left": "SW",
    "lower right": "SE",
    "right": "E",
    "center left": "W",
    "center right": "E",
    "lower center": "S",
    "upper center": "N",
    "center": "C",
}


def _placed(legend: Legend, size: Bbox, renderer: Any, ax: Axes, where: dict[str, Any]) -> Bbox:
    """The extent ``legend`` (laid out: ``size``, its extent anywhere) would have with ``where`` (``loc``, and
    ``bbox_to_anchor``, a point in ``bbox_transform`` coordinates, or the axes), placed as matplotlib places it,
    ``borderaxespad`` inside that box, without laying the legend out again."""
    if "bbox_to_anchor" in where:
        x, y = where["bbox_transform"].transform(where["bbox_to_anchor"])
        box = Bbox.from_bounds(x, y, 0, 0)
    else:
        box = ax.bbox
    pad = legend.borderaxespad * renderer.points_to_pixels(legend.prop.get_size_in_points())
    return Bbox.from_bounds(0, 0, size.width, size.height).anchored(_ANCHORS[where["loc"]], container=box.padded(-pad))


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
    boxes = [o.get_window_extent(renderer) for o in others]
    under = min((box.y0 - frame.y0) / frame.height for box in boxes) if boxes else 1.0
    places = [legend.pop("loc")] if "loc" in legend else list(LEGEND_PLACES)
    columns = [{}] if "ncol" in legend else [{}, {"ncol": 2}]
    wheres = []
    for place in places:
        where: dict[str, Any] = {"loc": place}
        if place.endswith("under the label"):
            corner = ("upper right", 1.0) if place.startswith("right") else ("upper left", 0.0)
            where = {"loc": corner[0], "bbox_to_anchor": (corner[1], under - pad), "bbox_transform": ax.transAxes}
        wheres.append(where)
    tops: dict[tuple[int, int], float | None] = {}
    made: list[Legend] = []
    for j, ncol in enumerate(columns):  # one legend per column count, laid out once and moved to each place
        made.append(ax.legend(**legend | ncol))
        size = made[j].get_window_extent(renderer)
        for i, where in enumerate(wheres):
            extent = _placed(made[j], size, renderer, ax, where)
            fits = extent.width <= frame.width and not any(extent.overlaps(box) for box in boxes)
            tops[i, j] = _top_needed(ax, [extent, *boxes], drawn, pad) if fits else None
    best: tuple[float, int, int] | None = None
    for (i, j), top in sorted(tops.items()):  # the first place, then the first column count, unless 5% lower
        if top is not None and (best is None or top - low < 0.95 * (best[0] - low)):
            best = (top, i, j)
    if best is None:  # nowhere clear: the legend under the label on the right, the y range raised for both
        where = {"loc": "upper right", "bbox_to_anchor": (1.0, under - pad), "bbox_transform": ax.transAxes}
        chosen = _moved(ax, made[0], where)
        make_room(ax, chosen, *others, pad=pad)
        return chosen
    ax.set_ylim(low, best[0])
    return _moved(ax, made[best[2]], wheres[best[1]])


def _moved(ax: Axes, legend: Legend, where: dict[str, Any]) -> Legend:
    """``legend``, laid out already, moved to ``where`` (``loc``, and ``bbox_to_anchor`` in ``bbox_transform``) and
    made ``ax``'s legend again: what ``ax.legend`` would make there, without making it anew."""
    legend.set_loc(where["loc"])
    if "bbox_to_anchor" in where:
        legend.set_bbox_to_anchor(where["bbox_to_anchor"], transform=where["bbox_transform"])
    ax.legend_ = legend
    return legend


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
    PNG at :data:`DPI` dots per inch, compressed at zlib level :data:`PNG_COMPRESSION`: drawn on the figure's own
    canvas and cropped there when the crop lies inside it (the renderer that laid out the text draws it, with the
    text's sizes and parsed mathtext at hand; a canvas of the crop's size would measure and parse all of it again).
    """
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    out = [base.with_suffix(f".{ext}") for ext in formats]
    try:
        fig.set_dpi(DPI)  # a figure not made by new_figure: the crop measured at the resolution of the PNG
        crop = fig.get_tightbbox(_renderer(fig)).padded(PAD)
        for target in out:
            try:
                if target.suffix != ".png":
                    fig.savefig(target, bbox_inches=crop)
                elif not _crop_drawn(fig, crop, target):
                    fig.savefig(target, bbox_inches=crop, dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
            except OSError as err:  # a failed write names no file (disk full): name the plot
                err.filename = err.filename or str(target)
                raise
    finally:
        plt.close(fig)
    return out


def _crop_drawn(fig: Figure, crop: Bbox, target: Path) -> bool:
    """Draw ``fig`` on its Agg canvas and write the pixels inside ``crop`` (inches) to ``target`` as PNG, as
    ``savefig`` would; ``False`` (nothing written) if the canvas is not Agg's (or scaled for a high-resolution
    screen) or the crop reaches beyond it."""
    canvas: Any = fig.canvas  # Agg's canvas has no annotations
    width, height = canvas.get_width_height(physical=True)
    x0, y0, x1, y1 = (np.asarray(crop.extents) * DPI).tolist()
    left, right = int(np.floor(x0)), int(np.ceil(x1))
    top, bottom = height - int(np.ceil(y1)), height - int(np.floor(y0))  # rows count from the top
    if not isinstance(fig.canvas, FigureCanvasAgg) or canvas.device_pixel_ratio != 1:
        return False
    if left < 0 or top < 0 or right > width or bottom > height:
        return False
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[top:bottom, left:right]
    imsave(target, pixels, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return True
