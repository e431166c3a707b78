"""What each figure costs: every plot of ``hzz4l run --fit`` made and saved as PNG, one after the other, in one
process, as a plotting worker draws them.

    python benchmarks/bench_figures.py [--repeat 5] [--pdf] [--freeze] [--against /path/to/other/checkout ...]

A demo run (``hzz4l run --no-plots`` on the cached default demo, once) gives the histograms; each repetition is a
fresh process per checkout, round robin, which fits them as ``hzz4l fit`` does (not timed), then makes and saves
the 8 figures of the run and the 6 of the fit, timing each in CPU seconds: making it (data, artists, the label and
the legend placed) and saving it (layout, drawing, the PNG written), and counting how often it is drawn
(``Figure.draw``). The first figure of a process also pays matplotlib's one-off costs (fonts, the mathtext parser),
as in a worker; the garbage collector's time is given too, and ``--freeze`` freezes the heap before the figures as
the plotting workers do (``analysis.render``). With ``--against``, other checkouts (e.g. ``git worktree add
/tmp/base main``) run the same on their own PYTHONPATH, and the table gives the medians side by side with this
checkout's time over theirs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HZZ4L = str(Path(sysconfig.get_path("scripts")) / "hzz4l")


def child(results: Path, folder: Path, formats: tuple[str, ...], freeze: bool) -> None:
    """Make and save every figure of ``results``; print one JSON object: per figure, CPU to make, to save, draws
    (and ``"gc"``: the garbage collector's CPU time over all figures)."""
    from coffea.util import load
    from matplotlib.figure import Figure

    from analysis.cli import fit_figures
    from analysis.outputs import read_histograms, run_figures
    from analysis.style import save
    from fitting.analysis import analyse
    from fitting.templates import Templates

    draws = [0]
    draw = Figure.draw

    def counted(fig: Figure, renderer: object) -> None:
        draws[0] += 1
        draw(fig, renderer)

    Figure.draw = counted  # type: ignore[method-assign]
    histogram, summary = read_histograms(results)
    output = load(results / "histograms.coffea")
    report = analyse(Templates.from_hist(histogram, summary.roles))
    truth = summary.truth if summary.synthetic else None
    figures = run_figures(output, summary.roles, summary.lumi_fb, summary.synthetic, summary.missing_samples)
    figures |= fit_figures(report, summary.lumi_fb, summary.synthetic, truth, histogram, summary.roles)
    if freeze:
        gc.freeze()
    started, collected = [0.0], []

    def collector(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            collected.append(time.process_time() - started[0])

    gc.callbacks.append(collector)
    times: dict[str, object] = {}
    for name, make in figures.items():
        draws[0] = 0
        start = time.process_time()
        fig = make()
        made = time.process_time()
        save(fig, folder / name, formats)
        times[name] = (made - start, time.process_time() - made, draws[0])
    gc.callbacks.remove(collector)
    times["gc"] = sum(collected)
    print(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pdf", action="store_true", help="save PDF copies too (hzz4l --pdf)")
    parser.add_argument("--freeze", action="store_true", help="freeze the heap before the figures, as the workers do")
    parser.add_argument("--against", type=Path, nargs="*", default=[], help="other checkouts of hzz4l")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    formats = ("png", "pdf") if args.pdf else ("png",)
    if args.child:
        child(*args.child, formats, args.freeze)
        return
    checkouts = {"this": dict(os.environ)}  # the others by their folder's name
    for other in args.against:
        checkouts[other.resolve().name] = dict(os.environ) | {"PYTHONPATH": str(other.resolve())}
    runs: dict[str, list[dict[str, list[float]]]] = {name: [] for name in checkouts}
    gc_times: dict[str, list[float]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        run = [HZZ4L, "-q", "run", "--no-plots", "--no-progress", "-o", str(results)]
        subprocess.run(run, check=True, capture_output=True)
        for i in range(args.repeat):
            for name, env in checkouts.items():
                folder = Path(tmp) / f"{name}{i}"
                command = [sys.executable, __file__, "--child", str(results), str(folder)]
                command += ["--pdf"] * args.pdf + ["--freeze"] * args.freeze
                done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
                times = json.loads(done.stdout.splitlines()[-1])
                gc_times[name].append(times.pop("gc"))
                runs[name].append(times)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"CPU seconds, medians of {args.repeat} fresh processes per checkout; load average {load}")
    print("make: data, artists, label and legend placed; save: layout, drawing, file written; draws: Figure.draw\n")
    names = list(runs["this"][0])
    others = [name for name in checkouts if name != "this"]
    header = "| figure | make | save | draws |" + "".join(f" {o} total | {o} draws | this / {o} |" for o in others)
    print(header)
    print("|---" + "|---:" * (header.count("|") - 2) + "|")

    def median(name: str, figure: str, which: int) -> float:
        return statistics.median(run[figure][which] for run in runs[name] if figure in run)

    for figure in names:
        make, save = median("this", figure, 0), median("this", figure, 1)
        row = f"| {figure} | {make:.3f} | {save:.3f} | {median('this', figure, 2):.0f} |"
        for other in others:
            theirs = median(other, figure, 0) + median(other, figure, 1)
            row += f" {theirs:.3f} | {median(other, figure, 2):.0f} | {(make + save) / theirs:.2f} |"
        print(row)
    totals = {name: statistics.median(sum(t[0] + t[1] for t in run.values()) for run in runs[name]) for name in runs}
    print(
        f"\nall {len(names)} figures: this {totals['this']:.2f} s"
        + "".join(f", {o} {totals[o]:.2f} s (this / {o} {totals['this'] / totals[o]:.2f})" for o in others)
    )
    collector = ", ".join(f"{name} {statistics.median(t):.2f} s" for name, t in gc_times.items())
    print(f"of which the garbage collector: {collector}")


if __name__ == "__main__":
    main()
