"""The processor against independent computations: numpy m4l, the weight formula, a per-event reference."""

from __future__ import annotations

import math

import hist
import numpy as np
import pytest

from analysis.fileset import load_fileset, validate_fileset
from analysis.runner import run_fileset
from processors import PRESETS, HZZ4lProcessor, Leptons, event_weights, four_lepton_mass, mass_histogram
from tests import reference
from tests.helpers import good_event, lepton, read_events


@pytest.mark.parametrize(
    "phi_range",
    [(-math.pi, math.pi), (0.0, 2 * math.pi), (-3 * math.pi, 3 * math.pi)],
    ids=["atlas", "zero-to-two-pi", "wide"],
)
def test_m4l_against_numpy(write_events, phi_range):
    rng = np.random.default_rng(3)
    events = []
    for _ in range(50):
        pts, etas, phis = rng.uniform(5, 200, 4), rng.uniform(-2.4, 2.4, 4), rng.uniform(*phi_range, 4)
        masses = rng.choice([0.000511, 0.10566], 4)
        events.append(
            good_event(
                leptons=[lepton(*x, mass=m) for x, m in zip(zip(pts, etas, phis, strict=True), masses, strict=True)]
            )
        )
    read = read_events(write_events(events))
    got = four_lepton_mass(Leptons.of(read.lep, np.ones(len(read), dtype=bool), 4))
    expected = []
    for ev in events:
        # the file stores float32 (pT, eta, phi, E); the sum is done in float64
        pt, eta, phi, e = (np.float32([lp[k] for lp in ev["leptons"]]).astype(float) for k in ("pt", "eta", "phi", "E"))
        total = np.array([e.sum(), (pt * np.cos(phi)).sum(), (pt * np.sin(phi)).sum(), (pt * np.sinh(eta)).sum()])
        expected.append(np.sqrt(total[0] ** 2 - np.sum(total[1:] ** 2)) / 1000)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_m4l_of_a_z_pair_at_rest(write_events):
    # two back-to-back 45.6 GeV leptons twice: m4l = 4 * 45.6 GeV
    leps = [
        lepton(45.6, 0.0, 0.0),
        lepton(45.6, 0.0, math.pi),
        lepton(45.6, 0.0, math.pi / 2),
        lepton(45.6, 0.0, -math.pi / 2),
    ]
    read = read_events(write_events([good_event(leptons=leps)]))
    assert four_lepton_mass(Leptons.of(read.lep, np.ones(1, dtype=bool), 4))[0] == pytest.approx(182.4)


def test_weight_formula(write_events):
    sfs = {
        "scaleFactor_PILEUP": 0.9,
        "scaleFactor_ELE": 1.1,
        "scaleFactor_MUON": 0.95,
        "scaleFactor_LepTRIGGER": 1.02,
    }
    path = write_events([good_event(mcWeight=2.5, **sfs), good_event(mcWeight=-1.0)])
    meta = {"role": "background", "xsec": 1.2578, "sumw": 7538705.8077, "red_eff": 0.5}
    got = event_weights(read_events(path), meta, lumi_fb=10.0)
    norm = 10 * 1000 * 1.2578 / (7538705.8077 * 0.5)
    sf = np.prod(np.float32(list(sfs.values())).astype(float))
    np.testing.assert_allclose(got, [norm * 2.5 * sf, -norm], rtol=1e-12)
    assert event_weights(read_events(path), {"role": "data"}, 10.0).tolist() == [1.0, 1.0]


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["default", "tutorial", "outreach"])
def test_processor_matches_per_event_reference(demo_fileset, preset):
    fileset = load_fileset(demo_fileset)
    bins = (34, 80.0, 250.0)
    result = run_fileset(fileset, HZZ4lProcessor(PRESETS[preset], lumi_fb=10.0, mass_bins=bins), status=False)
    expected = reference.reference(fileset, preset, lumi_fb=10.0, bins=bins)
    histogram = mass_histogram(result.output["mass"])
    for name, ref in expected.items():
        view = histogram[name, :].view()
        np.testing.assert_allclose(view.value, ref["values"], rtol=1e-9, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(view.variance, ref["variances"], rtol=1e-9, atol=1e-15, err_msg=name)
        flow = result.output["cutflow"][name]
        cuts = ["all"] + [c for c in flow["events"] if c != "all"]
        assert flow["events"] == {c: ref["cutflow"].get(c, 0) for c in cuts}, name
        np.testing.assert_allclose(
            [flow["weighted"][c] for c in cuts],
            [ref["weighted"].get(c, 0.0) for c in cuts],
            rtol=1e-9,
            atol=1e-12,
        )
        assert result.output["processed"][name] == ref["cutflow"]["all"]


def test_chunks_with_no_events_or_no_selection(write_events):
    empty, rejected = write_events([]), write_events([good_event(trigE=False)] * 3)
    fileset = validate_fileset(
        {
            "a": {"files": {str(empty): "mini"}, "metadata": {"role": "data"}},
            "b": {"files": {str(rejected): "mini"}, "metadata": {"role": "data"}},
        }
    )
    out = run_fileset(fileset, HZZ4lProcessor(), status=False).output
    assert isinstance(out["mass"], hist.Hist)
    assert "b" in out["mass"].axes["dataset"]
    assert mass_histogram(out["mass"])["b", :].sum().value == 0
    assert out["cutflow"]["b"]["events"]["all"] == 3
    assert out["cutflow"]["b"]["events"]["trigger"] == 0
    assert out["processed"].get("a", 0) == 0
