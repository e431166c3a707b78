"""A second run over remote files downloads nothing: ``hzz4l run`` over the default demo served by a real HTTP server.

    python benchmarks/bench_cache.py [--repeat 3]

Serves the files of the default demo (about 11 MB in 14 files) from the tests' HTTP server on 127.0.0.1 (byte
ranges, HEAD with ``ETag`` and ``Last-Modified``, counting the body bytes it sends), and times, as fresh processes,
``hzz4l run --fileset <the remote fileset> --no-plots`` three ways: the first run with an empty cache (it fetches
every file whole), a second run with that cache (it should send no body byte, only one HEAD per file), and a run
with ``--no-cache`` (reading byte ranges remotely, as before the cache existed). Prints the medians of
``--repeat`` rounds: bytes served and wall time of each. Over the loopback the download costs little time; on the
real release (``samples.json``, about 1 GB over HTTPS) the bytes are what the network charges for.
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

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from analysis.demo import default_demo
from tests.http_server import serving

HZZ4L = str(Path(sysconfig.get_path("scripts")) / "hzz4l")
RUNS = (("first run (empty cache)", ()), ("second run (cached)", ()), ("--no-cache", ("--no-cache",)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    local = Path(default_demo())
    fileset = json.loads(local.read_text(encoding="utf-8"))
    rows: dict[str, list[tuple[int, float]]] = {label: [] for label, _ in RUNS}
    with tempfile.TemporaryDirectory() as tmp, serving(local.parent) as (url, handler):
        remote = {
            name: entry | {"files": {f"{url}/ok/{Path(path).name}": tree for path, tree in entry["files"].items()}}
            for name, entry in fileset.items()
        }
        (Path(tmp) / "remote.json").write_text(json.dumps(remote), encoding="utf-8")
        for i in range(args.repeat):
            env = dict(os.environ) | {"HZZ4L_CACHE": f"{tmp}/cache{i}"}
            for k, (label, extra) in enumerate(RUNS):
                before = sum(handler.served.values())
                start = time.perf_counter()
                subprocess.run(
                    [HZZ4L, "run", "--fileset", "remote.json", "--no-plots", "--no-progress", "-o", f"r{i}{k}", *extra],
                    cwd=tmp, env=env, check=True, capture_output=True,
                )  # fmt: skip
                rows[label].append((sum(handler.served.values()) - before, time.perf_counter() - start))
    size = sum((local.parent / Path(p).name).stat().st_size for e in fileset.values() for p in e["files"])
    print(f"default demo: {size:,} bytes in {sum(len(e['files']) for e in fileset.values())} files; "
          f"medians of {args.repeat} rounds\n")  # fmt: skip
    print("| run | bytes served | wall [s] |\n|---|---:|---:|")
    for label, values in rows.items():
        served = statistics.median(v[0] for v in values)
        wall = statistics.median(v[1] for v in values)
        print(f"| {label} | {served:,.0f} | {wall:.2f} |")


if __name__ == "__main__":
    main()
