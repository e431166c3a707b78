from __future__ import annotations

import awkward as ak
import numpy as np
import uproot

from tests.helpers import good_event, read_events


def test_leptons_grouped_with_vector_behaviour(write_events):
    path = write_events([good_event(), good_event(leptons=good_event()["leptons"][:3])])
    events = read_events(path)
    assert ak.num(events.lep, axis=1).tolist() == [4, 3]
    assert set(events.lep.fields) >= {"pt", "eta", "phi", "energy", "charge", "type", "ptcone30", "etcone20"}
    assert "lep_pt" not in events.fields
    # lep["type"] is the flavour branch; lep.type is awkward's type of the array
    assert events.lep["type"][0].tolist() == [11, 11, 13, 13]
    raw = uproot.open(path)["mini"].arrays(["lep_pt", "lep_eta", "lep_phi"])
    px = ak.to_numpy(ak.flatten(raw.lep_pt * np.cos(raw.lep_phi)))
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(events.lep.px)), px, rtol=1e-6)


def test_demo_files_expose_every_collection(demo_fileset):
    events = read_events(demo_fileset.parent / "mc_345060.ggH125_ZZ4lep.4lep.root")
    assert {"lep", "jet", "trigE", "trigM", "mcWeight", "lep_n", "jet_n"} <= set(events.fields)
    assert ak.all(ak.num(events.lep, axis=1) == events.lep_n)
    assert ak.all(ak.num(events.jet, axis=1) == events.jet_n)
