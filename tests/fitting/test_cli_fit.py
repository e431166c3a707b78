"""``hzz4l fit`` end to end on the output of ``hzz4l run``, and on histograms that cannot be fitted."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import uproot
from coffea.util import load

from fitting.analysis import analyse
from fitting.document import FitDocument, read_fit
from fitting.templates import Templates
from processors import mass_histogram
from tests.helpers import hzz4l, strict_json

#: command-line runs, servers, clusters: the --runslow lane
pytestmark = pytest.mark.slow

#: The top-level keys of fit.json as the README lists them.
KEYS = {
    "schema_version",
    "status",
    "statistic",
    "method",
    "mc_stat",
    "range",
    "nbins",
    "yields",
    "prefit",
    "fits",
    "significance",
    "gof",
    "coverage",
    "seed",
    "nulls",
}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    assert hzz4l("demo", "--scale", "0.05", "--seed", "4", "-o", "demo", cwd=folder).returncode == 0
    ran = hzz4l("run", "--fileset", "demo/fileset.json", "-o", "results", "--no-progress", "--no-plots", cwd=folder)
    assert ran.returncode == 0, ran.stderr
    fit = hzz4l(
        "fit", "results", "--toys", "2000", "--coverage-toys", "100", "--workspace", "ws.json", "--pdf", cwd=folder
    )
    assert fit.returncode == 0, fit.stderr
    return folder / "results", fit


def test_fit_json_and_plots(fitted):
    results, ran = fitted
    raw = strict_json((results / "fit.json").read_text())
    assert set(raw) == KEYS  # the layout the README documents
    assert set(raw["fits"]) == {"s_s", "s_b", "s_s,s_b"}
    document = read_fit(results / "fit.json")
    assert isinstance(document, FitDocument)
    assert document.statistic == "poisson" and document.method == "profile"  # the default statistic
    assert document.schema_version == 2 and document.status == "ok"
    assert document.range == (80.0, 250.0)
    two = document.fits.both
    for name in ("s_s", "s_b"):
        assert getattr(two, name).err_low > 0 and getattr(two, name).err_high > 0
    assert document.gof.toys == 2000 and document.gof.p_value_toys is not None
    assert len(document.coverage.d) == len(document.coverage.fraction) == 40
    assert document.coverage.toys == 40 * 100 and document.coverage.same_toys_for_every_d
    assert [n.d for n in document.coverage.nominal] == [2.30, 6.18]
    assert document.significance.observed is not None and document.significance.expected is not None
    for plot in ("postfit_m4l", "scan_s_s", "scan_s_b", "contours", "gof_toys", "coverage"):
        assert (results / "plots" / f"{plot}.png").stat().st_size > 10_000
        assert (results / "plots" / f"{plot}.pdf").exists()
    assert f"{two.s_s.value:.3f}" in ran.stdout
    truth = json.loads((results.parent / "demo" / "fileset.json").read_text())["data"]["metadata"]["truth"]
    said = f"SYNTHETIC DEMO: fitted to generated pseudo-data, drawn with s_s = {truth['s_s']:g}, s_b = {truth['s_b']:g}"
    assert said in ran.stdout  # the demo says so wherever a reader sees it


def flatten(tree, prefix=""):
    """Nested dicts and lists as {path: number}."""
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in flatten(value, f"{prefix}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, value in enumerate(tree) for k, v in flatten(value, f"{prefix}/{i}").items()}
    return {prefix: tree}


def test_cli_reads_root_file_like_the_accumulator(fitted):
    results, _ = fitted
    document = read_fit(results / "fit.json")
    assert isinstance(document, FitDocument)
    summary = json.loads((results / "summary.json").read_text())
    roles = {name: d["role"] for name, d in summary["datasets"].items()}
    templates = Templates.from_hist(mass_histogram(load(results / "histograms.coffea")["mass"]), roles)
    report = analyse(templates, "poisson", gof_toys=2000, coverage_toys=100).document()
    fits = flatten(report.fits.model_dump(mode="json"))
    assert fits == pytest.approx(flatten(document.fits.model_dump(mode="json")), rel=1e-9)
    assert report.yields.data == summary["datasets"]["data"]["yield"]
    expected_signal = sum(d["yield"] for d in summary["datasets"].values() if d["role"] == "signal")
    assert document.yields.signal == pytest.approx(expected_signal, rel=1e-12)


def test_tutorial_method(fitted, tmp_path):
    results, _ = fitted
    copy = tmp_path / "r"
    shutil.copytree(results, copy)
    ran = hzz4l(
        "fit",
        str(copy),
        "--method",
        "tutorial",
        "--toys",
        "500",
        "--coverage-toys",
        "20",
        "--no-plots",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    document = read_fit(copy / "fit.json")
    assert isinstance(document, FitDocument)
    assert document.method == "tutorial" and document.gof.toy_kind == "gaussian"
    assert document.statistic == "pearson"  # the tutorial's own, unless --statistic says otherwise
    grid = np.linspace(0.1, 2.7, 100)
    assert np.min(np.abs(grid - document.fits.both.s_s.value)) < 1e-12


def same_shapes(histograms):
    """Every simulated histogram a multiple of the llll one: s_s and s_b cannot be told apart."""
    for key in list(histograms):
        if key != "m4l/data":
            histograms[key] = histograms["m4l/llll"] * 0.5


def break_results(results, tmp_path, change):
    copy = tmp_path / "broken"
    shutil.copytree(results, copy)
    change(copy)
    return hzz4l("fit", str(copy), "--no-plots", "--toys", "10", "--coverage-toys", "5", cwd=tmp_path)


def edit_summary(folder, edit):
    summary = json.loads((folder / "summary.json").read_text())
    edit(summary)
    (folder / "summary.json").write_text(json.dumps(summary))


def rewrite_root(folder, edit):
    with uproot.open(folder / "histograms.root") as f:
        histograms = {key.split(";")[0]: f[key].to_hist() for key in f.keys(cycle=False) if "/" in key}
    edit(histograms)
    with uproot.recreate(folder / "histograms.root") as f:
        for key, h in histograms.items():
            f[key] = h


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: edit_summary(d, lambda s: s["datasets"].pop("data")), "no data dataset"),
        (
            lambda d: edit_summary(
                d,
                lambda s: [s["datasets"].pop(k) for k in list(s["datasets"]) if s["datasets"][k]["role"] == "signal"],
            ),
            "no signal dataset",
        ),
        (lambda d: (d / "histograms.root").unlink(), "histograms.root: cannot open"),
        (lambda d: (d / "summary.json").write_text("{"), "summary.json: cannot read the dataset roles"),
        (lambda d: rewrite_root(d, lambda h: h.pop("m4l/llll")), "no histogram 'm4l/llll'"),
        (
            lambda d: rewrite_root(d, lambda h: h.update({"m4l/llll": h["m4l/llll"][::2j]})),
            "'m4l/llll' has binning 17 bins",
        ),
        (
            lambda d: rewrite_root(d, lambda h: h.update({"m4l/data": h["m4l/data"] * 0})),
            "broken/histograms.root: the data histogram is empty",
        ),
        (
            lambda d: rewrite_root(d, lambda h: h.update({"m4l/llll": h["m4l/llll"] * -1})),
            "broken/histograms.root: background is negative or not finite in bin ",
        ),
        (lambda d: rewrite_root(d, same_shapes), "signal and background templates have the same shape"),
    ],
)
def test_bad_inputs_give_one_clear_line(fitted, tmp_path, change, message):
    ran = break_results(fitted[0], tmp_path, change)
    assert ran.returncode == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], ran.stderr


def test_best_fit_on_the_physical_boundary(fitted, tmp_path):
    """Data emptied around the Higgs peak: the best fit is on the boundary; fit.json says so, strictly."""

    def empty_peak(histograms):
        data = histograms["m4l/data"]
        centres = data.axes[0].centers
        view = data.view()
        view.value[(centres > 110) & (centres < 140)] = 0
        view.variance[(centres > 110) & (centres < 140)] = 0

    ran = break_results(fitted[0], tmp_path, lambda d: rewrite_root(d, empty_peak))
    assert ran.returncode == 0, ran.stderr
    strict_json((tmp_path / "broken" / "fit.json").read_text())
    document = read_fit(tmp_path / "broken" / "fit.json")
    assert isinstance(document, FitDocument)
    two = document.fits.both
    assert two.best_at_boundary is True and two.covariance is None
    assert "physical boundary" in document.nulls["fits.s_s,s_b.covariance"]
    assert "best fit on the physical boundary" in ran.stdout
    assert document.significance.observed == 0.0
    assert document.significance.observed_signed is not None and document.significance.observed_signed < 0


def test_workspace_replaces_only_an_earlier_workspace(fitted, tmp_path):
    results, _ = fitted
    quick = ("--no-plots", "--toys", "10", "--coverage-toys", "5", "--coverage-points", "2")
    for name, content in {"notes.txt": "my notes\n", "other.json": '{"channels": []}\n'}.items():
        (tmp_path / name).write_text(content)
        ran = hzz4l("fit", str(results), *quick, "--workspace", name, cwd=tmp_path)
        assert ran.returncode == 2, ran.stderr
        assert ran.stderr.strip() == (
            f"hzz4l fit: error: {name}: exists and is not a HistFactory workspace: hzz4l replaces only an earlier "
            "workspace (nothing was written)"
        )
        assert (tmp_path / name).read_text() == content
    shutil.copy(results.parent / "ws.json", tmp_path / "ws.json")
    again = hzz4l("fit", str(results), *quick, "--workspace", "ws.json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_workspace_is_the_model_pyhf_fits(fitted):
    pyhf = pytest.importorskip("pyhf")
    results, _ = fitted
    spec = strict_json((results.parent / "ws.json").read_text())
    pyhf.schema.validate(spec, "workspace.json")
    workspace = pyhf.Workspace(spec)
    model = workspace.model()
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=1e-10))
    try:
        best = pyhf.infer.mle.fit(workspace.data(model), model)
    finally:
        pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())
    document = read_fit(results / "fit.json")  # poisson, the default: the workspace's likelihood
    assert isinstance(document, FitDocument)
    two = document.fits.both
    assert best[model.config.par_order.index("s_s")] == pytest.approx(two.s_s.value, abs=1e-4)
    assert best[model.config.par_order.index("s_b")] == pytest.approx(two.s_b.value, abs=1e-4)
    assert [s["name"] for s in spec["channels"][0]["samples"]] == ["signal", "background"]
