"""Hand-built events for the tests: leptons in GeV, written by uproot, read with the schema."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from coffea.nanoevents import NanoEventsFactory

from processors.schema import MiniSchema

#: The real ATLAS Open Data files shipped with the project (see tests/data/atlas/README.md).
ATLAS = Path(__file__).parent / "data" / "atlas"

SCALE_FACTORS = ("scaleFactor_PILEUP", "scaleFactor_ELE", "scaleFactor_MUON", "scaleFactor_LepTRIGGER")


def lepton(
    pt: float,
    eta: float = 0.0,
    phi: float = 0.0,
    charge: int = 1,
    flavour: int = 11,
    *,
    ptcone30: float = 0.0,
    etcone20: float = 0.0,
    mass: float = 0.0,
    pt_syst: float | None = None,
) -> dict[str, Any]:
    """One lepton with pT in GeV (stored in MeV, as in the files); ``pt_syst`` (GeV) defaults to 1 % of pT."""
    p = pt * np.cosh(eta)
    return {
        "pt": pt * 1000,
        "eta": eta,
        "phi": phi,
        "E": np.hypot(p, mass) * 1000,
        "charge": charge,
        "type": flavour,
        "ptcone30": ptcone30 * 1000,
        "etcone20": etcone20 * 1000,
        "pt_syst": (0.01 * pt if pt_syst is None else pt_syst) * 1000,
    }


def good_event(**changes: Any) -> dict[str, Any]:
    """A four-lepton event (e+ e- mu+ mu-) that passes every cut of the default preset."""
    event = {
        "leptons": [
            lepton(50, 0.1, 0.0, +1, 11),
            lepton(40, -0.5, 2.0, -1, 11),
            lepton(30, 1.0, -2.0, +1, 13),
            lepton(20, -1.5, 1.0, -1, 13),
        ],
        "trigE": True,
        "trigM": False,
        "mcWeight": 1.0,
    }
    event.update(changes)
    return event


def read_events(path: Path, metadata: dict[str, Any] | None = None, mode: str = "eager") -> ak.Array:
    """Read a ``mini`` tree with the project's schema, as the processor sees it (``mode="virtual"``: lazily,
    as a runner reads it)."""
    meta = {"dataset": "hand", "role": "data"} | (metadata or {})
    return NanoEventsFactory.from_root({str(path): "mini"}, schemaclass=MiniSchema, metadata=meta, mode=mode).events()


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int, nanny: bool = True) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """A real ``dask scheduler`` and ``workers`` single-threaded ``dask worker`` processes on 127.0.0.1.

    Yields the scheduler address and the worker processes (without a nanny, each is the worker itself,
    so killing it kills the worker); everything is stopped on exit.
    """
    from distributed import Client

    scheduler_file = folder / "scheduler.json"
    logs = [(folder / f"{name}.log").open("w") for name in ["scheduler", *(f"worker{i}" for i in range(workers))]]
    command = [
        sys.executable,
        "-m",
        "distributed.cli.dask_scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-dashboard",
        "--scheduler-file",
        str(scheduler_file),
    ]
    procs = [subprocess.Popen(command, stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        for log in logs[1:]:
            command = [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                "--scheduler-file",
                str(scheduler_file),
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--nanny" if nanny else "--no-nanny",
            ]
            procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder))
        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)
        yield address, procs[1:]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a worker without a nanny may linger on SIGTERM
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def write_root(path: Path, events: list[dict[str, Any]]) -> Path:
    """Write hand-built events (see ``tests.helpers.good_event``) to ``path`` as tree ``mini``."""
    fields = ("pt", "eta", "phi", "E", "charge", "type", "ptcone30", "etcone20", "pt_syst")
    dtypes = {"charge": "i4", "type": "u4"}
    counts = [len(ev["leptons"]) for ev in events]
    lep = ak.zip(
        {
            f: ak.unflatten(
                np.array([lp[f] for ev in events for lp in ev["leptons"]], dtype=dtypes.get(f, "f4")),
                np.array(counts, dtype=np.int64),
            )
            for f in fields
        }
    )
    n = len(events)
    columns: dict[str, Any] = {
        "trigE": np.array([ev["trigE"] for ev in events], dtype=bool),
        "trigM": np.array([ev["trigM"] for ev in events], dtype=bool),
        "mcWeight": np.array([ev["mcWeight"] for ev in events], dtype="f4"),
        **{sf: np.array([ev.get(sf, 1.0) for ev in events], dtype="f4") for sf in SCALE_FACTORS},
        "lep": lep,
    }
    with uproot.recreate(path) as f:
        types = {k: v.dtype for k, v in columns.items() if k != "lep"} | {"lep": lep.type.content}
        tree = f.mktree(
            "mini",
            types,
            counter_name=lambda name: f"{name}_n",
            field_name=lambda outer, inner: f"{outer}_{inner}",
        )
        if n:
            tree.extend(columns)
    return path
