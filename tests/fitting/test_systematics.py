"""The fit with nuisance parameters: the HistFactory workspace against pyhf's schema, the fit against pyhf fitting
the written workspace on its own, and closure: injected variations of known size are recovered."""

from __future__ import annotations

import sys
import warnings

import hist
import numpy as np
import pytest

from analysis.fileset import load_fileset, roles
from analysis.runner import run_fileset
from analysis.samples import process_groups
from fitting.systematics import (
    NORMALISATIONS,
    NegativePredictionWarning,
    SystematicsUnavailable,
    fit_systematics,
    workspace,
)
from fitting.templates import TemplateError
from processors import HZZ4lProcessor

#: fits with nuisance parameters (cabinetry, pyhf): the --runslow lane
pytestmark = pytest.mark.slow

pyhf = pytest.importorskip("pyhf")
pytest.importorskip("cabinetry")

MASS = np.linspace(100.0, 150.0, 11)
CENTRES = 0.5 * (MASS[1:] + MASS[:-1])
VARIATIONS = ("nominal", "lep_scale_up", "lep_scale_down", "ele_eff_up", "ele_eff_down")
ROLES = {"data": "data", "H": "signal", "ZZ": "background", "Z": "background"}
GROUPS = {"H": "Higgs", "ZZ": "ZZ*", "Z": "Z+jets, ttbar"}


def shapes(channel: str) -> dict[str, dict[str, np.ndarray]]:
    """Per dataset and variation, the expected events per bin of a small two-channel model."""
    scale = 1.0 if channel == "4mu" else 0.6
    higgs = 8.0 * scale * np.exp(-0.5 * ((CENTRES - 125.0) / 2.5) ** 2)
    zz = scale * (12.0 + 0.2 * (CENTRES - 100.0))
    z = np.full(10, 2.0 * scale)
    out = {}
    for name, nominal in (("H", higgs), ("ZZ", zz), ("Z", z)):
        tilt = 1.0 + 0.004 * (CENTRES - 125.0)  # the momentum scale moves events from low to high mass
        efficiency = 1.04 if channel == "4e" else 1.0  # electrons only in 4e
        out[name] = {
            "nominal": nominal,
            "lep_scale_up": nominal * tilt,
            "lep_scale_down": nominal / tilt,
            "ele_eff_up": nominal * efficiency,
            "ele_eff_down": nominal / efficiency,
        }
    return out


def histogram(data: dict[str, np.ndarray] | None = None) -> hist.Hist:
    """Hist(dataset, channel, variation, mass) with the model's expectations and ``data`` (default: Asimov at 1)."""
    h = hist.Hist(
        hist.axis.StrCategory(list(ROLES), name="dataset"),
        hist.axis.StrCategory(["4e", "4mu"], name="channel"),
        hist.axis.StrCategory(list(VARIATIONS), name="variation"),
        hist.axis.Variable(MASS, name="mass"),
        storage=hist.storage.Weight(),
    )
    for channel in ("4e", "4mu"):
        model = shapes(channel)
        for name, variations in model.items():
            for variation, values in variations.items():
                h[name, channel, variation, :] = np.stack([values, 0.01 * values], axis=-1)
        observed = sum(v["nominal"] for v in model.values()) if data is None else data[channel]
        h["data", channel, "nominal", :] = np.stack([observed, observed], axis=-1)
    return h


def test_workspace_is_valid_and_carries_every_modifier():
    spec = workspace(histogram(), ROLES, GROUPS)
    ws = pyhf.Workspace(spec)  # validates against pyhf's schema
    assert ws.channels == ["m4l_4e", "m4l_4mu"]
    model = ws.model()
    assert set(model.config.parameters) == {
        "s_s", "s_b", "lep_scale", "ele_eff", "lumi", "zz_xsec", "mc_stat_m4l_4e", "mc_stat_m4l_4mu",
    }  # fmt: skip
    for channel in spec["channels"]:
        for sample in channel["samples"]:
            names = {m["name"]: m["type"] for m in sample["modifiers"]}
            assert names["s_s" if sample["name"] == "Higgs" else "s_b"] == "normfactor"
            assert names["lep_scale"] == names["ele_eff"] == "histosys"
            assert names["lumi"] == "normsys"
            assert ("zz_xsec" in names) == (sample["name"] == "ZZ*")
    # summed over channels: one region
    assert pyhf.Workspace(workspace(histogram(), ROLES, GROUPS, channels=False)).channels == ["m4l"]


def test_fit_agrees_with_pyhf_fitting_the_written_workspace():
    rng = np.random.default_rng(5)
    expected = {c: 1.3 * shapes(c)["H"]["nominal"] + 1.1 * (shapes(c)["ZZ"]["nominal"] + 2.0) for c in ("4e", "4mu")}
    data = {c: rng.poisson(v).astype(float) for c, v in expected.items()}
    spec = workspace(histogram(data), ROLES, GROUPS)
    ours = fit_systematics(spec)
    # pyhf alone, with scipy's minimiser, on the same JSON
    model = pyhf.Workspace(spec).model()
    observed = pyhf.Workspace(spec).data(model)
    best, twice_nll = pyhf.infer.mle.fit(observed, model, return_fitted_val=True)
    poi = model.config.poi_index
    assert ours.s_s == pytest.approx(float(best[poi]), abs=2e-3)
    assert ours.twice_nll == pytest.approx(float(twice_nll), abs=1e-4)

    def profile(mu: float) -> float:
        return float(pyhf.infer.mle.fixed_poi_fit(mu, observed, model, return_fitted_val=True)[1]) - float(twice_nll)

    # MINOS = where pyhf's profile likelihood rises by 1 (one fixed-mu fit per end, not a root search)
    assert profile(ours.s_s + ours.total.up) == pytest.approx(1.0, abs=0.02)
    assert profile(ours.s_s - ours.total.down) == pytest.approx(1.0, abs=0.02)
    # the statistical part: where the profile rises by 1 with every nuisance parameter fixed at pyhf's best fit
    fixed = [True] * model.config.npars
    for name in ("s_s", "s_b"):
        fixed[model.config.par_slice(name)] = [False]

    def stat_profile(mu: float) -> float:
        refit = pyhf.infer.mle.fixed_poi_fit(
            mu, observed, model, init_pars=best.tolist(), fixed_params=fixed, return_fitted_val=True
        )
        return float(refit[1]) - float(twice_nll)

    assert stat_profile(ours.s_s + ours.stat.up) == pytest.approx(1.0, abs=0.02)
    assert stat_profile(ours.s_s - ours.stat.down) == pytest.approx(1.0, abs=0.02)
    for total, stat, syst in zip(ours.total, ours.stat, ours.syst, strict=True):
        assert 0 < stat < total and syst > 0
    assert {i.name for i in ours.impacts} == {"lep_scale", "ele_eff", "lumi", "zz_xsec", "mc_stat"}
    assert {p.name for p in ours.pulls} == {"lep_scale", "ele_eff", "lumi", "zz_xsec"}


@pytest.fixture(scope="module")
def demo_histograms(demo_fileset) -> tuple[hist.Hist, dict[str, str], dict[str, str]]:
    """The processor's m4l histograms of the demo, with every systematic variation."""
    fileset = load_fileset(demo_fileset)
    output = run_fileset(fileset, HZZ4lProcessor(), status=False).output
    return output["mass"], roles(fileset), process_groups(roles(fileset))


def inject(spec: dict, values: dict[str, float]) -> None:
    """Replace the observations of ``spec`` by the expected data of its model at ``values`` (the rest nominal)."""
    model = pyhf.Workspace(spec).model()
    truth = model.config.suggested_init()
    for name, value in values.items():
        truth[model.config.par_slice(name)] = [value]
    expected = np.asarray(model.expected_actualdata(truth))
    start = 0
    for observation in spec["observations"]:
        observation["data"] = expected[start : start + len(observation["data"])].tolist()
        start += len(observation["data"])


def assert_recovered(result, parameter: str, injected: float) -> None:
    """The injected value comes back within its uncertainty: for the expected data of that value, the auxiliary
    measurement (at 0) pulls the fit back by the post-fit variance, theta_hat = theta (1 - sigma_post^2), exactly so
    for a linear, Gaussian model; the other parameters stay at their prior."""
    pull = next(p for p in result.pulls if p.name == parameter)
    assert abs(pull.pull - injected) <= pull.constraint + 1e-9, pull
    assert pull.pull == pytest.approx(injected * (1 - pull.constraint**2), abs=0.03), pull
    assert result.s_s == pytest.approx(1.0, abs=0.05) and result.s_b == pytest.approx(1.2, abs=0.02)
    for other in result.pulls:
        if other.name != parameter:
            assert abs(other.pull) < 0.1, other


@pytest.mark.parametrize(("parameter", "injected"), [("lep_scale", 0.8), ("ele_eff", -1.0)])
def test_closure_per_channel_injected_variations_are_recovered(parameter, injected):
    spec = workspace(histogram(), ROLES, GROUPS)
    inject(spec, {"s_s": 1.0, "s_b": 1.2, parameter: injected})
    assert_recovered(fit_systematics(spec), parameter, injected)


def test_closure_on_the_demo_momentum_scale_is_recovered(demo_histograms):
    histogram_, roles_, groups = demo_histograms
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativePredictionWarning)  # sparse demo channels
        spec = workspace(histogram_, roles_, groups, channels=False)
    inject(spec, {"s_s": 1.0, "s_b": 1.2, "lep_scale": 1.0})
    assert_recovered(fit_systematics(spec), "lep_scale", 1.0)


def test_negative_prediction_is_set_to_zero_with_a_warning():
    h = histogram()
    values = h["Z", "4e", "nominal", :].values()
    values[3] = -0.5
    h["Z", "4e", "nominal", :] = np.stack([values, np.abs(values)], axis=-1)
    with pytest.warns(NegativePredictionWarning, match=r"m4l_4e: 'Z\+jets, ttbar' predicts < 0 events in bin 3"):
        spec = workspace(h, ROLES, GROUPS)
    sample = next(s for s in spec["channels"][0]["samples"] if s["name"] == "Z+jets, ttbar")
    assert sample["data"][3] == 0.0


def test_data_without_prediction_names_region_and_bin():
    h = histogram()
    for name in ("H", "ZZ", "Z"):
        for variation in VARIATIONS:
            h[name, "4mu", variation, 0] = [0.0, 0.0]
    with pytest.raises(TemplateError, match=r"m4l_4mu: bin 0 \[100, 105\) GeV has \d+ data events but no prediction"):
        workspace(h, ROLES, GROUPS)


def test_normalisations_state_their_sources():
    assert NORMALISATIONS["lumi"].size == pytest.approx(0.032)
    assert all(n.source for n in NORMALISATIONS.values())


def test_without_cabinetry_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cabinetry", None)  # an uninstalled optional dependency
    with pytest.raises(SystematicsUnavailable, match=r"pip install 'hzz4l\[systematics\]'"):
        fit_systematics(workspace(histogram(), ROLES, GROUPS))
