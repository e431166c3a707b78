"""Channels, Z candidates, the ATLAS paper's selection and the systematic variations: on hand-built events at the
edges, and on the real files against the independent per-event reference."""

from __future__ import annotations

import math

import hist
import numpy as np
import pytest

from analysis.fileset import load_fileset
from analysis.runner import run_fileset
from processors import CHANNELS, PRESETS, VARIATIONS, HZZ4lProcessor, Leptons, mass_histogram, z_candidates
from processors.selection import delta_r_cut, sfos_mass, z1_mass, z2_mass
from tests import reference
from tests.helpers import ATLAS, good_event, lepton, read_events

PAPER = PRESETS["paper"]
BINS = (34, 80.0, 250.0)


def pair(mass: float, pt: float, phi: float = 0.0, eta: float = 0.0, flavour: int = 11) -> list[dict]:
    """Two massless opposite-charge leptons of equal pT at the same eta whose invariant mass is ``mass`` (GeV)."""
    half = math.asin(mass / (2 * pt))  # m = 2 pT sin(dphi / 2) at equal eta
    return [lepton(pt, eta, phi - half, +1, flavour), lepton(pt, eta, phi + half, -1, flavour)]


def as_branches(leptons: list[dict]) -> dict[str, list]:
    """Hand-built leptons as the reference's per-event branches."""
    return {f"lep_{k}": [lp[k] for lp in leptons] for k in ("pt", "eta", "phi", "E", "type", "charge")}


def candidates(write_events, events: list[dict]) -> Leptons:
    read = read_events(write_events(events))
    return Leptons.of(read.lep, np.ones(len(read), dtype=bool), 4)


def test_z_pairing_takes_the_pair_closest_to_the_z_mass(write_events):
    # 2e2mu: one pairing; the mumu pair is closer to m_Z, so it is Z1
    mixed = [*pair(60.0, 40.0, 0.3, 0.5, 11), *pair(88.0, 50.0, 2.5, -0.4, 13)]
    # 4e: two pairings; (0,1)+(2,3) has 80 and 30 GeV pairs, but the cross pairing has one nearer 91.19
    same = [*pair(80.0, 45.0, 0.0, 0.0, 11), *pair(30.0, 25.0, 2.0, 1.0, 11)]
    # e+ e+ mu- mu-: no same-flavour opposite-charge split
    unpaired = [lepton(40, 0.1, 0, +1, 11), lepton(30, 0.5, 2, +1, 11), lepton(25, -1, -2, -1, 13)]
    unpaired.append(lepton(20, 1, 1, -1, 13))
    leptons = candidates(write_events, [good_event(leptons=e) for e in (mixed, same, unpaired)])
    z = z_candidates(leptons)
    expected = [reference.z_pairing(as_branches(e)) for e in (mixed, same, unpaired)]
    assert z.paired.tolist() == [True, True, False]
    np.testing.assert_allclose(z.z1_mass[:2], [expected[0][0], expected[1][0]], rtol=1e-6)
    np.testing.assert_allclose(z.z2_mass[:2], [expected[0][1], expected[1][1]], rtol=1e-6)
    assert z.z1_mass[0] == pytest.approx(88.0, rel=1e-5) and z.z2_mass[0] == pytest.approx(60.0, rel=1e-5)
    assert abs(z.z1_mass[1] - 91.1876) < abs(80.0 - 91.1876)  # the cross pairing won
    assert np.isnan(z.z1_mass[2]) and np.isnan(z.z2_mass[2])
    in_window = [50 < e[0] < 106 for e in expected[:2]]
    assert z1_mass(leptons, PAPER).tolist() == [*in_window, False]  # an event that does not pair fails


def test_z_pairing_tie_goes_to_the_first_pair(write_events):
    # mu+ at phi 0 and two mu- mirrored at phi +-c: the pairs (0, 1) and (0, 3) have exactly the same mass, and
    # belong to different pairings, whose other pairs (2, 3) and (1, 2) differ; as documented, (0, 1) wins
    half = math.asin(85.0 / 100.0)
    event = [
        lepton(50.0, 0.0, 0.0, +1, 13),
        lepton(50.0, 0.0, 2 * half, -1, 13),
        lepton(30.0, 1.0, 2.0, +1, 13),
        lepton(50.0, 0.0, -2 * half, -1, 13),
    ]
    z = z_candidates(candidates(write_events, [good_event(leptons=event)]))
    branches = as_branches(event)
    assert reference.invariant_mass(branches, (0, 1)) == reference.invariant_mass(branches, (0, 3))
    other_pair = reference.invariant_mass(branches, (1, 2))
    assert abs(other_pair - reference.invariant_mass(branches, (2, 3))) > 1.0
    np.testing.assert_allclose([z.z1_mass[0], z.z2_mass[0]], reference.z_pairing(branches), rtol=1e-6)
    assert abs(z.z2_mass[0] - other_pair) > 1.0


@pytest.mark.parametrize(
    ("m4l_target", "m_z2", "expected"),
    [
        (130.0, 12.5, True),  # below 140 GeV the threshold is 12 GeV
        (130.0, 11.5, False),
        (165.0, 31.5, True),  # halfway up the ramp: 12 + 0.5 * 38 = 31 GeV
        (165.0, 30.5, False),
        (200.0, 50.5, True),  # above 190 GeV: 50 GeV
        (200.0, 49.5, False),
    ],
)
def test_z2_threshold_ramp(write_events, m4l_target, m_z2, expected):
    # Z1 at 91 GeV, Z2 at m_z2, the two pairs boosted apart until m4l reaches the target
    z1, z2 = pair(91.0, 46.0, 0.0, 0.0, 13), pair(m_z2, 0.6 * m_z2 + 0.5, math.pi, 0.0, 11)
    low, high = 0.0, 5.0
    for _ in range(60):  # bisect the rapidity gap that gives the target m4l
        gap = 0.5 * (low + high)
        moved = [lepton(lp["pt"] / 1000, gap, lp["phi"], lp["charge"], lp["type"]) for lp in z2]
        m4l = reference.mass(as_branches(z1 + moved))
        low, high = (gap, high) if m4l < m4l_target else (low, gap)
    leptons = candidates(write_events, [good_event(leptons=z1 + moved)])
    assert leptons.m4l[0] == pytest.approx(m4l_target, abs=0.01)
    assert z2_mass(leptons, PAPER).tolist() == [expected]


@pytest.mark.parametrize(
    ("close", "separation", "expected"),
    [(11, 0.09, False), (11, 0.11, True), (13, 0.19, False), (13, 0.21, True)],
)
def test_delta_r_same_and_different_flavour(write_events, close, separation, expected):
    # an electron and a lepton of flavour ``close`` separated by ``separation`` in eta; every other pair far apart
    other = 24 - close  # the flavour that balances the event to two electrons and two muons, or four electrons
    event = [
        lepton(40, 0.0, 0.0, +1, 11),
        lepton(35, separation, 0.0, -1, close),
        lepton(30, 1.5, 2.5, +1, close),
        lepton(25, -1.5, -2.0, -1, 11 if close == 11 else other),
    ]
    assert delta_r_cut(candidates(write_events, [good_event(leptons=event)]), PAPER).tolist() == [expected]


@pytest.mark.parametrize(("m_ll", "expected"), [(4.9, False), (5.1, True)])
def test_jpsi_veto_on_every_sfos_pair(write_events, m_ll, expected):
    # four muons; the opposite-charge pair (0, 3), which is not a Z candidate, has the mass m_ll
    event = [
        lepton(20.0, 0.0, 0.0, +1, 13),
        lepton(40.0, 1.2, 2.4, -1, 13),
        lepton(30.0, -1.0, -2.0, +1, 13),
        lepton(20.0, 0.0, 2 * math.asin(m_ll / 40.0), -1, 13),  # m = 2 pT sin(dphi / 2)
    ]
    assert sfos_mass(candidates(write_events, [good_event(leptons=event)]), PAPER).tolist() == [expected]


def test_momentum_scale_moves_a_lepton_across_the_threshold(write_events):
    # the softest lepton at 6.95 GeV with a 0.1 GeV uncertainty: out nominal and down, in when shifted up
    leptons = [*good_event()["leptons"][:3], lepton(6.95, -1.5, 1.0, -1, 13, pt_syst=0.1)]
    meta = {"dataset": "mc", "role": "background", "xsec": 1.0, "sumw": 1.0, "red_eff": 1.0}
    out = HZZ4lProcessor(lumi_fb=1.0).process(read_events(write_events([good_event(leptons=leptons)]), meta))
    totals = {v: mass_histogram(out["mass"], v)["mc", :].sum().value for v in VARIATIONS}
    assert totals["nominal"] == 0 and totals["lep_scale_down"] == 0
    assert totals["lep_scale_up"] == pytest.approx(1000.0)  # lumi 1 fb^-1 x 1000 x xsec 1 pb / sumw 1


@pytest.fixture(scope="module")
def real_runs() -> dict:
    fileset = load_fileset(ATLAS / "fileset.json")
    outputs = {}
    for preset in ("default", "paper", "outreach"):
        proc = HZZ4lProcessor(PRESETS[preset], mass_bins=BINS)
        expected = reference.reference(fileset, preset, 10.0, BINS)
        outputs[preset] = (run_fileset(fileset, proc, status=False).output, expected)
    return outputs


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["default", "paper", "outreach"])
def test_channels_and_variations_on_the_real_files(real_runs, preset):
    output, expected = real_runs[preset]
    h = output["mass"]
    for name, ref in expected.items():
        for channel in {*CHANNELS, *ref["channels"]}:
            got = mass_histogram(h, channel=channel)[name, :].values() if channel in h.axes["channel"] else 0
            np.testing.assert_allclose(got, ref["channels"].get(channel, 0.0), rtol=1e-9, atol=1e-12, err_msg=channel)
        # summing the channel axis gives the nominal histogram
        summed = sum(mass_histogram(h, channel=c)[name, :].values() for c in h.axes["channel"])
        np.testing.assert_allclose(mass_histogram(h)[name, :].values(), summed, rtol=1e-12)
        for variation in VARIATIONS[1:]:
            got = mass_histogram(h, variation)[name, :].values()
            want = ref["variations"].get(variation, 0.0)
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=variation)
    data = mass_histogram(h, "lep_scale_up")["data", :].values()
    assert not data.any(), "data fill only the nominal histogram"
    # the momentum scale moves simulated events: the variation differs from the nominal somewhere
    up, nominal = mass_histogram(h, "lep_scale_up")["Zmumu", :], mass_histogram(h)["Zmumu", :]
    assert not np.array_equal(up.values(), nominal.values())


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["default", "paper"])
def test_z_candidate_histograms_on_the_real_files(real_runs, preset):
    output, expected = real_runs[preset]
    for name, ref in expected.items():
        for key, k in (("z1_mass", 0), ("z2_mass", 1)):
            axis = output[key].axes["mass"]
            check = hist.Hist(axis, storage=hist.storage.Weight())
            check.fill([z[k] for z in ref["z"]], weight=[z[2] for z in ref["z"]])
            got = output[key][{"dataset": name, "channel": sum}].values()
            np.testing.assert_allclose(got, check.values(), rtol=1e-9, atol=1e-12, err_msg=f"{name} {key}")
        last = list(ref["cutflow"])[-1]
        leptons = output["lepton_pt"][{"dataset": name, "channel": sum}].sum(flow=True).value
        assert leptons == pytest.approx(4 * ref["weighted"][last], rel=1e-9)  # four leptons per event


def test_paper_cuts_are_cutflow_steps_on_the_real_data(real_runs):
    output, expected = real_runs["paper"]
    flow = output["cutflow"]["data"]["events"]
    assert list(flow)[-4:] == ["z1_mass", "z2_mass", "delta_r", "sfos_mass"]
    assert flow == {cut: expected["data"]["cutflow"].get(cut, 0) for cut in flow}
    assert flow["charge"] > flow["z1_mass"] > flow["sfos_mass"] > 0


@pytest.mark.slow
def test_nominal_only_run_gives_the_same_nominal(real_runs):
    output, _ = real_runs["default"]
    fileset = load_fileset(ATLAS / "fileset.json")
    proc = HZZ4lProcessor(PRESETS["default"], mass_bins=BINS, systematics=False)
    nominal = run_fileset(fileset, proc, status=False).output
    assert list(nominal["mass"].axes["variation"]) == ["nominal"]
    assert nominal["cutflow"] == output["cutflow"]
    for name in fileset:
        np.testing.assert_array_equal(mass_histogram(nominal["mass"])[name, :].values(),
                                      mass_histogram(output["mass"])[name, :].values())  # fmt: skip
    for key in ("z1_mass", "z2_mass", "lepton_pt", "lepton_eta"):
        np.testing.assert_array_equal(nominal[key].values(), output[key].values(), err_msg=key)
