"""The demo samples look like the real files and carry believable physics."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis.demo import DEMO_PROCESSES, generate_demo
from analysis.fileset import load_fileset
from analysis.samples import SAMPLES
from tests.helpers import ATLAS


def layout(path) -> list[tuple[str, str, bool]]:
    """(branch, element dtype, jagged) of every branch of a file's ``mini`` tree, in order."""
    out = []
    for branch in uproot.open(path)["mini"].branches:
        interpretation = branch.interpretation
        jagged = hasattr(interpretation, "content")
        dtype = np.dtype((interpretation.content if jagged else interpretation).to_dtype)
        out.append((branch.name, dtype.name, jagged))
    return out


def arrays(folder, name):
    return uproot.open(folder / name)["mini"].arrays()


def test_files_have_the_real_files_branches_and_metadata(demo_fileset):
    folder = demo_fileset.parent
    fileset = json.loads(demo_fileset.read_text())
    assert set(fileset) == set(SAMPLES) | {"data"}
    for name, sample in SAMPLES.items():
        assert fileset[name]["files"] == {sample.filename: "mini"}
        assert fileset[name]["metadata"] == sample.metadata() | {"synthetic": True}
    assert sorted(fileset["data"]["files"]) == [f"data_{p}.4lep.root" for p in "ABCD"]
    assert fileset["data"]["metadata"]["truth"] == {"s_s": 1.0, "s_b": 1.2}
    assert fileset["data"]["metadata"]["synthetic"] is True
    load_fileset(demo_fileset)  # valid as a fileset
    # the real files are the ground truth: the same branches, in the same order, with the same element types;
    # what uproot cannot write differs: counters are Int_t, not UInt_t, and the empty truth branches of data
    # need counters of their own
    own_counters = {"lep_truthMatched_n", "jet_truthMatched_n", "jet_trueflav_n"}
    for demo, real in (("mc_361106.Zee.4lep.root", "MC"), ("data_D.4lep.root", "Data")):
        expected = [(n, "int32" if n.endswith("_n") else d, j) for n, d, j in layout(ATLAS / real / demo)]
        written = [entry for entry in layout(folder / demo) if entry[0] not in own_counters]
        assert written == expected, demo
    tree = uproot.open(folder / SAMPLES["llll"].filename)["mini"]
    events = tree.arrays(["lep_pt", "lep_n", "channelNumber", "XSection"])
    assert ak.all(ak.num(events.lep_pt) == events.lep_n)
    assert np.all(events.channelNumber == SAMPLES["llll"].dsid)
    assert ak.min(events.lep_pt) > 5000  # MeV, as in the files


def test_data_have_the_real_datas_traps(demo_fileset):
    """What the real data files have and a reader can trip on (checked on the real files as well)."""
    for path in (demo_fileset.parent / "data_B.4lep.root", ATLAS / "Data/data_B.4lep.root"):
        data = uproot.open(path)["mini"].arrays()
        for truth in ("lep_truthMatched", "jet_truthMatched", "jet_trueflav"):
            assert ak.all(ak.num(data[truth]) == 0), (path, truth)
        assert np.all(data.mcWeight == 0) and np.all(data.scaleFactor_ELE == 0), path
        assert np.all(data.XSection == 1) and np.all(data.SumWeights == 1), path
        assert set(np.unique(data.lep_n).tolist()) == {4, 5}, path
        assert np.all(data.channelNumber == data.runNumber), path


def test_physics_is_believable(demo_fileset):
    folder = demo_fileset.parent
    higgs = arrays(folder, SAMPLES["ggH125_ZZ4lep"].filename)
    lep = ak.zip({"pt": higgs.lep_pt, "eta": higgs.lep_eta, "phi": higgs.lep_phi, "E": higgs.lep_E})
    four = lep[ak.num(lep) == 4]
    px = ak.sum(four.pt * np.cos(four.phi), axis=1)
    py = ak.sum(four.pt * np.sin(four.phi), axis=1)
    pz = ak.sum(four.pt * np.sinh(four.eta), axis=1)
    m4l = np.sqrt(ak.sum(four.E, axis=1) ** 2 - px**2 - py**2 - pz**2) / 1000
    assert abs(np.median(m4l) - 125) < 0.5
    assert 1.5 < np.std(m4l[abs(m4l - 125) < 10]) < 2.5
    # five or more leptons in ~1%, trigger failures a few per mille
    all_mc = [arrays(folder, s.filename) for s in SAMPLES.values()]
    n = sum(len(a) for a in all_mc)
    assert 0.003 < sum(int(np.sum(a.lep_n >= 5)) for a in all_mc) / n < 0.05
    assert 0.0005 < sum(int(np.sum(~(a.trigE | a.trigM))) for a in all_mc) / n < 0.01
    zz = arrays(folder, SAMPLES["llll"].filename)
    assert 0.003 < np.mean(zz.mcWeight < 0) < 0.03
    assert np.all(higgs.mcWeight > 0)
    type_sums = ak.sum(higgs.lep_type[ak.num(lep) == 4], axis=1)
    assert {44, 48, 52} <= set(ak.to_numpy(type_sums).tolist())


@pytest.mark.slow
def test_expected_yields_do_not_depend_on_scale(tmp_path):
    def skim_yields(scale):
        fileset = load_fileset(generate_demo(tmp_path / f"s{scale}", scale=scale, seed=11))
        out = {}
        for name in ("llll", "ggH125_ZZ4lep"):
            meta = fileset[name]["metadata"]
            a = uproot.open(next(iter(fileset[name]["files"])))["mini"].arrays(
                [
                    "mcWeight",
                    "scaleFactor_PILEUP",
                    "scaleFactor_ELE",
                    "scaleFactor_MUON",
                    "scaleFactor_LepTRIGGER",
                ]
            )
            w = (
                10
                * 1000
                * meta["xsec"]
                / meta["sumw"]
                * a.mcWeight
                * a.scaleFactor_PILEUP
                * a.scaleFactor_ELE
                * a.scaleFactor_MUON
                * a.scaleFactor_LepTRIGGER
            )
            out[name] = (len(a), float(np.sum(w)))
        return out

    small, large = skim_yields(0.02), skim_yields(0.08)
    for name in small:
        assert large[name][0] == round(DEMO_PROCESSES[name].events * 0.08)
        target = DEMO_PROCESSES[name].skim_yield
        # mcWeight spread is +-20% uniform: the relative error of the sum is ~0.12/sqrt(n)
        for count, total in (small[name], large[name]):
            assert abs(total / target - 1) < 5 * 0.12 / np.sqrt(count)


@pytest.mark.slow
def test_deterministic_for_a_seed(tmp_path):
    one = generate_demo(tmp_path / "one", scale=0.01, seed=5).parent
    two = generate_demo(tmp_path / "two", scale=0.01, seed=5).parent
    three = generate_demo(tmp_path / "three", scale=0.01, seed=6).parent
    for name in ("mc_363490.llll.4lep.root", "data_D.4lep.root"):
        a, b, c = (arrays(folder, name) for folder in (one, two, three))
        assert ak.array_equal(a, b)
        assert not ak.array_equal(a, c)
