"""Write the results of a run: ``histograms.root``, ``histograms.coffea``, ``summary.json``, plots.

Every file is written to a temporary name and renamed into place, so an interrupted run never
leaves a half-written file that looks valid.

Example:
    >>> summary = write_outputs(result, fileset, processor, "default", "results")  # doctest: +SKIP
    >>> print(cutflow_table(summary))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hist
import numpy as np
import uproot

from analysis.fileset import is_synthetic, roles
from analysis.samples import missing_samples

if TYPE_CHECKING:
    from analysis.runner import RunResult
    from processors import HZZ4lProcessor

__all__ = [
    "ResultsError",
    "atomic_path",
    "build_summary",
    "cutflow_table",
    "read_histograms",
    "write_outputs",
]


class ResultsError(ValueError):
    """A results folder that cannot be read back; the message names the file and the problem."""


_UMASK = os.umask(0)
os.umask(_UMASK)

VERSIONED = ("hzz4l", "coffea", "uproot", "awkward", "hist", "dask", "distributed", "numpy", "scipy")


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def build_summary(
    result: RunResult,
    fileset: dict[str, Any],
    proc: HZZ4lProcessor,
    preset: str,
    fileset_path: str | None = None,
) -> dict[str, Any]:
    """The run summary: configuration, per-dataset counts, yields and cutflow, metrics, versions."""
    histogram = result.output["mass"]
    datasets = {}
    for name, role in roles(fileset).items():
        flow = result.output["cutflow"].get(name, {"events": {}, "weighted": {}})
        events = flow["events"]
        datasets[name] = {
            "role": role,
            "events": int(result.output["processed"].get(name, 0)),
            "selected": int(list(events.values())[-1]) if events else 0,
            "yield": float(histogram[name, :].sum().value) if name in histogram.axes["dataset"] else 0.0,
            "cutflow": {cut: {"events": int(n), "weighted": float(flow["weighted"][cut])} for cut, n in events.items()},
        }
    nbins, low, high = proc.mass_bins
    synthetic = is_synthetic(fileset)
    truth = next((e["metadata"]["truth"] for e in fileset.values() if "truth" in e["metadata"]), None)
    return {
        "source": "synthetic demo" if synthetic else "ATLAS Open Data",
        "synthetic": synthetic,
        **({"truth": truth} if synthetic and truth is not None else {}),
        "missing_samples": missing_samples(fileset),
        "lumi_fb": proc.lumi_fb,
        "preset": preset,
        "selection": proc.selection.to_dict(),
        "mass_bins": {"nbins": nbins, "low": low, "high": high, "unit": "GeV"},
        "executor": result.executor,
        "fileset": fileset_path,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "datasets": datasets,
        "skipped_files": [skipped.to_dict() for skipped in result.skipped],
        "lost_events": dict(result.lost_events),
        "metrics": {
            "wall_s": result.wall_s,
            "events": result.events,
            "events_per_s": result.events_per_s,
            "bytes_read": result.bytes_read,
            "preflight_s": result.preflight_s,
            "process_s": result.process_s,
        },
        "versions": {name: _version(name) for name in VERSIONED},
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def write_outputs(
    result: RunResult,
    fileset: dict[str, Any],
    proc: HZZ4lProcessor,
    preset: str,
    output: str | os.PathLike[str],
    fileset_path: str | None = None,
) -> dict[str, Any]:
    """Write every output of a run into ``output``; return the summary written to ``summary.json``."""
    from coffea.util import save as coffea_save

    from analysis.plots import plot_m4l
    from analysis.style import save

    output = Path(output)
    summary = build_summary(result, fileset, proc, preset, fileset_path)
    histogram = result.output["mass"]
    with atomic_path(output / "histograms.root") as tmp, uproot.recreate(tmp) as f:
        for name in summary["datasets"]:
            if name in histogram.axes["dataset"]:
                f[f"m4l/{name}"] = histogram[name, :]
    with atomic_path(output / "histograms.coffea") as tmp:
        coffea_save(result.output, tmp)
    with atomic_path(output / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    figure = plot_m4l(
        histogram,
        roles(fileset),
        proc.lumi_fb,
        synthetic=summary["synthetic"],
        missing=summary["missing_samples"],
    )
    save(figure, output / "plots" / "m4l")
    return summary


def cutflow_table(summary: dict[str, Any]) -> str:
    """A plain-text cutflow: raw events after each cut per dataset, and the weighted yield."""
    datasets = summary["datasets"]
    cuts = next((list(d["cutflow"]) for d in datasets.values() if d["cutflow"]), [])
    width = max([len(n) for n in datasets] + [7])
    header = f"{'dataset':<{width}} {'role':<10} " + " ".join(f"{c:>12}" for c in cuts) + f" {'yield':>10}"
    lines = [header, "-" * len(header)]
    for name, d in datasets.items():
        counts = " ".join(f"{d['cutflow'][c]['events']:>12d}" if c in d["cutflow"] else f"{'-':>12}" for c in cuts)
        lines.append(f"{name:<{width}} {d['role']:<10} {counts} {d['yield']:>10.3f}")
    lo, hi = summary["mass_bins"]["low"], summary["mass_bins"]["high"]
    lines.append(f"yield: weighted events with {lo:g} < m4l < {hi:g} GeV at {summary['lumi_fb']:g} fb^-1")
    if summary.get("synthetic"):
        lines.append("SYNTHETIC DEMO: these are generated events, not ATLAS data")
    if summary.get("missing_samples"):
        lines.append(f"prediction incomplete: the fileset lacks {', '.join(summary['missing_samples'])}")
    return "\n".join(lines)


def read_histograms(results: str | os.PathLike[str]) -> tuple[hist.Hist, dict[str, str], float]:
    """Read ``histograms.root`` (TH1D per dataset at ``m4l/<dataset>``) and the roles and luminosity
    in ``summary.json`` of a results folder, whatever tool wrote them.

    Returns ``(Hist(dataset, mass), {dataset: role}, lumi_fb)``.

    Raises:
        ResultsError: a file is missing or unreadable, a dataset has no histogram, binnings differ.
    """
    results = Path(results)
    summary_path, root_path = results / "summary.json", results / "histograms.root"
    try:
        summary = json.loads(summary_path.read_text())
        roles_ = {name: entry["role"] for name, entry in summary["datasets"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ResultsError(f"{summary_path}: cannot read the dataset roles: {err}") from None
    try:
        root = uproot.open(root_path)
    except (OSError, ValueError) as err:
        raise ResultsError(f"{root_path}: cannot open: {err}") from None
    with root:
        histograms = {}
        for name in roles_:
            key = f"m4l/{name}"
            if key not in root:
                raise ResultsError(f"{root_path}: no histogram '{key}' for dataset '{name}' of summary.json")
            histograms[name] = root[key]
        reference_name, reference = next(iter(histograms.items()))
        edges = reference.axis().edges()
        for name, th1 in histograms.items():
            other = th1.axis().edges()
            if other.shape != edges.shape or not np.allclose(other, edges):
                raise ResultsError(
                    f"{root_path}: dataset '{name}' has binning {len(other) - 1} bins [{other[0]:g}, {other[-1]:g}] "
                    f"unlike '{reference_name}' ({len(edges) - 1} bins [{edges[0]:g}, {edges[-1]:g}])"
                )
        out = hist.Hist(
            hist.axis.StrCategory(list(histograms), name="dataset", growth=True),
            hist.axis.Variable(edges, name="mass", label=r"$m_{4\ell}$ [GeV]"),
            storage=hist.storage.Weight(),
        )
        for name, th1 in histograms.items():
            out[name, :] = np.stack([th1.values(), th1.variances()], axis=-1)
    return out, roles_, float(summary.get("lumi_fb", 10.0))
