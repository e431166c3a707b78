"""The ``hzz4l`` command line: ``hzz4l demo``, ``hzz4l run``, ``hzz4l fit``, ``hzz4l report``.

Heavy imports (coffea, dask, matplotlib) happen inside the commands, so ``hzz4l --help`` is
quick. Expected failures (a bad fileset, an unreadable file) print one line and exit with
status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

__all__ = ["main"]

PRESET_NAMES = ("default", "tutorial", "outreach")
EXECUTOR_NAMES = ("iterative", "futures", "dask")


def _fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an exception escaping ``command`` into one error line and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, KeyboardInterrupt):
            raise
        except Exception as err:
            if debug:
                raise
            message = " ".join(str(err).split()) or type(err).__name__
            click.echo(f"hzz4l {click.get_current_context().info_name}: error: {message}", err=True)
            sys.exit(2)

    return click.option("--debug", is_flag=True, help="Show the full traceback on errors.")(wrapper)


def _parse_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LOW,HIGH in GeV such as 100,200, got {text!r}") from None
    if not low < high:
        raise click.BadParameter(f"need LOW < HIGH, got {text!r}")
    return low, high


def _parse_bins(text: str) -> tuple[int, float, float]:
    try:
        nbins, low, high = text.split(",")
        bins = (int(nbins), float(low), float(high))
    except ValueError:
        raise click.BadParameter(f"expected NBINS,LOW,HIGH such as 34,80,250, got {text!r}") from None
    if bins[0] < 1 or not bins[1] < bins[2]:
        raise click.BadParameter(f"need NBINS >= 1 and LOW < HIGH, got {text!r}")
    return bins


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """H->ZZ*->4l with ATLAS Open Data: select events, fill m4l, fit the Higgs signal."""


@main.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Folder for the ROOT files and fileset.json.",
)
@click.option(
    "--scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiply the simulated event counts (expected yields stay the same).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; same seed, same files.")
@_fail_cleanly
def demo(output: Path, scale: float, seed: int) -> None:
    """Write synthetic samples that look like the real 4lep files, plus their fileset."""
    from analysis.demo import generate_demo

    path = generate_demo(output, scale=scale, seed=seed)
    click.echo(f"wrote demo samples and {path}")


@main.command()
@click.option(
    "--fileset",
    "fileset_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fileset JSON (e.g. samples.json for the real data). Default: the embedded demo.",
)
@click.option("--executor", type=click.Choice(EXECUTOR_NAMES), default="iterative", show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Processes for futures; workers of the Dask LocalCluster.",
)
@click.option("--scheduler", help="Address of an existing Dask scheduler, e.g. tcp://HOST:8786.")
@click.option(
    "--preset",
    type=click.Choice(PRESET_NAMES),
    default="default",
    show_default=True,
    help="Selection: 'default' (full), 'tutorial' (the tutorial's cuts exactly) or 'outreach' (the ATLAS "
    "outreach notebook's cuts exactly).",
)
@click.option(
    "--lumi",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Luminosity the simulation is normalised to, in fb^-1.",
)
@click.option("--bins", "bins_text", default="34,80,250", show_default=True, help="m4l binning NBINS,LOW,HIGH in GeV.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
)
@click.option(
    "--chunksize",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Events per work item.",
)
@click.option("--maxchunks", type=click.IntRange(min=1), help="Process at most this many chunks per dataset.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show coffea's progress bars.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait on a remote file before giving up on a request.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Further attempts after a failed file open or chunk.",
)
@click.option(
    "--skip-bad-files",
    is_flag=True,
    help="Leave out unreadable files and failing chunks; they and their events are reported.",
)
@click.option("--checkpoint", type=click.Path(file_okay=False), help="Keep finished chunks here; a rerun reuses them.")
@click.option("--fit", "then_fit", is_flag=True, help="Then run 'hzz4l fit' and 'hzz4l report' on the output.")
@_fail_cleanly
def run(
    fileset_path: Path | None,
    executor: str,
    workers: int,
    scheduler: str | None,
    preset: str,
    lumi: float,
    bins_text: str,
    output: Path,
    chunksize: int,
    maxchunks: int | None,
    progress: bool,
    timeout: float,
    retries: int,
    skip_bad_files: bool,
    checkpoint: str | None,
    then_fit: bool,
) -> None:
    """Run the selection over a fileset and write histograms, summary and plots (--fit: the whole analysis)."""
    bins = _parse_bins(bins_text)
    if scheduler and executor != "dask":
        raise click.BadParameter("--scheduler needs --executor dask", param_hint="--scheduler")

    from analysis.demo import default_demo
    from analysis.fileset import load_fileset
    from analysis.outputs import cutflow_table, write_outputs
    from analysis.runner import run_fileset
    from processors import PRESETS, HZZ4lProcessor

    if fileset_path is None:
        fileset_path = default_demo()
        click.echo(f"using the demo samples in {fileset_path.parent} (pass --fileset for real data)")
    fileset = load_fileset(fileset_path)
    proc = HZZ4lProcessor(selection=PRESETS[preset], lumi_fb=lumi, mass_bins=bins)
    result = run_fileset(
        fileset,
        proc,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        chunksize=chunksize,
        maxchunks=maxchunks,
        status=progress,
        timeout=timeout,
        retries=retries,
        skip_bad_files=skip_bad_files,
        checkpoint=checkpoint,
    )
    summary = write_outputs(result, fileset, proc, preset, output, fileset_path=str(fileset_path))
    click.echo(cutflow_table(summary))
    for skipped in result.skipped:
        click.echo(f"SKIPPED {skipped.path} (dataset '{skipped.dataset}'): {skipped.reason}", err=True)
    for name, lost in result.lost_events.items():
        click.echo(f"LOST {lost} events of dataset '{name}' in chunks that failed and were skipped", err=True)
    click.echo(
        f"{result.events} events in {result.wall_s:.2f} s ({result.events_per_s:,.0f} events/s, "
        f"{result.bytes_read / 1e6:.1f} MB read) with the {executor} executor; outputs in {output}/"
    )
    if then_fit:
        context = click.get_current_context()
        context.invoke(fit, results=output)
        context.invoke(report, results=output)


@main.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path), default=Path("results"))
@click.option(
    "--statistic",
    type=click.Choice(("pearson", "neyman", "poisson")),
    help="Test statistic. Default: 'poisson' (the likelihood ratio, right at low counts); with --method "
    "tutorial, the tutorial's 'pearson'.",
)
@click.option(
    "--method",
    type=click.Choice(("profile", "tutorial")),
    default="profile",
    show_default=True,
    help="'profile' minimises; 'tutorial' reproduces the tutorial's grids and Gaussian toys.",
)
@click.option(
    "--mc-stat/--no-mc-stat",
    default=False,
    show_default=True,
    help="Include the simulation's statistical uncertainty (Barlow-Beeston lite).",
)
@click.option("--toys", type=click.IntRange(min=1), default=10_000, show_default=True, help="Goodness-of-fit toys.")
@click.option(
    "--coverage-toys",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Toys per critical value in the coverage study.",
)
@click.option(
    "--coverage-points",
    type=click.IntRange(min=2),
    default=40,
    show_default=True,
    help="Critical values d from 1 to 5 in the coverage study.",
)
@click.option("--range", "range_text", help="Fit only the bins inside LOW,HIGH (GeV).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the toys.")
@click.option("--plots/--no-plots", default=True, show_default=True)
@click.option(
    "--workspace",
    "workspace_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the model as a HistFactory workspace (pyhf JSON) to this file.",
)
@_fail_cleanly
def fit(
    results: Path,
    statistic: str | None,
    method: str,
    mc_stat: bool,
    toys: int,
    coverage_toys: int,
    coverage_points: int,
    range_text: str | None,
    seed: int,
    plots: bool,
    workspace_path: Path | None,
) -> None:
    """Fit s_s and s_b to RESULTS/histograms.root (roles from RESULTS/summary.json); write fit.json and plots."""
    fit_range = _parse_range(range_text)

    import json

    from analysis.outputs import atomic_path, read_histograms
    from fitting.analysis import DEFAULT_STATISTIC, SCHEMA_VERSION, analyse
    from fitting.fit import FitError
    from fitting.templates import Templates
    from fitting.workspace import workspace

    if statistic is None:
        statistic = "pearson" if method == "tutorial" else DEFAULT_STATISTIC
    histogram, roles, lumi_fb = read_histograms(results)
    templates = Templates.from_hist(histogram, roles, fit_range=fit_range)
    if workspace_path is not None:
        with atomic_path(workspace_path) as tmp:
            tmp.write_text(json.dumps(workspace(templates, mc_stat), indent=2) + "\n")
        click.echo(f"wrote the HistFactory workspace {workspace_path}")
    try:
        report = analyse(templates, statistic, method, mc_stat, toys, coverage_toys, coverage_points, seed)
    except FitError as err:  # mark the failure in fit.json, so no earlier result stands in for it
        failed = {"schema_version": SCHEMA_VERSION, "status": "failed", "error": str(err), "statistic": statistic,
                  "method": method, "mc_stat": mc_stat}
        with atomic_path(results / "fit.json") as tmp:
            tmp.write_text(json.dumps(failed, indent=2) + "\n")
        raise
    document = report.to_json()
    with atomic_path(results / "fit.json") as tmp:
        tmp.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
    for study in ("gof", "coverage"):
        if document[study]["failed_toys"]:
            click.echo(
                f"hzz4l fit: warning: {document[study]['failed_toys']} toys of the {study} study did not converge "
                "and are left out (fit.json: failed_toys)",
                err=True,
            )
    if plots:
        from fitting.plots import plot_all

        plot_all(report, results / "plots", lumi_fb)
    click.echo(fit_table(document))
    click.echo(f"wrote {results / 'fit.json'}" + (f" and plots in {results / 'plots'}/" if plots else ""))


@main.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path), default=Path("results"))
@_fail_cleanly
def report(results: Path) -> None:
    """Write RESULTS/report.html: provenance, cutflow, yields, fit results and every plot on one page."""
    from analysis.report import write_report

    click.echo(f"wrote {write_report(results)}")


def fit_table(document: dict[str, Any]) -> str:
    """A plain-text summary of ``fit.json``; ``|`` marks an interval end cut by the physical boundary."""
    fits = document["fits"]

    def number(x: float | None, fmt: str) -> str:
        return "n/a" if x is None else format(x, fmt)

    def value(entry: dict[str, Any]) -> str:
        cut = entry["at_boundary"]
        low = ("|" if cut["low"] else "-") + f"{entry['err_low']:.3f}"
        high = ("|" if cut["high"] else "+") + f"{entry['err_high']:.3f}"
        return f"{entry['value']:.3f} {low} {high}"

    two = fits["s_s,s_b"]
    prefit, gof, sig, cov = document["prefit"], document["gof"], document["significance"], document["coverage"]
    coverage = ", ".join(
        f"{100 * n['nominal']:.1f}% -> {100 * n['measured']:.1f} ± {100 * n['error']:.1f}%" for n in cov["nominal"]
    )
    lines = [
        f"{document['statistic']} statistic, {document['method']} method, {document['nbins']} bins "
        f"in [{document['range'][0]:g}, {document['range'][1]:g}] GeV",
        f"pre-fit        chi2/ndf = {prefit['chi2']:.2f}/{prefit['ndf']}   p = {prefit['p_value']:.4f}",
        f"s_s alone      {value(fits['s_s'])}   chi2/ndf = {fits['s_s']['chi2']:.2f}/{fits['s_s']['ndf']}",
        f"s_b alone      {value(fits['s_b'])}   chi2/ndf = {fits['s_b']['chi2']:.2f}/{fits['s_b']['ndf']}",
        f"s_s, s_b       s_s = {value(two['s_s'])}   s_b = {value(two['s_b'])}   "
        f"correlation {number(two['correlation'], '+.3f')}"
        + ("   (best fit on the physical boundary)" if two["best_at_boundary"] else ""),
        f"post-fit       chi2/ndf = {two['chi2']:.2f}/{two['ndf']}   p = {two['p_value']:.4f}   "
        f"p(toys) = {gof['p_value_toys']:.4f} ({gof['toys']} {gof['toy_kind']} toys)",
        f"significance   observed {number(sig['observed'], '.2f')} sigma "
        f"(signed {number(sig['observed_signed'], '+.2f')}), "
        f"expected {number(sig['expected'], '.2f')} sigma (best fit), "
        f"{number(sig['expected_sm'], '.2f')} sigma (s_s = 1); one-sided q0 of the {sig['likelihood']} likelihood",
        f"coverage       nominal -> measured: {coverage} ({cov['toy_kind']} toys)",
    ]
    lines += [f"null           {path}: {reason}" for path, reason in document.get("nulls", {}).items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
