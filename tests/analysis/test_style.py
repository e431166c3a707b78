"""The plot style's Poisson error bars against scipy.stats and the published Garwood table; the legend placed
without laying it out again against matplotlib's own layout; the minor tick marks against matplotlib's; the
written-out ATLAS style against mplhep's."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import mplhep
import numpy as np
import pytest
from matplotlib.testing.compare import compare_images
from scipy import stats

from analysis import style
from analysis.precision import measurement
from analysis.style import poisson_interval


def test_garwood_interval_against_chi2_quantiles():
    counts = np.array([0, 1, 2, 5, 10, 37, 250, 1e4])
    lower, upper = poisson_interval(counts)
    alpha = 1 - 0.682689
    expected_lower = np.where(counts > 0, stats.chi2.ppf(alpha / 2, 2 * counts) / 2, 0.0)
    expected_upper = stats.chi2.ppf(1 - alpha / 2, 2 * (counts + 1)) / 2
    np.testing.assert_allclose(lower, expected_lower, rtol=1e-10, atol=0)
    np.testing.assert_allclose(upper, expected_upper, rtol=1e-10)


@pytest.mark.parametrize(("n", "low", "high"), [(0, 0.0, 1.841), (1, 0.173, 3.300), (5, 2.840, 8.382)])
def test_garwood_interval_table(n, low, high):
    # the 68.27% Garwood intervals as tabulated (e.g. the PDG statistics review)
    lower, upper = poisson_interval(np.array([n]))
    assert lower[0] == pytest.approx(low, abs=1e-3)
    assert upper[0] == pytest.approx(high, abs=1e-3)


@pytest.mark.parametrize(
    ("value", "error", "expected"),
    [
        # the PDG's own examples (Review of Particle Physics, Introduction, 5.3 "Rounding")
        (0.827, 0.119, ("0.83", "0.12")),
        (0.827, 0.367, ("0.8", "0.4")),
        # three leading digits 950 to 999: rounded up to 1000, two significant digits
        (0.827, 0.962, ("0.8", "1.0")),
        (272.0, 16.49, ("272", "16")),
        (1234.0, 47.0, ("1230", "50")),
    ],
)
def test_pdg_rounding(value, error, expected):
    assert measurement(value, error) == expected


@pytest.mark.parametrize("loc", ["upper right", "upper left", "center right", "lower right", "lower center", "center"])
@pytest.mark.parametrize("anchor", [None, (1.0, 0.62), (0.0, 0.62)])
def test_legend_placed_where_matplotlib_puts_it(loc, anchor):
    """legend_clear_of_data lays each legend out once and moves its extent to every candidate place: the extent
    must be where matplotlib's layout puts the legend at that place."""
    fig, ax = style.new_figure()
    ax.plot([0, 1], [0, 1], label="a line with a long label")
    ax.plot([0, 1], [1, 0], label=r"$m_{4\ell}$ [GeV]")
    legend = ax.legend(ncol=2)
    renderer = fig.canvas.get_renderer()
    size = legend.get_window_extent(renderer)
    where = {"loc": loc} | ({"bbox_to_anchor": anchor, "bbox_transform": ax.transAxes} if anchor else {})
    placed = style._placed(legend, size, renderer, ax, where)
    legend.set_loc(loc)
    legend.set_bbox_to_anchor(anchor, ax.transAxes if anchor else None)
    expected = legend.get_window_extent(renderer).bounds
    plt.close(fig)
    np.testing.assert_allclose(placed.bounds, expected, atol=1e-9)


def test_the_style_is_mplheps_atlas_style():
    """analysis.style writes mplhep's ATLAS style out (importing mplhep cost each plotting worker 0.2 s): it must stay
    mplhep's, and its font must be the one mplhep ships."""
    assert dict(mplhep.style.ATLAS) == style.ATLAS_STYLE
    # in a process without mplhep (which registers its fonts when imported, as it is here)
    code = (
        "import sys, analysis.style\n"
        "from matplotlib import font_manager as fm\n"
        "assert 'mplhep' not in sys.modules\n"
        "print(fm.findfont(fm.FontProperties(family='TeX Gyre Heros'), fallback_to_default=False))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("texgyreheros-regular.otf")


@pytest.mark.parametrize("limits", [((80, 250), (0, 55)), ((-2.7, 2.7), (0, 1.05)), ((0.93, 1.94), (-1.0, 8.9))])
def test_minor_ticks_are_matplotlibs(limits, tmp_path):
    """The style's minor tick marks (one artist per axis, analysis.style.MinorTicks) are drawn where, and as,
    matplotlib's own minor ticks are: the same image."""
    for name in ("ours", "matplotlib"):
        fig, ax = style.new_figure((4.0, 3.0), minor="xy" if name == "ours" else "")
        if name == "matplotlib":
            ax.minorticks_on()
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        fig.savefig(tmp_path / f"{name}.png")
        plt.close(fig)
    assert compare_images(str(tmp_path / "matplotlib.png"), str(tmp_path / "ours.png"), tol=0.05) is None


def test_stack_is_what_stairs_draws_with_its_data_limits(monkeypatch):
    """style.draw_stack and draw_ratio fill with analysis.style.fill_between_steps: the patches, data limits and
    autoscaled view of matplotlib's Axes.stairs (NaN bins included), without add_patch's walk over each segment."""
    edges = np.array([70.0, 80.0, 95.0, 110.0, 160.0])
    low, high = np.array([0.0, 1.0, np.nan, 2.0]), np.array([3.0, 4.5, np.nan, 2.5])
    cases = [({"facecolor": "#6baed6", "label": "ZZ*"}, {"color": "#6baed6", "label": "ZZ*"}), (style.BAND,) * 2]
    axes = {}
    for how in ("stairs", "ours"):
        fig, ax = style.new_figure()
        for ours, theirs in cases:
            if how == "ours":
                style.fill_between_steps(ax, edges, low, high, **ours)
            else:
                ax.stairs(high, edges, baseline=low, fill=True, **theirs)
        axes[how] = ax
    for ours, theirs in zip(axes["ours"].patches, axes["stairs"].patches, strict=True):
        np.testing.assert_array_equal(ours.get_path().vertices, theirs.get_path().vertices)
        for prop in ("facecolor", "edgecolor", "linewidth", "hatch", "label", "fill"):
            assert ours.properties()[prop] == pytest.approx(theirs.properties()[prop]), prop
        np.testing.assert_array_equal(ours.sticky_edges.y, theirs.sticky_edges.y)  # NaN where the baseline is
    np.testing.assert_array_equal(axes["ours"].dataLim.extents, axes["stairs"].dataLim.extents)
    assert axes["ours"].get_ylim() == axes["stairs"].get_ylim()
    assert axes["ours"].get_xlim() == axes["stairs"].get_xlim()
    plt.close("all")

    def walk(*args):
        raise AssertionError("a patch's data limits found segment by segment")

    monkeypatch.setattr(type(axes["ours"]), "_update_patch_limits", walk)
    fig, ax, ratio = style.new_ratio_figure()
    style.draw_stack(ax, edges, [("ZZ*", high)], np.ones(4), ["#6baed6"])
    style.draw_ratio(ratio, edges, np.array([1.0, 2.0, 0.0, 4.0]), high, np.ones(4))
    plt.close(fig)


def test_figures_share_their_parsed_mathtext(monkeypatch, tmp_path):
    """A figure's mathtext parsed for an earlier figure of the style is not parsed again (style.mathtext_parser, one
    parser for all), and the figure is the same image."""
    from matplotlib import _mathtext

    parsed = []
    parse = _mathtext.Parser.parse
    monkeypatch.setattr(_mathtext.Parser, "parse", lambda self, s, *a: parsed.append(s) or parse(self, s, *a))
    counts = []
    for name in ("first", "second"):
        fig, ax = style.new_figure()  # its PNG drawn on its own canvas (see style.save)
        ax.set_xlabel(r"$m_{4\ell}$ [GeV] (a title no other test draws)")
        ax.plot([0, 1], [0, 1], label=r"$t\bar{t}$ (a legend entry no other test draws)")
        ax.legend()
        style.save(fig, tmp_path / name, ("png",))
        counts.append(len(parsed))
    assert counts[0] > 0 and counts[1] == counts[0]  # none by the second figure
    assert compare_images(str(tmp_path / "first.png"), str(tmp_path / "second.png"), tol=0) is None


#: The parent's parser, as a forked child inherits it (held here, so that no new object can take its address).
_PARENTS: list[object] = []


def _inherited_parser() -> bool:
    return style.mathtext_parser() is _PARENTS[0]


def test_a_forked_process_parses_with_its_own_fonts():
    # the parses cached in a parent hold its FreeType fonts, whose files a forked child shares with its siblings:
    # two plotting workers drawing from them at once failed with "FT_Load_Glyph ... broken file"
    import concurrent.futures
    import multiprocessing

    fig, ax = style.new_figure()
    ax.set_xlabel(r"$m_{4\ell}$ [GeV]")
    fig.canvas.draw()  # the parent's parser now holds a parse, and its fonts
    plt.close(fig)
    _PARENTS[:] = [style.mathtext_parser()]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        assert not pool.submit(_inherited_parser).result()
    assert style.mathtext_parser() is _PARENTS[0]  # the parent keeps its own


@pytest.mark.parametrize("ncol", [None, 2])
def test_the_legend_placed_is_one_laid_out_before(ncol, monkeypatch):
    """legend_clear_of_data keeps the legend it laid out for the chosen column count, moved to the chosen place (one
    legend per column count, none made anew), where a legend made there anew would be."""
    from matplotlib.legend import Legend
    from matplotlib.transforms import IdentityTransform

    made = []
    init = Legend.__init__
    monkeypatch.setattr(Legend, "__init__", lambda self, *a, **k: made.append(self) or init(self, *a, **k))
    fig, ax = style.new_figure()
    ax.plot([0.0, 1.0], [0.2, 1.0], label="a line rising to the upper right")
    ax.plot([0.0, 1.0], [0.5, 0.5], label="a flat line")
    legend = style.legend_clear_of_data(ax, style.atlas_label(ax, 10.0), **({"ncol": ncol} if ncol else {}))
    assert len(made) == (1 if ncol else 2) and legend in made and ax.get_legend() is legend
    renderer = style._renderer(fig)
    placed = legend.get_window_extent(renderer)
    anchor = legend.get_bbox_to_anchor().frozen()  # in display coordinates
    anew = ax.legend(loc=legend._loc, bbox_to_anchor=anchor, bbox_transform=IdentityTransform(), ncol=legend._ncols)
    np.testing.assert_allclose(placed.extents, anew.get_window_extent(renderer).extents)
    plt.close(fig)
