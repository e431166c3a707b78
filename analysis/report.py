"""``report.html``: one self-contained page with the provenance, tables and plots of a results folder.

Images are embedded as data URIs, so the page can be mailed or attached as one file. Every number
in a table carries its full-precision value and its JSON path (``data-key``/``data-value``), so
the page can be checked against ``summary.json`` and ``fit.json`` by a machine as well as read.

Everything read from the folder is untrusted: every value and file name that reaches the page is
HTML-escaped, ``summary.json`` and ``fit.json`` are checked before they are shown
(:func:`analysis.summary.read_summary`, :func:`fitting.document.read_fit`), and only the fit and plots that
hzz4l recorded as made from the folder's current run are shown (others are left out with an
:class:`~analysis.errors.HZZ4lWarning` naming them).

Example (after ``hzz4l run`` and ``hzz4l fit``; here the run's outputs, without plots or fit):
    >>> from analysis.outputs import write_outputs
    >>> summary = write_outputs(result, fileset, processor, "default", "results", plots=False)
    >>> write_report("results")
    PosixPath('results/report.html')
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Literal

from analysis.errors import HZZ4lWarning
from analysis.outputs import publish, read_m4l, read_manifest, writing
from analysis.precision import decimals
from analysis.samples import ROLES
from analysis.summary import ResultsError, Summary, read_summary
from fitting.document import FailedFit, Fit1D, Fit2D, FitDocument, Interval, Systematics, read_fit
from processors.histograms import project, total

__all__ = ["render_report", "write_report"]

PLOT_ORDER = (
    "m4l",
    "m4l_4e",
    "m4l_4mu",
    "m4l_2e2mu",
    "z1_mass",
    "z2_mass",
    "lepton_pt",
    "lepton_eta",
    "postfit_m4l",
    "scan_s_s",
    "scan_s_b",
    "contours",
    "gof_toys",
    "coverage",
    "pulls",
    "impacts",
)
#: What each plot shows, under it.
CAPTIONS = {
    "m4l": "Four-lepton invariant mass, all channels: data against the stacked prediction, data/prediction below.",
    "m4l_4e": "Four-lepton invariant mass in the 4e channel.",
    "m4l_4mu": "Four-lepton invariant mass in the 4μ channel.",
    "m4l_2e2mu": "Four-lepton invariant mass in the 2e2μ channel.",
    "z1_mass": "Mass of the leading Z candidate (the same-flavour opposite-charge pair closest to m_Z).",
    "z2_mass": "Mass of the subleading Z candidate.",
    "lepton_pt": "Transverse momentum of the selected leptons (four per event).",
    "lepton_eta": "Pseudorapidity of the selected leptons (four per event).",
    "postfit_m4l": "Four-lepton mass after the fit: signal × s_s, backgrounds × s_b, with the fit's uncertainty.",
    "scan_s_s": "Δχ² of the signal strength s_s, with s_b fixed at 1 and profiled; shaded: the Δχ² ≤ 1 intervals.",
    "scan_s_b": "Δχ² of the background scale s_b, with s_s fixed at 1 and profiled; shaded: the Δχ² ≤ 1 intervals.",
    "contours": "68.3% and 95.4% confidence regions of (s_b, s_s) on the Δχ² map, with the Standard Model point.",
    "gof_toys": "Goodness of fit: the post-fit χ² of the data among toys drawn from the best fit.",
    "coverage": "Coverage: how often the Δχ² ≤ d region of toys contains their true point, against the χ² cdf.",
    "pulls": "Pulls of the nuisance parameters of the fit with systematic uncertainties.",
    "impacts": "Impact of each nuisance parameter on s_s, pre-fit and post-fit.",
}
#: The m4l caption when the prediction lacks samples (the figure then has no data/prediction panel).
CAPTION_M4L_INCOMPLETE = "Four-lepton invariant mass, all channels: data against the stacked prediction (incomplete)."

CSS = """
body { font-family: -apple-system, "Helvetica Neue", Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0 1.5em; font-size: 0.9em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 1em; }
figure { margin: 0; } figure img { width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; text-align: center; }
.muted { color: #777; font-size: 0.85em; }
.banner { background: #fff3cd; border: 1px solid #e0b400; padding: 0.5em 1em; font-weight: bold; }
"""


def _cell(value: Any, key: str, fmt: str = "{:.4g}", raw: Any = None) -> str:
    """A table cell showing ``value`` formatted with ``fmt``, carrying its JSON path ``key`` and the full value
    (``raw`` where the text shows another form of it, e.g. "yes" for true)."""
    if value is None:
        return "<td>–</td>"
    text = fmt.format(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
    stored = html.escape(json.dumps(value if raw is None else raw))
    return f'<td data-key="{html.escape(key)}" data-value="{stored}">{html.escape(text)}</td>'


def _table(head: list[str] | None, rows: list[str]) -> str:
    """A table of ``rows``, under a header row of ``head`` (none for a list of labelled values)."""
    cells = "" if head is None else "".join(f"<th>{html.escape(h)}</th>" for h in head)
    header = f"<thead><tr>{cells}</tr></thead>" if cells else ""
    return f"<table>{header}<tbody>{''.join(rows)}</tbody></table>"


def _plural(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless one.

    Example:
        >>> _plural(1, "dataset"), _plural(3, "dataset")
        ('1 dataset', '3 datasets')
    """
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _places(*errors: float) -> str:
    """The format of a value with ``errors``: decimal places by the PDG rule (:mod:`analysis.precision`), never
    rounding to tens."""
    usable = [e for e in errors if e is not None and math.isfinite(e) and e > 0]
    return f"{{:.{max(decimals(min(usable)), 0) if usable else 3}f}}"


def _provenance(summary: Summary, fit: FitDocument | FailedFit | None) -> str:
    rows: list[tuple[str, Any]] = [
        ("fileset", summary.fileset),
        ("preset", summary.preset),
        ("luminosity [fb⁻¹]", summary.lumi_fb),
        ("executor", summary.executor),
        ("run at", summary.created),
        ("events processed", summary.metrics.events),
        ("wall time of the run [s]", summary.metrics.wall_s),
    ]
    keys = ["fileset", "preset", "lumi_fb", "executor", "created", "metrics.events", "metrics.wall_s"]
    if fit is not None:
        rows += [("fit statistic", fit.statistic), ("fit method", fit.method)]
        keys += ["fit.statistic", "fit.method"]
    formats = ["{}", "{}", "{:g}", "{}", "{}", "{:d}", "{:.2f}", "{}", "{}"]
    body = [
        f"<tr><th>{html.escape(label)}</th>{_cell(value, key, fmt)}</tr>"
        for (label, value), key, fmt in zip(rows, keys, formats[: len(rows)], strict=True)
    ]
    versions = ", ".join(f"{name} {version}" for name, version in summary.versions.items() if version)
    return _table(None, body) + f'<p class="muted">Packages: {html.escape(versions)}</p>'


#: The selection's thresholds as a reader knows them (summary.json's names in the data-keys).
SELECTION_LABELS = {
    "require_trigger": "single-electron or single-muon trigger fired",
    "n_leptons": "leptons required",
    "allow_extra_leptons": "more leptons allowed",
    "lead_pt": "leading lepton p<sub>T</sub> &gt; [GeV]",
    "min_pt": "every lepton p<sub>T</sub> &gt; [GeV]",
    "max_abs_eta": "every lepton |η| &lt;",
    "flavour_sums": "Σ lep_type of the four leptons (4e 44, 2e2μ 48, 4μ 52) in",
    "max_ptcone30_rel": "track isolation ptcone30 / p<sub>T</sub> &lt;",
    "max_etcone20_rel": "calorimeter isolation etcone20 / p<sub>T</sub> &lt;",
    "charge_sum": "Σ charge of the four leptons =",
    "z1_mass_window": "m<sub>Z1</sub> window [GeV]",
    "z2_mass_max": "m<sub>Z2</sub> &lt; [GeV]",
    "z2_mass_threshold": "m<sub>Z2</sub> threshold (low, m4l low, high, m4l high) [GeV]",
    "min_delta_r": "ΔR between leptons &gt; (same, different flavour)",
    "min_sfos_mass": "every same-flavour opposite-charge m<sub>ℓℓ</sub> &gt; [GeV]",
}


def _losses(summary: Summary) -> str:
    """The files the run left out (whole or in part), with their lost events; empty when it read every file."""
    if not summary.skipped_files:
        return ""
    rows = [
        f"<tr><td>{html.escape(skipped.dataset)}</td><td>{html.escape(skipped.path)}</td>"
        + ("<td>unknown</td>" if skipped.events is None else _cell(skipped.events, f"skipped_files.{i}.events"))
        + f"<td>{html.escape(skipped.reason)}</td></tr>"
        for i, skipped in enumerate(summary.skipped_files)
    ]
    lost = ", ".join(f"{events} of dataset {name}" for name, events in summary.lost_events.items())
    return (
        f'<p class="banner">{_plural(len(summary.skipped_files), "input file")} left out of this run '
        f"(--skip-bad-files): the yields, histograms and fit lack their events"
        + (f" (lost events: {html.escape(lost)})" if lost else "")
        + ".</p>"
        + _table(["dataset", "file", "events lost", "reason"], rows)
    )


def _selection(summary: Summary) -> str:
    rows = []
    for key, value in summary.selection.items():
        label = SELECTION_LABELS.get(key, html.escape(key))  # the labels are HTML already
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        cell = "<td>not applied</td>" if value is None else _cell(shown, f"selection.{key}", "{:g}", raw=value)
        rows.append(f"<tr><td>{label}</td>{cell}</tr>")
    return _table(["cut", "value"], rows)


def _cutflow(summary: Summary, measure: Literal["events", "weighted"], fmt: str) -> str:
    datasets = summary.datasets
    cuts = next((list(d.cutflow) for d in datasets.values() if d.cutflow), [])
    rows = []
    for name, d in datasets.items():
        row_fmt = "{:.0f}" if d.role == "data" else fmt  # data are counts, weighted or not
        cells = "".join(
            _cell(getattr(d.cutflow[c], measure), f"datasets.{name}.cutflow.{c}.{measure}", row_fmt)
            if c in d.cutflow
            else "<td>–</td>"
            for c in cuts
        )
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(d.role)}</td>{cells}</tr>")
    return _table(["dataset", "role", *cuts], rows)


def _yield_errors(results: Path, summary: Summary) -> dict[str, float]:
    """Per dataset, the statistical uncertainty of its yield: sqrt(N) for data, sqrt(sum of w^2) of the m4l
    histogram (histograms.root) for simulation; empty if the histograms cannot be read."""
    try:
        histogram = read_m4l(results, {name: d.role for name, d in summary.datasets.items()})
    except ResultsError:
        return {}
    present = set(histogram.axes["dataset"])
    return {
        name: math.sqrt(d.yield_ if d.role == "data" else total(project(histogram, {"dataset": name}), True))
        for name, d in summary.datasets.items()
        if name in present
    }


def _yield_cells(value: float, error: float | None, key: str, data: bool) -> str:
    """The yield (an integer for data) and its uncertainty, with the decimal places the uncertainty allows; a dash
    for no yield without uncertainty (a role without datasets)."""
    if value == 0 and not error:
        return "<td>–</td><td></td>"
    fmt = "{:.0f}" if data else _places(*([] if error is None else [error]))
    shown = "<td></td>" if error is None else f"<td>± {html.escape(fmt.format(error))}</td>"
    return _cell(value, key, fmt) + shown


def _yields(summary: Summary, errors: dict[str, float]) -> str:
    rows = []
    for name, d in summary.datasets.items():
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(d.role)}</td>"
            f"{_cell(d.events, f'datasets.{name}.events', '{:d}')}"
            f"{_cell(d.selected, f'datasets.{name}.selected', '{:d}')}"
            + _yield_cells(d.yield_, errors.get(name), f"datasets.{name}.yield", d.role == "data")
            + "</tr>"
        )
    per_role = []
    for role in ROLES:
        names = [name for name, d in summary.datasets.items() if d.role == role]
        summed = sum(summary.datasets[name].yield_ for name in names)
        selected = sum(summary.datasets[name].selected for name in names)
        error = math.sqrt(sum(errors[name] ** 2 for name in names)) if all(n in errors for n in names) else None
        per_role.append(
            f"<tr><td>{role}</td><td>{_plural(len(names), 'dataset')}</td>"
            f"{_cell(selected, f'roles.{role}.selected', '{:d}')}"
            + _yield_cells(summed, error, f"roles.{role}.yield", role == "data")
            + "</tr>"
        )
    bins = summary.mass_bins
    caption = (
        f'<p class="muted">Yield: weighted events with {bins.low:g} &lt; m<sub>4ℓ</sub> &lt; {bins.high:g} GeV '
        f"at {summary.lumi_fb:g} fb⁻¹, with its statistical uncertainty (data: √N; simulation: √Σw²); "
        "selected: raw events passing every cut.</p>"
    )
    return (
        _table(["dataset", "role", "events read", "selected", "yield", "stat. unc."], rows)
        + _table(["role", "datasets", "selected", "yield", "stat. unc."], per_role)
        + caption
    )


def _row(label: str, cells: list[tuple[Any, str, str]], width: int) -> str:
    """A table row: ``cells`` as (value, key under ``fit.``, format), padded to ``width`` cells."""
    body = "".join(_cell(value, f"fit.{key}", fmt) for value, key, fmt in cells)
    return f"<tr><td>{html.escape(label)}</td>{body}{'<td></td>' * (width - len(cells))}</tr>"


def _headline(fit: FitDocument, truth: dict[str, float] | None) -> str:
    """The result in one paragraph: both parameters with their uncertainties, the significances, the demo's truth."""
    two, sig = fit.fits.both, fit.significance

    def quoted(entry: Interval) -> str:
        fmt = _places(entry.err_low, entry.err_high)
        value, low, high = (fmt.format(x) for x in (entry.value, entry.err_low, entry.err_high))
        return f"{value} <sup>+{high}</sup><sub>−{low}</sub>"

    def sigma(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f} σ"

    text = (
        f"<p><b>s<sub>s</sub> = {quoted(two.s_s)}, s<sub>b</sub> = {quoted(two.s_b)}</b> "
        f"(both free, {html.escape(fit.statistic)} statistic); observed significance {sigma(sig.observed)}, "
        f"expected {sigma(sig.expected_sm)} for the Standard Model signal (s<sub>s</sub> = 1)."
    )
    if truth is not None:
        text += (
            f" The synthetic demo's pseudo-data were drawn with s<sub>s</sub> = {truth['s_s']:g}, "
            f"s<sub>b</sub> = {truth['s_b']:g}."
        )
    return text + "</p>"


def _fit(fit: FitDocument, truth: dict[str, float] | None = None) -> str:
    """The fit results; with the demo's ``truth`` ({"s_s", "s_b"}) beside the fitted values."""
    fits, two = fit.fits, fit.fits.both

    def interval(entry: Interval, key: str) -> list[tuple[Any, str, str]]:
        fmt = _places(entry.err_low, entry.err_high)
        return [(getattr(entry, k), f"{key}.{k}", fmt) for k in ("value", "err_low", "err_high")]

    def quality(key: str, entry: Fit1D | Fit2D) -> list[tuple[Any, str, str]]:
        return [(entry.chi2, f"{key}.chi2", "{:.1f}"), (entry.ndf, f"{key}.ndf", "{:d}")]

    rows = [
        _row("s_s alone (s_b = 1)", interval(fits.s_s, "fits.s_s") + quality("fits.s_s", fits.s_s), 6),
        _row("s_b alone (s_s = 1)", interval(fits.s_b, "fits.s_b") + quality("fits.s_b", fits.s_b), 6),
        _row(
            "s_s (both free)",
            interval(two.s_s, "fits.s_s,s_b.s_s")
            + quality("fits.s_s,s_b", two)
            + [(two.p_value, "fits.s_s,s_b.p_value", "{:.2g}")],
            6,
        ),
        _row("s_b (both free)", interval(two.s_b, "fits.s_s,s_b.s_b"), 6),
    ]
    if truth is not None:  # the demo's true values beside the fitted ones
        for i, name in enumerate(("s_s", "s_b", "s_s", "s_b")):
            rows[i] = rows[i].replace("</tr>", f"<td>{truth[name]:g}</td></tr>")
    head = ["fit", "value", "−error", "+error", "χ²", "ndf", "p-value"] + (["demo truth"] if truth else [])
    table = _table(head, rows)
    prefit, gof, sig, cov = fit.prefit, fit.gof, fit.significance, fit.coverage
    more = [
        _row(
            "pre-fit χ², ndf, p-value",
            [
                (prefit.chi2, "prefit.chi2", "{:.1f}"),
                (prefit.ndf, "prefit.ndf", "{:d}"),
                (prefit.p_value, "prefit.p_value", "{:.2g}"),
            ],
            3,
        ),
        _row(
            "post-fit χ², ndf, p-value from toys",
            [
                (gof.chi2, "gof.chi2", "{:.1f}"),
                (gof.ndf, "gof.ndf", "{:d}"),
                (gof.p_value_toys, "gof.p_value_toys", "{:.2g}"),
            ],
            3,
        ),
        _row("correlation of s_s and s_b", [(two.correlation, "fits.s_s,s_b.correlation", "{:+.2f}")], 3),
        _row(
            "significance [σ]: observed, expected at the best fit, expected at s_s = 1 (Standard Model)",
            [
                (sig.observed, "significance.observed", "{:.2f}"),
                (sig.expected, "significance.expected", "{:.2f}"),
                (sig.expected_sm, "significance.expected_sm", "{:.2f}"),
            ],
            3,
        ),
        _row(
            "signed observed significance [σ]",
            [(sig.observed_signed, "significance.observed_signed", "{:+.2f}")],
            3,
        ),
    ]
    more += [
        _row(
            f"coverage of Δχ² ≤ {n.d:.2f}: nominal, measured, ± error",
            [
                (n.nominal, f"coverage.nominal.{i}.nominal", "{:.3f}"),
                (n.measured, f"coverage.nominal.{i}.measured", "{:.3f}"),
                (n.error, f"coverage.nominal.{i}.error", "{:.3f}"),
            ],
            3,
        )
        for i, n in enumerate(cov.nominal)
    ]
    flagged = [
        f"{name} {side} end"
        for entry, name in ((fits.s_s, "s_s alone"), (fits.s_b, "s_b alone"))
        for side in ("low", "high")
        if getattr(entry.at_boundary, side)
    ] + [
        f"{name} (both free) {side} end"
        for entry, name in ((two.s_s, "s_s"), (two.s_b, "s_b"))
        for side in ("low", "high")
        if getattr(entry.at_boundary, side)
    ]
    notes = [
        f"{fit.statistic} statistic, {fit.method} method, {fit.nbins} bins in "
        f"[{fit.range[0]:g}, {fit.range[1]:g}] GeV; {gof.toys} {gof.toy_kind} toys for the goodness "
        f"of fit, {cov.toys} toys for the coverage "
        f"({'the same for every d' if cov.same_toys_for_every_d else 'per critical value'}).",
        f"Significance: {sig.definition}; likelihood: {sig.likelihood}.",
    ]
    if two.best_at_boundary:
        notes.append("The best fit lies on the physical boundary (a bin predicted empty): no covariance is quoted.")
    if flagged:
        notes.append(
            "Interval ends cut by the physical boundary before Δχ² = 1 (one-sided on that side): "
            + ", ".join(flagged)
            + "."
        )
    notes += [f"{path} is not given: {reason}." for path, reason in fit.nulls.items()]
    section = _headline(fit, truth) + table + _table(["", "value", "", ""], more)
    section += "".join(f'<p class="muted">{html.escape(n)}</p>' for n in notes)
    return section + ("" if fit.systematics is None else _systematics(fit.systematics))


def _systematics(systematics: Systematics) -> str:
    """The fit with nuisance parameters: s_s with its uncertainties, s_b, and per parameter its pull and impact."""
    poi = systematics.s_s
    key = "fit.systematics.s_s"
    parts = [(part, side) for part in ("total", "stat", "syst") for side in ("down", "up")]
    cells = [(poi.value, f"{key}.value", "{:.3f}")] + [
        (getattr(getattr(poi, part), side), f"{key}.{part}.{side}", "{:.3f}") for part, side in parts
    ]
    body = "".join(_cell(value, k, fmt) for value, k, fmt in cells)
    head = ["", "value", "total −", "total +", "stat. −", "stat. +", "syst. −", "syst. +"]
    scale = systematics.s_b
    rows = [
        f"<tr><td>s_s</td>{body}</tr>",
        f"<tr><td>s_b</td>{_cell(scale.value, 'fit.systematics.s_b.value', '{:.3f}')}"
        + _cell(scale.error, "fit.systematics.s_b.error", "{:.3f}") * 2  # symmetric (HESSE)
        + "<td></td>" * 4
        + "</tr>",
    ]
    pulls = {p.name: p for p in systematics.pulls}
    per_parameter = []
    for i, impact in enumerate(systematics.impacts):
        pull = pulls.get(impact.name)
        where = f"fit.systematics.pulls.{impact.name}"
        cells = [
            (None if pull is None else pull.pull, f"{where}.pull", "{:+.2f}"),
            (None if pull is None else pull.constraint, f"{where}.constraint", "{:.2f}"),
            (impact.postfit_up, f"fit.systematics.impacts.{i}.postfit_up", "{:+.3f}"),
            (impact.postfit_down, f"fit.systematics.impacts.{i}.postfit_down", "{:+.3f}"),
        ]
        per_parameter.append(
            f"<tr><td>{html.escape(impact.name)}</td>{''.join(_cell(v, k, f) for v, k, f in cells)}</tr>"
        )
    where = "the 4e, 4μ and 2e2μ channels fitted simultaneously" if systematics.per_channel else "channels summed"
    notes = [
        f"HistFactory model fitted with cabinetry ({where}); total and statistical uncertainties from MINOS, the "
        "statistical one with every nuisance parameter fixed at its best value, the systematic one their "
        "difference in quadrature.",
        *(f"{name}: ±{100 * n.size:.1f} %, {n.source}." for name, n in systematics.normalisations.items()),
    ]
    if poi.at_boundary:
        notes.append("The downward uncertainty of s_s reaches its lower bound 0.")
    return (
        "<h3>With systematic uncertainties</h3>"
        + _table(head, rows)
        + _table(["parameter", "pull", "post-fit width", "impact +", "impact −"], per_parameter)
        + "".join(f'<p class="muted">{html.escape(n)}</p>' for n in notes)
    )


def _failed(fit: FailedFit) -> str:
    """What ``fit.json`` says of a fit of the data that did not converge."""
    return (
        f"<p><b>The fit did not converge</b> ({html.escape(fit.statistic)} statistic, {html.escape(fit.method)} "
        f"method): {html.escape(fit.error)}. No result is reported.</p>"
    )


def _plots(pngs: list[Path], incomplete: bool = False) -> str:
    """The figures with their captions; with an ``incomplete`` prediction the stacks have no ratio panel."""
    pngs = sorted(pngs, key=lambda p: (PLOT_ORDER.index(p.stem) if p.stem in PLOT_ORDER else 99, p.name))
    captions = CAPTIONS | ({"m4l": CAPTION_M4L_INCOMPLETE} if incomplete else {})
    figures = []
    for png in pngs:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        name = html.escape(png.stem)
        caption = html.escape(captions.get(png.stem, png.stem))
        figures.append(
            f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
        )
    return f'<div class="plots">{"".join(figures)}</div>' if figures else "<p>No plots.</p>"


def _is_png(path: Path) -> bool:
    """Whether ``path`` is a PNG file of its own: not a link (to ``~/.ssh/id_rsa``, embedded in the page it would
    leave with the report), not a folder, and starting as a PNG does."""
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def _current(results: Path) -> tuple[FitDocument | FailedFit | None, list[Path]]:
    """``fit.json`` and the plots hzz4l made from the folder's current run; others are left out with a warning."""
    made = read_manifest(results).files
    left_out = [p.relative_to(results).as_posix() for p in sorted((results / "plots").glob("*.png"))]
    plots = [results / name for name in left_out if name in made and _is_png(results / name)]
    left_out = [name for name in left_out if results / name not in plots]
    fit = None
    fit_path = results / "fit.json"
    if fit_path.exists() and "fit.json" not in made:
        left_out.insert(0, "fit.json")
    elif fit_path.exists():
        fit = read_fit(fit_path)
    if left_out:
        warnings.warn(
            HZZ4lWarning(
                f"{results}: left out of the report, not made by hzz4l from this run (or not a PNG file of its own): "
                + ", ".join(left_out)
            ),
            stacklevel=3,
        )
    return fit, plots


def render_report(results: str | os.PathLike[str]) -> str:
    """The HTML of the report of a results folder (``summary.json``, optional ``fit.json``, ``plots/``).

    Raises:
        ResultsError: ``summary.json`` or ``fit.json`` cannot be read (:func:`fitting.document.read_fit`).
    """
    results = Path(results)
    summary = read_summary(results)
    fit, plots = _current(results)
    synthetic = summary.synthetic
    truth = summary.truth if synthetic else None
    fit_section = ""
    if isinstance(fit, FailedFit):
        fit_section = "<h2>Fit results</h2>" + _failed(fit)
    elif fit is not None:
        fit_section = "<h2>Fit results</h2>" + _fit(fit, truth)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    sections = [
        _losses(summary),
        "<h2>Provenance</h2>",
        _provenance(summary, fit),
        "<h2>Selection</h2>",
        _selection(summary),
        "<h2>Yields</h2>",
        _yields(summary, _yield_errors(results, summary)),
        "<h2>Cutflow: events after each cut</h2>",
        _cutflow(summary, "events", "{:d}"),
        "<h2>Cutflow: weighted events after each cut</h2>",
        _cutflow(summary, "weighted", "{:.3f}"),
    ]
    missing = summary.missing_samples
    sections += [fit_section, "<h2>Plots</h2>", _plots(plots, incomplete=bool(missing))]
    title = "H→ZZ*→4ℓ: synthetic demo" if synthetic else "H→ZZ*→4ℓ with ATLAS Open Data"
    banner = (
        '<p class="banner">Synthetic demo — not ATLAS data: every event on this page was generated by hzz4l.</p>'
        if synthetic
        else ""
    )
    if missing:
        banner += (
            f'<p class="banner">Prediction incomplete: the fileset lacks {html.escape(", ".join(missing))}, so the '
            "simulation shown is not the whole expectation (the run's plots have no data/prediction panel).</p>"
        )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body><h1>{title}</h1>{banner}"
        f'<p class="muted">Report written {created} from {html.escape(str(results.resolve()))}</p>'
        + "".join(sections)
        + "</body></html>\n"
    )


def write_report(results: str | os.PathLike[str]) -> Path:
    """Write ``results/report.html`` (see :func:`analysis.outputs.publish`) and return its path."""
    page = render_report(results)
    with publish(results, "report") as stage, writing(stage / "report.html") as path:
        path.write_text(page, encoding="utf-8")
    return Path(results) / "report.html"
