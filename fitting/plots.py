"""Plots of a :class:`fitting.analysis.FitReport` and of a :class:`fitting.systematics.SystematicFit`, in the project's
style (:mod:`analysis.style`): labelled "ATLAS Open Data", or as the synthetic demo's with ``synthetic=True``.

Example:
    >>> fig = plot_contours(report, lumi_fb=10.0)  # a matplotlib Figure, shown inline in Jupyter
    >>> paths = plot_all(report, "results/plots", lumi_fb=10.0, formats=("png",))  # every plot
    >>> sorted(path.name for path in paths)[:2]
    ['contours.png', 'coverage.png']
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from scipy import special

from analysis import style
from analysis.precision import measurement
from fitting.analysis import FitReport
from fitting.fit import CONTOUR_LEVELS, Interval
from fitting.scans import MAP_LEVEL
from fitting.systematics import SystematicFit
from fitting.tutorial import grid_edge

__all__ = [
    "NUISANCE_LABELS",
    "STATISTIC_LABELS",
    "fit_figures",
    "plot_all",
    "plot_contours",
    "plot_coverage",
    "plot_gof",
    "plot_impacts",
    "plot_postfit",
    "plot_pulls",
    "plot_scan",
]

LABELS = {"s_s": r"signal strength $s_s$", "s_b": r"background scale $s_b$"}
SYMBOLS = {"s_s": "$s_s$", "s_b": "$s_b$"}
#: The test statistics by name, as a reader knows them.
STATISTIC_LABELS = {"pearson": "Pearson $\\chi^2$", "neyman": "Neyman $\\chi^2$", "poisson": "Poisson likelihood ratio"}
#: The colours of the Delta chi^2 map: blue at the best fit, light yellow from the 99.7% contour on (the top of the
#: scale, where the map is clipped), so that black lines and text stay readable over the whole map.
MAP_COLOURS = ListedColormap(colormaps["YlGnBu_r"](np.linspace(0.3, 1.0, 256)), name="delta_chi2")
#: The nuisance parameters of the fit with systematics by name, as a reader knows them.
NUISANCE_LABELS = {
    "lep_scale": "Lepton momentum scale",
    "ele_eff": "Electron efficiency",
    "mu_eff": "Muon efficiency",
    "lumi": "Luminosity",
    "zz_xsec": "ZZ* cross-section",
    "mc_stat": "Simulation statistics",
}


def _quoted(interval: Interval) -> str:
    """``value +high -low`` rounded by the PDG rule, in upright mathtext."""
    value, low, high = measurement(interval.value, interval.err_low, interval.err_high)
    if low == high:
        return rf"$\mathregular{{{value} \pm {low}}}$"
    return rf"$\mathregular{{{value}^{{+{high}}}_{{-{low}}}}}$"


def _p_value(p: float, toys: int | None = None) -> str:
    """A p-value to two significant digits; below 0.001 as a power of ten; none of ``toys`` toys beyond: the
    bound 1/toys."""
    if toys is not None and p == 0:
        return f"< {1 / toys:.1g}"
    if p >= 0.001:
        return f"= {p:.2g}" if p < 0.1 else f"= {p:.2f}"
    mantissa, exponent = f"{p:.1e}".split("e")
    return rf"= {mantissa}$\times$10$^{{\mathregular{{{int(exponent)}}}}}$"


def _statistic(report: FitReport) -> str:
    return STATISTIC_LABELS.get(report.statistic, report.statistic)


def _full(report: FitReport, values: np.ndarray) -> np.ndarray:
    """Values on the used bins spread over every bin of the histogram (zero elsewhere)."""
    out = np.zeros(len(report.templates.used))
    out[report.templates.used] = values
    return out


def plot_postfit(
    report: FitReport,
    lumi_fb: float,
    synthetic: bool = False,
    components: Sequence[tuple[str, np.ndarray, str]] | None = None,
) -> Figure:
    """m4l after the fit: the signal scaled by the best s_s and the backgrounds by s_b, stacked, with the
    uncertainty of the fitted parameters (covariance) and of the simulation as a band, the data, and data over the
    post-fit prediction below; the fit range only.

    ``components``: ``(label, values, role)`` of the process groups over every bin of the histogram (as
    :func:`analysis.plots.stack_components` gives them), to keep the ZZ* and Z+jets, tt̄ split of the pre-fit plot;
    without them, one background. Their sums by role must equal the templates in the fitted bins.
    """
    t = report.templates
    s_s, s_b = report.best
    used = t.used
    if components is None:
        components = [
            ("Background", _full(report, t.background), "background"),
            ("Higgs, $m_H$ = 125 GeV", _full(report, t.signal), "signal"),
        ]
    for role, template in (("signal", t.signal), ("background", t.background)):
        total = np.sum([values for _, values, r in components if r == role], axis=0)
        if not np.allclose(total[used], template, rtol=1e-9, atol=1e-12):
            raise ValueError(f"the {role} components do not add up to the fitted {role} template")
    scale = {"signal": s_s, "background": s_b}
    stack = [
        (
            rf"{'Higgs' if role == 'signal' else label} $\times$ {SYMBOLS['s_s' if role == 'signal' else 's_b']}",
            scale[role] * values * used,
        )
        for label, values, role in components
    ]
    colors = [
        style.COLORS.get(label, style.COLORS["signal" if role == "signal" else "other"])
        for label, _, role in components
    ]
    signal, background = _full(report, t.signal), _full(report, t.background)
    variance = _full(report, s_b**2 * t.background_var + s_s**2 * t.signal_var)
    covariance = report.fit_2d.covariance
    band = "Stat. unc."
    if covariance is not None:  # the fitted parameters' uncertainty, propagated linearly
        jacobian = np.stack([signal, background])
        variance = variance + np.einsum("ik,ij,jk->k", jacobian, covariance, jacobian)
        band = "Post-fit unc."
    fig, ax, ratio = style.new_ratio_figure()
    total, handles = style.draw_stack(ax, t.edges, stack, variance, colors, band)
    data = _full(report, t.data)
    points = style.draw_data(ax, t.edges, data, style.data_label(synthetic), prediction=total)
    handles.insert(0, points)  # type: ignore[arg-type]  # an errorbar container is a legend handle too
    first, last = np.flatnonzero(used)[[0, -1]]
    ax.set_xlim(t.edges[first], t.edges[last + 1])
    ax.set_ylim(0, 1.05 * max(float(np.max(total + np.sqrt(variance))), float(np.max(style.poisson_interval(data)[1]))))
    ax.set_ylabel(style.per_bin(t.edges, unit="GeV"))
    lines = [
        f"Post-fit, {_statistic(report)}:",
        f"$s_s$ = {_quoted(report.fit_2d.s_s)},  $s_b$ = {_quoted(report.fit_2d.s_b)}",
    ]
    label = style.atlas_label(ax, lumi_fb, synthetic, lines=lines)
    style.legend_clear_of_data(ax, label, handles=handles, labels=[h.get_label() for h in handles])
    style.draw_ratio(ratio, t.edges, data, total, variance, synthetic)
    ratio.set_xlabel(r"$m_{4\ell}$ [GeV]")
    return fig


def plot_scan(report: FitReport, name: str, lumi_fb: float, synthetic: bool = False) -> Figure:
    """Delta chi^2 of ``name`` (``s_s`` or ``s_b``) with the other parameter fixed at 1 and profiled, each with its
    Delta chi^2 <= 1 interval shaded under the Delta chi^2 = 1 line and quoted in the legend, over the range of
    :attr:`fitting.analysis.FitReport.scans` (see :func:`fitting.scans.scan`). With the tutorial's method, the points
    of its grid are marked on the curve, and a best fit on the grid's edge is said to be none."""
    other = "s_b" if name == "s_s" else "s_s"
    tutorial = report.method == "tutorial"
    alone = report.fit_s_s if name == "s_s" else report.fit_s_b
    fits = {
        "fixed": alone.interval,
        "profiled": report.fit_2d.s_s if name == "s_s" else report.fit_2d.s_b,
    }
    edges = {
        "fixed": grid_edge(name, fits["fixed"].value) if tutorial else None,
        "profiled": grid_edge(name, fits["profiled"].value, two_d=True) if tutorial else None,
    }
    scan = report.scans[name]
    x, curves = scan.values, {"fixed": scan.fixed, "profiled": scan.profiled}
    low, high = float(x[0]), float(x[-1])
    fig, ax = style.new_figure()
    symbol, colours = SYMBOLS[other], {"fixed": "black", "profiled": "tab:blue"}
    handles: list[Any] = []  # artists, and (band, line) pairs drawn as one entry
    labels: list[str] = []
    notes: list[str] = []
    for key, interval in fits.items():
        (line,) = ax.plot(x, curves[key], color=colours[key], linestyle="-" if key == "fixed" else "--")
        what = f"{symbol} fixed at 1" if key == "fixed" else f"{symbol} profiled"
        if edges[key] is None:
            box = ax.fill_between(
                [interval.value - interval.err_low, interval.value + interval.err_high],
                0,
                1,
                facecolor=colours[key] if key == "fixed" else "none",
                alpha=0.25 if key == "fixed" else 1.0,
                hatch=None if key == "fixed" else "///",
                edgecolor=colours[key],
                linewidth=0,
            )
            handles.append((box, line))
            source = (" (1-D grid)" if key == "fixed" else " (2-D grid)") if tutorial else ""
            labels.append(f"{what}: {SYMBOLS[name]} = {_quoted(interval)}{source}")
        else:
            handles.append(line)
            labels.append(what)
            grid_name = "2-D grid" if key == "profiled" else "grid"
            notes.append(
                f"{what}: the tutorial's best fit {interval.value:g} is the {edges[key]} edge of its "
                f"{grid_name};\nthe minimum lies outside, the grid gives no interval"
            )
    if tutorial:  # its intervals come from its grids, the curves are exact: they need not cross at the same points
        notes += ["Tutorial method: intervals read off its grids", "(2-D: a slice through the best fit), exact curves"]
        grid = scan.grid
        (points,) = ax.plot(grid, scan.grid_fixed, "o", color="black", markersize=3)
        handles.append(points)
        labels.append(f"tutorial's grid, {symbol} = 1 ({grid[0]:g} to {grid[-1]:g})")
    ax.axhline(1.0, color="grey", linewidth=1, linestyle=":")
    ax.set_xlim(low, high)
    shown = [line.get_ydata() for line in ax.lines]
    ax.set_ylim(0, 1.05 * max(float(np.nanmax(y)) for y in shown))
    ax.set_xlabel(LABELS[name])
    ax.set_ylabel(rf"$\Delta\chi^2$ ({_statistic(report)})")
    label = style.atlas_label(ax, lumi_fb, synthetic, lines=notes)
    style.legend_clear_of_data(ax, label, handles=handles, labels=labels, handler_map={tuple: HandlerTuple(ndivide=1)})
    return fig


def plot_contours(
    report: FitReport, lumi_fb: float, synthetic: bool = False, truth: Mapping[str, float] | None = None
) -> Figure:
    """The 68.3% and 95.4% contours of (s_b, s_s) on the Delta chi^2 map (coloured up to 99.7%), the best fit, the
    Standard Model point (1, 1) and, for the synthetic demo, the true values its pseudo-data were drawn with. The
    map is :attr:`fitting.analysis.FitReport.scan_map` (:func:`fitting.scans.scan_map`), coloured up to
    :data:`fitting.scans.MAP_LEVEL` and in the top colour beyond."""
    plane = report.scan_map
    points = {level: report.contours[level].points for level in CONTOUR_LEVELS}
    marks = [(report.best[1], report.best[0]), (1.0, 1.0)]
    if truth is not None:
        marks.append((truth["s_b"], truth["s_s"]))
    delta = np.where(np.isfinite(plane.delta), plane.delta, np.nan)  # blank outside the physical region
    fig, ax = style.new_figure((8.0, 6.5))
    edge = ax.contour(
        plane.s_b, plane.s_s, np.nan_to_num(delta, nan=1e9), levels=[MAP_LEVEL], colors="0.5", linewidths=0.8
    )
    outline = np.concatenate(
        [np.asarray(marks), *(p[:, ::-1] for p in points.values()), *(v for seg in edge.allsegs for v in seg)]
    )
    pad = 0.08 * (outline.max(axis=0) - outline.min(axis=0))
    ax.set_xlim(outline[:, 0].min() - pad[0], outline[:, 0].max() + pad[0])
    ax.set_ylim(outline[:, 1].min() - pad[1], outline[:, 1].max() + pad[1])
    styles = {CONTOUR_LEVELS[0]: "-", CONTOUR_LEVELS[1]: "--"}
    for level, contour in points.items():
        closed = np.vstack([contour, contour[:1]])
        cl = 100 * special.chdtr(2, level)
        ax.plot(
            closed[:, 1],
            closed[:, 0],
            color="black",
            linestyle=styles[level],
            linewidth=2,
            label=rf"{cl:.1f}% CL ($\Delta\chi^2$ = {level:.2f})",
        )
    ax.plot(*marks[0], marker="*", color="black", markersize=16, linestyle="none", label="Best fit")
    ax.plot(*marks[1], marker="D", color="tab:red", markersize=9, linestyle="none", label="Standard Model")
    if truth is not None:
        ax.plot(
            *marks[2],
            marker="P",
            color="tab:orange",
            markeredgecolor="black",
            markersize=12,
            linestyle="none",
            label="Demo truth",
        )
    ax.set_xlabel(LABELS["s_b"])
    ax.set_ylabel(LABELS["s_s"])
    label = style.atlas_label(ax, lumi_fb, synthetic, lines=[_statistic(report)])
    style.legend_clear_of_data(ax, label)
    # the map over the whole final view, in the top colour beyond 99.7%, blank outside the physical region
    mesh = ax.pcolormesh(
        plane.s_b, plane.s_s, delta, cmap=MAP_COLOURS, shading="auto", rasterized=True, zorder=0, vmin=0, vmax=MAP_LEVEL
    )
    fig.colorbar(mesh, ax=ax, label=r"$\Delta\chi^2$ (up to 99.7% CL)", pad=0.02, extend="max")
    return fig


def _nice_width(span: float, bins: int) -> float:
    """A bin width of 1, 2, 2.5 or 5 times a power of ten giving about ``bins`` bins over ``span``."""
    raw = span / bins
    power = 10.0 ** np.floor(np.log10(raw))
    return float(power * min((m for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw), default=10.0))


def plot_gof(report: FitReport, lumi_fb: float, synthetic: bool = False) -> Figure:
    """The toys' post-fit statistic against the chi^2 distribution with nbins - 2 dof (scaled to the toys), with
    the data's value and its p-values (from the distribution, and the fraction of toys beyond it)."""
    ndf, gof = report.fit_2d.ndf, report.gof
    fig, ax = style.new_figure()
    upper = max(float(np.quantile(gof.toys, 0.999)), report.fit_2d.chi2) * 1.1
    width = _nice_width(upper, 50)
    bins = np.arange(0.0, upper + width, width)
    upper = float(bins[-1])
    kind = "Poisson" if gof.kind == "poisson" else "Gaussian"
    ax.hist(
        gof.toys,
        bins=bins.tolist(),
        color="#9ecae1",
        label=f"{len(gof.toys):,} {kind} toys" + (", each refitted" * gof.refit),
    )
    x = np.linspace(0, upper, 400)
    expected = len(gof.toys) * width * _chi2_pdf(x, ndf)
    ax.plot(x, expected, color="tab:red", label=rf"$\chi^2$ distribution, {ndf} dof")
    counts, _ = np.histogram(gof.toys, bins)
    peak = max(float(counts.max()), float(expected.max()))
    p_values = f"$p$ {_p_value(report.fit_2d.p_value)}, from the toys $p$ {_p_value(gof.p_value_toys, len(gof.toys))}"
    chi2 = report.fit_2d.chi2
    ax.plot([chi2, chi2], [0, peak], color="black", linestyle="--", linewidth=2, label=f"Data: {chi2:.1f}; {p_values}")
    ax.set_xlim(0, upper)
    ax.set_ylim(0, 1.05 * peak)
    ax.set_xlabel(rf"post-fit $\chi^2$ ({_statistic(report)})")
    ax.set_ylabel(f"Toys / {width:g}")
    label = style.atlas_label(ax, lumi_fb, synthetic, toys=True)
    style.legend_clear_of_data(ax, label)
    return fig


def plot_coverage(report: FitReport, lumi_fb: float, synthetic: bool = False) -> Figure:
    """f(d), the fraction of toys whose Delta chi^2 at the true point is at most d, against the chi^2 cdf with 2 dof
    it should follow; at d = 2.30 and 6.18 the nominal 68.3% and 95.4% (open) and the measured coverage (filled),
    quoted. The label names the statistic and the true point of the toys, and says when the statistic under-covers."""
    coverage = report.coverage
    fig, ax = style.new_figure()
    end = max(float(coverage.d.max()), CONTOUR_LEVELS[-1]) * 1.08
    x = np.linspace(0, end, 300)
    ax.plot(x, special.chdtr(2, x), color="tab:red", label=r"$\chi^2$ cdf, 2 dof (asymptotic)")
    per_point = "the same" if coverage.same_toys else "fresh"
    kind = "Poisson" if coverage.kind == "poisson" else "Gaussian"
    s_s, s_b = report.best
    ax.errorbar(
        coverage.d,
        coverage.fraction,
        yerr=coverage.error,
        fmt="o",
        color="black",
        markersize=4,
        label=f"{coverage.toys:,} {kind} toys ({per_point} for every $d$)",
    )
    nominal = special.chdtr(2, np.array(CONTOUR_LEVELS))
    ax.plot(
        CONTOUR_LEVELS,
        nominal,
        marker="o",
        markersize=12,
        markerfacecolor="none",
        markeredgecolor="tab:blue",
        markeredgewidth=2,
        linestyle="none",
        label="Nominal: " + ", ".join(f"{100 * n:.1f}%" for n in nominal),
    )
    measured = [
        f"{100 * m:.1f} ± {100 * e:.1f}%" for m, e in zip(coverage.measured, coverage.measured_error, strict=True)
    ]
    ax.errorbar(
        CONTOUR_LEVELS,
        coverage.measured,
        yerr=coverage.measured_error,
        fmt="s",
        color="tab:blue",
        markersize=8,
        label="Measured: " + ", ".join(measured),
    )
    ax.set_xlim(0, end)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(r"critical value $d$ of $\Delta\chi^2$")
    ax.set_ylabel(r"fraction of toys with $\Delta\chi^2 \leq d$")
    under = np.any(coverage.measured < nominal - 3 * np.maximum(coverage.measured_error, 1e-9))
    lines = [
        f"toys at the best fit $s_s$ = {s_s:.2f}, $s_b$ = {s_b:.2f}",
        _statistic(report) + (": under-covers (the statistic's property)" if under else ""),
    ]
    # the cdf rises from the lower left to the upper right: the label and legend go in the empty lower right
    label = style.atlas_label(ax, lumi_fb, synthetic, toys=True, lines=lines, loc="lower right")
    style.legend_above(ax, label, fontsize="small")
    return fig


def _chi2_pdf(x: np.ndarray, ndf: int) -> np.ndarray:
    """The chi^2 density with ``ndf`` degrees of freedom (scipy.special: the plotting workers do not import
    scipy.stats, about 1 s each)."""
    return np.asarray(np.exp(special.xlogy(ndf / 2 - 1, x) - x / 2 - special.gammaln(ndf / 2) - ndf / 2 * np.log(2)))


def fit_figures(
    report: FitReport,
    lumi_fb: float,
    synthetic: bool = False,
    truth: Mapping[str, float] | None = None,
    components: Sequence[tuple[str, np.ndarray, str]] | None = None,
) -> dict[str, Callable[[], Figure]]:
    """The plots of :func:`plot_all` by file name, each drawn when called (``hzz4l fit`` draws them in parallel).
    ``synthetic``, ``truth``: of the synthetic demo (see :func:`plot_contours`); ``components``: see
    :func:`plot_postfit`."""
    return {
        "postfit_m4l": functools.partial(plot_postfit, report, lumi_fb, synthetic, components),
        "scan_s_s": functools.partial(plot_scan, report, "s_s", lumi_fb, synthetic),
        "scan_s_b": functools.partial(plot_scan, report, "s_b", lumi_fb, synthetic),
        "contours": functools.partial(plot_contours, report, lumi_fb, synthetic, truth),
        "gof_toys": functools.partial(plot_gof, report, lumi_fb, synthetic),
        "coverage": functools.partial(plot_coverage, report, lumi_fb, synthetic),
    }


def plot_all(
    report: FitReport,
    path: str | os.PathLike[str],
    lumi_fb: float,
    synthetic: bool = False,
    truth: Mapping[str, float] | None = None,
    components: Sequence[tuple[str, np.ndarray, str]] | None = None,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Every fit plot as PNG and PDF (or the ``formats`` given) into folder ``path``; returns the files written."""
    path = Path(path)
    figures = fit_figures(report, lumi_fb, synthetic, truth, components)
    return [file for name, make in figures.items() for file in style.save(make(), path / name, formats)]


def _rows(ax: Axes, names: Sequence[str]) -> np.ndarray:
    """One row per nuisance parameter, the first on top, named as a reader knows them; returns the rows' y."""
    y = np.arange(len(names))[::-1].astype(float)
    ax.set_yticks(y, [NUISANCE_LABELS.get(name, name) for name in names])
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_ylim(-0.7, len(names) - 0.3)
    return y


def plot_pulls(result: SystematicFit, lumi_fb: float, synthetic: bool = False) -> Figure:
    """The pull of every named nuisance parameter, (best fit - prior) / prior width, with its post-fit width in
    the same units, against the +-1 and +-2 bands of the prior."""
    names = [p.name for p in result.pulls]
    fig, ax = style.new_figure((8.0, 2.6 + 0.6 * len(names)), minor="x")
    y = _rows(ax, names)
    extent = [-0.5, len(names) - 0.5]
    ax.fill_betweenx(extent, -2, 2, color="#fff2a8", linewidth=0, zorder=0, label="±2 prior widths")
    ax.fill_betweenx(extent, -1, 1, color="#c8e6c9", linewidth=0, zorder=0, label="±1 prior width")
    ax.plot([0, 0], extent, color="grey", linewidth=1, linestyle="--")
    ax.errorbar(
        [p.pull for p in result.pulls],
        y,
        xerr=[p.constraint for p in result.pulls],
        fmt="o",
        color="black",
        capsize=0,
        label="Pull and post-fit width",
    )
    ax.set_xlim(-3, 3)
    ax.set_xlabel(r"$(\hat{\theta} - \theta_0) / \Delta\theta$")
    label = style.atlas_label(ax, lumi_fb, synthetic)
    style.legend_clear_of_data(ax, label)
    return fig


def plot_impacts(result: SystematicFit, lumi_fb: float, synthetic: bool = False) -> Figure:
    """The impact on s_s of each nuisance parameter moved by +-1 pre-fit (open) and post-fit (filled) width, largest
    post-fit impact on top; the simulation statistics as one group."""
    names = [i.name for i in result.impacts]
    fig, ax = style.new_figure((8.0, 3.2 + 0.6 * len(names)), minor="x")
    y = _rows(ax, names)
    for shift, color in (("up", "tab:blue"), ("down", "tab:orange")):
        sign = "+" if shift == "up" else "−"
        ax.barh(
            y,
            [getattr(i, f"prefit_{shift}") for i in result.impacts],
            height=0.7,
            fill=False,
            edgecolor=color,
            linewidth=1.5,
            label=rf"pre-fit $\theta$ {sign} $\Delta\theta$",
        )
        ax.barh(
            y,
            [getattr(i, f"postfit_{shift}") for i in result.impacts],
            height=0.35,
            color=color,
            label=rf"post-fit $\hat\theta$ {sign} $\Delta\hat\theta$",
        )
    reach = max(abs(v) for i in result.impacts for v in i[1:]) * 1.25 or 1.0
    ax.set_xlim(-reach, reach)
    ax.plot([0, 0], ax.get_ylim(), color="black", linewidth=0.8)  # the rows only: the legend goes above them
    ax.set_xlabel(r"$\Delta s_s$")
    label = style.atlas_label(ax, lumi_fb, synthetic)
    style.legend_clear_of_data(ax, label, ncol=2)
    return fig
