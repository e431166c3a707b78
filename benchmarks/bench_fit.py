"""The fitting module against a loop-for-loop port of the tutorial, on the same histograms.

    python benchmarks/bench_fit.py [--results DIR] [--repeat 5] [--coverage-sample 4] [--baseline CHECKOUT]

Without ``--results`` it makes the default demo histograms (``hzz4l run`` on the demo). Times are
medians of ``--repeat`` runs on one core. The tutorial's coverage study (40 d x 500 toys, each a
100 x 100 grid of Python-level chi^2 calls) takes hours, so its loop time is measured on
``--coverage-sample`` toys and scaled to 20,000 toys; the table says so.

``--baseline CHECKOUT`` (another checkout of this project, e.g. ``git worktree add /tmp/base main``)
times that version's ``analyse`` on the same histograms in a subprocess, alternating with this one's
run by run, and prints both with their ratio.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one core, as the numbers claim

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.outputs import read_histograms
from fitting.analysis import analyse
from fitting.templates import Templates
from tests import tutorial_loops as loops


def median_time(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


BASELINE = """
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from fitting.analysis import analyse
from fitting.templates import Templates
arrays = np.load(sys.argv[2])
templates = Templates.from_arrays(*(arrays[k] for k in ("edges", "data", "signal", "background", "signal_var",
                                                        "background_var")))
start = time.perf_counter()
analyse(templates, **json.loads(sys.argv[3]))
print(time.perf_counter() - start)
"""


def baseline_time(checkout: Path, arrays: Path, options: dict[str, str]) -> float:
    """One run of ``analyse`` of another checkout on the saved templates, timed inside its process."""
    ran = subprocess.run(
        [sys.executable, "-c", BASELINE, str(checkout), str(arrays), json.dumps(options)],
        check=True,
        capture_output=True,
        text=True,
        cwd=checkout,
    )
    return float(ran.stdout.split()[-1])


def side_by_side(templates: Templates, checkout: Path, repeat: int) -> list[tuple[str, float, float]]:
    """Medians of this version's and ``checkout``'s ``analyse``, run alternately, for the configurations compared."""
    configurations = {
        "default hzz4l fit (baseline's default statistic vs this one's)": ({}, {}),
        "profile, pearson": ({"statistic": "pearson"}, {"statistic": "pearson"}),
        "profile, poisson": ({"statistic": "poisson"}, {"statistic": "poisson"}),
        "tutorial, pearson": (
            {"statistic": "pearson", "method": "tutorial"},
            {"statistic": "pearson", "method": "tutorial"},
        ),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        arrays = Path(tmp) / "templates.npz"
        np.savez(
            arrays,
            edges=np.arange(templates.nbins + 1.0),
            data=templates.data,
            signal=templates.signal,
            background=templates.background,
            signal_var=templates.signal_var,
            background_var=templates.background_var,
        )
        for name, (ours, theirs) in configurations.items():
            mine, base = [], []
            for _ in range(repeat):
                start = time.perf_counter()
                analyse(templates, **ours)
                mine.append(time.perf_counter() - start)
                base.append(baseline_time(checkout, arrays, theirs))
            rows.append((name, statistics.median(base), statistics.median(mine)))
    return rows


def demo_results(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "analysis.cli", "demo", "-o", str(folder / "demo")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis.cli",
            "run",
            "--fileset",
            str(folder / "demo" / "fileset.json"),
            "-o",
            str(folder / "results"),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
    )
    return folder / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="a results folder of hzz4l run (default: make the demo's)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--coverage-sample", type=int, default=4, help="toys timed in the tutorial's coverage loop")
    parser.add_argument("--baseline", type=Path, help="another checkout of hzz4l to time side by side")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        results = args.results or demo_results(Path(tmp))
        histogram, summary = read_histograms(results)
    templates = Templates.from_hist(histogram, summary.roles)
    data, signal, background = templates.data, templates.signal, templates.background
    rng = np.random.default_rng(1)

    rows = []
    module_all = median_time(lambda: analyse(templates), args.repeat)
    module_tutorial = median_time(lambda: analyse(templates, "pearson", method="tutorial"), args.repeat)
    module_tutorial_mc = median_time(
        lambda: analyse(templates, "pearson", method="tutorial", mc_stat=True), args.repeat
    )

    loop_1d = median_time(
        lambda: (loops.fit_s_s(data, signal, background), loops.fit_s_b(data, signal, background)),
        args.repeat,
    )
    loop_2d = median_time(lambda: loops.fit_2d(data, signal, background), max(1, args.repeat // 2))
    port = loops.fit_2d(data, signal, background)
    means = port["s_s"][0] * signal + port["s_b"][0] * background
    loop_gof = median_time(lambda: loops.goodness_of_fit(data, means, 10_000, len(data), rng), 1)
    sample = args.coverage_sample
    start = time.perf_counter()
    loops.coverage(signal, background, means, port["index"], np.array([2.3]), sample, rng)
    loop_coverage = (time.perf_counter() - start) / sample * 40 * 500
    loop_total = loop_1d + loop_2d + loop_gof + loop_coverage

    rows.append(("tutorial loops: 1-D scans", loop_1d, ""))
    rows.append(("tutorial loops: 2-D 100x100 scan", loop_2d, ""))
    rows.append(("tutorial loops: 10^4 goodness-of-fit toys", loop_gof, ""))
    rows.append(("tutorial loops: coverage 40 x 500 toys", loop_coverage, f"scaled from {sample} toys"))
    rows.append(("tutorial loops: total", loop_total, ""))
    rows.append(("fitting, --method tutorial (same procedure)", module_tutorial, ""))
    rows.append(("fitting, --method tutorial --mc-stat", module_tutorial_mc, ""))
    rows.append(("fitting, default (profile fits, 10^4 refitted toys, 40 x 500 coverage)", module_all, ""))

    print(
        f"histograms: {results if args.results else 'default demo'}, {templates.nbins} bins, "
        f"{int(data.sum())} data events; medians of {args.repeat} runs\n"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'seconds':>10}")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:>10.3f}  {note}")
    print(f"\nspeed-up of --method tutorial over the tutorial's loops: {loop_total / module_tutorial:,.0f}x")
    print(f"speed-up of the default fit over the tutorial's loops:   {loop_total / module_all:,.0f}x")
    if args.baseline:
        rows = side_by_side(templates, args.baseline.resolve(), args.repeat)
        width = max(len(r[0]) for r in rows)
        print(f"\nside by side with {args.baseline} (medians of {args.repeat} alternating runs, computation only)\n")
        print(f"{'analyse()':<{width}}  {'baseline s':>10}  {'this s':>8}  {'ratio':>6}")
        for name, base, mine in rows:
            print(f"{name:<{width}}  {base:>10.3f}  {mine:>8.3f}  {mine / base:>6.2f}")


if __name__ == "__main__":
    main()
