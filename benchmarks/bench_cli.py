"""What a user waits for: each ``hzz4l`` command on the default demo, end to end, against the targets of issue 16.

    python benchmarks/bench_cli.py [--repeat 5] [--against /path/to/other/checkout]

Times, as medians of fresh processes run round robin (a drift of the machine affects every command alike):
``python -c pass``, ``hzz4l --help``, ``hzz4l run`` with and without plots and with PDF copies, ``hzz4l fit``
with and without plots, ``hzz4l report`` and ``hzz4l run --fit`` (the whole analysis: run, fit with its 10⁴ + 2·10⁴
toys, every plot, the report), on the cached default demo, and prints each as a ratio to its target. With
``--against``, the same commands of another checkout of hzz4l (e.g. ``git worktree add /tmp/base main``) run in
the same round robin, on its own PYTHONPATH, and the table gives this checkout's time over that one's (a command
the other checkout does not have shows "–").
"""

from __future__ import annotations

import argparse
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
#: (label, arguments, target in seconds or None); ``{i}`` names the repetition, ``{w}`` the checkout's results folder.
COMMANDS = (
    ("hzz4l --help", ["--help"], None),
    ("hzz4l run", ["run", "--no-progress", "-o", "r{i}"], 1.5),
    ("hzz4l run --no-plots", ["run", "--no-progress", "--no-plots", "-o", "n{i}"], None),
    ("hzz4l run --pdf", ["run", "--no-progress", "--pdf", "-o", "p{i}"], None),
    ("hzz4l fit", ["fit", "{w}"], 1.5),
    ("hzz4l fit --no-plots", ["fit", "{w}", "--no-plots"], None),
    ("hzz4l report", ["report", "{w}"], None),
    ("hzz4l run --fit", ["run", "--no-progress", "--fit", "-o", "f{i}"], 3.0),
)


def timed(command: list[str], cwd: str, env: dict[str, str]) -> float | None:
    """Wall time of ``command``, or None if it fails (a command the checkout does not have)."""
    start = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=cwd, capture_output=True, env=env)
    return time.perf_counter() - start if done.returncode == 0 else None


def median(values: list[float | None]) -> float | None:
    return None if None in values else statistics.median(v for v in values if v is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout of hzz4l, timed side by side")
    args = parser.parse_args()
    checkouts = {"this": dict(os.environ)}
    if args.against:
        checkouts["other"] = dict(os.environ) | {"PYTHONPATH": str(args.against.resolve())}
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in checkouts.items():  # the demo cached, a results folder to fit
            subprocess.run([HZZ4L, "run", "--no-progress", "-o", f"warm-{name}"], cwd=tmp, check=True,
                           capture_output=True, env=env)  # fmt: skip
        python = median([timed([sys.executable, "-c", "pass"], tmp, checkouts["this"]) for _ in range(args.repeat)])
        times: dict[tuple[str, str], list[float | None]] = {}
        for i in range(args.repeat):
            for label, arguments, _ in COMMANDS:
                for name, env in checkouts.items():
                    command = [HZZ4L, *(a.format(i=f"{name}{i}", w=f"warm-{name}") for a in arguments)]
                    times.setdefault((label, name), []).append(timed(command, tmp, env))
        metrics = json.loads((Path(tmp) / "rthis0" / "summary.json").read_text())["metrics"]
    print(f"medians of {args.repeat} fresh processes; python -c pass: {python:.2f} s\n")
    other = " | other [s] | this / other" if args.against else ""
    print(f"| command | this [s] | target [s] | this / target{other} |")
    print("|---|---:|---:|---:" + ("|---:|---:|" if args.against else "|"))
    for label, _, target in COMMANDS:
        mine = median(times[label, "this"])
        cells = [label, f"{mine:.2f}" if mine else "–"]
        cells += [f"{target:.1f}", f"{mine / target:.2f}"] if target and mine else ["", ""]
        if args.against:
            theirs = median(times[label, "other"])
            cells += [f"{theirs:.2f}", f"{mine / theirs:.2f}"] if theirs and mine else ["–", "–"]
        print("| " + " | ".join(cells) + " |")
    print(
        f"\nhzz4l run (one of them): the executor's run {metrics['wall_s']:.2f} s, of which the file checks "
        f"{metrics['preflight_s']:.2f} s and process() {metrics['process_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
