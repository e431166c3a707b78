"""``--method tutorial`` equals a loop-for-loop port of the tutorial, on several histogram sets."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import tutorial_loops as loops
from fitting import tutorial
from fitting.fit import Model
from fitting.toys import goodness_of_fit_toys
from tests.fitting.sets import SETS


@pytest.fixture(scope="module", params=list(SETS))
def case(request):
    templates = SETS[request.param]()
    model = Model(templates, "pearson")
    return model, (templates.data, templates.signal, templates.background)


def test_one_parameter_scans(case):
    model, hists = case
    for parameter, port in (("s_s", loops.fit_s_s), ("s_b", loops.fit_s_b)):
        best, error, chi2, ndf = port(*hists)
        fit = tutorial.scan_1d(model, parameter)
        assert fit.interval.value == best
        assert fit.interval.err_low == fit.interval.err_high == pytest.approx(error, rel=1e-9)
        assert fit.chi2 == pytest.approx(chi2, rel=1e-12)
        assert fit.ndf == ndf


def test_two_parameter_scan(case):
    model, hists = case
    port = loops.fit_2d(*hists)
    scan = tutorial.scan_2d(model)
    assert scan.index == tuple(port["index"])
    assert (scan.s_s.value, scan.s_s.err_low, scan.s_s.err_high) == pytest.approx(port["s_s"], rel=1e-12)
    assert (scan.s_b.value, scan.s_b.err_low, scan.s_b.err_high) == pytest.approx(port["s_b"], rel=1e-12)
    assert scan.chi2 == pytest.approx(port["chi2"], rel=1e-12)
    assert scan.ndf == port["ndf"]


def test_goodness_of_fit_toys(case):
    model, hists = case
    scan = tutorial.scan_2d(model)
    best = np.array([scan.s_s.value, scan.s_b.value])
    means = model.templates.predict(*best)
    toys_port, chi2_data, _ = loops.goodness_of_fit(hists[0], means, 300, len(means), np.random.default_rng(11))
    toys = goodness_of_fit_toys(model, best, 300, np.random.default_rng(11), kind="gaussian", refit=False).values
    np.testing.assert_allclose(toys, toys_port, rtol=1e-12)
    assert scan.chi2 == pytest.approx(chi2_data, rel=1e-12)


def test_coverage(case):
    model, hists = case
    scan = tutorial.scan_2d(model)
    means = model.templates.predict(scan.s_s.value, scan.s_b.value)
    d_values = np.array([1.0, 2.3, 4.0])
    port = loops.coverage(hists[1], hists[2], means, scan.index, d_values, 6, np.random.default_rng(5))
    ours = tutorial.coverage_grid(model, scan.index, d_values, 6, np.random.default_rng(5))
    np.testing.assert_array_equal(ours, port)
