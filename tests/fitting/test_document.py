"""fit.json: written through its one typed definition (fitting.document) with the layout the README documents, its
numbers those of the fit (checked against scipy), read back by read_fit, which refuses a bad, old or foreign document
with one line naming the file; the committed JSON schema is the model's, and an independent validator (jsonschema)
accepts what hzz4l writes and refuses what read_fit refuses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from scipy import stats

from analysis.errors import ResultsError
from fitting.analysis import FitReport, analyse
from fitting.document import FailedFit, FitDocument, json_schema, read_fit
from tests.fitting.sets import published, zero_background
from tests.helpers import strict_json

SCHEMA = Path(__file__).parents[2] / "docs" / "fit.schema.json"
#: The keys of fit.json as the README lists them (the top level, and one level down).
README_KEYS = {
    "schema_version": None,
    "status": None,
    "statistic": None,
    "method": None,
    "mc_stat": None,
    "range": None,
    "nbins": None,
    "yields": {"data", "signal", "background"},
    "prefit": {"chi2", "ndf", "chi2_ndf", "p_value"},
    "fits": {"s_s", "s_b", "s_s,s_b"},
    "significance": {
        "definition",
        "likelihood",
        "observed",
        "observed_signed",
        "q0",
        "s_s_hat",
        "expected",
        "expected_sm",
        "s_b_at_s_s_1",
    },
    "gof": {"chi2", "ndf", "p_value", "p_value_toys", "toys", "failed_toys", "toy_kind", "refit"},
    "coverage": {
        "d",
        "fraction",
        "error",
        "chi2_cdf",
        "toys",
        "same_toys_for_every_d",
        "failed_toys",
        "toy_kind",
        "nominal",
    },
    "seed": None,
    "nulls": None,
}
ONE_FIT = {"value", "err_low", "err_high", "at_boundary", "best_at_boundary", "chi2", "ndf"}
TWO_FIT = {"s_s", "s_b", "best_at_boundary", "chi2", "ndf", "chi2_ndf", "p_value", "correlation", "covariance"}


@pytest.fixture(scope="module")
def report() -> FitReport:
    return analyse(published(), gof_toys=500, coverage_toys=20, coverage_points=5, seed=3)


@pytest.fixture(scope="module")
def text(report: FitReport) -> str:
    return report.document().to_json()


def test_the_layout_the_readme_documents(text):
    raw = strict_json(text)
    assert set(raw) == set(README_KEYS)
    for key, below in README_KEYS.items():
        if below is not None:
            assert set(raw[key]) == below, key
    assert set(raw["fits"]["s_s"]) == set(raw["fits"]["s_b"]) == ONE_FIT
    assert set(raw["fits"]["s_s,s_b"]) == TWO_FIT | {"contours"}
    assert set(raw["fits"]["s_s,s_b"]["contours"]) == {"2.30", "6.18"}
    assert set(raw["coverage"]["nominal"][0]) == {"d", "nominal", "measured", "error", "toys"}
    assert raw["schema_version"] == 2 and raw["status"] == "ok" and raw["nulls"] == {}


def test_the_numbers_are_the_fits_and_agree_with_scipy(report, text):
    """What analyse found, and the p-values, errors and chi^2 cdf computed there, against scipy.stats."""
    raw = strict_json(text)
    two, t = report.fit_2d, report.templates
    assert raw["fits"]["s_s,s_b"]["s_s"]["value"] == two.s_s.value
    assert raw["fits"]["s_s,s_b"]["covariance"] == two.covariance.tolist()
    assert raw["fits"]["s_b"]["err_high"] == report.fit_s_b.interval.err_high
    prefit = raw["prefit"]
    nu = t.signal + t.background
    assert prefit["chi2"] == pytest.approx(2 * np.sum(nu - t.data + t.data * np.log(t.data / nu)), rel=1e-12)
    assert prefit["p_value"] == pytest.approx(stats.chi2.sf(prefit["chi2"], t.nbins), rel=1e-10)
    assert prefit["chi2_ndf"] == pytest.approx(prefit["chi2"] / t.nbins, rel=1e-15)
    gof = raw["gof"]
    assert gof["p_value"] == pytest.approx(stats.chi2.sf(two.chi2, t.nbins - 2), rel=1e-10)
    assert gof["p_value_toys"] == np.count_nonzero(report.gof.toys >= two.chi2) / len(report.gof.toys)
    cov = raw["coverage"]
    np.testing.assert_allclose(cov["chi2_cdf"], stats.chi2.cdf(cov["d"], 2), rtol=1e-12)
    fraction = np.array(cov["fraction"])
    np.testing.assert_allclose(cov["error"], np.sqrt(fraction * (1 - fraction) / cov["toys"]), rtol=1e-12)
    for n in cov["nominal"]:
        assert n["nominal"] == pytest.approx(stats.chi2.cdf(n["d"], 2), rel=1e-12)
        assert n["error"] == pytest.approx(np.sqrt(n["measured"] * (1 - n["measured"]) / n["toys"]), rel=1e-12)


def test_written_and_read_back(tmp_path, report, text):
    path = tmp_path / "fit.json"
    path.write_text(text)
    document = read_fit(path)
    assert isinstance(document, FitDocument) and document == report.document()
    assert document.to_json() == text
    assert document.fits.both.s_s.value == report.fit_2d.s_s.value  # typed, by name


def test_nulls_written_and_read_back(tmp_path):
    """An infinite significance is null with its reason, and reads back so."""
    document = analyse(zero_background(1, s_s=1.0), gof_toys=100, coverage_toys=5, coverage_points=2).document()
    (tmp_path / "fit.json").write_text(document.to_json())
    back = read_fit(tmp_path / "fit.json")
    assert isinstance(back, FitDocument) and back.significance.expected is None
    assert "infinite" in back.nulls["significance.expected"] and back == document


def test_a_failed_fit_reads_back_as_one(tmp_path):
    failed = FailedFit(error="the fit of s_s and s_b (poisson statistic) did not converge", statistic="poisson",
                       method="profile", mc_stat=False)  # fmt: skip
    (tmp_path / "fit.json").write_text(failed.to_json())
    assert strict_json((tmp_path / "fit.json").read_text())["status"] == "failed"
    assert read_fit(tmp_path / "fit.json") == failed


def edit(change: Callable[[dict[str, Any]], Any]) -> Callable[[str], str]:
    """A change of the parsed document, as a change of the text."""

    def apply(text: str) -> str:
        document = json.loads(text)
        change(document)
        return json.dumps(document)

    return apply


def failed_without_error(document: dict[str, Any]) -> None:
    for key in [k for k in document if k not in ("schema_version", "statistic", "method", "mc_stat")]:
        del document[key]
    document["status"] = "failed"


HOSTILE = {
    "an older schema": (edit(lambda d: d.update(schema_version=1)), "schema_version 1: written by another version"),
    "a newer schema": (edit(lambda d: d.update(schema_version=3)), "schema_version 3: written by another version"),
    "no schema": (edit(lambda d: d.pop("schema_version")), "schema_version: Field required"),
    "a missing key": (edit(lambda d: d["gof"].pop("p_value_toys")), "gof.p_value_toys: Field required"),
    "an extra key": (edit(lambda d: d["fits"]["s_s"].update(width=0.1)), "fits.s_s.width: Extra inputs"),
    "NaN": (lambda t: t.replace('"chi2": ', '"chi2": NaN, "was": ', 1), "prefit.chi2: Input should be a finite"),
    "Infinity": (
        edit(lambda d: d["fits"]["s_s,s_b"]["s_s"].update(err_high=float("inf"))),
        "fits.s_s,s_b.s_s.err_high: Input should be a finite number",
    ),
    "a null where a value must be": (edit(lambda d: d["fits"]["s_s"].update(value=None)), "fits.s_s.value: Input"),
    "a null without reason": (
        edit(lambda d: d["significance"].update(observed=None)),
        "significance.observed is null without its reason in nulls",
    ),
    "a reason without null": (
        edit(lambda d: d.update(nulls={"gof.chi2": "made up"})),
        "nulls names gof.chi2, which is not null",
    ),
    "a string for a number": (
        edit(lambda d: d["fits"]["s_s,s_b"]["s_s"].update(err_low="0.3")),
        "fits.s_s,s_b.s_s.err_low: Input should be a valid number",
    ),
    "a negative error": (
        edit(lambda d: d["fits"]["s_b"].update(err_low=-0.1)),
        "fits.s_b.err_low: Input should be greater than or equal to 0",
    ),
    "a p-value above 1": (edit(lambda d: d["prefit"].update(p_value=1.5)), "prefit.p_value: Input should be less"),
    "an unknown statistic": (edit(lambda d: d.update(statistic="chi2")), "statistic: Input should be 'pearson'"),
    "an unknown status": (edit(lambda d: d.update(status="maybe")), "status: Input should be 'ok' or 'failed'"),
    "a failed fit without its error": (edit(failed_without_error), "error: Field required"),
    "a contour of unequal lengths": (
        edit(lambda d: d["fits"]["s_s,s_b"]["contours"]["2.30"]["at_boundary"].pop()),
        "100 points but 99 at_boundary flags",
    ),
    "a pyhf workspace": (lambda t: '{"channels": [], "version": "1.0.0"}', "schema_version: Field required"),
    "a list": (lambda t: "[]", "Input should be an object"),
    "truncated": (lambda t: t[: len(t) // 2], "Invalid JSON"),
    "empty": (lambda t: "", "Invalid JSON"),
}


@pytest.mark.parametrize(("change", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_bad_old_or_foreign_document_is_one_line_naming_the_file(tmp_path, text, change, message):
    path = tmp_path / "fit.json"
    path.write_text(change(text))
    with pytest.raises(ResultsError) as raised:
        read_fit(path)
    said = str(raised.value)
    assert said.startswith(f"{path}: cannot read the fit results: ") and "\n" not in said
    assert message in said, said


def test_a_missing_or_unreadable_file_is_named(tmp_path):
    path = tmp_path / "fit.json"
    with pytest.raises(ResultsError, match=re.escape(f"{path}: cannot read the fit results: the file does not exist")):
        read_fit(path)
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(ResultsError, match=re.escape(f"{path}: cannot read the fit results: ")):
        read_fit(path)


def test_the_committed_schema_is_the_models():
    assert json.loads(SCHEMA.read_text()) == json_schema(), (
        "docs/fit.schema.json is not the schema of fitting.document: regenerate it with "
        "python -m fitting.document > docs/fit.schema.json"
    )


def test_the_schema_accepts_what_hzz4l_writes_and_refuses_bad_documents(text):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(strict_json(text))
    failed = FailedFit(error="did not converge", statistic="pearson", method="tutorial", mc_stat=True)
    validator.validate(strict_json(failed.to_json()))
    # the schema cannot say which values may be null with a reason: the changes it can judge
    judged = (
        "an older schema",
        "no schema",
        "a missing key",
        "an extra key",
        "a string for a number",
        "a negative error",
        "an unknown statistic",
        "a failed fit without its error",
        "a pyhf workspace",
    )
    for name in judged:
        change, _ = HOSTILE[name]
        assert not validator.is_valid(json.loads(change(text))), name
