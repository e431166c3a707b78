"""The files of a results folder: writing them as a set, reading them back.

``hzz4l run`` writes ``histograms.root``, ``histograms.coffea``, ``summary.json`` and ``plots/m4l.*``;
``hzz4l fit`` adds ``fit.json`` and its plots; ``hzz4l report`` adds ``report.html``; ``hzz4l demo``
writes ROOT files and ``fileset.json``. Each command writes through :func:`publish`, which guarantees:

* nothing it did not make is ever overwritten or deleted: the folder's record of what hzz4l wrote
  (:data:`MANIFEST`, ``.hzz4l-outputs.json``) says which files are hzz4l's, and a file in the way that is
  not in it stops the command before any work (:func:`check_output`) and again before any file is moved;
* the outputs are replaced as a set: everything is written to a private staging folder first, then, with
  SIGINT and SIGTERM held back, the previous outputs of the command and every result derived from them
  (a new run removes the old fit, its plots and the report; a new fit removes the report) are removed and
  the new files renamed into place. A failure or an interrupt before that leaves the folder as it was,
  and no temporary file behind.

Example:
    >>> summary = write_outputs(result, fileset, processor, "default", "results", plots=False)
    >>> print(cutflow_table(summary))  # doctest: +ELLIPSIS
    dataset ... yield
    ...
    SYNTHETIC DEMO: these are generated events, not ATLAS data
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

import hist
import numpy as np
import uproot
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.errors import HZZ4lError, read_limited
from analysis.fileset import FilesetError, is_synthetic, roles
from analysis.inputs import one_line
from analysis.interrupts import held
from analysis.samples import missing_samples, process_groups
from analysis.summary import SCHEMA_VERSION as SUMMARY_SCHEMA_VERSION
from analysis.summary import ResultsError, Roles, Summary, first_error, read_json, read_summary
from processors.histograms import CHANNELS, CONTROL_AXES, VARIATIONS, Histogram, mass_histogram, project, total

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from analysis.render import Renderer
    from analysis.runner import RunResult
    from processors import HZZ4lProcessor

__all__ = [
    "MANIFEST",
    "RUN_OUTPUTS",
    "RUN_PDFS",
    "Manifest",
    "OutputError",
    "ResultsError",
    "atomic_path",
    "build_summary",
    "cabinetry_config",
    "check_datasets",
    "check_output",
    "cutflow_table",
    "publish",
    "read_histograms",
    "read_m4l",
    "read_manifest",
    "read_summary",
    "read_variations",
    "root_histograms",
    "run_figures",
    "write_outputs",
    "writing",
]

#: The record, in every folder hzz4l writes to, of the files it wrote there.
MANIFEST = ".hzz4l-outputs.json"

#: The plots of a run: m4l of all channels and of each, and the control distributions.
RUN_PLOTS = ("m4l", *(f"m4l_{channel}" for channel in CHANNELS), *CONTROL_AXES)

#: What ``hzz4l run`` writes, relative to its output folder.
RUN_OUTPUTS = (
    "histograms.root",
    "histograms.coffea",
    "summary.json",
    "cabinetry.yml",
    *(f"plots/{name}.png" for name in RUN_PLOTS),
)
#: What ``hzz4l run --pdf`` writes besides.
RUN_PDFS = tuple(f"plots/{name}.pdf" for name in RUN_PLOTS)

#: The channels' names in plots.
CHANNEL_LABELS = {"4e": "4e channel", "4mu": "4$\\mu$ channel", "2e2mu": "2e2$\\mu$ channel"}

#: The commands whose outputs a command's new outputs make stale (and so replaces or removes).
#: What an hzz4l command is, for the record of the files it wrote.
Command = Literal["demo", "run", "fit", "report"]

STALE_AFTER: dict[Command, tuple[Command, ...]] = {
    "demo": ("demo",),
    "run": ("run", "fit", "report"),
    "fit": ("fit", "report"),
    "report": ("report",),
}


class OutputError(HZZ4lError):
    """An output folder that cannot be written, or that holds a file in the way that hzz4l did not make."""


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


# ------------------------------------------------------------------------------------------ the manifest


class _Made(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    command: Command
    run: str | None = None  # the run the file was made from (demo files: None)


class Manifest(BaseModel):
    """What hzz4l wrote in a folder: ``files`` maps paths relative to it (``plots/m4l.png``) to the command
    that wrote each and the run it derives from; ``run`` is the id of the run whose outputs are there."""

    model_config = ConfigDict(strict=True, extra="forbid")
    format: Literal[1] = 1
    run: str | None = None
    files: dict[str, _Made] = Field(default_factory=dict)


def _inside(folder: Path, name: str) -> bool:
    """Whether ``name`` is a plain relative path that stays inside ``folder``."""
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts and str(pure) == name


def read_manifest(folder: str | os.PathLike[str]) -> Manifest:
    """The record of what hzz4l wrote in ``folder`` (empty if there is none).

    Raises:
        OutputError: the record is unreadable, or names a path outside the folder.
    """
    path = Path(folder) / MANIFEST
    try:
        text = read_limited(path)
    except (FileNotFoundError, NotADirectoryError):
        return Manifest()
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    try:
        manifest = Manifest.model_validate_json(text)
    except ValidationError as err:
        raise OutputError(f"{path}: not hzz4l's record of its files ({first_error(err)})") from None
    outside = next((name for name in manifest.files if not _inside(Path(folder), name)), None)
    if outside is not None:
        raise OutputError(f"{path}: names {outside!r}, which is not a path inside the folder")
    return manifest


def _foreign(folder: Path, manifest: Manifest, names: Iterable[str]) -> str | None:
    """The first of ``names`` that exists in ``folder`` but was not written by hzz4l (or cannot be a file), or a
    folder on its way that is not hzz4l's to write in: a file, or a symbolic link (``plots`` linked to a folder of
    someone else's, whose ``m4l.png`` is not the file hzz4l wrote)."""
    for name in names:
        target = folder / name
        for parent in list(reversed(target.parents))[len(folder.parents) + 1 :]:
            if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                return str(parent.relative_to(folder))
        if (target.exists() or target.is_symlink()) and (name not in manifest.files or target.is_dir()):
            return name
    return None


def check_output(
    folder: str | os.PathLike[str], names: Iterable[str] = (*RUN_OUTPUTS, *RUN_PDFS), only_for: str | None = None
) -> None:
    """Check, before any work, that the outputs ``names`` can be written into ``folder``: it is (or can be made)
    a folder we can write in, and none of ``names`` is there unless hzz4l wrote it. With ``only_for``
    (``"demo"``), a folder that is not empty must already hold outputs of that command.

    Raises:
        OutputError: naming the folder or file and the problem.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if (
        only_for
        and folder.is_dir()
        and any(folder.iterdir())
        and not any(made.command == only_for for made in read_manifest(folder).files.values())
    ):
        raise OutputError(
            f"{folder}: is not empty and holds no earlier 'hzz4l {only_for}' output: "
            "give a new or empty folder (nothing was written)"
        )
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot be made: {existing} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".hzz4l-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(f"{folder}: cannot write in {existing}: {err.strerror}") from None
    if folder.is_dir():
        foreign = _foreign(folder, read_manifest(folder), names)
        if foreign is not None:
            raise OutputError(
                f"{folder / foreign}: is in the way and was not written by hzz4l; move it or choose another output"
            )


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Name ``path`` in an ``OSError`` of the block that names no file (a failed ``write()`` does not: disk full)."""
    try:
        yield path
    except OSError as err:
        err.filename = err.filename or str(path)
        raise


#: The top-level keys of a HistFactory workspace (pyhf's ``workspace.json`` schema).
WORKSPACE_KEYS = frozenset({"channels", "measurements", "observations", "version"})


def check_workspace_target(path: str | os.PathLike[str]) -> None:
    """Check, before any work, that a HistFactory workspace may be written to ``path``: it does not exist, or it
    is a workspace already (an earlier ``--workspace`` that the new one replaces), never another file.

    Raises:
        OutputError: naming the file and the problem.
    """
    path = Path(path)
    if not path.exists():
        return
    if not path.is_file():
        raise OutputError(f"{path}: exists and is not a file (nothing was written)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if not (isinstance(document, dict) and document.keys() >= WORKSPACE_KEYS):
        raise OutputError(
            f"{path}: exists and is not a HistFactory workspace: hzz4l replaces only an earlier workspace "
            "(nothing was written)"
        )


def _staged_files(stage: Path) -> list[str]:
    return sorted(str(p.relative_to(stage).as_posix()) for p in stage.rglob("*") if p.is_file())


@contextlib.contextmanager
def publish(folder: str | os.PathLike[str], command: Command, run: str | None = None) -> Iterator[Path]:
    """Yield a private staging folder for ``command``'s outputs; when the block succeeds, they replace, as one
    step, the outputs of ``command`` in ``folder`` and everything derived from them (:data:`STALE_AFTER`).

    ``run``: the id of a new run (``command == "run"``); the outputs of ``fit`` and ``report`` are recorded as
    derived from the run already in the folder.

    Two commands publishing into one folder at the same time take turns: the folder is locked (``flock``) from
    the staging to the commit, so that neither loses the other's record of what it wrote.

    Raises:
        OutputError: the folder cannot be written, a file in the way was not written by hzz4l, or writing
            failed (disk full, ...); the folder is then left as it was.
    """
    folder = Path(folder)
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = os.open(folder, os.O_RDONLY)
    except OSError as err:
        raise OutputError(f"{err.filename or folder}: cannot write: {err.strerror}") from None
    committed, stage = False, None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the descriptor is closed, also by a killed process
        manifest = read_manifest(folder)
        try:
            stage = Path(tempfile.mkdtemp(prefix=".hzz4l-staging-", dir=folder))
        except OSError as err:
            raise OutputError(f"{err.filename or folder}: cannot write: {err.strerror}") from None
        try:
            yield stage
        except OSError as err:  # disk full, quota, read-only: name the output, never the staging folder
            where = Path(err.filename) if isinstance(err.filename, str) else folder
            where = folder / where.relative_to(stage) if where.is_relative_to(stage) else where
            raise OutputError(f"{where}: cannot write the outputs: {err.strerror or err}") from None
        names = _staged_files(stage)
        stale = [name for name, made_by in manifest.files.items() if made_by.command in STALE_AFTER[command]]
        foreign = _foreign(folder, manifest, [*names, *stale])
        if foreign is not None:
            raise OutputError(f"{folder / foreign}: is in the way and was not written by hzz4l; nothing was replaced")
        source = run if command == "run" else manifest.run if command in ("fit", "report") else None
        files = {name: made_by for name, made_by in manifest.files.items() if name not in stale}
        files |= {name: _Made(command=command, run=source) for name in names}
        record = Manifest(run=run if command == "run" else manifest.run, files=files)
        with held():
            try:
                for name in stale:
                    target = folder / name
                    if target.is_file() or target.is_symlink():
                        target.unlink()
                for name in names:
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(stage / name, folder / name)
                with atomic_path(folder / MANIFEST) as tmp:
                    tmp.write_text(record.model_dump_json(indent=1) + "\n", encoding="utf-8")
            except OSError as err:
                raise OutputError(f"{err.filename or folder}: cannot write: {err.strerror or err}") from None
        committed = True
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        os.close(lock)
        if not committed:
            for path in made:
                with contextlib.suppress(OSError):
                    path.rmdir()  # only folders this call made, and only if they are still empty


# ------------------------------------------------------------------------------------------ run outputs


def build_summary(
    result: RunResult,
    fileset: dict[str, Any],
    proc: HZZ4lProcessor,
    preset: str,
    fileset_path: str | None = None,
) -> Summary:
    """The run summary (``summary.json``): configuration, per-dataset counts, yields (all channels and per channel)
    and cutflow, metrics, versions."""
    histogram = mass_histogram(result.output["mass"])
    channels = [c for c in CHANNELS if c in result.output["mass"].axes["channel"]]
    by_channel = {channel: mass_histogram(result.output["mass"], channel=channel) for channel in channels}
    datasets = {}
    for name, role in roles(fileset).items():
        flow = result.output["cutflow"].get(name, {"events": {}, "weighted": {}})
        events = flow["events"]
        datasets[name] = {
            "role": role,
            "events": int(result.output["processed"].get(name, 0)),
            "selected": int(list(events.values())[-1]) if events else 0,
            "yield": total(project(histogram, {"dataset": name})) if name in histogram.axes["dataset"] else 0.0,
            "yield_by_channel": {
                channel: total(project(projected, {"dataset": name})) if name in histogram.axes["dataset"] else 0.0
                for channel, projected in by_channel.items()
            },
            "cutflow": {cut: {"events": int(n), "weighted": float(flow["weighted"][cut])} for cut, n in events.items()},
        }
    nbins, low, high = proc.mass_bins
    synthetic = is_synthetic(fileset) or result.synthetic
    truth = next((e["metadata"]["truth"] for e in fileset.values() if "truth" in e["metadata"]), None)
    document = {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "run_id": uuid.uuid4().hex,
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
    # through JSON, as a reader gets it: what is written is what the schema says
    return Summary.model_validate_json(json.dumps(document))


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _require_finite(output: dict[str, Any], datasets: Iterable[str]) -> None:
    """Refuse to write histograms with a NaN or infinite bin, naming the dataset and the histogram."""
    for key in ("mass", *CONTROL_AXES):
        histogram = output[key]
        view = histogram.view(flow=True)
        bad = ~(np.isfinite(view.value) & np.isfinite(view.variance))
        if not bad.any():  # one look at the whole histogram; which dataset only when one is bad
            continue
        rows = set(np.nonzero(bad)[histogram.axes.name.index("dataset")].tolist())
        axis = histogram.axes["dataset"]
        for name in datasets:
            if name in axis and axis.index(name) in rows:
                raise ResultsError(
                    f"dataset '{name}': its {key} histogram has NaN or infinite bins; nothing was written"
                )


def root_histograms(output: dict[str, Any], roles_: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """The one-dimensional histograms of ``histograms.root``, as ``(key, TH1D)`` for uproot to write, in the layout
    of HistFactory inputs (``<region>/<sample><variation>``, which cabinetry reads with the path template
    ``{RegionPath}/{SamplePath}{VariationPath}``):

    * ``m4l/<dataset>``: m4l of all channels, nominal (what ``hzz4l fit`` reads); ``m4l_<channel>/<dataset>``:
      of one channel;
    * ``m4l/<dataset>_<variation>`` and ``m4l_<channel>/<dataset>_<variation>``: the systematic variations of
      every simulated dataset (data have none);
    * ``z1_mass/<dataset>``, ``z2_mass/<dataset>``, ``lepton_pt/<dataset>``, ``lepton_eta/<dataset>``: the control
      distributions of all channels.

    Each is the TH1D uproot makes of the 1-D ``hist.Hist`` (e.g. ``mass_histogram(mass)[dataset, :]``), built from
    one view of each histogram rather than ~300 projections and conversions.
    """
    mass = output["mass"]
    regions = {"m4l": None, **{f"m4l_{channel}": channel for channel in mass.axes["channel"]}}
    by_channel = _by_channel(mass)  # (dataset, variation, mass) arrays per region's channel
    controls = {key: _by_channel(output[key])[None] for key in CONTROL_AXES}  # (dataset, x), all channels
    for name, role in roles_.items():
        if name not in mass.axes["dataset"]:
            continue
        row = mass.axes["dataset"].index(name)
        for region, channel in regions.items():
            value, variance = by_channel[channel]
            for variation in mass.axes["variation"]:
                if variation != "nominal" and role == "data":
                    continue
                k = mass.axes["variation"].index(variation)
                suffix = "" if variation == "nominal" else f"_{variation}"
                yield f"{region}/{name}{suffix}", _th1(value[row, k], variance[row, k], mass.axes["mass"])
        for key, (value, variance) in controls.items():
            row = output[key].axes["dataset"].index(name)
            yield f"{key}/{name}", _th1(value[row], variance[row], output[key].axes[-1])


def _by_channel(histogram: Histogram) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
    """Values and variances (with flow bins) of ``histogram`` summed over the channels (key ``None``) and of each."""
    value, variance = histogram.values(flow=True), histogram.variances(flow=True)
    assert variance is not None  # Weight storage
    summed: dict[str | None, tuple[np.ndarray, np.ndarray]] = {None: (value.sum(axis=1), variance.sum(axis=1))}
    for k, channel in enumerate(histogram.axes["channel"]):
        summed[channel] = value[:, k], variance[:, k]
    return summed


def _th1(value: np.ndarray, variance: np.ndarray, axis: Any) -> Any:
    """The TH1D of the bin contents ``value`` and ``variance`` (with flow bins) on ``axis``, with the statistics
    uproot gives a ``hist.Hist`` (entries with flow, sums of weights and of weighted x without)."""
    from uproot.writing.identify import to_TAxis, to_TH1x

    edges, inner, centres = axis.edges, value[1:-1], axis.centers
    return to_TH1x(
        fName=None,
        fTitle="",
        data=value.astype(">f8"),
        fEntries=value.sum(),
        fTsumw=inner.sum(),
        fTsumw2=inner.sum(),
        fTsumwx=(inner * centres).sum(),
        fTsumwx2=(inner * centres**2).sum(),
        fSumw2=variance.astype(">f8"),
        fXaxis=to_TAxis("xaxis", axis.label, len(axis), edges[0], edges[-1], np.array([], dtype=">f8")),
    )


def cabinetry_config(summary: Summary, mass: Histogram) -> dict[str, Any]:
    """A cabinetry configuration (histogram inputs) of ``histograms.root``: one region per channel, one sample per
    dataset (cabinetry reads one histogram per sample; a dataset takes part in the channels where it predicts
    events, since cabinetry normalises shape variations by the nominal yield), the normfactors s_s and s_b, a
    shape systematic per
    variation and the normalisation uncertainties of :data:`fitting.systematics.NORMALISATIONS` on the datasets of
    their process groups (cabinetry adds the simulation's statistical uncertainty itself).
    ``cabinetry.templates.collect``, ``cabinetry.workspace.build`` and the rest of cabinetry take it from there."""
    from fitting.systematics import NORMALISATIONS, shape_systematics

    roles_: dict[str, str] = {name: entry.role for name, entry in summary.datasets.items()}
    groups = process_groups(roles_)
    channels = [c for c in CHANNELS if c in mass.axes["channel"]]
    datasets = set(mass.axes["dataset"])

    def predicts(name: str, channel: str) -> bool:
        index = {"dataset": name, "channel": channel, "variation": "nominal"}
        return name in datasets and total(project(mass, index)) != 0

    regions = {name: [f"m4l_{c}" for c in channels if predicts(name, c)] for name in groups}
    simulated = [name for name in groups if regions[name]]
    signal = [name for name in simulated if roles_[name] == "signal"]
    background = [name for name in simulated if name not in signal]
    shapes = shape_systematics(VARIATIONS)
    return {
        "General": {
            "Measurement": "hzz4l",
            "POI": "s_s",
            "InputPath": "histograms.root:{RegionPath}/{SamplePath}{VariationPath}",
            "HistogramFolder": "cabinetry_histograms/",
            "VariationPath": "",
        },
        "Regions": [{"Name": f"m4l_{channel}", "RegionPath": f"m4l_{channel}"} for channel in channels],
        "Samples": [
            *({"Name": name, "SamplePath": name, "Data": True} for name, role in roles_.items() if role == "data"),
            *({"Name": name, "SamplePath": name, "Regions": regions[name]} for name in simulated),
        ],
        "NormFactors": [
            {"Name": "s_s", "Samples": signal, "Nominal": 1.0, "Bounds": [0.0, 10.0]},
            {"Name": "s_b", "Samples": background, "Nominal": 1.0, "Bounds": [0.0, 10.0]},
        ],
        "Systematics": [
            *(
                {
                    "Name": name,
                    "Type": "NormPlusShape",
                    "Up": {"VariationPath": f"_{name}_up"},
                    "Down": {"VariationPath": f"_{name}_down"},
                    "Samples": simulated,
                }
                for name in shapes
            ),
            *(
                {
                    "Name": name,
                    "Type": "Normalization",
                    "Up": {"Normalization": norm.size},
                    "Down": {"Normalization": -norm.size},
                    "Samples": [n for n in simulated if norm.samples is None or groups[n] in norm.samples],
                }
                for name, norm in NORMALISATIONS.items()
            ),
        ],
    }


def run_figures(
    output: dict[str, Any], roles_: dict[str, str], lumi_fb: float, synthetic: bool = False, missing: Sequence[str] = ()
) -> dict[str, Callable[[], Figure]]:
    """The plots of a run (:data:`RUN_PLOTS`), by name, each drawn when called: m4l of all channels and of each,
    and the control distributions."""
    from analysis.plots import plot_stack

    plot = functools.partial(plot_stack, roles=roles_, lumi_fb=lumi_fb, synthetic=synthetic, missing=missing)
    mass = output["mass"]
    figures: dict[str, Callable[[], Figure]] = {"m4l": functools.partial(plot, mass_histogram(mass))}
    for channel in (c for c in CHANNELS if c in mass.axes["channel"]):
        projected = mass_histogram(mass, channel=channel)
        figures[f"m4l_{channel}"] = functools.partial(plot, projected, note=CHANNEL_LABELS[channel])
    for key in CONTROL_AXES:
        figures[key] = functools.partial(plot, project(output[key], {"channel": sum}))
    return figures


def check_datasets(datasets: Iterable[str], where: str = "fileset") -> None:
    """Check, before any work, that the datasets' histograms get keys of their own in ``histograms.root``: a
    dataset named ``<other>_<variation>`` (``Zee_lep_scale_up`` beside ``Zee``) would be written to the key of that
    variation of the other, and a reader would take one for the other.

    Raises:
        FilesetError: naming ``where``, both datasets and the key.
    """
    names = set(datasets)
    for name in sorted(names):
        for variation in VARIATIONS[1:]:
            clash = f"{name}_{variation}"
            if clash in names:
                raise FilesetError(
                    f"{where}: dataset '{clash}' has the name of the '{variation}' variation of dataset '{name}' "
                    f"(histograms.root: m4l/{clash}): rename it"
                )


def write_outputs(
    result: RunResult,
    fileset: dict[str, Any],
    proc: HZZ4lProcessor,
    preset: str,
    output: str | os.PathLike[str],
    fileset_path: str | None = None,
    formats: Sequence[str] = ("png",),
    renderer: Renderer | None = None,
    plots: bool = True,
    meanwhile: Callable[[Path], None] | None = None,
) -> Summary:
    """Write every output of a run into ``output`` as one set (see :func:`publish`); return the summary written
    to ``summary.json``. The plots (unless not ``plots``) are saved in ``formats`` (``"png"``, ``"pdf"``), drawn by
    ``renderer``'s worker processes if one is given (see :mod:`analysis.render`), else here. ``meanwhile`` is
    called with the staging folder once the run's files are in it, while the workers draw (``hzz4l run --fit``
    fits there); the outputs are published after it returns."""
    import yaml
    from coffea.util import save as coffea_save

    from analysis.render import render

    check_datasets(fileset, fileset_path or "fileset")
    summary = build_summary(result, fileset, proc, preset, fileset_path)
    _require_finite(result.output, summary.datasets)
    roles_ = roles(fileset)
    figures = ("analysis.outputs:run_figures", (result.output, roles_, proc.lumi_fb, summary.synthetic,
               summary.missing_samples))  # fmt: skip
    with (
        publish(output, "run", run=summary.run_id) as stage,
        renderer.stopped_on_error() if renderer else contextlib.nullcontext(),
    ):
        if renderer is not None:  # drawn while the files below are written
            renderer.submit(*figures, stage / "plots", formats)
        with writing(stage / "histograms.root") as path, uproot.recreate(path) as f:
            f.update(root_histograms(result.output, roles_))  # one update of the file's streamers, not one per key
        with writing(stage / "histograms.coffea") as path:
            coffea_save(result.output, path)
        with writing(stage / "summary.json") as path:
            path.write_text(summary.to_json(), encoding="utf-8")
        with writing(stage / "cabinetry.yml") as path:
            config = cabinetry_config(summary, result.output["mass"])
            path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        if meanwhile is not None:
            meanwhile(stage)
        if renderer is not None:
            renderer.wait()
        elif plots:
            render(*figures, stage / "plots", formats)
    return summary


def cutflow_table(summary: Summary) -> str:
    """A plain-text cutflow: raw events after each cut per dataset, and the weighted yield."""
    datasets = summary.datasets
    cuts = next((list(d.cutflow) for d in datasets.values() if d.cutflow), [])
    width = max([len(n) for n in datasets] + [7])
    header = f"{'dataset':<{width}} {'role':<10} " + " ".join(f"{c:>12}" for c in cuts) + f" {'yield':>10}"
    lines = [header, "-" * len(header)]
    for name, d in datasets.items():
        counts = " ".join(f"{d.cutflow[c].events:>12d}" if c in d.cutflow else f"{'-':>12}" for c in cuts)
        lines.append(f"{name:<{width}} {d.role:<10} {counts} {d.yield_:>10.3f}")
    lo, hi = summary.mass_bins.low, summary.mass_bins.high
    lines.append(f"yield: weighted events with {lo:g} < m4l < {hi:g} GeV at {summary.lumi_fb:g} fb^-1")
    channels = next((list(d.yield_by_channel) for d in datasets.values() if d.yield_by_channel), [])
    if channels:  # the yields per channel, summed by role
        lines.append("by channel: " + " ".join(f"{c:>10}" for c in channels))
        for role in ("data", "signal", "background"):
            sums = [sum(d.yield_by_channel[c] for d in datasets.values() if d.role == role) for c in channels]
            lines.append(f"{role:>10}: " + " ".join(f"{x:>10.3f}" for x in sums))
    if summary.synthetic:
        lines.append("SYNTHETIC DEMO: these are generated events, not ATLAS data")
    if summary.missing_samples:
        lines.append(f"prediction incomplete: the fileset lacks {', '.join(summary.missing_samples)}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ reading back

_TH1 = re.compile(r"TH1[CSIFD]?")


class _Binning:
    """The bin edges every histogram read from one ``histograms.root`` must share (the first one read sets them)."""

    def __init__(self, root_path: Path) -> None:
        self.root_path, self.reference, self.edges = root_path, "", np.array([])

    def th1(self, root: Any, key: str) -> tuple[np.ndarray, np.ndarray]:
        """Values and variances of the TH1 at ``key``, refused unless one-dimensional, finite and of the binning.

        Raises:
            ResultsError: naming the file, the key and the problem.
        """
        th1 = root[key]
        classname = getattr(th1, "classname", type(th1).__name__)
        if not _TH1.fullmatch(classname):
            raise ResultsError(f"{self.root_path}: '{key}' is a {classname}, not a one-dimensional histogram (TH1)")
        edges, values, variances = th1.axis().edges(), th1.values(), th1.variances()
        if not (np.isfinite(values).all() and np.isfinite(variances).all() and np.isfinite(edges).all()):
            raise ResultsError(f"{self.root_path}: '{key}' has NaN or infinite bins")
        if not self.reference:
            self.reference, self.edges = key, edges
        elif edges.shape != self.edges.shape or not np.allclose(edges, self.edges):
            raise ResultsError(
                f"{self.root_path}: '{key}' has binning {len(edges) - 1} bins [{edges[0]:g}, {edges[-1]:g}] "
                f"unlike '{self.reference}' ({len(self.edges) - 1} bins [{self.edges[0]:g}, {self.edges[-1]:g}])"
            )
        return values, variances


def _open_root(root_path: Path) -> Any:
    """``histograms.root`` opened with uproot; whatever the file is, a problem names it.

    Raises:
        ResultsError: missing, not a ROOT file, or damaged.
    """
    try:
        return uproot.open(root_path)
    except Exception as err:  # any file may be given here: whatever uproot makes of it, it names the file
        raise ResultsError(f"{root_path}: cannot open: {one_line(err)}") from None


def _th1s(
    root_path: Path, root: Any, datasets: Iterable[str]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Values and variances of the TH1 ``m4l/<dataset>`` of every dataset, and their common bin edges."""
    histograms, binning = {}, _Binning(root_path)
    for name in datasets:
        key = f"m4l/{name}"
        if key not in root:
            raise ResultsError(f"{root_path}: no histogram '{key}' for dataset '{name}' of summary.json")
        histograms[name] = binning.th1(root, key)
    return histograms, binning.edges


def read_histograms(results: str | os.PathLike[str]) -> tuple[Histogram, Roles]:
    """Read ``histograms.root`` (TH1D per dataset at ``m4l/<dataset>``) and what ``summary.json`` says of the
    datasets (roles, luminosity, whether the run is the synthetic demo) of a results folder, whatever tool wrote them.

    Returns ``(Hist(dataset, mass), Roles)``.

    Raises:
        ResultsError: a file is missing or unreadable, a dataset has no histogram, binnings differ.
    """
    summary = read_json(Path(results) / "summary.json", Roles, "the dataset roles")
    return read_m4l(results, summary.roles), summary


def read_m4l(results: str | os.PathLike[str], roles: Mapping[str, str]) -> Histogram:
    """The m4l histogram ``Hist(dataset, mass)`` of the datasets of ``roles`` (``{dataset: role}``) in a results
    folder's ``histograms.root`` (TH1D per dataset at ``m4l/<dataset>``).

    Raises:
        ResultsError: the file is missing or unreadable, a dataset has no histogram, binnings differ.
    """
    root_path = Path(results) / "histograms.root"
    root = _open_root(root_path)
    try:
        with root:
            histograms, edges = _th1s(root_path, root, roles)
    except ResultsError:
        raise
    except Exception as err:  # any file may be given here: whatever uproot makes of it, it names the file
        raise ResultsError(f"{root_path}: cannot read: {one_line(err)}") from None
    out = hist.Hist(
        hist.axis.StrCategory(list(histograms), name="dataset", growth=True),
        hist.axis.Variable(edges, name="mass", label=r"$m_{4\ell}$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    for name, (values, variances) in histograms.items():
        out[name, :] = np.stack([values, variances], axis=-1)
    return out


def read_variations(results: str | os.PathLike[str]) -> Histogram:
    """The m4l histograms of every channel and systematic variation in a results folder's ``histograms.root``
    (:func:`root_histograms`), as ``Hist(dataset, channel, variation, mass)`` for the fit with nuisance parameters.

    Raises:
        ResultsError: the folder has no run, or its ``histograms.root`` has no channels (a run older than them).
    """
    results = Path(results)
    root_path = results / "histograms.root"
    summary = read_json(results / "summary.json", Roles, "the dataset roles")
    roles_ = summary.roles
    histograms: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    binning = _Binning(root_path)
    root = _open_root(root_path)
    try:
        with root:
            regions = sorted({key.split("/")[0] for key in root.keys(cycle=False) if key.startswith("m4l_")})
            if not regions:
                raise ResultsError(f"{root_path}: no m4l_<channel> folders: rerun 'hzz4l run' for the channels")
            for region in regions:
                for name in roles_:
                    for variation in VARIATIONS:
                        key = f"{region}/{name}" + ("" if variation == "nominal" else f"_{variation}")
                        if key in root:
                            histograms[name, region.removeprefix("m4l_"), variation] = binning.th1(root, key)
    except ResultsError:
        raise
    except Exception as err:  # any file may be given here: whatever uproot makes of it, it names the file
        raise ResultsError(f"{root_path}: cannot read: {one_line(err)}") from None
    edges = binning.edges
    if not binning.reference:
        raise ResultsError(f"{root_path}: no m4l histogram of any dataset of summary.json in the m4l_<channel> folders")
    out = hist.Hist(
        hist.axis.StrCategory(list(roles_), name="dataset"),
        hist.axis.StrCategory([r.removeprefix("m4l_") for r in regions], name="channel"),
        hist.axis.StrCategory(list(VARIATIONS), name="variation"),
        hist.axis.Variable(edges, name="mass", label=r"$m_{4\ell}$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    for (name, channel, variation), (values, variances) in histograms.items():
        out[name, channel, variation, :] = np.stack([values, variances], axis=-1)
    return out
