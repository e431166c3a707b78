"""Templates from histograms, and every kind of bad input as one clear error."""

from __future__ import annotations

import re

import hist
import numpy as np
import pytest

from fitting.templates import TemplateError, Templates

EDGES = np.array([100.0, 110.0, 120.0, 130.0])
ROLES = {"d": "data", "h": "signal", "zz": "background", "z": "background"}


def make_hist(values: dict[str, list[float]], variances: dict[str, list[float]] | None = None) -> hist.Hist:
    h = hist.Hist(
        hist.axis.StrCategory(list(values), name="dataset", growth=True),
        hist.axis.Variable(EDGES, name="mass"),
        storage=hist.storage.Weight(),
    )
    for name, v in values.items():
        var = (variances or {}).get(name, v)
        h[name, :] = np.stack([v, var], axis=-1)
    return h


def test_sums_by_role_with_variances():
    h = make_hist(
        {"z": [1.0, 2.0, 3.0], "h": [0.5, 0.0, 0.1], "d": [3, 4, 5], "zz": [2.0, 2.0, 2.0]},
        {"z": [0.1, 0.2, 0.3], "zz": [0.01, 0.01, 0.01], "h": [0.05, 0.0, 0.01]},
    )
    t = Templates.from_hist(h, ROLES)
    np.testing.assert_array_equal(t.background, [3.0, 4.0, 5.0])
    np.testing.assert_allclose(t.background_var, [0.11, 0.21, 0.31])
    np.testing.assert_array_equal(t.signal, [0.5, 0.0, 0.1])
    np.testing.assert_array_equal(t.data, [3, 4, 5])
    np.testing.assert_allclose(t.predict(2.0, 0.5), [2.5, 2.0, 2.7])


def test_bin_with_no_prediction_and_no_data_is_skipped():
    t = Templates.from_arrays(EDGES, [3, 0, 5], [1.0, 0.0, 1.0], [1.0, 0.0, 2.0])
    assert t.nbins == 2
    assert t.used.tolist() == [True, False, True]


def test_fit_range_keeps_bins_inside():
    t = Templates.from_arrays(EDGES, [3, 1, 5], [1.0, 0.5, 1.0], [1.0, 1.0, 2.0], fit_range=(110, 130))
    assert t.data.tolist() == [1, 5]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"data": [3, 2, 1], "signal": [1, 0, 1], "background": [1, 0, 1]},
            "bin 1 [110, 120) GeV has 2 data events but zero predicted events",
        ),
        (
            {"data": [3, 2, 1], "signal": [1, 1, 1], "background": [1, -0.5, 1]},
            "background is negative or not finite in bin 1 [110, 120) GeV: -0.5",  # was: np.float64(-0.5)
        ),
        ({"data": [3, -2, 1], "signal": [1, 1, 1], "background": [1, 1, 1]}, "data is negative"),
        ({"data": [0, 0, 0], "signal": [1, 1, 1], "background": [1, 1, 1]}, "the data histogram is empty"),
        ({"data": [1, 1, 1], "signal": [0, 0, 0], "background": [1, 1, 1]}, "the signal histogram is empty"),
        (
            {"data": [1, 1, 1], "signal": [1, 1, 1], "background": [0, 0, 0]},
            "the background histogram is empty",
        ),
        (
            {"data": [1, 1], "signal": [1, 1, 1], "background": [1, 1, 1]},
            "data has 2 bins but the edges define 3",
        ),
        (
            {"data": [1, 1.5, 1], "signal": [1, 1, 1], "background": [1, 1, 1]},
            "data must be integer counts: 1.5 in bin 1 [110, 120) GeV",  # was: no value, no bin
        ),
    ],
)
def test_bad_arrays(kwargs, message):
    with pytest.raises(TemplateError, match=re.escape(message)):
        Templates.from_arrays(EDGES, **kwargs)


def test_missing_roles():
    h = make_hist({"z": [1.0, 2.0, 3.0], "d": [3, 4, 5]})
    with pytest.raises(TemplateError, match="no signal dataset"):
        Templates.from_hist(h, ROLES)
    with pytest.raises(TemplateError, match="no data dataset"):
        Templates.from_hist(make_hist({"z": [1.0, 2.0, 3.0], "h": [1.0, 1.0, 1.0]}), ROLES)
