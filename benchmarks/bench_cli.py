"""What a user waits for: each ``hzz4l`` command on the default demo, end to end, against the targets of issue 16.

    python benchmarks/bench_cli.py [--repeat 5] [--against /path/to/other/checkout]

Times, as medians of fresh processes run round robin (a drift of the machine affects every command alike):
``python -c pass``, ``hzz4l --help``, ``hzz4l run`` with and without plots and with PDF copies, ``hzz4l fit``
with and without plots, ``hzz4l report`` and ``hzz4l run --fit`` (the whole analysis: run, fit with its 10⁴ + 2·10⁴
toys, every plot, the report), on the cached default demo, and prints each as a ratio to its target. With
``--against``, the same commands of another checkout of hzz4l (e.g. ``git worktree add /tmp/base main``) run in
the same round robin, on its own PYTHONPATH, and the table gives this checkout's time over that one's (a command
the other checkout does not have shows "–"). Each time is given as wall time and as CPU time (user + system of
the command and its plotting workers): on a machine shared with other work the CPU time is the steadier measure.
The "imports" column is the time the command's own process spends importing modules (``python -X importtime``,
in one more run per repetition, with ``--no-plots``: the plotting workers import matplotlib beside the command, and
their report would mix in; the tool's own overhead is included): a floor under the command that this project's
code does not set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
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


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float] | None:
    """Wall time and CPU time (user + system, the command's worker processes included) of ``command``, or None if
    it fails (a command the checkout does not have)."""
    start, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(command, check=False, cwd=cwd, capture_output=True, env=env)
    return (time.perf_counter() - start, _cpu() - cpu) if done.returncode == 0 else None


#: A module imported at the top level of ``python -X importtime``'s report: at start-up, or later by a function.
TOP_LEVEL = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| \S", re.MULTILINE)


def imports(command: list[str], cwd: str, env: dict[str, str]) -> float | None:
    """Seconds ``command`` (a Python console script and its arguments) spends importing in its own process, from
    ``python -X importtime``: the sum of the top-level imports' cumulative times, the command run without plots
    (its workers' imports would be reported too); None if it fails."""
    if command[1] in ("run", "fit"):
        command = [c for c in command if c != "--pdf"] + (["--no-plots"] if "--no-plots" not in command else [])
    done = subprocess.run([sys.executable, "-X", "importtime", *command], check=False, cwd=cwd, capture_output=True,
                          env=env, text=True)  # fmt: skip
    return sum(int(us) for us in TOP_LEVEL.findall(done.stderr)) / 1e6 if done.returncode == 0 else None


def median(values: list[tuple[float, float] | None], which: int = 0) -> float | None:
    """The median wall (``which`` 0) or CPU (1) time, None if the command failed."""
    if any(v is None for v in values):
        return None
    return statistics.median(v[which] for v in values if v is not None)


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
        times: dict[tuple[str, str], list[tuple[float, float] | None]] = {}
        imported: dict[str, list[float | None]] = {}
        for i in range(args.repeat):
            for label, arguments, _ in COMMANDS:
                for name, env in checkouts.items():
                    command = [HZZ4L, *(a.format(i=f"{name}{i}", w=f"warm-{name}") for a in arguments)]
                    times.setdefault((label, name), []).append(timed(command, tmp, env))
                command = [HZZ4L, *(a.format(i=f"imports{i}", w="warm-this") for a in arguments)]
                imported.setdefault(label, []).append(imports(command, tmp, checkouts["this"]))
        metrics = json.loads((Path(tmp) / "rthis0" / "summary.json").read_text())["metrics"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"medians of {args.repeat} fresh processes; python -c pass: {python:.2f} s; load average {load}")
    print("wall: what the user waits for; CPU: user + system time of the command and its workers, which on a")
    print("machine busy with other work predicts the wall time better than a wall time measured there\n")
    other = " | other wall [s] | other CPU [s] | wall this / other | CPU this / other" if args.against else ""
    print(f"| command | wall [s] | CPU [s] | imports [s] | target [s] | wall / target{other} |")
    print("|---|---:|---:|---:|---:|---:" + ("|---:|---:|---:|---:|" if args.against else "|"))
    for label, _, target in COMMANDS:
        wall, cpu = median(times[label, "this"]), median(times[label, "this"], 1)
        known = [s for s in imported[label] if s is not None]
        imports_s = statistics.median(known) if len(known) == len(imported[label]) else None
        cells = [label, f"{wall:.2f}" if wall else "–", f"{cpu:.2f}" if cpu else "–"]
        cells += [f"{imports_s:.2f}" if imports_s is not None else "–"]
        cells += [f"{target:.1f}", f"{wall / target:.2f}"] if target and wall else ["", ""]
        if args.against:
            their_wall, their_cpu = median(times[label, "other"]), median(times[label, "other"], 1)
            if their_wall and their_cpu and wall and cpu:
                cells += [f"{their_wall:.2f}", f"{their_cpu:.2f}", f"{wall / their_wall:.2f}", f"{cpu / their_cpu:.2f}"]
            else:
                cells += ["–"] * 4
        print("| " + " | ".join(cells) + " |")
    print(
        f"\nhzz4l run (one of them): the file checks {metrics['preflight_s']:.2f} s, then the executor's run "
        f"{metrics['wall_s']:.2f} s, of which process() {metrics['process_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
