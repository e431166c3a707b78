"""Hand-built events for the tests: leptons in GeV, written by uproot, read with the schema."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from coffea.nanoevents import NanoEventsFactory

from processors.processor import COLUMNS
from processors.schema import MiniSchema

#: The real ATLAS Open Data files shipped with the project (see tests/data/atlas/README.md).
ATLAS = Path(__file__).parent / "data" / "atlas"

#: A few datasets of the demo, one of each role, for tests that need a run but not all of it.
SUBSET = ("llll", "ggH125_ZZ4lep", "data")

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


#: The installed command line, as a user runs it.
HZZ4L = str(Path(sysconfig.get_path("scripts")) / "hzz4l")


def hzz4l(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``hzz4l *args`` in ``cwd`` (environment: ours plus ``env``), capturing its output as text."""
    return subprocess.run(
        [HZZ4L, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=os.environ | (env or {})
    )


def assert_same(reference: dict, other: dict) -> None:
    """Every histogram of the accumulator (m4l in every channel and variation, the control ones) and the cutflow."""
    for key in ("mass", "z1_mass", "z2_mass", "lepton_pt", "lepton_eta"):
        ref_h, h = reference[key], other[key]
        assert set(h.axes["dataset"]) == set(ref_h.axes["dataset"])
        # category order differs between executors: index by name
        for name in ref_h.axes["dataset"]:
            for channel in ref_h.axes["channel"]:
                want, got = (x[{"dataset": name, "channel": channel}].view() for x in (ref_h, h))
                np.testing.assert_allclose(got.value, want.value, rtol=1e-12, atol=1e-15, err_msg=f"{key} {name}")
                np.testing.assert_allclose(got.variance, want.variance, rtol=1e-12, atol=1e-18)
    assert other["processed"] == reference["processed"]
    for name, flow in reference["cutflow"].items():
        assert other["cutflow"][name]["events"] == flow["events"]
        np.testing.assert_allclose(
            list(other["cutflow"][name]["weighted"].values()), list(flow["weighted"].values()), rtol=1e-12
        )


def rewrite(source, target, **replace):
    """``source``'s tree with some branches replaced by other arrays (or dropped, with None), written by uproot."""
    tree = uproot.open(source)["mini"]
    columns = {k: v for k, v in tree.arrays(list(COLUMNS), library="ak", how=dict).items() if k != "lep_n"}
    lep = {k.removeprefix("lep_"): columns.pop(k) for k in list(columns) if k.startswith("lep_")}
    for name, value in replace.items():
        if name.startswith("lep_") and ak.Array(value).ndim == 2:
            lep[name.removeprefix("lep_")] = value
        else:
            lep.pop(name.removeprefix("lep_"), None)
            columns[name] = value
    columns = {k: v for k, v in columns.items() if v is not None}
    columns["lep"] = ak.zip(lep)
    with uproot.recreate(target) as f:
        f.mktree(
            "mini",
            {k: ak.Array(v).type.content for k, v in columns.items()},
            counter_name=lambda name: f"{name}_n",
            field_name=lambda outer, inner: f"{outer}_{inner}",
        )
        f["mini"].extend(columns)
    return target


def rewrite_counted(source: Path, target: Path, edit: dict[str, ak.Array] | None = None) -> Path:
    """The events of a real file rewritten by uproot: every jagged branch a counted array (``lep_pt[lep_n]``),
    counted by its object's counter where it agrees with it and by a counter of its own where not. ``edit``
    replaces branches."""
    tree = uproot.open(source)["mini"]
    arrays = tree.arrays(library="ak")
    columns = {name: arrays[name] for name in arrays.fields if not name.endswith("_n")} | (edit or {})
    counters = {}
    for name, array in columns.items():
        counter = f"{name.partition('_')[0]}_n"
        if array.ndim == 2:
            counters[name] = counter if ak.all(ak.num(array) == arrays[counter]) else f"{name}_n"
    with uproot.recreate(target) as f:
        types = {name: array.type.content for name, array in columns.items()}
        f.mktree("mini", types, counter_name=counters.__getitem__).extend(columns)
    return target


def strict_json(text: str) -> Any:
    """``text`` as a strict JSON parser reads it: ``NaN`` and ``Infinity`` refused."""

    def reject(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=reject)
