"""The processor on the real ATLAS Open Data files shipped in tests/data/atlas: against the independent
per-event reference for every preset, and against the ATLAS outreach notebook's published numbers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis.fileset import load_fileset, validate_fileset
from analysis.runner import run_fileset
from analysis.samples import SAMPLES
from processors import PRESETS, HZZ4lProcessor, mass_histogram
from processors.schema import BranchLengthError, check_counts
from tests import reference
from tests.helpers import ATLAS, read_events, rewrite_counted

BINS = (34, 80.0, 250.0)
PERIODS = {"A": 27, "B": 86, "C": 146, "D": 248}  # published outreach-selection counts per data period
#: the outreach notebook's 34 bins of 80-250 GeV, data
PUBLISHED_DATA = [
    6, 28, 39, 8, 3, 6, 7, 8, 24, 12, 10, 8, 9, 11, 7, 6, 11, 6, 7, 5, 15, 16, 8, 15, 11, 12, 10, 9, 6, 13, 8, 8, 10, 9,
]  # fmt: skip
#: raw events and weighted yield (all m4l) of the simulated samples, outreach selection, 10 fb^-1
PUBLISHED_MC = {"Zee": (243, 43.14), "Zmumu": (257, 52.00), "ttbar_lep": (334, 28.13)}


def periods_fileset() -> dict:
    """Each data period as its own dataset, and the merged file as one more."""
    entries = {f"data_{p}": {"files": {str(ATLAS / f"Data/data_{p}.4lep.root"): "mini"}} for p in PERIODS}
    entries["merged"] = {"files": {str(ATLAS / "Data/data.4lep.root"): "mini"}}
    return validate_fileset({name: entry | {"metadata": {"role": "data"}} for name, entry in entries.items()})


@pytest.fixture(scope="module")
def shipped() -> dict:
    return load_fileset(ATLAS / "fileset.json")


#: The presets, the default one in the quick lane, the others with --runslow (the selection's code is shared).
EVERY_PRESET = [pytest.param(p, marks=() if p == "default" else pytest.mark.slow) for p in PRESETS]


@pytest.fixture(scope="module", params=EVERY_PRESET)
def run(request: pytest.FixtureRequest, shipped: dict) -> tuple[str, dict]:
    proc = HZZ4lProcessor(PRESETS[request.param], lumi_fb=10.0, mass_bins=BINS)
    return request.param, run_fileset(shipped, proc, status=False).output


def test_shipped_files_are_intact():
    for line in (ATLAS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((ATLAS / name).read_bytes()).hexdigest() == digest, name


def test_shipped_fileset_carries_the_release_metadata(shipped):
    assert set(shipped) == {"Zee", "Zmumu", "ttbar_lep", "data"}
    for name in ("Zee", "Zmumu", "ttbar_lep"):
        assert shipped[name]["metadata"] == SAMPLES[name].metadata()
        assert [Path(p).name for p in shipped[name]["files"]] == [SAMPLES[name].filename]
    assert sorted(Path(p).name for p in shipped["data"]["files"]) == [f"data_{p}.4lep.root" for p in PERIODS]


def test_schema_counts_leptons_by_lep_n_and_keeps_truth_apart():
    events = read_events(ATLAS / "Data/data_D.4lep.root")
    counts = ak.to_numpy(ak.num(events.lep, axis=1))
    np.testing.assert_array_equal(counts, uproot.open(ATLAS / "Data/data_D.4lep.root")["mini"]["lep_n"].array())
    assert np.bincount(counts).tolist() == [0, 0, 0, 0, 397, 3]
    assert "truthMatched" not in events.lep.fields
    assert ak.all(ak.num(events.lep_truthMatched) == 0)  # empty in data, kept apart from the collection
    assert ak.all(ak.num(events.jagged.jet_trueflav) == 0)
    simulation = read_events(ATLAS / "MC/mc_361106.Zee.4lep.root")
    assert ak.all(ak.num(simulation.lep_truthMatched) == simulation.lep_n)  # filled in simulation


def test_every_preset_matches_the_per_event_reference(run, shipped):
    preset, output = run
    expected = reference.reference(shipped, preset, lumi_fb=10.0, bins=BINS)
    for name, ref in expected.items():
        view = mass_histogram(output["mass"])[name, :].view()
        np.testing.assert_allclose(view.value, ref["values"], rtol=1e-9, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(view.variance, ref["variances"], rtol=1e-9, atol=1e-15, err_msg=name)
        flow = output["cutflow"][name]
        assert flow["events"] == {cut: ref["cutflow"].get(cut, 0) for cut in flow["events"]}, name
        np.testing.assert_allclose(
            [flow["weighted"][cut] for cut in flow["events"]],
            [ref["weighted"].get(cut, 0.0) for cut in flow["events"]],
            rtol=1e-9,
        )
        assert output["processed"][name] == ref["cutflow"]["all"]
    # the real data are selected: hundreds of the 832 events (every one was lost when leptons were counted
    # from the empty lep_truthMatched)
    selected = list(output["cutflow"]["data"]["events"].values())[-1]
    assert selected == len(expected["data"]["selected"])
    assert 200 < selected < 832


def test_outreach_preset_gives_the_published_numbers(shipped):
    output = run_fileset(shipped, HZZ4lProcessor(PRESETS["outreach"], mass_bins=BINS), status=False).output
    assert output["cutflow"]["data"]["events"]["charge"] == sum(PERIODS.values()) == 507
    assert mass_histogram(output["mass"])["data", :].values().tolist() == PUBLISHED_DATA
    for name, (events, weighted) in PUBLISHED_MC.items():
        flow = output["cutflow"][name]
        assert flow["events"]["charge"] == events, name
        assert round(flow["weighted"]["charge"], 2) == weighted, name


def test_outreach_counts_per_data_period_and_the_merged_file():
    output = run_fileset(periods_fileset(), HZZ4lProcessor(PRESETS["outreach"], mass_bins=BINS), status=False).output
    assert {p: output["cutflow"][f"data_{p}"]["events"]["charge"] for p in PERIODS} == PERIODS
    assert output["cutflow"]["merged"]["events"]["charge"] == 507


@pytest.mark.parametrize("preset", EVERY_PRESET)
def test_merged_file_gives_what_the_four_periods_give(preset):
    output = run_fileset(periods_fileset(), HZZ4lProcessor(PRESETS[preset], mass_bins=BINS), status=False).output
    periods = [f"data_{p}" for p in PERIODS]
    summed = sum(mass_histogram(output["mass"])[name, :].values() for name in periods)
    np.testing.assert_array_equal(mass_histogram(output["mass"])["merged", :].values(), summed)
    for cut, n in output["cutflow"]["merged"]["events"].items():
        assert n == sum(output["cutflow"][name]["events"][cut] for name in periods), cut


@pytest.mark.parametrize("path", ["Data/data_D.4lep.root", "MC/mc_410000.ttbar_lep.4lep.root"])
def test_std_vector_and_counted_arrays_give_the_same_result(tmp_path, path):
    counted = rewrite_counted(ATLAS / path, tmp_path / "counted.root")
    assert "std::vector" in uproot.open(ATLAS / path)["mini"]["lep_pt"].typename
    assert uproot.open(counted)["mini"]["lep_pt"].typename == "float[]"
    meta = {"role": "data"} if path.startswith("Data") else {"role": "background", **SAMPLES["ttbar_lep"].metadata()}
    outputs = []
    for file in (ATLAS / path, counted):
        events = read_events(file, {"dataset": "x", **meta})
        outputs.append(HZZ4lProcessor(PRESETS["default"]).process(events))
    vector, array = outputs
    assert vector["cutflow"] == array["cutflow"]
    for name in ("mass", "z1_mass", "lepton_pt"):  # every histogram, every variation and channel
        np.testing.assert_array_equal(vector[name].values(), array[name].values(), err_msg=name)
    assert mass_histogram(vector["mass"])["x", :].sum().value > 0


def test_a_lepton_branch_disagreeing_with_lep_n_names_file_branch_and_entry(tmp_path):
    source = ATLAS / "Data/data_A.4lep.root"
    eta = uproot.open(source)["mini"]["lep_eta"].array()
    broken = ak.concatenate([eta[:7], eta[7:8, :3], eta[8:]])  # entry 7: three values where lep_n says 4
    path = rewrite_counted(source, tmp_path / "broken.root", {"lep_eta": broken})
    # read lazily, as a runner does: nothing is built from the branches before they are checked
    events = read_events(path, {"dataset": "data", "filename": str(path), "entrystart": 0}, mode="virtual")
    message = rf"^{path}: branch 'lep_eta' has 3 entries in entry 7 where 'lep_n' says 4$"
    with pytest.raises(BranchLengthError, match=message):
        HZZ4lProcessor().process(events)
    check_counts(events, ["lep_pt", "lep_phi", "lep_type"])  # the other branches agree with lep_n
    fileset = validate_fileset({"data": {"files": {str(path): "mini"}, "metadata": {"role": "data"}}})
    with pytest.raises(Exception, match=r"branch 'lep_eta' has 3 entries in entry 7 where 'lep_n' says 4") as caught:
        run_fileset(fileset, HZZ4lProcessor(), status=False, retries=0)
    assert str(path) in str(caught.value)
