"""The library internals hzz4l relies on (processors.compat): each test fails loudly when an upgrade of awkward
or coffea changes what the code assumes, before a physics result can change."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from processors.compat import flat_columns
from tests.helpers import ATLAS, read_events

RECORDS = ak.Array([[{"pt": 1.0, "q": 1}, {"pt": 2.0, "q": -1}], [], [{"pt": 3.0, "q": 1}], [{"pt": 4.0, "q": -1}]])


@pytest.mark.parametrize(
    "collection",
    [
        pytest.param(RECORDS, id="plain"),
        pytest.param(RECORDS[1:], id="sliced"),  # offsets start above 0
        pytest.param(RECORDS[[3, 0]], id="indexed"),  # not plain lists: packed first
        pytest.param(RECORDS[RECORDS.pt > 1.5], id="masked"),
    ],
)
def test_flat_columns_are_the_flattened_fields(collection):
    offsets, columns = flat_columns(collection, ("pt", "q"))
    assert offsets.shape == (len(collection) + 1,)
    for field in ("pt", "q"):
        flat = columns[field][offsets[0] : offsets[-1]]
        np.testing.assert_array_equal(flat, ak.to_numpy(ak.flatten(collection[field])))
    np.testing.assert_array_equal(np.diff(offsets), ak.to_numpy(ak.num(collection)))


def test_a_real_files_leptons_are_plain_lists_of_records():
    """Read as the processor reads it, the lepton collection of a real file needs no packing (a copy per chunk):
    if a coffea or awkward upgrade changes the layout, this says so."""
    lep = read_events(ATLAS / "Data/data_A.4lep.root").lep
    layout = ak.to_layout(lep)
    assert isinstance(layout, ak.contents.ListOffsetArray)
    assert isinstance(layout.content, ak.contents.RecordArray)
    offsets, columns = flat_columns(lep, ("pt", "type"))
    assert np.shares_memory(columns["pt"], np.asarray(layout.content.content("pt").data))
    np.testing.assert_array_equal(columns["type"][offsets[0] : offsets[-1]], ak.to_numpy(ak.flatten(lep["type"])))
