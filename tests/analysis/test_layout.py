"""histograms.root in the layout HistFactory tools read: every channel and variation against the accumulator,
cabinetry reading it with the cabinetry.yml a run writes, and ``hzz4l fit --systematics`` end to end."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import uproot

from analysis.fileset import load_fileset, roles
from analysis.outputs import read_variations, write_outputs
from analysis.runner import run_fileset
from analysis.samples import process_groups
from fitting.document import FitDocument, read_fit
from fitting.systematics import NegativePredictionWarning, workspace
from processors import CHANNELS, VARIATIONS, HZZ4lProcessor, mass_histogram
from tests.helpers import hzz4l

#: command-line runs, servers, clusters: the --runslow lane
pytestmark = pytest.mark.slow

cabinetry = pytest.importorskip("cabinetry")
pyhf = pytest.importorskip("pyhf")


@pytest.fixture(scope="module")
def results(demo_fileset, tmp_path_factory) -> tuple[Path, dict, dict]:
    fileset = load_fileset(demo_fileset)
    proc = HZZ4lProcessor()
    result = run_fileset(fileset, proc, status=False)
    folder = tmp_path_factory.mktemp("layout") / "results"
    write_outputs(result, fileset, proc, "default", folder, plots=False)
    return folder, result.output, roles(fileset)


def test_every_channel_and_variation_is_written(results):
    folder, output, roles_ = results
    with uproot.open(folder / "histograms.root") as f:
        for name, role in roles_.items():
            np.testing.assert_allclose(f[f"m4l/{name}"].values(), mass_histogram(output["mass"])[name, :].values())
            for channel in CHANNELS:
                for variation in VARIATIONS:
                    key = f"m4l_{channel}/{name}" + ("" if variation == "nominal" else f"_{variation}")
                    if role == "data" and variation != "nominal":
                        assert key not in f, key  # data have no variations
                        continue
                    expected = mass_histogram(output["mass"], variation, channel)[name, :]
                    np.testing.assert_allclose(f[key].values(), expected.values(), err_msg=key)
                    np.testing.assert_allclose(f[key].variances(), expected.variances(), err_msg=key)
            summed = sum(f[f"m4l_{c}/{name}"].values() for c in CHANNELS)
            np.testing.assert_allclose(summed, f[f"m4l/{name}"].values(), rtol=1e-12, atol=1e-12)
            for key in ("z1_mass", "z2_mass", "lepton_pt", "lepton_eta"):
                assert f[f"{key}/{name}"].values().sum() == pytest.approx(
                    output[key][{"dataset": name, "channel": sum}].sum().value
                )
                _same_th1(f[f"{key}/{name}"], output[key][{"dataset": name, "channel": sum}])
            _same_th1(f[f"m4l_4e/{name}"], mass_histogram(output["mass"], channel="4e")[name, :])


def _same_th1(written, expected):
    """The TH1 hzz4l wrote is the one uproot makes of the ``hist.Hist`` itself: flow bins, errors, statistics."""
    reference = uproot.writing.identify.to_writable(expected)
    np.testing.assert_allclose(written.values(flow=True), expected.values(flow=True), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(written.variances(flow=True), expected.variances(flow=True), rtol=1e-12, atol=1e-12)
    for member in ("fEntries", "fTsumw", "fTsumw2", "fTsumwx", "fTsumwx2"):
        assert written.member(member) == pytest.approx(reference.member(member), rel=1e-9, abs=1e-9), member
    axis, expected_axis = written.member("fXaxis"), reference.member("fXaxis")
    for member in ("fNbins", "fXmin", "fXmax", "fTitle"):
        assert axis.member(member) == expected_axis.member(member), member


def test_cabinetry_reads_histograms_root_into_the_same_model(results, monkeypatch):
    folder, _, roles_ = results
    monkeypatch.chdir(folder)  # cabinetry's paths are relative to where it runs, as for a user in the folder
    config = cabinetry.configuration.load("cabinetry.yml")
    cabinetry.templates.collect(config, method="uproot")
    theirs = pyhf.Workspace(cabinetry.workspace.build(config))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativePredictionWarning)  # both set a negative sparse bin to 0
        ours = pyhf.Workspace(workspace(read_variations(folder), roles_, process_groups(roles_)))
    ours_model, theirs_model = ours.model(), theirs.model()
    assert ours.channels == theirs.channels == sorted(f"m4l_{c}" for c in CHANNELS)
    # bins where a process group predicts < 0 events (negative weights): ours holds 0 there, cabinetry the sum
    variations = read_variations(folder)
    groups = process_groups(roles_)
    clipped = {
        f"m4l_{channel}": np.any(
            [sum(variations[n, channel, "nominal", :].values() for n in groups if groups[n] == g) < 0
             for g in set(groups.values())], axis=0,
        )
        for channel in CHANNELS
    }  # fmt: skip
    # the same predictions at the nominal point and at +-1 of every nuisance parameter (cabinetry writes a shape
    # systematic as normsys + histosys; at +-1 they agree with our histosys), on the bins that we keep
    parameters = ("lep_scale", "ele_eff", "mu_eff", "lumi", "zz_xsec")
    points: list[dict[str, float]] = [{}, *({name: sign} for name in parameters for sign in (-1, 1))]
    kept: dict[str, np.ndarray] = {}
    for point in points:
        predictions = []
        for model in (ours_model, theirs_model):
            pars = model.config.suggested_init()
            for name, value in point.items():
                pars[model.config.par_slice(name)] = [value]
            expected = np.asarray(model.expected_actualdata(pars))
            bounds = np.cumsum([0, *(model.config.channel_nbins[c] for c in model.config.channels)])
            predictions.append({c: expected[bounds[k] : bounds[k + 1]] for k, c in enumerate(model.config.channels)})
        for channel in ours.channels:
            # the bins with a nominal prediction: ours leaves out the others
            mask = kept.setdefault(channel, predictions[1][channel] > 0)
            same = ~clipped[channel][mask]
            got, want = predictions[0][channel][same], predictions[1][channel][mask][same]
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=f"{channel} {point}")
    for channel in ours.channels:
        observed = [np.asarray(ws.observations[channel]) for ws in (ours, theirs)]
        assert observed[0].sum() == observed[1].sum()


def test_fit_with_systematics_from_the_command_line(results, tmp_path):
    shutil.copytree(results[0], tmp_path / "out")  # a run's outputs, as hzz4l run writes them
    fitted = hzz4l(
        "fit", "out", "--systematics", "--toys", "100", "--coverage-toys", "10", "--workspace", "ws.json",
        cwd=tmp_path,
    )  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr
    document = read_fit(tmp_path / "out" / "fit.json")
    assert isinstance(document, FitDocument) and document.systematics is not None
    systematic = document.systematics
    assert systematic.per_channel is False
    assert {p.name for p in systematic.pulls} == {"lep_scale", "ele_eff", "mu_eff", "lumi", "zz_xsec"}
    total, stat, syst = systematic.s_s.total, systematic.s_s.stat, systematic.s_s.syst
    assert 0 < stat.up < total.up and syst.up > 0  # the variations widen the interval
    assert "systematics    s_s =" in fitted.stdout
    for plot in ("pulls", "impacts"):
        assert (tmp_path / "out" / "plots" / f"{plot}.png").stat().st_size > 0
    spec = json.loads((tmp_path / "ws.json").read_text())
    pyhf.Workspace(spec)  # the workspace written is the model with nuisance parameters, valid for pyhf
    assert {m["name"] for s in spec["channels"][0]["samples"] for m in s["modifiers"]} >= {"lep_scale", "lumi"}
    refused = hzz4l("fit", "out", "--per-channel", cwd=tmp_path)
    assert refused.returncode == 2 and "--per-channel needs --systematics" in refused.stderr


def test_summary_gives_the_yields_per_channel(results):
    folder, _, _ = results
    summary = json.loads((folder / "summary.json").read_text())
    with uproot.open(folder / "histograms.root") as f:
        for name, entry in summary["datasets"].items():
            assert set(entry["yield_by_channel"]) == set(CHANNELS)
            assert sum(entry["yield_by_channel"].values()) == pytest.approx(entry["yield"], rel=1e-12, abs=1e-12)
            for channel, value in entry["yield_by_channel"].items():
                assert value == pytest.approx(f[f"m4l_{channel}/{name}"].values().sum(), rel=1e-12, abs=1e-12)
