"""The ``hzz4l`` command line: ``hzz4l demo``, ``hzz4l run``.

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

PRESET_NAMES = ("default", "tutorial")
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
    help="Selection: 'default' (full) or 'tutorial' (the tutorial's cuts exactly).",
)
@click.option(
    "--lumi",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Luminosity the simulation is normalised to, in fb^-1.",
)
@click.option(
    "--bins", "bins_text", default="34,80,250", show_default=True, help="m4l binning NBINS,LOW,HIGH in GeV."
)
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
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show coffea's progress bars."
)
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
) -> None:
    """Run the selection over a fileset and write histograms, summary and plots."""
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
    )
    summary = write_outputs(result, fileset, proc, preset, output, fileset_path=str(fileset_path))
    click.echo(cutflow_table(summary))
    click.echo(
        f"{result.events} events in {result.wall_s:.2f} s ({result.events_per_s:,.0f} events/s, "
        f"{result.bytes_read / 1e6:.1f} MB read) with the {executor} executor; outputs in {output}/"
    )


if __name__ == "__main__":
    main()
