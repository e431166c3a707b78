"""The pipeline against the read limit, the usual uproot + awkward + vector loop and RDataFrame.

    python benchmarks/bench_pipeline.py [--scale 25] [--repeat 3] [--workers 2] [--chunksize 100000]
    python benchmarks/bench_pipeline.py --input FILESET.json   # e.g. real-format files (benchmarks/real_format.py)
    python benchmarks/bench_pipeline.py --baseline DIR         # also hzz4l's methods as DIR's code runs them

Generates demo samples at ``--scale`` (25 is about 2 M simulated events, the size of the real 4lep
set; cached under ``--data``), reads every file once (a warm page cache, as for a rerun), then runs
every method ``--repeat`` times, round robin, each run in a fresh process, and prints medians of
events/s, MB/s, CPU time (of all the method's processes, start-up included; on a shared machine steadier than the rates)
and peak memory (RSS, the largest process of the method) as ratios to the read limit.
events/s is timed from the fileset to the histograms, after the method's imports; the whole process,
imports and start-up (ROOT's JIT, a LocalCluster) included, is timed too. Every method except the
read limit must produce the same histograms (checked bin by bin against the first such method).
RDataFrame needs ``pip install -e ".[bench]"`` (the ``root`` package); without it those rows are
skipped. ``--input`` benchmarks another fileset instead of the demo: files in the release's own format
(``std::vector`` branches, ZLIB level 1), made from the shipped real files by ``benchmarks/real_format.py``.
``--baseline DIR`` runs hzz4l's methods a second time, in the same round robin, with the code of DIR (another
checkout: ``git archive main | tar -x -C DIR``), as rows ``METHOD@base``: a change measured against its base
in one run, on the same machine load, with the histograms of both checked bin by bin.

Methods:
  read       uproot reading and decompressing exactly the branches the processor uses
  iterative  hzz4l processor, coffea IterativeExecutor (reading each chunk while the one before is processed)
  serial     the same, reading each chunk when its turn comes (run_fileset(read_ahead=False)): what the
             read-ahead gives
  nominal    the same without the systematic variations (hzz4l run --no-systematics): what they cost
  futures    hzz4l processor, coffea FuturesExecutor with --workers processes
  dask       hzz4l processor, coffea DaskExecutor on a LocalCluster of --workers workers started by the run
             (what `hzz4l run --executor dask` does)
  dask-cluster  the same on a LocalCluster already running, started before the clock (what
             `hzz4l run --executor dask --scheduler ADDRESS` does on an existing cluster)
  awkward    uproot.iterate + awkward + vector, the style of the ATLAS outreach notebooks
  rdf        ROOT RDataFrame, one thread
  rdf-mt     ROOT RDataFrame with ImplicitMT on --workers threads
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from analysis.fileset import load_fileset
from processors.processor import COLUMNS, SCALE_FACTORS
from processors.selection import PRESETS
from processors.weights import normalisation

BRANCHES = list(COLUMNS)  # exactly the branches the processor reads
METHODS = ("read", "iterative", "serial", "nominal", "futures", "dask", "dask-cluster", "awkward", "rdf", "rdf-mt")
#: The methods that run hzz4l's code (those a --baseline checkout runs too), and those in one process.
HZZ4L_METHODS = ("iterative", "serial", "nominal", "futures", "dask", "dask-cluster")
ONE_PROCESS = ("iterative", "serial", "nominal")
LUMI_FB, BINS = 10.0, (34, 80.0, 250.0)


def norm(meta: dict[str, Any]) -> float:
    return 0.0 if meta["role"] == "data" else normalisation(LUMI_FB, meta["xsec"], meta["sumw"], meta["red_eff"])


# ------------------------------------------------------------------------------------------ methods


def run_read(fileset: dict, args: argparse.Namespace) -> dict[str, Any]:
    import uproot

    events = 0
    for entry in fileset.values():
        for path, tree in entry["files"].items():
            with uproot.open(path) as f:
                for arrays in f[tree].iterate(BRANCHES, step_size=args.chunksize):
                    events += len(arrays)
    return {"events": events, "histograms": None}


def run_coffea(fileset: dict, args: argparse.Namespace) -> dict[str, Any]:
    from analysis.runner import run_fileset
    from processors import HZZ4lProcessor, mass_histogram

    result = run_fileset(
        fileset,
        HZZ4lProcessor(lumi_fb=LUMI_FB, mass_bins=BINS, systematics=args.method != "nominal"),
        executor="iterative" if args.method in ONE_PROCESS else args.method.partition("-")[0],
        workers=args.workers,
        scheduler=args.scheduler,
        chunksize=args.chunksize,
        status=False,
        **({"read_ahead": False} if args.method == "serial" else {}),
    )
    h = mass_histogram(result.output["mass"])
    return {
        "events": result.events,
        "histograms": {name: h[name, :].values().tolist() for name in h.axes["dataset"]},
        "preflight_s": result.preflight_s,
        "process_s": result.process_s,
    }


def run_awkward(fileset: dict, args: argparse.Namespace) -> dict[str, Any]:
    """The outreach-notebook way: uproot.iterate, awkward cuts, vector four-vectors, numpy histogram."""
    import awkward as ak
    import uproot
    import vector

    cfg, edges = PRESETS["default"], np.linspace(BINS[1], BINS[2], BINS[0] + 1)
    events, histograms = 0, {}
    for name, entry in fileset.items():
        values = np.zeros(BINS[0])
        for chunk in uproot.iterate(entry["files"], BRANCHES, step_size=args.chunksize):
            events += len(chunk)
            batch = chunk[(chunk.trigE | chunk.trigM) & (ak.num(chunk.lep_pt) == 4)]
            pt, eta = batch.lep_pt, batch.lep_eta
            keep = (
                (ak.max(pt, axis=1) > cfg.lead_pt * 1000)
                & ak.all(pt > cfg.min_pt * 1000, axis=1)
                & ak.all(abs(eta) < cfg.max_abs_eta, axis=1)
            )
            keep = keep & np.isin(ak.sum(batch.lep_type, axis=1), cfg.flavour_sums)
            keep = keep & ak.all(batch.lep_ptcone30 / pt < cfg.max_ptcone30_rel, axis=1)
            keep = keep & ak.all(batch.lep_etcone20 / pt < cfg.max_etcone20_rel, axis=1)
            batch = batch[keep & (ak.sum(batch.lep_charge, axis=1) == cfg.charge_sum)]
            p4 = vector.zip(
                {
                    "pt": ak.values_astype(batch.lep_pt, np.float64),
                    "eta": ak.values_astype(batch.lep_eta, np.float64),
                    "phi": ak.values_astype(batch.lep_phi, np.float64),
                    "energy": ak.values_astype(batch.lep_E, np.float64),
                }
            )
            m4l = ak.to_numpy((p4[:, 0] + p4[:, 1] + p4[:, 2] + p4[:, 3]).mass) / 1000
            weight = np.ones(len(batch))
            if entry["metadata"]["role"] != "data":
                weight = norm(entry["metadata"]) * ak.to_numpy(batch.mcWeight).astype(np.float64)
                for sf in SCALE_FACTORS:
                    weight = weight * ak.to_numpy(batch[sf]).astype(np.float64)
            values += np.histogram(m4l, bins=edges, weights=weight)[0]
        histograms[name] = values.tolist()
    return {"events": events, "histograms": histograms}


def run_rdf(fileset: dict, args: argparse.Namespace) -> dict[str, Any]:
    import ROOT

    if args.method == "rdf-mt":
        ROOT.EnableImplicitMT(args.workers)
    cfg = PRESETS["default"]
    sums = " || ".join(f"s == {v}" for v in cfg.flavour_sums)
    results = {}
    for name, entry in fileset.items():
        weight = (
            "1.0"
            if entry["metadata"]["role"] == "data"
            else (
                f"{norm(entry['metadata'])!r} * (double)mcWeight * scaleFactor_PILEUP * scaleFactor_ELE * "
                "scaleFactor_MUON * scaleFactor_LepTRIGGER"
            )
        )
        df = ROOT.RDataFrame("mini", list(entry["files"]))
        selected = (
            df.Filter("trigE || trigM", "trigger")
            .Filter(f"lep_pt.size() == {cfg.n_leptons}", "four_leptons")
            .Filter(
                f"ROOT::VecOps::Max(lep_pt) > {cfg.lead_pt * 1000} && ROOT::VecOps::All(lep_pt > "
                f"{cfg.min_pt * 1000}) && ROOT::VecOps::All(abs(lep_eta) < {cfg.max_abs_eta})",
                "kinematics",
            )
            .Filter(f"auto s = ROOT::VecOps::Sum(lep_type); return {sums};", "flavour")
            .Filter(
                f"ROOT::VecOps::All(lep_ptcone30 / lep_pt < {cfg.max_ptcone30_rel}) && "
                f"ROOT::VecOps::All(lep_etcone20 / lep_pt < {cfg.max_etcone20_rel})",
                "isolation",
            )
            .Filter(f"ROOT::VecOps::Sum(lep_charge) == {cfg.charge_sum}", "charge")
            .Define(
                "m4l",
                "auto v = ROOT::VecOps::Construct<ROOT::Math::PtEtaPhiEVector>(ROOT::VecOps::RVec<double>"
                "(lep_pt), ROOT::VecOps::RVec<double>(lep_eta), ROOT::VecOps::RVec<double>(lep_phi), "
                "ROOT::VecOps::RVec<double>(lep_E)); return (v[0] + v[1] + v[2] + v[3]).M() / 1000.0;",
            )
            .Define("weight", weight)
        )
        results[name] = (df.Count(), selected.Histo1D(("m4l", "", BINS[0], BINS[1], BINS[2]), "m4l", "weight"))
    ROOT.RDF.RunGraphs([ptr for pair in results.values() for ptr in pair])
    histograms = {name: [h.GetBinContent(i + 1) for i in range(BINS[0])] for name, (_, h) in results.items()}
    return {"events": sum(int(count.GetValue()) for count, _ in results.values()), "histograms": histograms}


#: What each method imports; imported before the clock starts, so that events/s measures the processing
#: (the whole process, imports and start-up included, is the "wall incl. start-up" column).
IMPORTS = {
    "read": ("uproot",),
    "iterative": ("analysis.runner", "processors"),
    "serial": ("analysis.runner", "processors"),
    "nominal": ("analysis.runner", "processors"),
    "futures": ("analysis.runner", "processors"),
    # coffea's DaskExecutor imports dask.dataframe (and pandas) on its first call: about 1.5 s here
    "dask": ("analysis.runner", "processors", "distributed", "dask.dataframe"),
    "dask-cluster": ("analysis.runner", "processors", "distributed", "dask.dataframe"),
    "awkward": ("uproot", "awkward", "vector"),
    "rdf": ("ROOT",),
    "rdf-mt": ("ROOT",),
}

RUNNERS = {
    "read": run_read,
    "iterative": run_coffea,
    "serial": run_coffea,
    "nominal": run_coffea,
    "futures": run_coffea,
    "dask": run_coffea,
    "dask-cluster": run_coffea,
    "awkward": run_awkward,
    "rdf": run_rdf,
    "rdf-mt": run_rdf,
}


def child(args: argparse.Namespace) -> None:
    """One measurement in this process: print a JSON line."""
    from analysis.runner import local_cluster

    fileset = load_fileset(args.fileset)
    for module in IMPORTS[args.method]:
        importlib.import_module(module)
    with contextlib.ExitStack() as stack:
        args.scheduler = None
        if args.method == "dask-cluster":  # an existing cluster: started before the clock
            args.scheduler = stack.enter_context(local_cluster(args.workers)).scheduler_address
        start = time.perf_counter()
        out = RUNNERS[args.method](fileset, args)
        out["wall_s"] = time.perf_counter() - start
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    out["rss_mb"] = max(u.ru_maxrss for u in usage) / 1024
    out["cpu_s"] = sum(u.ru_utime + u.ru_stime for u in usage)  # the whole process's, start-up included
    print("RESULT " + json.dumps(out))


# ------------------------------------------------------------------------------------------ driver


def warm_page_cache(fileset: dict) -> None:
    """Read every file once, so that every method finds them in the page cache (as a rerun does)."""
    for entry in fileset.values():
        for path in entry["files"]:
            with open(path, "rb") as f:
                while f.read(1 << 24):
                    pass


def compressed_bytes(fileset: dict) -> int:
    import uproot

    total = 0
    for entry in fileset.values():
        for path, tree in entry["files"].items():
            with uproot.open(path) as f:
                total += sum(f[tree][b].compressed_bytes for b in BRANCHES)
    return total


def measure(method: str, args: argparse.Namespace, fileset_path: Path) -> dict[str, Any]:
    """One run of ``method`` in a fresh process; ``METHOD@base``: with the code of ``--baseline``."""
    name, _, base = method.partition("@")
    script = args.baseline / "benchmarks" / "bench_pipeline.py" if base else Path(__file__)
    command = [
        sys.executable,
        str(script),
        "--child",
        "--method",
        name,
        "--fileset",
        str(fileset_path),
        "--workers",
        str(args.workers),
        "--chunksize",
        str(args.chunksize),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    total = time.perf_counter() - start
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{method} failed:\n{done.stderr[-3000:]}")
    out = json.loads(line[len("RESULT ") :])
    out["whole_process_s"] = total
    return out


def same_histograms(reference: dict[str, list[float]], other: dict[str, list[float]]) -> bool:
    return set(reference) == set(other) and all(
        np.allclose(other[name], values, rtol=1e-9, atol=1e-12) for name, values in reference.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=25.0)
    parser.add_argument("--data", type=Path, help="folder for the demo samples (default /tmp/hzz4l-bench-SCALE)")
    parser.add_argument("--input", type=Path, help="a fileset JSON to benchmark instead of the demo samples")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=100_000)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--baseline", type=Path, help="a checkout whose hzz4l methods run too, as METHOD@base")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--fileset", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from analysis.demo import generate_demo

    folder = args.data or Path(f"/tmp/hzz4l-bench-{args.scale:g}")
    fileset_path = args.input or folder / "fileset.json"
    if args.input is None and not fileset_path.exists():
        print(f"generating demo samples at scale {args.scale:g} in {folder} ...", flush=True)
        generate_demo(folder, scale=args.scale)
    fileset = load_fileset(fileset_path)
    megabytes = compressed_bytes(fileset) / 1e6
    methods = [m for m in args.methods.split(",") if m]
    if {"rdf", "rdf-mt"} & set(methods):
        try:
            import ROOT  # noqa: F401
        except ImportError:
            print("ROOT is not installed (pip install -e '.[bench]'): skipping rdf and rdf-mt")
            methods = [m for m in methods if not m.startswith("rdf")]
    if args.baseline is not None:  # each hzz4l method next to its baseline's (which has no "serial")
        based = [m for m in HZZ4L_METHODS if m != "serial"]
        methods = [x for m in methods for x in ((m, f"{m}@base") if m in based else (m,))]

    warm_page_cache(fileset)
    # round robin: a drift of the machine during the benchmark affects every method alike
    rows: dict[str, list[dict[str, Any]]] = {method: [] for method in methods}
    for _ in range(args.repeat):
        for method in methods:
            rows[method].append(measure(method, args, fileset_path))
    reference = next(((m, runs[0]["histograms"]) for m, runs in rows.items() if runs[0]["histograms"]), None)
    for method, runs in rows.items():
        print(f"  {method}: {[round(r['wall_s'], 2) for r in runs]} s", flush=True)
        for run in runs:
            if run["histograms"] is not None and not same_histograms(reference[1], run["histograms"]):
                raise SystemExit(f"{method} does not reproduce the histograms of {reference[0]}: its numbers are void")

    events = rows[methods[0]][0]["events"]
    print(
        f"\n{events:,} events, {megabytes:.1f} MB compressed in the {len(BRANCHES)} branches used, "
        f"chunks of {args.chunksize:,}, {args.workers} workers where parallel; medians of {args.repeat} runs\n"
    )
    base = statistics.median(r["wall_s"] for r in rows["read"]) if "read" in rows else None
    header = (
        "| method | events/s | MB/s | × read limit | wall incl. start-up [s] | CPU [s] | peak RSS [MB] |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    print(header)
    for method, runs in rows.items():
        wall = statistics.median(r["wall_s"] for r in runs)
        whole = statistics.median(r["whole_process_s"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        ratio = f"{base / wall:.2f}" if base else "–"
        cpu = f"{statistics.median(r['cpu_s'] for r in runs):.2f}" if "cpu_s" in runs[0] else "–"  # a baseline's: none
        print(
            f"| {method} | {events / wall:,.0f} | {megabytes / wall:.1f} | {ratio} | {whole:.2f} | {cpu} | {rss:.0f} |"
        )

    walls = {method: statistics.median(r["wall_s"] for r in runs) for method, runs in rows.items()}
    print()
    if {"iterative", "nominal"} <= set(walls):
        cost = walls["iterative"] / walls["nominal"]
        print(f"systematic variations: {cost:.2f} × the nominal-only time (target ≤ 1.5)")
    for method in ("futures", "dask", "dask-cluster"):
        if {method, "iterative"} <= set(walls):
            print(f"{method}, {args.workers} workers: {walls['iterative'] / walls[method]:.2f} × the iterative rate")
    if {"iterative", "serial"} <= set(walls):
        print(f"read-ahead: iterative at {walls['serial'] / walls['iterative']:.2f} × the rate of serial")
    for method in HZZ4L_METHODS:
        if {method, f"{method}@base"} <= set(walls):
            print(f"{method}: {walls[f'{method}@base'] / walls[method]:.2f} × the rate of its baseline")

    coffea = {m: runs for m, runs in rows.items() if "preflight_s" in runs[0]}
    if coffea:
        print(
            "\nWhere the hzz4l time goes (medians; process() per worker: summed over the chunks, divided by the\n"
            "workers):\n\n"
            "| method | run [s] | file checks [s] | process() per worker [s] | reading, coffea and the rest [s] |\n"
            "|---|---:|---:|---:|---:|"
        )
        for method, runs in coffea.items():
            workers = 1 if method.partition("@")[0] in ONE_PROCESS else args.workers
            parts = [(r["wall_s"], r["preflight_s"], r["process_s"] / workers) for r in runs]
            wall, checks, work = (statistics.median(p[i] for p in parts) for i in range(3))
            rest = statistics.median(w - c - p for w, c, p in parts)
            print(f"| {method} | {wall:.2f} | {checks:.2f} | {work:.2f} | {rest:.2f} |")


if __name__ == "__main__":
    main()
