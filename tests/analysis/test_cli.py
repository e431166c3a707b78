"""The ``hzz4l`` command end to end, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import uproot
from coffea.util import load

from processors import mass_histogram
from tests.helpers import ATLAS, HZZ4L, hzz4l

#: command-line runs, servers, clusters: the --runslow lane
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    made = hzz4l("demo", "--scale", "0.02", "--seed", "3", "--output", "demo", cwd=folder)
    assert made.returncode == 0, made.stderr
    ran = hzz4l(
        "run",
        "--fileset",
        "demo/fileset.json",
        "--output",
        "out",
        "--no-progress",
        "--chunksize",
        "700",
        "--pdf",
        cwd=folder,
    )
    assert ran.returncode == 0, ran.stderr
    return folder / "out", ran


def test_outputs_exist_and_agree(cli_run):
    out, ran = cli_run
    summary = json.loads((out / "summary.json").read_text())
    accumulator = load(out / "histograms.coffea")
    root = uproot.open(out / "histograms.root")
    assert summary["preset"] == "default" and summary["lumi_fb"] == 10.0 and summary["executor"] == "iterative"
    assert summary["selection"]["lead_pt"] == 20.0
    assert set(summary["metrics"]) >= {"wall_s", "events", "events_per_s", "bytes_read", "preflight_s", "process_s"}
    assert 0 < summary["metrics"]["process_s"] < summary["metrics"]["wall_s"]  # one process: part of the run
    assert summary["metrics"]["events"] == sum(d["events"] for d in summary["datasets"].values())
    assert summary["metrics"]["bytes_read"] > 0
    for name, d in summary["datasets"].items():
        th1 = root[f"m4l/{name}"]
        assert th1.classname == "TH1D"
        coffea_h = mass_histogram(accumulator["mass"])[name, :]
        np.testing.assert_allclose(th1.values(), coffea_h.values(), rtol=1e-12)
        np.testing.assert_allclose(th1.variances(), coffea_h.variances(), rtol=1e-12)
        np.testing.assert_allclose(th1.axis().edges(), np.linspace(80, 250, 35))
        assert d["yield"] == pytest.approx(th1.values().sum(), rel=1e-12)
        assert d["events"] == accumulator["processed"][name]
        assert d["selected"] == accumulator["cutflow"][name]["events"]["charge"]
        assert d["selected"] == d["cutflow"]["charge"]["events"]
        if d["role"] == "data":
            assert d["yield"] == th1.values().sum() == round(th1.values().sum())
    for suffix in ("png", "pdf"):
        assert (out / "plots" / f"m4l.{suffix}").stat().st_size > 10_000
    # the printed cutflow table carries the same numbers
    assert "isolation" in ran.stdout
    data_line = next(line for line in ran.stdout.splitlines() if line.startswith("data "))
    assert data_line.split()[-2] == str(summary["datasets"]["data"]["selected"])


def test_tutorial_preset_and_binning(cli_run):
    folder = cli_run[0].parent
    ran = hzz4l(
        "run",
        "--fileset",
        "demo/fileset.json",
        "--output",
        "tut",
        "--no-progress",
        "--preset",
        "tutorial",
        "--bins",
        "17,80,250",
        "--lumi",
        "5",
        "--no-plots",
        cwd=folder,
    )
    assert ran.returncode == 0, ran.stderr
    assert not (folder / "tut" / "plots").exists()
    summary = json.loads((folder / "tut" / "summary.json").read_text())
    default = json.loads((cli_run[0] / "summary.json").read_text())
    assert summary["selection"]["require_trigger"] is False and summary["selection"]["max_etcone20_rel"] is None
    assert "trigger" not in summary["datasets"]["llll"]["cutflow"]
    assert summary["mass_bins"]["nbins"] == 17
    assert len(uproot.open(folder / "tut" / "histograms.root")["m4l/llll"].values()) == 17
    # looser cuts select at least as much; half the luminosity halves the weights
    llll, ref = summary["datasets"]["llll"], default["datasets"]["llll"]
    assert llll["selected"] >= ref["selected"]
    assert llll["cutflow"]["all"]["weighted"] == pytest.approx(ref["cutflow"]["all"]["weighted"] / 2, rel=1e-9)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{oops", "not valid JSON"),
        ('{"x": {"files": ["a.root"], "metadata": {"role": "higgs"}}}', "dataset 'x': unknown role 'higgs'"),
        ('{"x": {"files": [], "metadata": {"role": "data"}}}', "dataset 'x': has no files"),
    ],
)
def test_bad_fileset_is_one_line_and_exit_2(tmp_path, content, message):
    (tmp_path / "bad.json").write_text(content)
    ran = hzz4l("run", "--fileset", "bad.json", "--no-progress", cwd=tmp_path)
    assert ran.returncode == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "bad.json" in lines[0], ran.stderr
    assert not (tmp_path / "results").exists()


def test_missing_file_names_the_file(tmp_path):
    (tmp_path / "fs.json").write_text('{"x": {"files": ["nowhere.root"], "metadata": {"role": "data"}}}')
    ran = hzz4l("run", "--fileset", "fs.json", "--no-progress", cwd=tmp_path)
    assert ran.returncode == 2
    assert "nowhere.root" in ran.stderr and "Traceback" not in ran.stderr


def test_default_run_uses_cached_demo(tmp_path):
    env = {"HZZ4L_CACHE": str(tmp_path / "cache")}
    first = hzz4l("run", "--no-progress", "--no-plots", "--maxchunks", "1", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "generating the synthetic demo samples" in first.stdout  # the few seconds' wait is explained
    assert "using the synthetic demo samples" in first.stdout
    fileset = next((tmp_path / "cache").glob("demo-*/fileset.json"))
    stamp = fileset.stat().st_mtime_ns
    second = hzz4l("run", "--no-progress", "--no-plots", "--maxchunks", "1", "-o", "again", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert fileset.stat().st_mtime_ns == stamp  # reused, not regenerated
    assert "generating" not in second.stdout
    assert (tmp_path / "results" / "summary.json").exists()


def test_help_is_fast_to_import():
    # the CLI module must not import coffea/dask at import time
    code = "import sys, analysis.cli; print(any(m.startswith(('coffea', 'dask')) for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "bad.json").write_text("{oops")
    ran = hzz4l("run", "--fileset", "bad.json", "--debug", cwd=tmp_path)
    assert ran.returncode != 0
    assert "Traceback" in ran.stderr and "FilesetError" in ran.stderr


def test_version_names_the_installed_package(tmp_path):
    from importlib.metadata import version

    ran = hzz4l("--version", cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout.strip() == f"hzz4l {version('hzz4l')}"


def test_every_option_has_help():
    from analysis.cli import main

    bare = [
        f"{name} --{option.name}"
        for name, command in main.commands.items()
        for option in command.params
        if option.param_type_name == "option" and not option.help
    ]
    assert bare == []


@pytest.mark.parametrize("command", ["fit", "report"])
@pytest.mark.parametrize("made", [True, False], ids=["empty-folder", "no-folder"])
def test_fit_and_report_without_a_run_say_so(tmp_path, command, made):
    if made:
        (tmp_path / "results").mkdir()
    ran = hzz4l(command, cwd=tmp_path)  # RESULTS defaults to results/
    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        f"hzz4l {command}: error: no run in results: the folder "
        + ("holds no run (no summary.json)" if made else "does not exist")
        + "; run 'hzz4l run -o results' first"
    ]
    assert "Errno" not in ran.stderr
    assert not (tmp_path / "results").exists() or made  # nothing made by the failed command


@pytest.mark.parametrize(
    ("args", "option"), [(("run", "--bins", "10,200,100"), "--bins"), (("fit", "--range", "300,200"), "--range")]
)
def test_bad_binning_and_range_name_their_option(tmp_path, args, option):
    ran = hzz4l(*args, cwd=tmp_path)
    assert ran.returncode == 2 and option in ran.stderr, ran.stderr


def test_fit_help_says_where_results_are(tmp_path):
    ran = hzz4l("fit", "--help", cwd=tmp_path)
    assert "default: results/" in ran.stdout


def test_the_demo_says_when_it_is_generated(tmp_path, monkeypatch):
    from analysis.demo import default_demo

    monkeypatch.setenv("HZZ4L_CACHE", str(tmp_path))
    told = []
    first = default_demo(scale=0.01, announce=told.append)
    assert told == [first.parent] and first.exists()
    assert default_demo(scale=0.01, announce=told.append) == first and told == [first.parent]  # cached: silent


def test_verbose_and_quiet_say_more_and_less(tmp_path):
    fileset = str(ATLAS / "fileset.json")
    run = ("run", "--fileset", fileset, "--no-plots", "--executor", "iterative")
    quiet = hzz4l(*run, "-o", "a", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "hzz4l: analysis." not in quiet.stderr  # by default the library's log says nothing
    loud = hzz4l("-vv", *run, "-o", "b", cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "hzz4l: analysis.inputs: checked 7 input files in" in loud.stderr  # the fileset has 7 (not the merged file)
    assert "hzz4l: analysis.runner: iterative executor: file checks" in loud.stderr
    silent = hzz4l("-q", *run, "-o", "c", cwd=tmp_path)
    assert silent.returncode == 0 and silent.stderr == "", silent.stderr  # no progress bars either
    assert "Processing" not in silent.stdout and silent.stdout.startswith("dataset")  # coffea drew one anyway
    both = hzz4l("-q", "-v", *run, "-o", "d", cwd=tmp_path)
    assert both.returncode == 2
    assert both.stderr.strip() == "hzz4l: error: Invalid value for --quiet: give --verbose or --quiet, not both"


@pytest.mark.dask
def test_an_unreachable_scheduler_is_given_up_after_timeout(tmp_path):
    """--timeout bounds the wait for --scheduler (it was always 30 s): with 2 s the command ends well within the 25 s
    this test allows, naming the option and the address."""
    fileset = str(ATLAS / "fileset.json")
    args = ["run", "--fileset", fileset, "--no-plots", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    ran = subprocess.run([HZZ4L, *args, "--timeout", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=25)
    assert ran.returncode == 2, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hzz4l run: error: --scheduler tcp://127.0.0.1:9: cannot connect")
