"""The ``hzz4l`` command line: ``hzz4l demo``, ``hzz4l run``, ``hzz4l fit``, ``hzz4l report``.

Heavy imports (coffea, dask, matplotlib) happen inside the commands, so ``hzz4l --help`` is
quick. How a command ends:

* an expected problem (an :class:`~analysis.errors.HZZ4lError`: a bad fileset, input file, results
  folder) or a bad option prints one line naming the file, dataset or option, and exits with status 2
  (``--debug`` shows the traceback instead);
* anything else is a bug: its traceback is shown and the status is 1;
* Ctrl-C (SIGINT) or SIGTERM stops the work, removes what the command had started to write, stops its
  worker processes, prints one line and exits with status 130 or 143; a second signal while that
  cleanup runs (a few seconds at most) is ignored;
* warnings are printed as one line each.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import math
import os
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from analysis.cache import DEFAULT_LIMIT_GB
from analysis.errors import HZZ4lError, HZZ4lWarning
from analysis.interrupts import deliver_once

if TYPE_CHECKING:
    from analysis.runner import Executor
    from fitting.analysis import FitReport
    from fitting.document import FitDocument, Interval, Method
    from fitting.statistics import Statistic

__all__ = ["main"]

PRESET_NAMES = ("default", "tutorial", "outreach", "paper")
#: What the plotting workers of a command import while it works.
_PLOT_MODULES = {
    "run": ("analysis.plots",),
    "run --fit": ("analysis.plots", "fitting.plots"),
    "fit": ("analysis.plots", "fitting.plots"),
}
EXECUTOR_NAMES = ("iterative", "futures", "dask")

#: Largest m4l bin count: a histogram of 10^4 bins per dataset holds any binning worth fitting.
MAX_BINS = 10_000
#: Highest m4l edge, in GeV: four leptons cannot be heavier than sqrt(s) = 13 TeV.
MAX_MASS_GEV = 13_000.0
#: Most toys of a study: 10^6 goodness-of-fit toys take 25 s and 650 MB (10^9 asked numpy for 253 GB).
MAX_TOYS = 1_000_000
#: Most critical values of the coverage study (40 by default).
MAX_COVERAGE_POINTS = 1_000


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``command`` with hzz4l's endings: HZZ4lError as one line and status 2, SIGINT/SIGTERM as one line and
    status 130/143 after cleaning up, warnings as one line each; any other exception keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        name = f"hzz4l {click.get_current_context().info_name}"

        def show(message: Any, category: type[Warning], *_: Any, **__: Any) -> None:
            kind = "" if issubclass(category, HZZ4lWarning) else f"{category.__name__}: "
            click.echo(f"{name}: warning: {kind}{_one_line(message)}", err=True)

        with deliver_once():
            try:
                with warnings.catch_warnings():
                    warnings.showwarning = show
                    return command(*args, **kwargs)
            except HZZ4lError as err:
                if debug:
                    raise
                click.echo(f"{name}: error: {_one_line(err) or type(err).__name__}", err=True)
                sys.exit(2)
            except KeyboardInterrupt as err:
                renderer = click.get_current_context().find_root().meta.get(_RENDERER)
                if renderer is not None:  # its workers ignore SIGINT (and SIGTERM reached this process only)
                    renderer.stop()
                signum = getattr(err, "signum", signal.SIGINT)
                click.echo(f"{name}: interrupted by {signal.Signals(signum).name}; stopped and cleaned up", err=True)
                sys.stdout.flush()
                sys.stderr.flush()
                # no waiting on threads still blocked in network reads: everything of ours is stopped already
                os._exit(128 + signum)

    return click.option("--debug", is_flag=True, help="Show the full traceback on errors.")(wrapper)


#: Where a command keeps its renderer, in the meta of click's root context.
_RENDERER = "hzz4l.renderer"


def _renderer(modules: tuple[str, ...]) -> Any:
    """The command's :class:`analysis.render.Renderer`: its worker processes are forked at the first call (once the
    command's inputs are checked, so that a refused input costs no worker) and import matplotlib and ``modules``
    while the command imports coffea and works; one per invocation (``hzz4l run --fit`` draws the fit's figures
    with the run's workers), stopped when the command ends."""
    context = click.get_current_context().find_root()
    if _RENDERER not in context.meta:
        from analysis.render import Renderer

        context.meta[_RENDERER] = context.with_resource(Renderer(modules=modules))
    return context.meta[_RENDERER]


#: Where ``hzz4l run --fit`` hands ``hzz4l fit`` the fit it computed while the run's figures were drawn (a
#: future: the report, or the exception that stopped the fit), in the meta of click's root context.
_PREPARED_FIT = "hzz4l.prepared-fit"


def _fit_meanwhile(prepared: concurrent.futures.Future[FitReport], stage: Path) -> None:
    """``hzz4l fit``'s fit with its default options of the run staged in ``stage``, into ``prepared``: ``hzz4l run
    --fit`` computes it while the run's figures are drawn, and its fit publishes it after the run."""
    from analysis.outputs import read_histograms
    from fitting.templates import Templates

    with fit.make_context("fit", []) as defaults:  # the options of a bare `hzz4l fit`
        options = defaults.params
    try:
        histogram, summary = read_histograms(stage)
        prepared.set_result(_analyse(Templates.from_hist(histogram, summary.roles), options))
    except Exception as err:  # raised by the fit, after the run is published
        prepared.set_exception(err)


def _analyse(templates: Any, options: dict[str, Any]) -> FitReport:
    """The fits, intervals and toy studies of ``hzz4l fit`` (:func:`fitting.analysis.analyse`) with its ``options``
    (its click parameters)."""
    from fitting.analysis import analyse

    return analyse(
        templates,
        _statistic(options["statistic"], options["method"]),
        method=options["method"],
        mc_stat=options["mc_stat"],
        gof_toys=options["toys"],
        coverage_toys=options["coverage_toys"],
        coverage_points=options["coverage_points"],
        seed=options["seed"],
    )


def _statistic(statistic: Statistic | None, method: Method) -> Statistic:
    """The test statistic asked for, else the default of ``method`` (the tutorial's: Pearson's)."""
    from fitting.analysis import DEFAULT_STATISTIC

    return statistic or ("pearson" if method == "tutorial" else DEFAULT_STATISTIC)


#: Plots are PNG; --pdf adds PDF copies (saving a PDF costs about as much again as drawing the figure).
_PDF_HELP = "Also save every plot as PDF (PNG always)."

#: click >= 8.2 shows the help of a bare group through this usage error
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _OneLineErrors(click.Group):
    """click's usage errors (a bad option value, an unknown option) as one line naming the option, status 2."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        run: Callable[..., Any] = super().main  # click types main's arguments by position
        if not standalone_mode:
            return run(*args, standalone_mode=False, **kwargs)
        try:
            result = run(*args, standalone_mode=False, **kwargs)
        except _NO_ARGS_IS_HELP as err:  # plain "hzz4l": the help, as click shows it
            err.show()
            sys.exit(err.exit_code)
        except click.ClickException as err:
            context = getattr(err, "ctx", None)  # usage errors carry their command's context
            where = context.command_path if context is not None else "hzz4l"
            click.echo(f"{where}: error: {_one_line(err.format_message())}", err=True)
            sys.exit(err.exit_code)
        except click.exceptions.Abort:
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)


class Finite(click.FloatRange):
    """A finite float in a range (click's FloatRange lets NaN through every bound)."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _parse_bins(ctx: click.Context, param: click.Parameter, text: str) -> tuple[int, float, float]:
    try:
        nbins, low, high = text.split(",")
        bins = (int(nbins), float(low), float(high))
    except ValueError:
        raise click.BadParameter(f"expected NBINS,LOW,HIGH such as 34,80,250, got {text!r}") from None
    if not (1 <= bins[0] <= MAX_BINS and 0 <= bins[1] < bins[2] <= MAX_MASS_GEV):
        raise click.BadParameter(
            f"need 1 <= NBINS <= {MAX_BINS} and 0 <= LOW < HIGH <= {MAX_MASS_GEV:g} GeV, got {text!r}"
        )
    return bins


def _parse_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        message = f"expected LOW,HIGH in GeV such as 100,200, got {text!r}"
        raise click.BadParameter(message, param_hint="--range") from None
    if not low < high:
        raise click.BadParameter(f"need LOW < HIGH, got {text!r}", param_hint="--range")
    return low, high


def _require_run(results: Path) -> None:
    """Stop with one line if ``results`` holds no run (no summary.json) rather than a missing file's errno."""
    if not (results / "summary.json").exists():
        from analysis.outputs import ResultsError

        where = "does not exist" if not results.exists() else "holds no run (no summary.json)"
        raise ResultsError(f"no run in {results}: the folder {where}; run 'hzz4l run -o {results}' first")


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hzz4l", message="%(prog)s %(version)s")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Say more on stderr: -v what hzz4l does (files fetched into the cache, reads tried again, files skipped), "
    "-vv timings and details.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars, and nothing on stderr but warnings and errors.")
def main(verbose: int, quiet: bool) -> None:
    """H->ZZ*->4l with ATLAS Open Data: select events, fill m4l, fit the Higgs signal."""
    if verbose and quiet:
        raise click.BadParameter("give --verbose or --quiet, not both", param_hint="--quiet")
    _log_to_stderr(logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG))


def _log_to_stderr(level: int) -> None:
    """hzz4l's log records (the ``analysis``, ``processors`` and ``fitting`` loggers) of ``level`` and above on
    stderr, one line each: ``hzz4l: <module>: <message>``."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("hzz4l: %(name)s: %(message)s"))
    for name in ("analysis", "processors", "fitting"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = [handler]
        logger.propagate = False


@main.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Folder for the ROOT files and fileset.json: new, empty, or of an earlier demo (its demo files are replaced).",
)
@click.option(
    "--scale",
    type=Finite(min=0, max=100, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiply the simulated event counts, at most 100 (expected yields stay the same).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=42, show_default=True, help="Random seed; same seed, same files."
)
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
@click.option(
    "--executor",
    type=click.Choice(EXECUTOR_NAMES),
    default="iterative",
    show_default=True,
    help="coffea executor: 'iterative' (one process), 'futures' (--workers processes) or 'dask' (a LocalCluster "
    "of --workers, or the cluster at --scheduler).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=256),
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
    help="Selection: 'default' (full), 'tutorial' (the tutorial's cuts exactly), 'outreach' (the ATLAS "
    "outreach notebook's cuts exactly) or 'paper' (default plus the ATLAS paper's Z1/Z2, Delta R and J/psi cuts).",
)
@click.option(
    "--lumi",
    type=Finite(min=0, max=1e5, min_open=True),
    default=10.0,
    show_default=True,
    help="Luminosity the simulation is normalised to, in fb^-1 (at most 1e5).",
)
@click.option(
    "--bins",
    default="34,80,250",
    callback=_parse_bins,
    show_default=True,
    help=f"m4l binning NBINS,LOW,HIGH in GeV (NBINS <= {MAX_BINS}, 0 <= LOW < HIGH <= {MAX_MASS_GEV:g}).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Folder for the outputs; files in it that hzz4l did not write are never replaced.",
)
@click.option(
    "--chunksize",
    type=click.IntRange(min=1, max=10_000_000),
    default=100_000,
    show_default=True,
    help="Events per work item (at most 10^7).",
)
@click.option("--maxchunks", type=click.IntRange(min=1), help="Process at most this many chunks per dataset.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show coffea's progress bars.")
@click.option(
    "--timeout",
    type=Finite(min=0, max=3600, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait on a remote file before giving up on a request, and on the --scheduler (at most 3600).",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0, max=10),
    default=3,
    show_default=True,
    help="Further attempts after a failure that may pass (network, I/O); bad data is never retried.",
)
@click.option(
    "--skip-bad-files",
    is_flag=True,
    help="Leave out unreadable files and failing chunks; they and their events are reported.",
)
@click.option(
    "--checkpoint",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep finished chunks here (as JSON); a rerun reuses them.",
)
@click.option(
    "--systematics/--no-systematics",
    default=True,
    show_default=True,
    help="Fill the systematic variations of m4l (lepton momentum scale, efficiency scale factors) beside the nominal.",
)
@click.option(
    "--cache/--no-cache",
    "use_cache",
    default=True,
    show_default=True,
    help="Keep local copies of remote (HTTP) input files in $HZZ4L_CACHE/remote (default ~/.cache/hzz4l/remote), "
    "checked against the server before each use, so that a rerun does not download them again.",
)
@click.option(
    "--cache-limit",
    type=Finite(min=0, max=1e6, min_open=True),
    default=DEFAULT_LIMIT_GB,
    show_default=True,
    help="Size limit of that cache in GB; the least recently used copies are removed first.",
)
@click.option("--plots/--no-plots", default=True, show_default=True, help="Draw the plots of the run.")
@click.option("--pdf", is_flag=True, help=_PDF_HELP)
@click.option("--fit", "then_fit", is_flag=True, help="Then run 'hzz4l fit' and 'hzz4l report' on the output.")
@_fail_cleanly
def run(
    fileset_path: Path | None,
    executor: Executor,
    workers: int,
    scheduler: str | None,
    preset: str,
    lumi: float,
    bins: tuple[int, float, float],
    output: Path,
    chunksize: int,
    maxchunks: int | None,
    progress: bool,
    timeout: float,
    retries: int,
    skip_bad_files: bool,
    checkpoint: Path | None,
    systematics: bool,
    use_cache: bool,
    cache_limit: float,
    plots: bool,
    pdf: bool,
    then_fit: bool,
) -> None:
    """Run the selection over a fileset and write histograms, summary and plots (--fit: the whole analysis)."""
    if scheduler and executor != "dask":
        raise click.BadParameter("--scheduler needs --executor dask", param_hint="--scheduler")
    progress = progress and not click.get_current_context().find_root().params.get("quiet", False)

    from analysis.cache import RemoteCache
    from analysis.demo import cache_dir, default_demo
    from analysis.fileset import load_fileset
    from analysis.outputs import check_datasets, check_output, cutflow_table, write_outputs

    if fileset_path is None:

        def announce(folder: Path) -> None:
            click.echo(f"generating the synthetic demo samples in {folder} (once, a few seconds; reused after)")

        fileset_path = default_demo(announce=announce)
        click.echo(f"using the synthetic demo samples in {fileset_path.parent} (pass --fileset for real data)")
    fileset = load_fileset(fileset_path)
    check_datasets(fileset, str(fileset_path))
    check_output(output)  # before any work: a folder we can write, with nothing of someone else's in the way
    if checkpoint is not None:
        check_output(checkpoint, names=())
    # the plotting workers import matplotlib while this process imports coffea and runs
    renderer = _renderer(_PLOT_MODULES["run --fit" if then_fit else "run"]) if plots else None

    from analysis.runner import run_fileset
    from processors import PRESETS, HZZ4lProcessor

    proc = HZZ4lProcessor(selection=PRESETS[preset], lumi_fb=lumi, mass_bins=bins, systematics=systematics)
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
        cache=RemoteCache(cache_dir() / "remote", int(cache_limit * 1e9)) if use_cache else None,
    )
    prepared: concurrent.futures.Future[FitReport] = concurrent.futures.Future()
    summary = write_outputs(
        result,
        fileset,
        proc,
        preset,
        output,
        fileset_path=str(fileset_path),
        formats=("png", "pdf") if pdf else ("png",),
        renderer=renderer,
        plots=plots,
        meanwhile=functools.partial(_fit_meanwhile, prepared) if then_fit else None,
    )
    click.echo(cutflow_table(summary))
    for skipped in result.skipped:
        events = "events unknown" if skipped.events is None else f"{skipped.events} events lost"
        click.echo(f"SKIPPED {skipped.path} (dataset '{skipped.dataset}', {events}): {skipped.reason}", err=True)
    for name, lost in result.lost_events.items():
        click.echo(f"LOST {lost} events of dataset '{name}' in skipped files and chunks", err=True)
    click.echo(
        f"{result.events} events in {result.wall_s:.2f} s ({result.events_per_s:,.0f} events/s, "
        f"{result.bytes_read / 1e6:.1f} MB read) with the {executor} executor; outputs in {output}/"
    )
    if then_fit:
        context = click.get_current_context()
        context.find_root().meta[_PREPARED_FIT] = prepared
        context.invoke(fit, results=output, plots=plots, pdf=pdf)
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
@click.option(
    "--toys",
    type=click.IntRange(min=1, max=MAX_TOYS),
    default=10_000,
    show_default=True,
    help="Goodness-of-fit toys (at most 10^6).",
)
@click.option(
    "--coverage-toys",
    type=click.IntRange(min=1, max=MAX_TOYS),
    default=500,
    show_default=True,
    help="Toys per critical value in the coverage study (at most 10^6).",
)
@click.option(
    "--coverage-points",
    type=click.IntRange(min=2, max=MAX_COVERAGE_POINTS),
    default=40,
    show_default=True,
    help=f"Critical values d from 1 to 5 in the coverage study (at most {MAX_COVERAGE_POINTS}).",
)
@click.option("--range", "range_text", help="Fit only the bins inside LOW,HIGH (GeV).")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Seed of the toys.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Draw the plots of the fit.")
@click.option("--pdf", is_flag=True, help=_PDF_HELP)
@click.option(
    "--workspace",
    "workspace_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the model as a HistFactory workspace (pyhf JSON) to this file (with --systematics: the model "
    "with nuisance parameters).",
)
@click.option(
    "--systematics",
    is_flag=True,
    help="Also fit the model with nuisance parameters (lepton momentum scale, efficiencies, luminosity, ZZ* "
    "cross-section, simulation statistics) with cabinetry: s_s with stat. and syst. uncertainties, pulls, impacts. "
    "Needs pip install 'hzz4l[systematics]'.",
)
@click.option(
    "--per-channel",
    is_flag=True,
    help="With --systematics: fit the 4e, 4mu and 2e2mu channels simultaneously rather than their sum (slower).",
)
@_fail_cleanly
def fit(
    results: Path,
    statistic: Statistic | None,
    method: Method,
    mc_stat: bool,
    toys: int,
    coverage_toys: int,
    coverage_points: int,
    range_text: str | None,
    seed: int,
    plots: bool,
    pdf: bool,
    workspace_path: Path | None,
    systematics: bool,
    per_channel: bool,
) -> None:
    """Fit s_s and s_b to RESULTS/histograms.root (roles from RESULTS/summary.json); write fit.json and plots.

    RESULTS is the output folder of 'hzz4l run' (default: results/).
    """
    fit_range = _parse_range(range_text)
    _require_run(results)
    if per_channel and not systematics:
        raise click.BadParameter("--per-channel needs --systematics", param_hint="--per-channel")
    formats = ("png", "pdf") if pdf else ("png",)

    import json

    from analysis.outputs import atomic_path, check_output, check_workspace_target, publish, read_histograms, writing
    from fitting.document import FailedFit
    from fitting.fit import FitError
    from fitting.templates import TemplateError, Templates
    from fitting.workspace import workspace

    prepared = click.get_current_context().find_root().meta.pop(_PREPARED_FIT, None)  # by hzz4l run --fit
    histogram, summary = read_histograms(results)
    roles, lumi_fb = summary.roles, summary.lumi_fb
    check_output(results, names=("fit.json",))
    if workspace_path is not None:
        check_workspace_target(workspace_path)
    # the plotting workers import matplotlib while this process fits
    renderer = _renderer(_PLOT_MODULES["fit"]) if plots else None
    try:
        templates = Templates.from_hist(histogram, roles, fit_range=fit_range)
    except TemplateError as err:  # about the histograms of the file: say which
        raise TemplateError(f"{results / 'histograms.root'}: {err}") from None
    with_systematics = None
    if systematics:
        import hist

        from analysis.outputs import read_variations
        from analysis.samples import process_groups
        from fitting.systematics import fit_systematics
        from fitting.systematics import workspace as systematic_workspace
        from processors.histograms import project

        variations = read_variations(results)
        if fit_range is not None:
            variations = project(variations, {"mass": slice(hist.loc(fit_range[0]), hist.loc(fit_range[1]))})
        spec = systematic_workspace(variations, roles, process_groups(roles), channels=per_channel)
    if workspace_path is not None:
        with atomic_path(workspace_path) as tmp:
            model = spec if systematics else workspace(templates, mc_stat)
            tmp.write_text(json.dumps(model, indent=2) + "\n")
        click.echo(f"wrote the HistFactory workspace {workspace_path}")
    if systematics:
        with_systematics = fit_systematics(spec)
    try:
        options = click.get_current_context().params
        report = prepared.result() if prepared is not None else _analyse(templates, options)
    except FitError as err:  # mark the failure in fit.json, so no earlier result stands in for it
        failed = FailedFit(error=str(err), statistic=_statistic(statistic, method), method=method, mc_stat=mc_stat)
        with publish(results, "fit") as stage, writing(stage / "fit.json") as path:  # the earlier fit goes
            path.write_text(failed.to_json(), encoding="utf-8")
        raise
    document = report.document(None if with_systematics is None else with_systematics.document(per_channel))
    # replaces the previous fit and its plots; removes the stale report
    with publish(results, "fit") as stage, renderer.stopped_on_error() if renderer else contextlib.nullcontext():
        if renderer is not None:
            # checked by read_histograms; a demo run's plots say so, and its contours show its truth
            synthetic = summary.synthetic
            truth = summary.truth if synthetic else None
            fit_arguments = (report, lumi_fb, synthetic, truth, histogram, roles)
            renderer.submit("analysis.cli:fit_figures", fit_arguments, stage / "plots", formats)
            if with_systematics is not None:
                systematic_arguments = (with_systematics, lumi_fb, synthetic)
                renderer.submit("analysis.cli:systematic_figures", systematic_arguments, stage / "plots", formats)
        with writing(stage / "fit.json") as path:
            path.write_text(document.to_json(), encoding="utf-8")
        if renderer is not None:
            renderer.wait()
    for study, failed_toys in (("gof", document.gof.failed_toys), ("coverage", document.coverage.failed_toys)):
        if failed_toys:
            click.echo(
                f"hzz4l fit: warning: {failed_toys} toys of the {study} study did not converge "
                "and are left out (fit.json: failed_toys)",
                err=True,
            )
    click.echo(fit_table(document))
    if summary.synthetic:  # as the run's cutflow printout says
        truth = summary.truth or {}
        drawn = ", drawn with " + ", ".join(f"{k} = {v:g}" for k, v in truth.items()) if truth else ""
        click.echo(f"SYNTHETIC DEMO: fitted to generated pseudo-data{drawn}, not ATLAS data")
    click.echo(f"wrote {results / 'fit.json'}" + (f" and plots in {results / 'plots'}/" if plots else ""))


def fit_figures(
    report: Any, lumi_fb: float, synthetic: bool, truth: dict[str, float] | None, histogram: Any, roles: dict[str, str]
) -> dict[str, Callable[[], Any]]:
    """The plots of the fit (:func:`fitting.plots.fit_figures`), the post-fit stack split by process group as the
    run's ``histogram`` (``Hist(dataset, mass)``) with its ``roles`` is, by file name, each drawn when called."""
    from analysis.plots import stack_components
    from fitting.plots import fit_figures as figures

    return figures(report, lumi_fb, synthetic, truth, stack_components(histogram, roles))


def systematic_figures(result: Any, lumi_fb: float, synthetic: bool = False) -> dict[str, Callable[[], Any]]:
    """The plots of the fit with nuisance parameters (a :class:`fitting.systematics.SystematicFit`), by file name,
    each drawn when called."""
    from fitting.plots import plot_impacts, plot_pulls

    return {
        "pulls": functools.partial(plot_pulls, result, lumi_fb, synthetic),
        "impacts": functools.partial(plot_impacts, result, lumi_fb, synthetic),
    }


@main.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path), default=Path("results"))
@_fail_cleanly
def report(results: Path) -> None:
    """Write RESULTS/report.html: provenance, cutflow, yields, fit results and every plot on one page.

    RESULTS is the output folder of 'hzz4l run' (default: results/).
    """
    from analysis.report import write_report

    _require_run(results)
    click.echo(f"wrote {write_report(results)}")


def fit_table(document: FitDocument) -> str:
    """A plain-text summary of ``fit.json``; ``|`` marks an interval end cut by the physical boundary."""
    fits, two = document.fits, document.fits.both

    def number(x: float | None, fmt: str, scale: float = 1.0) -> str:
        return "n/a" if x is None else format(scale * x, fmt)

    def value(entry: Interval) -> str:
        low = ("|" if entry.at_boundary.low else "-") + f"{entry.err_low:.3f}"
        high = ("|" if entry.at_boundary.high else "+") + f"{entry.err_high:.3f}"
        return f"{entry.value:.3f} {low} {high}"

    prefit, gof, sig, cov = document.prefit, document.gof, document.significance, document.coverage
    coverage = ", ".join(
        f"{100 * n.nominal:.1f}% -> {number(n.measured, '.1f', 100)} ± {number(n.error, '.1f', 100)}%"
        for n in cov.nominal
    )
    lines = [
        f"{document.statistic} statistic, {document.method} method, {document.nbins} bins "
        f"in [{document.range[0]:g}, {document.range[1]:g}] GeV",
        f"pre-fit        chi2/ndf = {prefit.chi2:.2f}/{prefit.ndf}   p = {prefit.p_value:.4f}",
        f"s_s alone      {value(fits.s_s)}   chi2/ndf = {fits.s_s.chi2:.2f}/{fits.s_s.ndf}",
        f"s_b alone      {value(fits.s_b)}   chi2/ndf = {fits.s_b.chi2:.2f}/{fits.s_b.ndf}",
        f"s_s, s_b       s_s = {value(two.s_s)}   s_b = {value(two.s_b)}   "
        f"correlation {number(two.correlation, '+.3f')}"
        + ("   (best fit on the physical boundary)" if two.best_at_boundary else ""),
        f"post-fit       chi2/ndf = {two.chi2:.2f}/{two.ndf}   p = {number(two.p_value, '.4f')}   "
        f"p(toys) = {number(gof.p_value_toys, '.4f')} ({gof.toys} {gof.toy_kind} toys)",
        f"significance   observed {number(sig.observed, '.2f')} sigma "
        f"(signed {number(sig.observed_signed, '+.2f')}), "
        f"expected {number(sig.expected, '.2f')} sigma (best fit), "
        f"{number(sig.expected_sm, '.2f')} sigma (s_s = 1); one-sided q0 of the {sig.likelihood} likelihood",
        f"coverage       nominal -> measured: {coverage} ({cov.toy_kind} toys)",
    ]
    lines += [f"null           {path}: {reason}" for path, reason in document.nulls.items()]
    if document.method == "tutorial":  # a best fit on the grid's edge is no minimum, its interval no interval
        from fitting.tutorial import grid_edge

        for label, entry, two_d in (
            ("s_s alone", fits.s_s, False),
            ("s_b alone", fits.s_b, False),
            ("s_s (s_s, s_b)", two.s_s, True),
            ("s_b (s_s, s_b)", two.s_b, True),
        ):
            parameter = label[:3]
            edge = grid_edge(parameter, entry.value, two_d)
            if edge is not None:
                lines.append(
                    f"grid edge      {label}: {entry.value:g} is the {edge} edge of the tutorial's "
                    f"{'2-D ' if two_d else ''}grid; the minimum lies outside it, the value and errors mean nothing "
                    "(use --method profile)"
                )
    if document.systematics is not None:
        systematics = document.systematics
        poi = systematics.s_s
        total, stat, syst = poi.total, poi.stat, poi.syst
        where = "4e, 4mu, 2e2mu simultaneously" if systematics.per_channel else "channels summed"
        lines.append(
            f"systematics    s_s = {poi.value:.3f} -{total.down:.3f} +{total.up:.3f} "
            f"(stat -{stat.down:.3f} +{stat.up:.3f}, syst -{syst.down:.3f} +{syst.up:.3f}), "
            f"s_b = {systematics.s_b.value:.3f}; {where}"
            + ("; the lower end at s_s = 0" if poi.at_boundary else "")
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
