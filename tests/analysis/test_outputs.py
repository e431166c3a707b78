"""Outputs are written atomically and as a set: an interrupted or failed write leaves the previous files, and nothing
hzz4l did not write is ever replaced."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import threading

import pytest

from analysis import outputs
from analysis.outputs import atomic_path


def test_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text('{"old": true}')

    def interrupted_write():
        with atomic_path(target) as tmp:
            tmp.write_text('{"half')
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        interrupted_write()
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left behind


def test_completed_write_replaces_with_usual_permissions(tmp_path):
    target = tmp_path / "out" / "histograms.root"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


# ------------------------------------------------------------------------------------------ publish (issue 11)


def made_by(folder) -> dict[str, str]:
    return {
        name: entry["command"] for name, entry in json.loads((folder / outputs.MANIFEST).read_text())["files"].items()
    }


def test_outputs_are_replaced_as_a_set_with_what_derives_from_them(tmp_path):
    with outputs.publish(tmp_path, "run", run="r1") as stage:
        (stage / "summary.json").write_text("1")
        (stage / "plots").mkdir()
        (stage / "plots" / "m4l.png").write_text("1")
    with outputs.publish(tmp_path, "fit") as stage:
        (stage / "fit.json").write_text("fit of r1")
        (stage / "plots").mkdir()
        (stage / "plots" / "scan.png").write_text("fit of r1")
    with outputs.publish(tmp_path, "report") as stage:
        (stage / "report.html").write_text("report of r1")
    (tmp_path / "notes.txt").write_text("mine")
    assert made_by(tmp_path) == {
        "summary.json": "run",
        "plots/m4l.png": "run",
        "fit.json": "fit",
        "plots/scan.png": "fit",
        "report.html": "report",
    }
    # a new fit replaces the old one and removes the report made from it
    with outputs.publish(tmp_path, "fit") as stage:
        (stage / "fit.json").write_text("fit again")
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "plots" / "scan.png").exists()
    # a new run removes everything derived from the previous one, and nothing else
    with outputs.publish(tmp_path, "run", run="r2") as stage:
        (stage / "summary.json").write_text("2")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        outputs.MANIFEST,
        "notes.txt",
        "summary.json",
    ]
    assert json.loads((tmp_path / outputs.MANIFEST).read_text())["run"] == "r2"


def test_two_commands_writing_one_folder_take_turns(tmp_path):
    """While another hzz4l command holds the folder (here: the test), a publish waits; then both records stand."""
    with outputs.publish(tmp_path, "run", run="r1") as stage:
        (stage / "summary.json").write_text("1")
    holder = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)

    def fit() -> None:
        with outputs.publish(tmp_path, "fit") as stage:
            (stage / "fit.json").write_text("fit")

    thread = threading.Thread(target=fit)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive() and not (tmp_path / "fit.json").exists()  # waiting for the folder
    os.close(holder)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert made_by(tmp_path) == {"summary.json": "run", "fit.json": "fit"}


def test_a_failure_before_the_end_leaves_the_folder_as_it_was(tmp_path):
    with outputs.publish(tmp_path, "run", run="r1") as stage:
        (stage / "summary.json").write_text("old")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def failing_run():
        with outputs.publish(tmp_path, "run", run="r2") as stage:
            (stage / "summary.json").write_text("new")
            raise RuntimeError("plotting failed")

    with pytest.raises(RuntimeError, match="plotting failed"):
        failing_run()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # no staging folder left


def test_files_hzz4l_did_not_write_are_never_replaced(tmp_path):
    (tmp_path / "summary.json").write_text("a user's file")
    with pytest.raises(outputs.OutputError, match=r"summary\.json: is in the way and was not written by hzz4l"):
        outputs.check_output(tmp_path)
    with (
        pytest.raises(outputs.OutputError, match="nothing was replaced"),
        outputs.publish(tmp_path, "run", run="r") as stage,
    ):
        (stage / "summary.json").write_text("new")
    assert (tmp_path / "summary.json").read_text() == "a user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_an_output_folder_that_cannot_be_written_is_found_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(outputs.OutputError, match="is not a folder"):
        outputs.check_output(tmp_path / "file" / "results")
    with pytest.raises(outputs.OutputError, match="exists and is not a folder"):
        outputs.check_output(tmp_path / "file")
    outputs.check_output(tmp_path / "new" / "results")  # can be made
    assert not (tmp_path / "new").exists()  # and checking made nothing


@pytest.mark.parametrize("name", ["../outside.txt", "/etc/hosts", "a/../../b", "./x"])
def test_a_record_naming_paths_outside_its_folder_is_refused(tmp_path, name):
    (tmp_path / "results").mkdir()
    (tmp_path / "outside.txt").write_text("keep")
    record = {"format": 1, "run": "r", "files": {name: {"command": "run", "run": "r"}}}
    (tmp_path / "results" / outputs.MANIFEST).write_text(json.dumps(record))
    with (
        pytest.raises(outputs.OutputError, match="not a path inside the folder"),
        outputs.publish(tmp_path / "results", "run"),
    ):
        pass
    assert (tmp_path / "outside.txt").read_text() == "keep"


def test_write_errors_name_the_file(tmp_path):
    def disk_full():
        with outputs.publish(tmp_path / "results", "run", run="r") as stage:
            raise OSError(errno.ENOSPC, "No space left on device", str(stage / "summary.json"))

    with pytest.raises(outputs.OutputError, match=r"results/summary\.json: cannot write the outputs: No space left"):
        disk_full()
    assert not (tmp_path / "results").exists()  # the folder this call made is gone again


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"lumi_fb": 10, "datasets": {', "summary.json: cannot read the run summary: Invalid JSON: EOF while parsing"),
        ("[]", "summary.json: cannot read the run summary: Input should be an object"),
    ],
)
def test_an_unreadable_summary_is_named(tmp_path, content, message):
    (tmp_path / "summary.json").write_text(content)
    with pytest.raises(outputs.ResultsError, match=message):
        outputs.read_summary(tmp_path)


@pytest.mark.parametrize(("key", "field"), [("mass", "value"), ("lepton_pt", "variance")])
def test_a_non_finite_bin_is_refused_naming_the_dataset_and_nothing_is_written(demo_fileset, tmp_path, key, field):
    import numpy as np

    from analysis.fileset import load_fileset
    from analysis.runner import run_fileset
    from processors import HZZ4lProcessor

    fileset = load_fileset(demo_fileset)
    proc = HZZ4lProcessor()
    result = run_fileset(fileset, proc, status=False)
    histogram = result.output[key]
    view = histogram.view(flow=True)
    where = [slice(None)] * view.ndim
    where[histogram.axes.name.index("dataset")] = histogram.axes["dataset"].index("llll")
    damaged = view[tuple(where)]
    damaged[field].flat[damaged.size // 2] = np.inf
    view[tuple(where)] = damaged
    with pytest.raises(outputs.ResultsError, match=f"dataset 'llll': its {key} histogram has NaN or infinite bins"):
        outputs.write_outputs(result, fileset, proc, "default", tmp_path / "results", plots=False)
    assert not (tmp_path / "results").exists()
