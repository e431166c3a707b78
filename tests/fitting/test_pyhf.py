"""The HistFactory workspace, validated and fitted with pyhf: best fit, profile intervals, the discovery q0 and the
expected significance agree with this package's Poisson fits to 1e-4 on high-count, low-count, zero-background and
deficit histograms, with and without the simulation's statistical uncertainty (``staterror``)."""

from __future__ import annotations

import numpy as np
import pytest

from fitting.analysis import significances
from fitting.fit import Model
from fitting.workspace import workspace
from tests.fitting.sets import deficit, low_count, published, zero_background

pyhf = pytest.importorskip("pyhf")

SETS = {
    "high-count": published,
    "low-count": low_count,
    "zero-background bin": lambda: zero_background(0),
    "zero-background bin, best fit on the boundary": lambda: zero_background(1),
    "deficit": deficit,
}
CASES = [(name, mc_stat) for name in SETS for mc_stat in (False, True)]


@pytest.fixture(autouse=True)
def precise_pyhf():
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-10, strategy=2))
    yield
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())


def pyhf_setup(templates, mc_stat, poi="s_s"):
    spec = workspace(templates, mc_stat)
    pyhf.schema.validate(spec, "workspace.json")  # the schema itself, as well as Workspace()'s own check
    ws = pyhf.Workspace(spec)
    model = ws.model(poi_name=poi)
    bounds = model.config.suggested_bounds()
    # a box in which every prediction is >= 0 and that holds our intervals: s_b above its interval, and s_s down to
    # where the most signal-like bin is predicted empty at that s_b (0 with a bin without background)
    fit = Model(templates, "poisson", mc_stat).fit2d()
    s_b_low = 0.8 * (fit.s_b.value - fit.s_b.err_low)
    ratio = np.min(templates.background[templates.signal > 0] / templates.signal[templates.signal > 0])
    bounds[model.config.par_slice("s_b").start] = (s_b_low if np.any(templates.signal == 0) else 0.0, 10.0)
    bounds[model.config.par_slice("s_s").start] = (-s_b_low * ratio, 10.0)
    return model, ws.data(model), bounds


def twice_nll(model, data, bounds, value=None):
    init, fixed = model.config.suggested_init(), model.config.suggested_fixed()
    for k, (low, high) in enumerate(bounds):  # pyhf wants its start inside the box
        init[k] = min(max(init[k], low + 0.01 * (high - low)), high)
    if value is None:
        return pyhf.infer.mle.fit(data, model, init, bounds, fixed, return_fitted_val=True)
    return pyhf.infer.mle.fixed_poi_fit(value, data, model, init, bounds, fixed, return_fitted_val=True)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "mc_stat"), CASES)
def test_workspace_fitted_with_pyhf_agrees(name, mc_stat):
    templates = SETS[name]()
    ours = Model(templates, "poisson", mc_stat).fit2d()
    for k, parameter in enumerate(("s_s", "s_b")):
        model, data, bounds = pyhf_setup(templates, mc_stat, poi=parameter)
        best, minimum = twice_nll(model, data, bounds)
        order = model.config.par_order
        assert best[order.index("s_s")] == pytest.approx(ours.s_s.value, abs=1e-4)
        assert best[order.index("s_b")] == pytest.approx(ours.s_b.value, abs=1e-4)
        interval = (ours.s_s, ours.s_b)[k]
        low_bound, high_bound = bounds[model.config.par_slice(parameter).start]

        def excess(x, model=model, data=data, bounds=bounds, minimum=minimum):
            return float(twice_nll(model, data, bounds, x)[1] - minimum) - 1.0

        for side, error, cut, bound in (
            (-1, interval.err_low, interval.at_boundary_low, low_bound),
            (1, interval.err_high, interval.at_boundary_high, high_bound),
        ):
            if cut:  # the region ends before Delta chi^2 = 1; pyhf's box ends there too (s_s, s_b >= 0)
                assert interval.value + side * error == pytest.approx(bound, abs=1e-9)
                assert excess(bound) < 0
                continue
            end = interval.value + side * error
            assert low_bound < end - 1e-4 and end + 1e-4 < high_bound
            # pyhf's profile crosses Delta(-2 ln L) = 1 within 1e-4 of our end
            assert excess(end - side * 1e-4) < 0 < excess(end + side * 1e-4), (parameter, side)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "mc_stat"), CASES)
def test_discovery_significance_agrees_with_pyhf_q0(name, mc_stat):
    templates = SETS[name]()
    model, data, bounds = pyhf_setup(templates, mc_stat)
    fixed = model.config.suggested_fixed()
    init = [
        min(max(x, low + 0.01 * (high - low)), high)
        for x, (low, high) in zip(model.config.suggested_init(), bounds, strict=True)
    ]
    q0 = float(pyhf.infer.test_statistics.q0(0.0, data, model, init, bounds, fixed))
    ours = significances(templates, mc_stat)
    assert ours.observed.q0 == pytest.approx(q0, abs=1e-4)
    assert ours.observed.z == pytest.approx(np.sqrt(q0), abs=1e-4)
    # the signed value: -2 ln lambda(0) from pyhf's own fits, signed by the best s_s
    best, minimum = twice_nll(model, data, bounds)
    _, null = twice_nll(model, data, bounds, 0.0)
    s_hat = best[model.config.poi_index]
    assert ours.observed.z_signed == pytest.approx(np.sign(s_hat) * np.sqrt(max(null - minimum, 0.0)), abs=1e-4)
    if name == "deficit":
        assert ours.observed.z == 0.0 and ours.observed.z_signed < -1.0
    # expected for s_s = 1: Asimov data with s_b (and the gammas) fitted to the data at s_s = 1
    asimov = pyhf.infer.calculators.generate_asimov_data(1.0, data, model, init, bounds, fixed)
    if templates.background.min() == 0:  # signal-only bins: Asimov events where the background predicts none
        assert ours.expected_sm.z == np.inf
        return
    q0_asimov = float(pyhf.infer.test_statistics.q0(0.0, asimov, model, init, bounds, fixed))
    assert ours.expected_sm.z == pytest.approx(np.sqrt(q0_asimov), abs=1e-4)


def test_zero_background_bin_without_data_gives_a_finite_significance():
    templates = zero_background(0, s_s=1.0)
    assert templates.background.min() == 0 and templates.data[np.argmin(templates.background)] == 0
    observed = significances(templates, False).observed
    assert np.isfinite(observed.z) and observed.z > 0
