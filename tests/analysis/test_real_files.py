"""The pipeline on the real ATLAS Open Data files shipped in tests/data/atlas: every executor, over HTTP, and
from the command line without a network; what the outputs say about where the events come from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uproot

from analysis.fileset import load_fileset, validate_fileset
from analysis.plots import plot_stack
from analysis.runner import run_fileset
from analysis.samples import SAMPLES
from processors import PRESETS, HZZ4lProcessor, mass_histogram
from tests import figures, reference
from tests.helpers import ATLAS, assert_same, dask_cluster, hzz4l
from tests.http_server import serving

#: command-line runs, servers, clusters: the --runslow lane
pytestmark = pytest.mark.slow

BINS = (34, 80.0, 250.0)


@pytest.fixture(scope="module")
def shipped() -> dict:
    return load_fileset(ATLAS / "fileset.json")


@pytest.fixture(scope="module")
def iterative(shipped: dict) -> dict:
    # chunks of 100 events: several chunks per file, so chunk boundaries are exercised on the real layout
    return run_fileset(shipped, HZZ4lProcessor(), chunksize=100, status=False).output


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A real HTTP server with byte ranges, serving tests/data/atlas."""
    with serving(ATLAS) as (url, _):
        yield url


def test_iterative_run_matches_the_reference(shipped, iterative):
    expected = reference.reference(shipped, "default", lumi_fb=10.0, bins=BINS)
    for name, ref in expected.items():
        nominal = mass_histogram(iterative["mass"])[name, :].values()
        np.testing.assert_allclose(nominal, ref["values"], rtol=1e-9, atol=1e-12)
        assert iterative["cutflow"][name]["events"] == {c: ref["cutflow"].get(c, 0) for c in ref["cutflow"]}


@pytest.mark.parametrize("executor", ["futures", pytest.param("dask", marks=pytest.mark.dask)])
def test_executors_agree_on_the_real_files(shipped, iterative, executor):
    result = run_fileset(shipped, HZZ4lProcessor(), executor=executor, workers=2, chunksize=100, status=False)
    assert_same(iterative, result.output)


@pytest.mark.dask
def test_a_dask_cluster_of_real_processes_agrees_on_the_real_files(shipped, iterative, tmp_path):
    with dask_cluster(tmp_path, workers=2) as (address, _):
        result = run_fileset(shipped, HZZ4lProcessor(), executor="dask", scheduler=address, chunksize=100, status=False)
    assert_same(iterative, result.output)


def test_real_files_over_http_equal_local(shipped, iterative, server):
    remote = {
        name: {
            "files": {f"{server}/ok/{Path(p).relative_to(ATLAS)}": tree for p, tree in entry["files"].items()},
            "metadata": entry["metadata"],
        }
        for name, entry in shipped.items()
    }
    result = run_fileset(validate_fileset(remote), HZZ4lProcessor(), chunksize=100, status=False, timeout=10)
    assert_same(iterative, result.output)


def test_cli_runs_the_shipped_real_files_without_a_network(tmp_path, shipped):
    ran = hzz4l("run", "--fileset", str(ATLAS / "fileset.json"), "--output", "out", "--no-progress", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    expected = reference.reference(shipped, "default", lumi_fb=10.0, bins=BINS)
    data_line = next(line for line in ran.stdout.splitlines() if line.startswith("data "))
    assert data_line.split()[2] == "832"
    assert data_line.split()[-2] == str(len(expected["data"]["selected"]))  # events passing the last cut
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["source"] == "ATLAS Open Data"
    assert summary["synthetic"] is False
    assert set(summary["missing_samples"]) == set(SAMPLES) - {"Zee", "Zmumu", "ttbar_lep"}
    assert "prediction incomplete" in ran.stdout
    with uproot.open(tmp_path / "out" / "histograms.root") as f:
        np.testing.assert_array_equal(f["m4l/data"].values(), expected["data"]["values"])
    assert (tmp_path / "out" / "plots" / "m4l.png").stat().st_size > 0


#: What the independent per-event selection of tests/reference.py gives for the 832 real data events (four periods):
#: events after each cut, and the events with 80 < m4l < 250 GeV.
DATA_CUTFLOW = {
    "default": ([832, 832, 827, 805, 587, 462, 406], 290),
    "tutorial": ([832, 827, 805, 587, 479, 418], 300),
    "paper": ([832, 832, 827, 805, 587, 462, 406, 377, 278, 277, 276], 189),
}


@pytest.mark.parametrize("preset", ["default", "tutorial", "outreach", "paper"])
def test_the_printed_cutflow_is_the_independent_selections(tmp_path, shipped, preset):
    """Every row of the cutflow ``hzz4l run`` prints (each dataset: events after each cut, and the yield) equals the
    plain per-event selection of tests/reference.py, which shares no code with the processor."""
    args = ("run", "--fileset", str(ATLAS / "fileset.json"), "--preset", preset, "--no-plots", "--no-progress")
    ran = hzz4l(*args, "-o", "out", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    expected = reference.reference(shipped, preset, lumi_fb=10.0, bins=BINS)
    lines = ran.stdout.splitlines()
    header = lines[0].split()
    assert header[:2] == ["dataset", "role"] and header[-1] == "yield"
    for name, ref in expected.items():
        row = next(line.split() for line in lines if line.split()[:1] == [name])
        assert row[1] == shipped[name]["metadata"]["role"]
        assert [int(n) for n in row[2:-1]] == [ref["cutflow"].get(cut, 0) for cut in header[2:-1]], name
        assert float(row[-1]) == pytest.approx(sum(ref["values"]), abs=5e-4), name  # printed to 3 decimals
    if preset in DATA_CUTFLOW:
        counts, in_range = DATA_CUTFLOW[preset]
        data = next(line.split() for line in lines if line.split()[:1] == ["data"])
        assert [int(n) for n in data[2:-1]] == counts and float(data[-1]) == in_range


def texts(figure) -> str:
    return " ".join(figures.texts(figure))


def legend(figure) -> list[str]:
    return [t.get_text() for t in figure.axes[0].get_legend().get_texts()]


def test_plots_say_what_is_real(shipped, iterative, demo_fileset):
    roles = {name: entry["metadata"]["role"] for name, entry in shipped.items()}
    real = plot_stack(mass_histogram(iterative["mass"]), roles, 10.0, missing=["llll", "ggH125_ZZ4lep"])
    assert "ATLAS" in texts(real) and "Open Data" in texts(real) and "Synthetic" not in texts(real)
    assert "Prediction incomplete" in texts(real) and "ZZ*" in texts(real)
    assert len(real.axes) == 1  # no ratio panel to a prediction known to be incomplete
    assert "Data" in legend(real)
    demo = load_fileset(demo_fileset)
    output = run_fileset(demo, HZZ4lProcessor(PRESETS["default"]), status=False).output
    roles = {name: entry["metadata"]["role"] for name, entry in demo.items()}
    synthetic = plot_stack(mass_histogram(output["mass"]), roles, 10.0, synthetic=True)
    assert "Synthetic demo" in texts(synthetic) and "not ATLAS data" in texts(synthetic)
    assert "Open Data" not in texts(synthetic) and "Prediction incomplete" not in texts(synthetic)
    assert "Pseudo-data (synthetic)" in legend(synthetic) and "Data" not in legend(synthetic)
