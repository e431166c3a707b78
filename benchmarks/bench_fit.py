"""The fitting module against a loop-for-loop port of the tutorial, on the same histograms.

    python benchmarks/bench_fit.py [--results DIR] [--repeat 5] [--coverage-sample 4]

Without ``--results`` it makes the default demo histograms (``hzz4l run`` on the demo). Times are
medians of ``--repeat`` runs on one core. The tutorial's coverage study (40 d x 500 toys, each a
100 x 100 grid of Python-level chi^2 calls) takes hours, so its loop time is measured on
``--coverage-sample`` toys and scaled to 20,000 toys; the table says so.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one core, as the numbers claim

import argparse
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
from benchmarks import tutorial_loops as loops
from fitting.analysis import analyse
from fitting.templates import Templates


def median_time(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        results = args.results or demo_results(Path(tmp))
        histogram, roles, _ = read_histograms(results)
    templates = Templates.from_hist(histogram, roles)
    data, signal, background = templates.data, templates.signal, templates.background
    rng = np.random.default_rng(1)

    rows = []
    module_all = median_time(lambda: analyse(templates), args.repeat)
    module_tutorial = median_time(lambda: analyse(templates, method="tutorial"), args.repeat)

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


if __name__ == "__main__":
    main()
