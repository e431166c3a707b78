"""Property-based: random events through the processor against the plain per-event reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors import PRESETS, VARIATIONS, HZZ4lProcessor, mass_histogram
from tests import reference
from tests.helpers import lepton, read_events, write_root

# values on and around every threshold, plus ordinary ones
PT = st.sampled_from([5.0, 6.99, 7.0, 7.01, 19.99, 20.0, 20.01, 35.0, 80.0]) | st.floats(5.0, 120.0)
ETA = st.sampled_from([-2.5, -2.49, 0.0, 2.49, 2.5, 2.6]) | st.floats(-2.7, 2.7)
ISO = st.sampled_from([0.0, 0.29, 0.3, 0.31, -0.05]) | st.floats(-0.1, 0.6)
LEPTON = st.builds(
    lambda pt, eta, phi, q, f, pc, ec, syst: lepton(
        pt, eta, phi, q, f, ptcone30=pc * pt, etcone20=ec * pt, pt_syst=syst * pt
    ),
    PT,
    ETA,
    st.floats(-3.14, 3.14),
    st.sampled_from([-1, 1]),
    st.sampled_from([11, 13]),
    ISO,
    ISO,
    st.sampled_from([0.0, 0.002, 0.01, 0.05]),  # the momentum-scale uncertainty, relative to pT
)
EVENT = st.fixed_dictionaries(
    {
        "leptons": st.lists(LEPTON, min_size=3, max_size=5),
        "trigE": st.booleans(),
        "trigM": st.booleans(),
        "mcWeight": st.sampled_from([1.0, -1.0, 0.5, 2.0]),
        "scaleFactor_ELE": st.floats(0.8, 1.2),
    }
)
counter = itertools.count()


@pytest.mark.slow
@pytest.mark.parametrize("preset", list(PRESETS))
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(EVENT, min_size=1, max_size=30))
def test_random_events_match_the_reference(tmp_path_factory, preset, events):
    path = write_root(tmp_path_factory.getbasetemp() / f"prop{next(counter)}.root", events)
    meta = {"dataset": "mc", "role": "background", "xsec": 2.0, "sumw": 1000.0, "red_eff": 1.0}
    out = HZZ4lProcessor(PRESETS[preset], lumi_fb=10.0).process(read_events(path, meta))
    expected = reference.reference(
        {"mc": {"files": {str(path): "mini"}, "metadata": meta}},
        preset,
        lumi_fb=10.0,
        bins=(34, 80.0, 250.0),
    )["mc"]
    assert out["cutflow"]["mc"]["events"] == {c: expected["cutflow"].get(c, 0) for c in out["cutflow"]["mc"]["events"]}
    np.testing.assert_allclose(mass_histogram(out["mass"])["mc", :].values(), expected["values"], rtol=1e-9, atol=1e-12)
    for variation in VARIATIONS[1:]:
        got = mass_histogram(out["mass"], variation)["mc", :].values()
        want = expected["variations"].get(variation, 0.0)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=variation)
    weighted = out["cutflow"]["mc"]["weighted"]
    np.testing.assert_allclose(
        [weighted[c] for c in weighted], [expected["weighted"].get(c, 0.0) for c in weighted], rtol=1e-9, atol=1e-12
    )
