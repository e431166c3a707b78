"""``hzz4l`` as a hostile or careless user runs it (issue 11): nothing lost, nothing executed, nothing stale.

Every command here is the real ``hzz4l`` in a subprocess; each test names the case of the issue it covers.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import lz4.frame
import numpy as np
import pytest
import uproot

from analysis.demo import generate_demo
from analysis.fileset import load_fileset
from analysis.outputs import RUN_OUTPUTS
from analysis.runner import run_fileset
from processors import HZZ4lProcessor, mass_histogram
from tests.helpers import HZZ4L, good_event, hzz4l, lepton, read_events, write_root

#: command-line runs, servers, clusters: the --runslow lane
pytestmark = pytest.mark.slow


def one_error_line(ran: subprocess.CompletedProcess, *parts: str) -> str:
    """The single stderr line of a command that failed with status 2, which must contain ``parts``."""
    lines = ran.stderr.strip().splitlines()
    assert ran.returncode == 2, ran.stderr
    assert len(lines) == 1 and "Traceback" not in ran.stderr, ran.stderr
    assert all(part in lines[0] for part in parts), lines[0]
    return lines[0]


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """A small demo: its fileset.json."""
    return generate_demo(tmp_path_factory.mktemp("small") / "demo", scale=0.02, seed=5)


def simulation(folder: Path, events: list, name: str = "sim") -> Path:
    """A fileset of one simulated dataset of hand-built events."""
    write_root(folder / f"{name}.root", events)
    fileset = {name: {"files": [f"{name}.root"], "metadata": {"role": "signal", "xsec": 1.0, "sumw": 10.0}}}
    (folder / "fileset.json").write_text(json.dumps(fileset))
    return folder / "fileset.json"


# ------------------------------------------------------------------------------------------ 1. data loss


def test_1_demo_never_replaces_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    for output, cwd in (("mine", tmp_path), (".", mine)):
        ran = hzz4l("demo", "--scale", "0.01", "-o", output, cwd=cwd)
        one_error_line(ran, "is not empty and holds no earlier 'hzz4l demo' output")
        assert files(mine) == {"notes.txt": b"precious"}
    # a new folder, then the same demo folder again: its demo files are replaced, a file added beside them stays
    assert hzz4l("demo", "--scale", "0.01", "-o", "demo", cwd=tmp_path).returncode == 0
    (tmp_path / "demo" / "extra.txt").write_text("mine too")
    again = hzz4l("demo", "--scale", "0.01", "--seed", "9", "-o", "demo", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "demo" / "extra.txt").read_text() == "mine too"
    assert load_fileset(tmp_path / "demo" / "fileset.json")["data"]["metadata"]["generator"]["seed"] == 9


# ------------------------------------------------------------------------------------------ 2. code execution


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_2_a_crafted_checkpoint_runs_no_code(small, tmp_path):
    args = ["run", "--fileset", str(small), "--no-progress", "--no-plots", "--chunksize", "500", "--checkpoint", "ckpt"]
    first = hzz4l(*args, "-o", "one", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    kept = [p for p in (tmp_path / "ckpt").rglob("*") if p.is_file()]
    assert kept
    marker = tmp_path / "PWNED"
    for path in kept:  # whatever the format, every checkpoint becomes a pickle that runs a command when loaded
        path.write_bytes(lz4.frame.compress(pickle.dumps(_Payload(marker))))
    ran = hzz4l(*args, "-o", "two", cwd=tmp_path)
    one_error_line(ran, "not an hzz4l checkpoint", str(tmp_path / "ckpt"))
    assert not marker.exists()


def test_2_checkpoint_paths_stay_inside_their_folder_whatever_the_names(tmp_path):
    from analysis.runner import JsonCheckpointer

    checkpointer = JsonCheckpointer(tmp_path / "ckpt", token="t")
    hostile = {
        "dataset": "../../x",
        "treename": "../../../etc/mini",
        "filename": "/etc/passwd",
        "fileuuid": "12345678-1234-1234-1234-123456789abc",
        "entrystart": 0,
        "entrystop": 10,
        "role": "../y",
    }
    path = checkpointer.path(hostile, HZZ4lProcessor())
    assert path.resolve().is_relative_to((tmp_path / "ckpt").resolve())
    assert ".." not in path.relative_to(tmp_path / "ckpt").parts
    with pytest.raises(ValueError, match="unexpected checkpoint key"):
        checkpointer.path({**hostile, "fileuuid": "../../x"}, HZZ4lProcessor())


def _retitle(content):
    content["dict"]["out"]["dict"]["mass"]["hist"]["axes"][0]["categories"] = ["other"]


def _rebin(content):
    content["dict"]["out"]["dict"]["mass"]["hist"]["axes"][3]["upper"] = 500.0


def _recount(content):
    content["dict"]["out"]["dict"]["processed"]["dict"]["data"] = 5


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_retitle, "its 'mass' is not the processor's histogram for dataset 'data'"),  # was: filled dataset 'other'
        (_rebin, "its 'mass' is not the processor's histogram for dataset 'data'"),  # was: "axes not mergable"
        (_recount, "its counts are not those of 10 events of dataset 'data'"),  # was: 5 events reported, 10 filled
    ],
)
def test_2_a_checkpoint_that_is_not_the_processors_output_for_its_chunk_is_refused(tmp_path, edit, message):
    """JSON runs no code, but an edited (or misplaced) checkpoint could still fill another dataset, another binning
    or other counts than its chunk's."""
    from analysis.runner import CheckpointError, JsonCheckpointer

    proc = HZZ4lProcessor()
    metadata = {
        "dataset": "data",
        "filename": "/d/data.root",
        "fileuuid": "12345678-1234-1234-1234-123456789abc",
        "entrystart": 0,
        "entrystop": 10,
        "role": "data",
    }
    out = proc.make_histograms(("data",)) | {
        "cutflow": {"data": {"events": {"all": 10}, "weighted": {"all": 10.0}}},
        "processed": {"data": 10},
    }
    checkpointer = JsonCheckpointer(tmp_path / "ckpt", token="t")
    checkpointer.save({"out": out, "processed": set()}, metadata, proc)
    assert checkpointer.load(metadata, proc)["out"]["processed"] == {"data": 10}  # the chunk's own: used again
    path = checkpointer.path(metadata, proc)
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))
    with pytest.raises(CheckpointError, match=f"^{path}: not an hzz4l checkpoint \\(ValueError: {message}\\)"):
        checkpointer.load(metadata, proc)


def test_2_a_dataset_name_that_is_a_path_is_refused(tmp_path):
    (tmp_path / "fs.json").write_text(json.dumps({"../../x": {"files": ["a.root"], "metadata": {"role": "data"}}}))
    ran = hzz4l("run", "--fileset", "fs.json", "--checkpoint", "ckpt", cwd=tmp_path)
    one_error_line(ran, "fs.json: dataset name '../../x' is not")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fs.json"]


# ------------------------------------------------------------------------------------------ 4. events counted twice


@pytest.mark.parametrize("spelling", ["symlink", "copy"])
def test_4_one_file_in_two_datasets_is_refused_naming_both(small, tmp_path, spelling):
    source = next(p for p in load_fileset(small)["data"]["files"] if p.endswith("data_A.4lep.root"))
    (tmp_path / "d").mkdir()
    shutil.copy(source, tmp_path / "d" / "f.root")
    if spelling == "symlink":
        (tmp_path / "link").symlink_to(tmp_path / "d")
        other = "link/f.root"
    else:
        shutil.copy(source, tmp_path / "copy.root")
        other = "copy.root"
    fileset = {
        "a": {"files": ["d/f.root"], "metadata": {"role": "data"}},
        "b": {"files": [other], "metadata": {"role": "data"}},
    }
    (tmp_path / "fs.json").write_text(json.dumps(fileset))
    ran = hzz4l("run", "--fileset", "fs.json", "--no-progress", cwd=tmp_path)
    one_error_line(ran, "dataset 'b'", other, "d/f.root", "dataset 'a'", "counted twice")
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------------------ 5. silent NaN


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--lumi", "nan", "Invalid value for '--lumi': 'nan' is not a finite number"),
        ("--lumi", "inf", "Invalid value for '--lumi'"),
        ("--timeout", "nan", "Invalid value for '--timeout': 'nan' is not a finite number"),
        ("--bins", "34,-inf,inf", "Invalid value for '--bins': need 1 <= NBINS <= 10000"),
        ("--bins", "100000000,80,250", "Invalid value for '--bins': need 1 <= NBINS <= 10000"),
        ("--bins", "34,80,1e9", "Invalid value for '--bins'"),
        ("--chunksize", "100000000000", "Invalid value for '--chunksize'"),
        ("--workers", "100000", "Invalid value for '--workers'"),
        ("--bogus", "1", "No such option '--bogus'"),  # click's usage errors are one line too
    ],
)
def test_5_9_non_finite_or_huge_options_are_refused_naming_them(tmp_path, option, value, message):
    ran = hzz4l("run", option, value, cwd=tmp_path)
    assert one_error_line(ran, message).startswith("hzz4l run: error: ")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        # numpy's "Unable to allocate 253. GiB" escaped with its traceback
        ("--toys", "1000000000", "Invalid value for '--toys': 1000000000 is not in the range 1<=x<=1000000"),
        ("--coverage-toys", "1000001", "Invalid value for '--coverage-toys'"),
        ("--coverage-points", "100000000", "Invalid value for '--coverage-points'"),  # ran for hours
        ("--seed", "-1", "Invalid value for '--seed': -1 is not in the range x>=0"),  # numpy's ValueError traceback
    ],
)
def test_5_9_toy_counts_and_seeds_a_fit_cannot_use_are_refused_naming_them(tmp_path, option, value, message):
    ran = hzz4l("fit", "results", option, value, cwd=tmp_path)
    assert one_error_line(ran, message).startswith("hzz4l fit: error: ")


def test_5_an_impossible_cross_section_is_refused(tmp_path):
    fileset = {"s": {"files": ["a.root"], "metadata": {"role": "signal", "xsec": 1e308, "sumw": 1.0}}}
    (tmp_path / "fs.json").write_text(json.dumps(fileset))
    one_error_line(hzz4l("run", "--fileset", "fs.json", cwd=tmp_path), "dataset 's': 'xsec' must be a positive")


@pytest.mark.parametrize(
    ("change", "branch"),
    [
        ({"mcWeight": float("nan")}, "mcWeight is nan"),
        ({"scaleFactor_ELE": float("inf")}, "scaleFactor_ELE is inf"),
        ({"leptons": [*good_event()["leptons"][:3], lepton(20, -1.5, float("nan"), -1, 13)]}, "lep_phi is nan"),
    ],
)
@pytest.mark.parametrize("executor", ["iterative", "futures", pytest.param("dask", marks=pytest.mark.dask)])
def test_5_a_non_finite_weight_stops_the_run_naming_file_dataset_and_entry(tmp_path, change, branch, executor):
    fileset = simulation(tmp_path, [good_event(), good_event(), good_event(**change), good_event()])
    ran = hzz4l("run", "--fileset", str(fileset), "--no-progress", "--executor", executor, cwd=tmp_path)
    one_error_line(ran, f"{tmp_path / 'sim.root'} (dataset 'sim', entries 0-4) failed: entry 2: {branch}")
    assert not (tmp_path / "results").exists()


def test_5_with_skip_bad_files_the_file_is_left_out_and_listed(tmp_path):
    simulation(tmp_path, [good_event(), good_event(mcWeight=float("nan"))], name="bad")
    bad = json.loads((tmp_path / "fileset.json").read_text())
    simulation(tmp_path, [good_event(), good_event()], name="good")
    fileset = bad | json.loads((tmp_path / "fileset.json").read_text())
    (tmp_path / "fileset.json").write_text(json.dumps(fileset))
    ran = hzz4l("run", "--fileset", "fileset.json", "--no-progress", "--no-plots", "--skip-bad-files", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    assert summary["skipped_files"] == [
        {
            "dataset": "bad",
            "path": str(tmp_path / "bad.root"),
            "reason": "entries 0-2 failed: entry 1: mcWeight is nan",
            "events": 2,
        }
    ]
    assert summary["lost_events"] == {"bad": 2}
    assert summary["datasets"]["good"]["events"] == 2 and summary["datasets"]["good"]["yield"] > 0
    assert "SKIPPED" in ran.stderr and "2 events lost" in ran.stderr


# ------------------------------------------------------------------------------------------ 6. wrong filesets


def test_6_a_repeated_dataset_is_refused_not_replaced(tmp_path):
    entry = '{"files": ["a.root"], "metadata": {"role": "data"}}'
    text = f'{{"data": {entry}, "data": {entry.replace("a.root", "b.root")}}}'
    (tmp_path / "fs.json").write_text(text)
    one_error_line(hzz4l("run", "--fileset", "fs.json", cwd=tmp_path), "fs.json: dataset 'data' is defined twice")


def test_6_unknown_metadata_is_named_in_one_warning_line(small, tmp_path):
    fileset = json.loads(small.read_text())
    fileset["data"]["metadata"]["xsec_pb"] = 1.0
    for name in fileset["data"]["files"]:
        shutil.copy(small.parent / name, tmp_path / name)
    fileset = {"data": fileset["data"]}
    (tmp_path / "fs.json").write_text(json.dumps(fileset))
    ran = hzz4l("run", "--fileset", "fs.json", "--no-progress", "--no-plots", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    warnings = [line for line in ran.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "hzz4l run: warning: fs.json: dataset 'data': unknown metadata key(s) 'xsec_pb' are passed to the processor "
        "unused (known: role, dsid, xsec, sumw, red_eff, truth, synthetic, generator)"
    ]


# ------------------------------------------------------------------------------------------ 7. stale results


def test_7_a_new_run_removes_the_fit_and_report_of_the_old_one(demo_fileset, tmp_path):
    run = ["run", "--fileset", str(demo_fileset), "--no-progress", "-o", "results"]
    assert hzz4l(*run, "--no-plots", cwd=tmp_path).returncode == 0  # the second run's plots are checked below
    fit = hzz4l("fit", "results", "--toys", "50", "--coverage-toys", "10", "--coverage-points", "2", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert hzz4l("report", "results", cwd=tmp_path).returncode == 0
    (tmp_path / "results" / "my-notes.txt").write_text("mine")
    assert {"fit.json", "report.html", "plots/postfit_m4l.png"} <= set(files(tmp_path / "results"))
    again = hzz4l(*run, "--lumi", "5", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    left = set(files(tmp_path / "results"))
    assert left == {".hzz4l-outputs.json", *RUN_OUTPUTS, "my-notes.txt"}
    assert json.loads((tmp_path / "results" / "summary.json").read_text())["lumi_fb"] == 5
    # a report now shows the new run and no fit
    assert hzz4l("report", "results", cwd=tmp_path).returncode == 0
    page = (tmp_path / "results" / "report.html").read_text()
    assert "Fit results" not in page and 'data-key="lumi_fb" data-value="5.0"' in page


def _file_size_limit(limit: int):
    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_writes


def test_7_9_a_run_that_fails_writing_leaves_the_old_outputs_and_names_the_file(small, tmp_path):
    run = ["run", "--fileset", str(small), "--no-progress", "-o", "results"]
    assert hzz4l(*run, cwd=tmp_path).returncode == 0
    before = files(tmp_path / "results")
    # the file system refuses files as large as the largest one: the others are written, that one fails
    largest = max(RUN_OUTPUTS, key=lambda name: len(before[name]))
    limit = len(before[largest]) - 1
    first_too_large = next(name for name in RUN_OUTPUTS if len(before[name]) > limit)
    ran = subprocess.run(
        [HZZ4L, *run, "--lumi", "5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_file_size_limit(limit),
    )
    one_error_line(ran, str(Path("results") / first_too_large), "cannot write the outputs: File too large")
    assert files(tmp_path / "results") == before  # nothing new beside the old plots, no temporary file


def test_7_9_files_of_someone_else_are_never_overwritten_and_found_before_processing(small, tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "summary.json").write_text("a summary of my own")
    ran = hzz4l("run", "--fileset", str(small), "--no-progress", "--checkpoint", "ckpt", cwd=tmp_path)
    one_error_line(ran, "results/summary.json: is in the way and was not written by hzz4l")
    assert (tmp_path / "results" / "summary.json").read_text() == "a summary of my own"
    assert not (tmp_path / "ckpt").exists()  # refused before any processing
    ran = hzz4l("run", "--fileset", str(small), "--no-progress", "-o", "results/summary.json/x", cwd=tmp_path)
    one_error_line(ran, "results/summary.json/x: cannot be made", "is not a folder")


# ------------------------------------------------------------------------------------------ 9. unclear failures


def test_9_non_ascii_paths_work(small, tmp_path):
    folder = tmp_path / "données" / "файлы"
    shutil.copytree(small.parent, folder)
    ran = hzz4l(
        "run", "--fileset", str(folder / "fileset.json"), "--no-progress", "--no-plots", "-o", "résultats", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    reference = mass_histogram(run_fileset(load_fileset(small), HZZ4lProcessor(), status=False).output["mass"])
    with uproot.open(tmp_path / "résultats" / "histograms.root") as f:
        for name in reference.axes["dataset"]:
            np.testing.assert_allclose(f[f"m4l/{name}"].values(), reference[name, :].values(), rtol=1e-12)


@pytest.fixture(scope="module")
def results(small, tmp_path_factory) -> Path:
    """The outputs of a run on the small demo."""
    folder = tmp_path_factory.mktemp("results")
    ran = hzz4l("run", "--fileset", str(small), "--no-progress", "--no-plots", "-o", "results", cwd=folder)
    assert ran.returncode == 0, ran.stderr
    return folder / "results"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"lumi_fb": 10, "datasets": {"data": {"ro',
            "summary.json: cannot read the run summary: Invalid JSON: EOF while parsing",
        ),
        ("__drop_metrics__", "summary.json: cannot read the run summary: metrics: Field required"),
        (
            "__bad_role__",
            "summary.json: cannot read the run summary: datasets.data.role: Input should be 'data', 'signal' or "
            "'background'",
        ),
    ],
)
def test_9_report_on_a_damaged_summary_names_the_file_and_key(results, tmp_path, content, message):
    shutil.copytree(results, tmp_path / "results")
    path = tmp_path / "results" / "summary.json"
    summary = json.loads(path.read_text())
    if content == "__drop_metrics__":
        del summary["metrics"]
        content = json.dumps(summary)
    elif content == "__bad_role__":
        summary["datasets"]["data"]["role"] = "<script>alert(1)</script>"
        content = json.dumps(summary)
    path.write_text(content)
    one_error_line(hzz4l("report", "results", cwd=tmp_path), message)
    assert not (tmp_path / "results" / "report.html").exists()


# ------------------------------------------------------------------------------------------ one exception hierarchy


def test_every_expected_error_of_the_project_is_an_hzz4l_error():
    from analysis.demo import DemoError
    from analysis.errors import HZZ4lError
    from analysis.fileset import FilesetError
    from analysis.inputs import InputError
    from analysis.outputs import OutputError, ResultsError
    from analysis.runner import CheckpointError, ChunkError, RunError
    from processors.processor import NonFiniteValue
    from processors.schema import BranchLengthError

    for error in (
        FilesetError,
        InputError,
        ChunkError,
        RunError,
        CheckpointError,
        ResultsError,
        OutputError,
        DemoError,
        NonFiniteValue,
        BranchLengthError,
    ):
        assert issubclass(error, HZZ4lError), error


BROKEN = """
import sys
import processors.processor
from analysis.cli import main

def bug(*args, **kwargs):
    raise ZeroDivisionError("a bug in the processor")

processors.processor.fill_mass = bug
sys.argv = ["hzz4l", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_a_bug_keeps_its_traceback_and_exits_1(small, tmp_path, executor):
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            BROKEN,
            "run",
            "--fileset",
            str(small),
            "--no-progress",
            "--no-plots",
            "--executor",
            executor,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 1, ran.stderr
    assert "Traceback" in ran.stderr and "ZeroDivisionError: a bug in the processor" in ran.stderr
    assert "hzz4l run: error" not in ran.stderr and "failed after" not in ran.stderr  # not taken for bad input


def test_a_bug_in_the_processor_is_not_retried(small):
    class Broken(HZZ4lProcessor):
        calls = 0

        def process(self, events):
            type(self).calls += 1
            raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError, match="a bug"):
        run_fileset(load_fileset(small), Broken(), status=False, retries=3)
    assert Broken.calls == 1


def test_5_the_first_non_finite_value_is_found_in_its_event(tmp_path):
    from processors.processor import NonFiniteValue

    five = good_event()
    five["leptons"] = [*five["leptons"], lepton(8, 2.0)]
    bad = good_event()
    bad["leptons"][2] = lepton(30, float("inf"), -2.0, +1, 13)
    path = write_root(tmp_path / "x.root", [good_event(), five, good_event(), bad, good_event()])
    events = read_events(path, {"dataset": "x", "filename": "x.root", "entrystart": 100})
    with pytest.raises(NonFiniteValue, match=r"^x\.root: dataset 'x': entry 103: lep_eta is inf$"):
        HZZ4lProcessor().process(events)
