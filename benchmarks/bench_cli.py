"""How much of ``hzz4l run`` on the default demo is the CLI's own start-up rather than the work.

    python benchmarks/bench_cli.py [--repeat 5]

Times, as medians of fresh processes: ``hzz4l --help`` (the CLI module alone), ``hzz4l run`` end to end on
the cached default demo, and the executor's own wall time that ``hzz4l run`` records in ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HZZ4L = str(Path(sysconfig.get_path("scripts")) / "hzz4l")


def timed(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([HZZ4L, "run", "--no-progress", "-o", "warm"], cwd=tmp, check=True, capture_output=True)
        python = statistics.median(timed([sys.executable, "-c", "pass"], tmp) for _ in range(args.repeat))
        helps = statistics.median(timed([HZZ4L, "--help"], tmp) for _ in range(args.repeat))
        totals, walls = [], []
        for i in range(args.repeat):
            totals.append(timed([HZZ4L, "run", "--no-progress", "-o", f"r{i}"], tmp))
            walls.append(json.loads((Path(tmp) / f"r{i}" / "summary.json").read_text())["metrics"]["wall_s"])
    total, wall = statistics.median(totals), statistics.median(walls)
    print(f"python -c pass:                      {python:6.2f} s")
    print(f"hzz4l --help (CLI start-up):         {helps:6.2f} s")
    print(f"hzz4l run, whole process:            {total:6.2f} s")
    print(f"  of which the executor run:         {wall:6.2f} s")
    print(f"  imports, preflight, outputs, plot: {total - wall:6.2f} s")


if __name__ == "__main__":
    main()
