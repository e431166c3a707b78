"""How much of ``hzz4l run`` on the default demo is the CLI's own start-up rather than the work.

    python benchmarks/bench_cli.py [--repeat 5]

Times, as medians of fresh processes: ``hzz4l --help`` (the CLI module alone), the imports of what
``hzz4l run`` uses (``python -c "import ..."``), ``hzz4l run`` end to end on the cached default demo, and
the executor's own wall time and the file checks that ``hzz4l run`` records in ``summary.json``.
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
#: What ``hzz4l run`` imports beyond the CLI module: the run, the processor, the outputs and the plot.
RUN_IMPORTS = ("analysis.cli", "analysis.demo", "analysis.runner", "processors", "analysis.outputs", "analysis.plots")


def timed(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    imports = [sys.executable, "-c", "import " + ", ".join(RUN_IMPORTS)]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([HZZ4L, "run", "--no-progress", "-o", "warm"], cwd=tmp, check=True, capture_output=True)
        python = statistics.median(timed([sys.executable, "-c", "pass"], tmp) for _ in range(args.repeat))
        helps = statistics.median(timed([HZZ4L, "--help"], tmp) for _ in range(args.repeat))
        imported = statistics.median(timed(imports, tmp) for _ in range(args.repeat)) - python
        totals, metrics = [], []
        for i in range(args.repeat):
            totals.append(timed([HZZ4L, "run", "--no-progress", "-o", f"r{i}"], tmp))
            metrics.append(json.loads((Path(tmp) / f"r{i}" / "summary.json").read_text())["metrics"])
    total = statistics.median(totals)
    wall, checks = (statistics.median(m[key] for m in metrics) for key in ("wall_s", "preflight_s"))
    print(f"python -c pass:                        {python:6.2f} s")
    print(f"hzz4l --help (CLI start-up):           {helps:6.2f} s")
    print(f"hzz4l run, whole process:              {total:6.2f} s")
    print(f"  the executor run (the work):         {wall:6.2f} s")
    print(f"  imports of the run's modules:        {imported:6.2f} s")
    print(f"  file checks before the run:          {checks:6.2f} s")
    print(f"  outputs, m4l plot and the rest:      {total - wall - imported - checks - python:6.2f} s")


if __name__ == "__main__":
    main()
