"""Outputs are written atomically and as a set: an interrupted or failed write leaves the previous files, and nothing
hzz4l did not write is ever replaced."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
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


@pytest.mark.parametrize("command", ["run", "fit"])
def test_a_folder_linked_in_place_of_plots_is_not_written_through(tmp_path, command):
    """plots/ replaced by a link to someone else's folder: its m4l.png (and scan.png, removed as stale by a new
    run) are not the files hzz4l wrote there, and were deleted and overwritten through the link."""
    results, gallery = tmp_path / "results", tmp_path / "gallery"
    with outputs.publish(results, "run", run="r1") as stage:
        (stage / "plots").mkdir()
        (stage / "plots" / "m4l.png").write_text("run r1")
    with outputs.publish(results, "fit") as stage:
        (stage / "plots").mkdir()
        (stage / "plots" / "scan.png").write_text("fit of r1")
    shutil.rmtree(results / "plots")
    gallery.mkdir()
    (gallery / "m4l.png").write_text("mine")
    (gallery / "scan.png").write_text("mine too")
    (results / "plots").symlink_to(gallery)
    with pytest.raises(outputs.OutputError, match=r"results/plots: is in the way and was not written by hzz4l"):
        outputs.check_output(results)
    new = "summary.json" if command == "run" else "fit.json"  # a new run removes the fit's plots/scan.png
    with pytest.raises(outputs.OutputError, match="nothing was replaced"), outputs.publish(results, command) as stage:
        (stage / new).write_text("new")
    assert (gallery / "m4l.png").read_text() == "mine" and (gallery / "scan.png").read_text() == "mine too"
    assert not (results / new).exists()


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


def small_results(folder, edit=None):
    """A results folder written by hand: summary.json's roles and a histograms.root of 3 datasets, all channels and
    per channel (with one variation), 5 bins in [100, 150] GeV; ``edit`` changes its histograms first."""
    import hist
    import numpy as np
    import uproot

    def th1(edges=(100.0, 110, 120, 130, 140, 150)):
        h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
        h.view().value[:] = h.view().variance[:] = np.arange(1.0, len(edges))
        return h

    roles = {"data": "data", "sig": "signal", "bkg": "background"}
    histograms = {f"{region}/{name}": th1() for region in ("m4l", "m4l_4e", "m4l_4mu") for name in roles}
    histograms |= {f"m4l_{channel}/bkg_lep_scale_up": th1() for channel in ("4e", "4mu")}
    if edit is not None:
        edit(histograms, th1)
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"datasets": {n: {"role": r} for n, r in roles.items()}}))
    with uproot.recreate(folder / "histograms.root") as f:
        for key, h in histograms.items():
            f[key] = h
    return folder


def test_histograms_from_a_small_results_folder_are_read(tmp_path):
    import numpy as np

    folder = small_results(tmp_path / "results")
    histogram, summary = outputs.read_histograms(folder)
    assert summary.roles == {"data": "data", "sig": "signal", "bkg": "background"}
    np.testing.assert_array_equal(histogram["bkg", :].values(), [1, 2, 3, 4, 5])
    variations = outputs.read_variations(folder)
    np.testing.assert_array_equal(variations["bkg", "4mu", "lep_scale_up", :].values(), [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(variations.axes["mass"].edges, [100, 110, 120, 130, 140, 150])


def _nan(h):
    h.view().value[2] = float("nan")
    return h


@pytest.mark.parametrize(
    ("edit", "reader", "message"),
    [
        # a damaged file escaped as uproot's DeserializationError, with its traceback
        (None, "read_histograms", r"histograms\.root: cannot open: uproot\.deserialization\.DeserializationError: "),
        # a NaN reached the fit as "background is negative or not finite", naming neither the file nor the dataset
        (lambda h, th1: _nan(h["m4l/bkg"]), "read_histograms", r"histograms\.root: 'm4l/bkg' has NaN or infinite bins"),
        # "cannot read: TypeError: TH2.axis() missing 1 required positional argument"
        (
            lambda h, th1: h.update({"m4l/bkg": _th2()}),
            "read_histograms",
            r"histograms\.root: 'm4l/bkg' is a TH2D, not a one-dimensional histogram \(TH1\)$",
        ),
        # the systematic fit's histograms: another binning was silently taken for the first one's
        (
            lambda h, th1: h.update({"m4l_4mu/bkg": th1([0.0, 10, 20, 30, 40, 50])}),
            "read_variations",
            r"'m4l_4mu/bkg' has binning 5 bins \[0, 50\] unlike 'm4l_4e/data' \(5 bins \[100, 150\]\)$",
        ),
        # ... or stopped the command with numpy's ValueError ("Mismatched shapes")
        (
            lambda h, th1: h.update({"m4l_4mu/bkg": th1([100.0, 125, 150])}),
            "read_variations",
            r"'m4l_4mu/bkg' has binning 2 bins \[100, 150\] unlike 'm4l_4e/data' \(5 bins \[100, 150\]\)$",
        ),
        # ... and a NaN made the fit with nuisance parameters "not converge"
        (
            lambda h, th1: _nan(h["m4l_4e/bkg_lep_scale_up"]),
            "read_variations",
            r"histograms\.root: 'm4l_4e/bkg_lep_scale_up' has NaN or infinite bins$",
        ),
    ],
)
def test_a_damaged_or_foreign_histograms_file_is_one_line_naming_the_key(tmp_path, edit, reader, message):
    folder = small_results(tmp_path / "results", edit)
    if edit is None:
        (folder / "histograms.root").write_bytes(b"root" + (8).to_bytes(4, "big") + b"\xff" * 200)
    with pytest.raises(outputs.ResultsError, match=message):
        getattr(outputs, reader)(folder)


def _th2():
    import hist

    return hist.Hist(hist.axis.Regular(5, 100, 150), hist.axis.Regular(2, 0, 1), storage=hist.storage.Weight())


def test_a_dataset_named_like_a_variation_of_another_is_refused_before_anything_is_written(tmp_path):
    """'Zee_lep_scale_up' beside 'Zee': both were written to histograms.root's m4l/Zee_lep_scale_up (as two cycles),
    and hzz4l fit read one of them for the other (here: Zee's variation as the data)."""
    from analysis.fileset import FilesetError, load_fileset
    from analysis.runner import run_fileset
    from processors import HZZ4lProcessor

    fileset = load_fileset("tests/data/atlas/fileset.json")
    fileset = {"Zee_lep_scale_up" if name == "data" else name: entry for name, entry in fileset.items()}
    message = (
        r"^fileset: dataset 'Zee_lep_scale_up' has the name of the 'lep_scale_up' variation of dataset 'Zee' "
        r"\(histograms\.root: m4l/Zee_lep_scale_up\): rename it$"
    )
    proc = HZZ4lProcessor()
    result = run_fileset({name: fileset[name] for name in ("Zee", "Zee_lep_scale_up")}, proc, status=False)
    with pytest.raises(FilesetError, match=message):
        outputs.write_outputs(result, fileset, proc, "default", tmp_path / "results", plots=False)
    assert not (tmp_path / "results").exists()
    with pytest.raises(FilesetError, match=message):  # what hzz4l run checks before any work
        outputs.check_datasets(fileset)


def test_the_demos_files_are_labelled_synthetic_whatever_the_fileset_says(demo_fileset, tmp_path):
    """The demo's files in a fileset written by hand (no "synthetic" in the metadata): the results said "ATLAS Open
    Data" of generated events. The files themselves now say what they are."""
    from analysis.errors import HZZ4lWarning
    from analysis.fileset import load_fileset
    from analysis.runner import run_fileset
    from processors import HZZ4lProcessor

    fileset = load_fileset(demo_fileset)
    plain = {name: {**entry, "metadata": {**entry["metadata"], "synthetic": False}} for name, entry in fileset.items()}
    proc = HZZ4lProcessor(systematics=False)
    chosen = {name: plain[name] for name in ("llll", "data")}
    message = (
        "dataset(s) 'llll', 'data' read files of hzz4l's synthetic demo, though the fileset does not mark them "
        '"synthetic": the results are labelled as the synthetic demo\'s'
    )
    with pytest.warns(HZZ4lWarning, match=re.escape(message)):
        result = run_fileset(chosen, proc, status=False)
    summary = outputs.write_outputs(result, chosen, proc, "default", tmp_path / "results", plots=False)
    assert summary.synthetic is True and summary.source == "synthetic demo"
    real = load_fileset("tests/data/atlas/fileset.json")
    assert run_fileset({"Zee": real["Zee"]}, proc, status=False).synthetic is False  # the shipped real files
