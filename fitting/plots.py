"""Plots of a :class:`fitting.analysis.FitReport`, in the project's style (PNG and PDF).

Example:
    >>> fig = plot_contours(report, lumi_fb=10.0)  # a matplotlib Figure, shown inline in Jupyter  # doctest: +SKIP
    >>> paths = plot_all(report, "results/plots", lumi_fb=10.0)  # every plot as PNG and PDF  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import special

from analysis import style
from fitting.analysis import FitReport
from fitting.fit import CONTOUR_LEVELS, Model
from fitting.systematics import SystematicFit

__all__ = [
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


def _full(report: FitReport, values: np.ndarray) -> np.ndarray:
    """Values on the used bins spread over every bin of the histogram (zero elsewhere)."""
    out = np.zeros(len(report.templates.used))
    out[report.templates.used] = values
    return out


def plot_postfit(report: FitReport, lumi_fb: float) -> Figure:
    """m4l with the best-fit signal and background stacked, and the data."""
    t = report.templates
    s_s, s_b = report.best
    fig, ax = style.new_figure()
    components = [
        (rf"Background $\times$ {s_b:.3f}", _full(report, s_b * t.background)),
        (rf"Higgs $\times$ {s_s:.2f}", _full(report, s_s * t.signal)),
    ]
    variance = _full(report, s_b**2 * t.background_var + s_s**2 * t.signal_var)
    total = style.draw_stack(ax, t.edges, components, variance, [style.COLORS["background"], style.COLORS["signal"]])
    data = _full(report, t.data)
    style.draw_data(ax, t.edges, data)
    top = max(float(np.max(total)), float(np.max(style.poisson_interval(data)[1])))
    ax.set_ylim(0, 1.6 * top)
    ax.set_xlim(t.edges[0], t.edges[-1])
    ax.set_xlabel(r"$m_{4\ell}$ [GeV]")
    ax.set_ylabel(f"Events / {t.edges[1] - t.edges[0]:g} GeV")
    style.atlas_label(ax, lumi_fb)
    style.legend_clear_of_data(ax, loc="upper right", frameon=False, title=f"Post-fit ({report.statistic})")
    return fig


def plot_scan(report: FitReport, name: str, lumi_fb: float) -> Figure:
    """Delta chi^2 of ``name`` (``s_s`` or ``s_b``): the scan with the other fixed at 1, and the profile."""
    model = Model(report.templates, report.statistic, report.mc_stat)
    fit = report.fit_s_s if name == "s_s" else report.fit_s_b
    k = 0 if name == "s_s" else 1
    centre, width = fit.interval.value, 3.0 * max(fit.interval.err_low, fit.interval.err_high)
    x = np.linspace(centre - width, centre + width, 200)
    fixed = model.chi2(x, 1.0) if k == 0 else model.chi2(1.0, x)
    profile = model.profile(name, x)
    fig, ax = style.new_figure()
    ax.plot(x, fixed - fit.chi2, color="black", label="other parameter fixed at 1")
    ax.plot(
        x,
        profile - report.fit_2d.chi2,
        color="tab:blue",
        linestyle="--",
        label="other parameter profiled",
    )
    low, high = centre - fit.interval.err_low, centre + fit.interval.err_high
    result = rf"{centre:.3f}$_{{-{fit.interval.err_low:.3f}}}^{{+{fit.interval.err_high:.3f}}}$"
    flags = (("low", fit.interval.at_boundary_low), ("high", fit.interval.at_boundary_high))
    cut = [side for side, flag in flags if flag]
    if cut:  # one-sided: the physical region ends before Delta chi^2 = 1
        result += f" ({' and '.join(cut)} end: physical boundary)"
    ax.axvspan(low, high, color="tab:green", alpha=0.25, label=rf"$\Delta\chi^2 \leq 1$: {result}")
    ax.axhline(1.0, color="grey", linewidth=1)
    ax.set_ylim(0, 9)
    ax.set_xlabel(LABELS[name])
    ax.set_ylabel(rf"$\Delta\chi^2$ ({report.statistic})")
    ax.legend(loc="upper right", frameon=False)
    style.atlas_label(ax, lumi_fb)
    return fig


def plot_contours(report: FitReport, lumi_fb: float) -> Figure:
    """The 2-D Delta chi^2 map with the 68.3% and 95.4% contours and the best point."""
    model = Model(report.templates, report.statistic, report.mc_stat)
    outer = report.contours[CONTOUR_LEVELS[-1]].points
    pad = 0.3 * (outer.max(axis=0) - outer.min(axis=0))
    s_s = np.linspace(outer[:, 0].min() - pad[0], outer[:, 0].max() + pad[0], 160)
    s_b = np.linspace(outer[:, 1].min() - pad[1], outer[:, 1].max() + pad[1], 160)
    delta = model.chi2(s_s[:, None], s_b[None, :]) - report.fit_2d.chi2
    fig, ax = style.new_figure((7.5, 6.5))
    # blank outside the physical region (a bin predicted negative), where the statistic is not defined
    shown = np.where(np.isfinite(delta), np.minimum(delta, 25.0), np.nan)
    mesh = ax.pcolormesh(s_b, s_s, shown, cmap="viridis_r", shading="auto", rasterized=True)
    fig.colorbar(mesh, ax=ax, label=r"$\Delta\chi^2$")
    for level, points, colour in zip(
        CONTOUR_LEVELS, (report.contours[lvl].points for lvl in CONTOUR_LEVELS), ("white", "orange"), strict=True
    ):
        closed = np.vstack([points, points[:1]])
        cl = special.chdtr(2, level)
        ax.plot(
            closed[:, 1],
            closed[:, 0],
            color=colour,
            linewidth=2,
            label=rf"$\Delta\chi^2 = {level:.2f}$ ({100 * cl:.1f}%)",
        )
    ax.plot(
        report.best[1],
        report.best[0],
        marker="*",
        color="red",
        markersize=14,
        linestyle="none",
        label="best fit",
    )
    ax.set_xlim(s_b[0], s_b[-1])
    ax.set_ylim(s_s[0], s_s[-1] + 0.35 * (s_s[-1] - s_s[0]))  # room for the legend above the map's contours
    ax.set_xlabel(LABELS["s_b"])
    ax.set_ylabel(LABELS["s_s"])
    ax.legend(loc="upper right", frameon=True, fontsize="small")
    style.atlas_label(ax, lumi_fb)
    return fig


def plot_gof(report: FitReport, lumi_fb: float) -> Figure:
    """The toys' statistic against the chi^2 pdf with nbins - 2 dof, with the data's value marked."""
    ndf, gof = report.fit_2d.ndf, report.gof
    fig, ax = style.new_figure()
    upper = max(float(np.quantile(gof.toys, 0.999)), report.fit_2d.chi2) * 1.1
    bins = np.linspace(0, upper, 60)
    ax.hist(
        gof.toys,
        bins=bins,
        density=True,
        color="#9ecae1",
        label=f"{len(gof.toys):,} {gof.kind} toys" + (", refitted" if gof.refit else ""),
    )
    x = np.linspace(0, upper, 400)
    ax.plot(x, _chi2_pdf(x, ndf), color="tab:red", linewidth=2, label=rf"$\chi^2$ pdf, {ndf} dof")
    ax.axvline(
        report.fit_2d.chi2,
        color="black",
        linestyle="--",
        label=rf"data: {report.fit_2d.chi2:.1f}, p = {report.fit_2d.p_value:.3f} (toys {gof.p_value_toys:.3f})",
    )
    ax.set_xlabel(rf"post-fit $\chi^2$ ({report.statistic})")
    ax.set_ylabel("Probability density")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    ax.legend(loc="upper right", frameon=False, fontsize="small")
    style.atlas_label(ax, lumi_fb)
    return fig


def plot_coverage(report: FitReport, lumi_fb: float) -> Figure:
    """f(d), the fraction of toys with Delta chi^2 at the truth <= d, against the chi^2 cdf with 2 dof, with the
    coverage measured at the nominal 68.3% and 95.4% levels stated beside the nominal."""
    coverage = report.coverage
    d, f = coverage.d, coverage.fraction
    fig, ax = style.new_figure()
    x = np.linspace(0, max(d.max(), CONTOUR_LEVELS[-1]) * 1.05, 300)
    ax.plot(x, special.chdtr(2, x), color="tab:red", label=r"$\chi^2$ cdf, 2 dof")
    per_point = "the same" if coverage.same_toys else "fresh"
    ax.errorbar(
        d,
        f,
        yerr=coverage.error,
        fmt="o",
        color="black",
        markersize=4,
        label=f"{coverage.toys:,} {coverage.kind} toys ({per_point} for every d), {report.statistic} statistic",
    )
    for level, measured, error, marker in zip(
        CONTOUR_LEVELS, coverage.measured, coverage.measured_error, ("X", "P"), strict=True
    ):
        nominal = special.chdtr(2, level)
        ax.errorbar(
            [level],
            [measured],
            yerr=[error],
            marker=marker,
            color="tab:blue",
            markersize=10,
            linestyle="none",
            label=f"d = {level:.2f}: nominal {100 * nominal:.1f}%, measured {100 * measured:.1f} ± {100 * error:.1f}%",
        )
    ax.set_xlabel(r"critical value $d$ of $\Delta\chi^2$")
    ax.set_ylabel(r"fraction of toys with $\Delta\chi^2 \leq d$")
    ax.set_ylim(0, 1.1)
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    style.atlas_label(ax, lumi_fb)
    return fig


def _chi2_pdf(x: np.ndarray, ndf: int) -> np.ndarray:
    """The chi^2 density with ``ndf`` degrees of freedom (scipy.special: the plotting workers do not import
    scipy.stats, about 1 s each)."""
    return np.exp(special.xlogy(ndf / 2 - 1, x) - x / 2 - special.gammaln(ndf / 2) - ndf / 2 * np.log(2))


def fit_figures(report: FitReport, lumi_fb: float) -> dict[str, Callable[[], Figure]]:
    """The plots of :func:`plot_all` by file name, each drawn when called (``hzz4l fit`` draws them in parallel)."""
    return {
        "postfit_m4l": functools.partial(plot_postfit, report, lumi_fb),
        "scan_s_s": functools.partial(plot_scan, report, "s_s", lumi_fb),
        "scan_s_b": functools.partial(plot_scan, report, "s_b", lumi_fb),
        "contours": functools.partial(plot_contours, report, lumi_fb),
        "gof_toys": functools.partial(plot_gof, report, lumi_fb),
        "coverage": functools.partial(plot_coverage, report, lumi_fb),
    }


def plot_all(
    report: FitReport, path: str | os.PathLike[str], lumi_fb: float, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Every fit plot as PNG and PDF (or the ``formats`` given) into folder ``path``; returns the files written."""
    path = Path(path)
    return [
        file for name, make in fit_figures(report, lumi_fb).items() for file in style.save(make(), path / name, formats)
    ]


def plot_pulls(result: SystematicFit) -> Figure:
    """The pull of every named nuisance parameter, (best fit - prior) / prior width, with its post-fit width in
    the same units, against the +-1 and +-2 bands of the prior."""
    pulls = list(reversed(result.pulls))
    y = np.arange(len(pulls))
    fig, ax = style.new_figure((7.0, 1.6 + 0.55 * len(pulls)))
    ax.axvspan(-2, 2, color="#fff2a8", zorder=0)
    ax.axvspan(-1, 1, color="#c8e6c9", zorder=0)
    ax.axvline(0, color="grey", linewidth=1, linestyle="--")
    ax.errorbar([p.pull for p in pulls], y, xerr=[p.constraint for p in pulls], fmt="o", color="black", capsize=0)
    ax.set_yticks(y, [p.name for p in pulls])
    ax.set_xlim(-3, 3)
    ax.set_ylim(-0.7, len(pulls) - 0.3)
    ax.set_xlabel(r"$(\hat{\theta} - \theta_0) / \Delta\theta$")
    ax.minorticks_off()
    return fig


def plot_impacts(result: SystematicFit) -> Figure:
    """The impact on s_s of each nuisance parameter moved by +-1 pre-fit (open) and post-fit (filled) width, largest
    post-fit impact on top; the simulation statistics as one group."""
    impacts = list(reversed(result.impacts))
    y = np.arange(len(impacts))
    fig, ax = style.new_figure((7.0, 1.6 + 0.55 * len(impacts)))
    height = 0.35
    for shift, color in (("up", "tab:blue"), ("down", "tab:orange")):
        ax.barh(y, [getattr(i, f"prefit_{shift}") for i in impacts], height=2 * height, fill=False,
                edgecolor=color, label=rf"pre-fit $\theta = \hat\theta \pm 1$ ({shift})")  # fmt: skip
        ax.barh(y, [getattr(i, f"postfit_{shift}") for i in impacts], height=height, color=color,
                label=rf"post-fit $\theta = \hat\theta \pm \Delta\hat\theta$ ({shift})")  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, [i.name for i in impacts])
    ax.set_ylim(-0.7, len(impacts) + 1.2)
    ax.set_xlabel(r"$\Delta s_s$")
    ax.minorticks_off()
    ax.legend(loc="upper right", fontsize="x-small", ncol=2, frameon=False)
    return fig
