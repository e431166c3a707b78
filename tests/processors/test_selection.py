"""Each cut on hand-built events written to real ROOT files, including the edges."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from processors.selection import (
    PRESETS,
    Leptons,
    active_cuts,
    charge,
    flavour,
    four_leptons,
    isolation,
    kinematics,
    select,
    trigger,
)
from tests.helpers import good_event, lepton, read_events

DEFAULT = PRESETS["default"]
TUTORIAL = PRESETS["tutorial"]
OUTREACH = PRESETS["outreach"]


def with_lepton(index: int, **changes) -> dict:
    """The good event with lepton ``index`` rebuilt with ``changes`` (GeV)."""
    event = copy.deepcopy(good_event())
    old = event["leptons"][index]
    base = {
        "pt": old["pt"] / 1000,
        "eta": old["eta"],
        "phi": old["phi"],
        "charge": old["charge"],
        "flavour": old["type"],
    }
    event["leptons"][index] = lepton(**(base | changes))
    return event


def evaluate(write_events, cut, events, cfg=DEFAULT):
    """Write ``events``, read them back and apply ``cut`` (lepton cuts to the events' four leptons)."""
    read = read_events(write_events(events))
    if cut in (trigger, four_leptons):
        return cut(read, cfg).tolist()
    return cut(Leptons.of(read.lep, np.ones(len(read), dtype=bool), 4), cfg).tolist()


def test_good_event_passes_everything(write_events):
    events = read_events(write_events([good_event()]))
    masks = select(events, DEFAULT).masks
    assert list(masks) == ["trigger", "four_leptons", "kinematics", "flavour", "isolation", "charge"]
    assert all(m.tolist() == [True] for m in masks.values())


@pytest.mark.parametrize(
    ("trig_e", "trig_m", "expected"),
    [(True, False, True), (False, True, True), (True, True, True), (False, False, False)],
)
def test_trigger(write_events, trig_e, trig_m, expected):
    assert evaluate(write_events, trigger, [good_event(trigE=trig_e, trigM=trig_m)]) == [expected]


def test_lepton_count_rejects_three_and_five(write_events):
    leptons = good_event()["leptons"]
    events = [
        good_event(leptons=leptons[:3]),
        good_event(),
        good_event(leptons=[*leptons, lepton(10, flavour=13)]),
    ]
    assert evaluate(write_events, four_leptons, events) == [False, True, False]


@pytest.mark.parametrize(
    ("index", "changes", "expected"),
    [
        (3, {"pt": 7.0}, False),  # every pT > 7 GeV, strictly
        (3, {"pt": 7.001}, True),
        (0, {"pt": 20.0}, None),  # leading pT > 20 GeV, strictly (set below with all leptons <= 20)
        (2, {"eta": 2.5}, False),  # every |eta| < 2.5, strictly
        (2, {"eta": -2.5}, False),
        (2, {"eta": 2.499}, True),
    ],
)
def test_kinematics_edges(write_events, index, changes, expected):
    event = with_lepton(index, **changes)
    if expected is None:  # leading lepton exactly 20 GeV: all four at or below 20
        event = good_event(leptons=[lepton(20.0, 0.1 * i, i, (-1) ** i, 11 if i < 2 else 13) for i in range(4)])
        assert evaluate(write_events, kinematics, [event]) == [False]
        event["leptons"][0] = lepton(20.01, 0.0, 0.0, 1, 11)
        assert evaluate(write_events, kinematics, [event]) == [True]
        return
    assert evaluate(write_events, kinematics, [event]) == [expected]


@pytest.mark.parametrize(
    ("flavours", "expected"),
    [
        ((11, 11, 11, 11), True),
        ((11, 11, 13, 13), True),
        ((13, 13, 13, 13), True),
        ((11, 11, 11, 13), False),
        ((11, 13, 13, 13), False),  # sums 46 and 50
    ],
)
def test_flavour_sums(write_events, flavours, expected):
    event = good_event()
    for lep, f in zip(event["leptons"], flavours, strict=True):
        lep["type"] = f
    assert evaluate(write_events, flavour, [event]) == [expected]


@pytest.mark.parametrize(
    ("charges", "expected"),
    [
        ((1, -1, 1, -1), True),
        ((1, 1, 1, -1), False),
        ((-1, -1, -1, 1), False),
        ((1, 1, 1, 1), False),
    ],
)
def test_charge_sums(write_events, charges, expected):
    event = good_event()
    for lep, q in zip(event["leptons"], charges, strict=True):
        lep["charge"] = q
    assert evaluate(write_events, charge, [event]) == [expected]


@pytest.mark.parametrize(
    ("ptcone", "etcone", "default", "tutorial"),
    [
        (0.0, 0.0, True, True),
        (0.29 * 20, 0.0, True, True),
        (0.3 * 20, 0.0, False, False),  # ptcone30/pT = 0.3 exactly: rejected
        (0.0, 0.3 * 20, False, True),  # etcone20/pT = 0.3: only the default preset tests it
        (0.0, 0.5 * 20, False, True),
        (0.0, -0.1 * 20, True, True),  # negative calorimeter isolation occurs and passes
    ],
)
def test_isolation_presets(write_events, ptcone, etcone, default, tutorial):
    event = with_lepton(3, pt=20.0, ptcone30=ptcone, etcone20=etcone)
    assert evaluate(write_events, isolation, [event], DEFAULT) == [default]
    assert evaluate(write_events, isolation, [event], TUTORIAL) == [tutorial]


def test_tutorial_preset_ignores_trigger(write_events):
    events = read_events(write_events([good_event(trigE=False, trigM=False)]))
    assert next(n for n, _ in active_cuts(TUTORIAL)) == "four_leptons"
    assert select(events, TUTORIAL).passed.tolist() == [True]
    assert select(events, DEFAULT).passed.tolist() == [False]


def test_masks_are_cumulative_and_handle_empty_input(write_events):
    leptons = good_event()["leptons"]
    events = [
        good_event(),
        good_event(trigE=False),
        with_lepton(1, eta=3.0),
        good_event(leptons=leptons[:3]),
        good_event(leptons=[*leptons, lepton(9.0)]),
        good_event(),
    ]
    selection = select(read_events(write_events(events)), DEFAULT)
    masks = selection.masks
    assert masks["trigger"].tolist() == [True, False, True, True, True, True]
    assert masks["four_leptons"].tolist() == [True, False, True, False, False, True]
    assert masks["charge"].tolist() == [True, False, False, False, False, True]
    for before, after in zip(list(masks.values()), list(masks.values())[1:], strict=False):
        assert np.all(after <= before)
    assert len(selection.leptons) == 2
    assert selection.leptons.pt.shape == (2, 4)
    empty = select(read_events(write_events([])), DEFAULT)
    assert all(len(m) == 0 for m in empty.masks.values())
    assert empty.leptons.pt.shape == (0, 4)


def test_leptons_need_the_stated_multiplicity(write_events):
    read = read_events(write_events([good_event(leptons=good_event()["leptons"][:3])]))
    with pytest.raises(ValueError, match="at least 4 leptons"):
        Leptons.of(read.lep, np.ones(1, dtype=bool), 4)


def test_leptons_of_a_sliced_collection(write_events):
    # a collection that is no longer plain lists of records (here: every other event) is packed first
    events = [good_event(leptons=[lepton(30 + i + k, 0.1 * k, 0.2 * k) for k in range(4)]) for i in range(6)]
    read = read_events(write_events(events))
    every = np.ones(6, dtype=bool)
    whole = Leptons.of(read.lep, every, 4)
    sliced = Leptons.of(read.lep[::2], every[::2], 4)
    for field in ("pt", "eta", "phi", "energy", "charge", "flavour", "ptcone30", "etcone20"):
        np.testing.assert_array_equal(getattr(sliced, field), getattr(whole, field)[::2])


def test_outreach_preset_judges_the_first_four_leptons_only(write_events):
    leptons = good_event()["leptons"]
    # soft, forward, non-isolated: fails every kinematic and isolation cut
    soft = lepton(3.0, 3.5, 0.0, +1, 13, ptcone30=10.0, etcone20=10.0)
    soft_electron = lepton(3.0, 3.5, 0.0, +1, 11, ptcone30=10.0, etcone20=10.0)
    events = [
        good_event(),  # passes
        good_event(leptons=[*leptons, soft]),  # a fifth lepton (making both sums odd) is ignored: passes
        good_event(leptons=[*leptons[:3], soft, leptons[3]]),  # the first four sum to charge +2: fails charge
        good_event(leptons=[*leptons[:3], lepton(25.0, flavour=11, charge=-1)]),  # types sum to 46: fails flavour
        good_event(leptons=leptons[:3]),  # three leptons: fails the count
        good_event(trigE=False, leptons=[soft_electron, *leptons[1:]]),  # no trigger, soft and not isolated: passes
    ]
    selection = select(read_events(write_events(events)), OUTREACH)
    assert list(selection.masks) == ["four_leptons", "flavour", "charge"]
    assert selection.masks["four_leptons"].tolist() == [True, True, True, True, False, True]
    assert selection.masks["flavour"].tolist() == [True, True, True, False, False, True]
    assert selection.passed.tolist() == [True, True, False, False, False, True]
    # the candidates are the first four leptons as stored
    np.testing.assert_allclose(selection.leptons.pt[1], [lp["pt"] for lp in leptons], rtol=1e-6)
    default = select(read_events(write_events(events)), DEFAULT)
    assert default.passed.tolist() == [True, False, False, False, False, False]
