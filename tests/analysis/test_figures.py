"""Every figure of the project against its committed baseline image (tests/baseline/), drawn from the small fixed
inputs of tests/figures.py; and what a reader must find in each, checked on the figure's artists.

A figure that changes fails here with the difference image's path; regenerate the baselines deliberately, after
looking at every new image: ``python -m pytest tests/analysis/test_figures.py --update-baselines``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from analysis import style
from analysis.plots import plot_stack
from fitting import plots as fit_plots
from tests import figures

pytestmark = pytest.mark.slow  # image comparisons: with --runslow, as CI runs them

ROLES = figures.ROLES


def check(fig: Figure, name: str, tmp_path: Path, update: bool) -> None:
    figures.check_figure(fig, name, tmp_path, update)


@pytest.mark.parametrize("synthetic", [False, True], ids=["atlas", "demo"])
def test_m4l_stack(synthetic, tmp_path, update_baselines):
    fig = plot_stack(figures.m4l(), ROLES, 10.0, synthetic=synthetic)
    main, ratio = fig.axes
    seen = figures.texts(fig)
    assert figures.legend_labels(fig)[0] == ("Pseudo-data (synthetic)" if synthetic else "Data")  # data first
    assert ("Synthetic demo" in seen) == synthetic and ("Open Data" in seen) != synthetic
    assert "√s = 13 TeV, 10 fb$^{\\mathregular{-1}}$" in seen
    assert main.get_ylabel() == "Events / 5 GeV" and ratio.get_ylabel().endswith("/ Pred.")
    assert ratio.get_xlabel() == r"$m_{4\ell}$ [GeV]"
    check(fig, f"m4l_{'demo' if synthetic else 'atlas'}", tmp_path, update_baselines)


def test_m4l_seven_bins_with_an_empty_bin(tmp_path, update_baselines):
    histogram = figures.m4l(7)
    fig = plot_stack(histogram, ROLES, 10.0, synthetic=True)
    main = fig.axes[0]
    assert main.get_ylabel() == "Events / 24.3 GeV"
    # the empty bin has its Garwood bar (0 to 1.84) but no marker at zero, half hidden by the axis
    markers = np.concatenate([line.get_ydata() for line in main.lines if line.get_marker() == "o"])
    assert 0.0 not in markers and len(markers) == 6
    check(fig, "m4l_7bins", tmp_path, update_baselines)


def test_lepton_eta_has_minus_signs(tmp_path, update_baselines):
    fig = plot_stack(figures.lepton_eta(), ROLES, 10.0)
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert "−2" in ticks and "-2" not in ticks  # U+2212, not a hyphen
    assert fig.axes[0].get_ylabel() == "Leptons / 0.1"
    check(fig, "lepton_eta", tmp_path, update_baselines)


def test_postfit_keeps_the_split_and_quotes_the_fit(tmp_path, update_baselines):
    report = figures.fit_report()
    fig = fit_plots.plot_postfit(report, 10.0, components=figures.postfit_components(report))
    labels = figures.legend_labels(fig)
    assert labels[0] == "Data" and any(label.startswith("ZZ*") for label in labels)
    assert any(label.startswith("Z+jets") for label in labels)
    seen = figures.texts(fig)
    assert "Post-fit, Poisson likelihood ratio:" in seen
    assert any("s_s$ = $\\mathregular{" in text and "^{+" in text for text in seen)  # value with its errors
    check(fig, "postfit_m4l", tmp_path, update_baselines)


@pytest.mark.parametrize("name", ["s_s", "s_b"])
def test_scan_shades_and_quotes_both_intervals(name, tmp_path, update_baselines):
    report = figures.fit_report()
    fig = fit_plots.plot_scan(report, name, 10.0)
    ax = fig.axes[0]
    labels = figures.legend_labels(fig)
    assert len(labels) == 2 and all(f"${name[0]}_{name[2]}$ = $\\mathregular{{" in label for label in labels)
    low, high = ax.get_xlim()
    for line in ax.lines[:2]:  # both curves run from one end of the axis to the other
        x = line.get_xdata()
        assert x[0] == pytest.approx(low) and x[-1] == pytest.approx(high)
    check(fig, f"scan_{name}", tmp_path, update_baselines)


def test_tutorial_scan_says_the_best_fit_is_on_the_grid_edge(tmp_path, update_baselines):
    report = figures.fit_report("pearson", "tutorial", "deficit")
    fig = fit_plots.plot_scan(report, "s_s", 10.0, synthetic=True)
    assert any("lower edge of its grid" in text for text in figures.texts(fig))
    check(fig, "scan_s_s_tutorial", tmp_path, update_baselines)


def test_contours(tmp_path, update_baselines):
    report = figures.fit_report()
    fig = fit_plots.plot_contours(report, 10.0, synthetic=True, truth={"s_s": 1.0, "s_b": 1.2})
    labels = figures.legend_labels(fig)
    assert {"Best fit", "Standard Model", "Demo truth"} <= set(labels)
    ax = fig.axes[0]
    mesh = ax.collections[-1]
    edges = mesh.get_coordinates()  # (s_s, s_b) corners of the cells, as (x, y) = (s_b, s_s)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert edges[..., 0].min() <= x0 and edges[..., 0].max() >= x1  # the map covers the axes
    assert edges[..., 1].min() <= y0 and edges[..., 1].max() >= y1
    # every cell in view is coloured where the statistic is defined (beyond 99.7% in the top colour, not blank),
    # and blank exactly where a bin would be predicted negative (outside the physical region)
    plane = report.scan_map
    shown = np.ix_((plane.s_s >= y0) & (plane.s_s <= y1), (plane.s_b >= x0) & (plane.s_b <= x1))
    values = np.ma.getdata(mesh.get_array())[shown]
    blank = np.ma.getmaskarray(mesh.get_array())[shown]
    predicted = report.templates.predict(plane.s_s[shown[0]], plane.s_b[shown[1]])
    np.testing.assert_array_equal(blank, predicted.min(axis=-1) < 0)
    assert np.any(values[~blank] > fit_plots.MAP_LEVEL) and mesh.norm.vmax == fit_plots.MAP_LEVEL
    legend = ax.get_legend()
    solid = legend.get_lines()[0]
    assert solid.get_color() not in ("white", "#ffffff", (1.0, 1.0, 1.0, 1.0))  # a visible 68% swatch
    check(fig, "contours", tmp_path, update_baselines)


def test_gof(tmp_path, update_baselines):
    fig = fit_plots.plot_gof(figures.fit_report(), 10.0)
    ax = fig.axes[0]
    assert ax.get_yaxis().get_offset_text().get_text() == ""
    assert ax.lines[0].get_xdata()[-1] == pytest.approx(ax.get_xlim()[1])  # the pdf to the axis end
    assert any("toys of the fit to" in text for text in figures.texts(fig))  # toys do not carry the data's lumi label
    check(fig, "gof_toys", tmp_path, update_baselines)


def test_coverage(tmp_path, update_baselines):
    report = figures.fit_report()
    fig = fit_plots.plot_coverage(report, 10.0)
    ax = fig.axes[0]
    measured = next(c for c in ax.containers if c.get_label().startswith("Measured"))
    np.testing.assert_allclose(measured.lines[0].get_ydata(), report.coverage.measured)  # marker on the measurement
    assert any(text.startswith("toys at the best fit $s_s$ = ") for text in figures.texts(fig))  # the true point
    check(fig, "coverage", tmp_path, update_baselines)


def test_pulls_and_impacts(tmp_path, update_baselines):
    check(fit_plots.plot_pulls(figures.SYSTEMATIC_FIT, 10.0, synthetic=True), "pulls", tmp_path, update_baselines)
    fig = fit_plots.plot_impacts(figures.SYSTEMATIC_FIT, 10.0)
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
    assert not any(line.get_window_extent().overlaps(legend) for line in ax.lines)  # the zero line stops below it
    check(fig, "impacts", tmp_path, update_baselines)


@pytest.mark.parametrize(("formats", "draws"), [(("png",), 1), (("png", "pdf"), 2)])
def test_a_figure_is_drawn_once_per_file(formats, draws, tmp_path, monkeypatch):
    """Laying out the label, the legend and the saved file's margins takes no drawing of the figure: saving the
    m4l stack (two panels, label, legend) as PNG draws it once, PNG and PDF twice (matplotlib's tight bounding box
    drew it once more per file, mplhep's label and legend helpers three times)."""
    calls = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, renderer: calls.append(fig) or draw(fig, renderer))
    fig = plot_stack(figures.m4l(), ROLES, 10.0, synthetic=True)
    assert calls == []
    style.save(fig, tmp_path / "m4l", formats)
    assert len(calls) == draws
