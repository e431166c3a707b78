"""The readers of fit.json: the report's fit section, read through fitting.document.read_fit (in-process, no browser:
tests/analysis/test_report.py checks the page of a whole run in one), and hzz4l fit's table: the numbers of the typed
document, values that cannot be given said so, a failed fit said as such, a bad fit.json refused with one line naming
it, and summary.json read once; and the page of a run whose prediction lacks samples."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from analysis import errors
from analysis.cli import fit_table
from analysis.errors import ResultsError
from analysis.outputs import publish, writing
from analysis.report import render_report
from analysis.summary import EXAMPLE, Summary
from fitting.analysis import analyse
from fitting.document import FailedFit, FitDocument
from fitting.templates import Templates
from tests.fitting.sets import published


@pytest.fixture(scope="module")
def document() -> FitDocument:
    return analyse(published(), gof_toys=200, coverage_toys=10, coverage_points=3).document()


def results(folder: Path, fit_json: str) -> Path:
    """A results folder as hzz4l leaves it: a run's summary.json (no histograms), then a fit.json."""
    with publish(folder, "run", run="r1") as stage, writing(stage / "summary.json") as path:
        path.write_text(Summary.model_validate_json(EXAMPLE).to_json(), encoding="utf-8")
    with publish(folder, "fit") as stage, writing(stage / "fit.json") as path:
        path.write_text(fit_json, encoding="utf-8")
    return folder


def cell(page: str, key: str) -> float:
    """The full value a table cell of the page carries for ``key``."""
    found = re.search(rf'data-key="{re.escape(key)}" data-value="([^"]*)"', page)
    assert found is not None, key
    return float(json.loads(html.unescape(found.group(1))))


def test_the_fit_section_shows_the_documents_numbers(tmp_path, document):
    page = render_report(results(tmp_path, document.to_json()))
    two = document.fits.both
    assert cell(page, "fit.fits.s_s,s_b.s_s.value") == two.s_s.value
    assert cell(page, "fit.fits.s_s,s_b.s_b.err_high") == two.s_b.err_high
    assert cell(page, "fit.gof.p_value_toys") == document.gof.p_value_toys
    assert cell(page, "fit.coverage.nominal.1.measured") == document.coverage.nominal[1].measured
    assert "<h2>Fit results</h2>" in page and "did not converge" not in page


def test_values_that_cannot_be_given_are_null_with_their_reason_in_the_table_and_the_report(tmp_path):
    """Two bins, two parameters: no degrees of freedom, so no post-fit p-value (chi^2 / 0 once failed the fit)."""
    two_bins = Templates.from_arrays(np.array([110.0, 125.0, 140.0]), [14, 9], [6.0, 1.0], [8.0, 7.0])
    document = analyse(two_bins, gof_toys=50, coverage_toys=5, coverage_points=2).document()
    reason = "no degrees of freedom (2 bins, 2 parameters)"
    assert document.fits.both.p_value is None and document.fits.both.chi2_ndf is None
    assert document.nulls == dict.fromkeys(("fits.s_s,s_b.chi2_ndf", "fits.s_s,s_b.p_value", "gof.p_value"), reason)
    table = fit_table(document)
    assert "chi2/ndf = 0.00/0   p = n/a" in table and f"null           gof.p_value: {reason}" in table
    page = render_report(results(tmp_path, document.to_json()))
    assert f"fits.s_s,s_b.p_value is not given: {reason}." in page


def test_a_failed_fit_is_said_to_have_failed(tmp_path):
    failed = FailedFit(error="the fit of s_s and s_b (poisson statistic) did not converge: no result reported",
                       statistic="poisson", method="profile", mc_stat=False)  # fmt: skip
    page = render_report(results(tmp_path, failed.to_json()))
    assert "<b>The fit did not converge</b>" in page and html.escape(failed.error) in page
    assert 'data-key="fit.fits' not in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version=1), "schema_version 1: written by another version of hzz4l"),
        (lambda d: d["significance"].update(observed="3.2"), "significance.observed: Input should be"),
        (lambda d: d["gof"].pop("toys"), "gof.toys: Field required"),
        (lambda d: d["fits"]["s_s,s_b"].update(p_value=None), "fits.s_s,s_b.p_value is null without its reason"),
    ],
    ids=["old", "a string for a number", "a missing key", "a null without reason"],
)
def test_a_bad_fit_json_is_one_line_naming_it(tmp_path, document, change, message):
    raw = json.loads(document.to_json())
    change(raw)
    folder = results(tmp_path, json.dumps(raw))
    with pytest.raises(ResultsError) as raised:
        render_report(folder)
    assert str(raised.value).startswith(f"{folder / 'fit.json'}: cannot read the fit results: ")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_summary_json_is_read_once(tmp_path, document, monkeypatch):
    folder = results(tmp_path, document.to_json())
    read = errors.read_limited
    reads: list[str] = []

    def counted(path: Path) -> str:
        reads.append(path.name)
        return read(path)

    monkeypatch.setattr(errors, "read_limited", counted)
    render_report(folder)
    assert reads.count("summary.json") == 1 and reads.count("fit.json") == 1


def test_a_run_with_an_incomplete_prediction_says_so_in_the_text(tmp_path):
    """The page, not only its images, says which samples the prediction lacks, and the m4l caption does not
    promise the data/prediction panel that the figure then leaves out (analysis.plots.plot_stack)."""
    summary = json.loads(Summary.model_validate_json(EXAMPLE).to_json())
    summary["missing_samples"] = ["llll", "ggH125_ZZ4lep"]
    with publish(tmp_path, "run", run="r1") as stage:
        (stage / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        (stage / "plots").mkdir()
        (stage / "plots" / "m4l.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    page = render_report(tmp_path)
    assert "Prediction incomplete: the fileset lacks llll, ggH125_ZZ4lep" in page
    caption = re.search(r'alt="m4l"[^>]*><figcaption>([^<]*)</figcaption>', page)
    assert caption is not None and "data/prediction below" not in caption.group(1)
    assert "incomplete" in caption.group(1)


def test_files_left_out_of_the_run_are_said_on_the_page(tmp_path):
    """A run with --skip-bad-files lost a data file: the page showed its yields and fit without a word of it."""
    summary = json.loads(EXAMPLE) | {
        "skipped_files": [
            {"dataset": "data", "path": "/d/data_<B>.root", "reason": "entries 0-12 failed: zlib.error", "events": 12},
            {"dataset": "data", "path": "/d/data_C.root", "reason": "does not exist", "events": None},
        ],
        "lost_events": {"data": 12},
    }
    with publish(tmp_path, "run", run="r1") as stage, writing(stage / "summary.json") as path:
        path.write_text(Summary.model_validate(summary).to_json(), encoding="utf-8")
    page = render_report(tmp_path)
    assert (
        '<p class="banner">2 input files left out of this run (--skip-bad-files): the yields, histograms and fit lack '
        "their events (lost events: 12 of dataset data).</p>"
    ) in page
    assert (
        '<tr><td>data</td><td>/d/data_&lt;B&gt;.root</td><td data-key="skipped_files.0.events" data-value="12">12</td>'
        "<td>entries 0-12 failed: zlib.error</td></tr>"
    ) in page
    assert "<tr><td>data</td><td>/d/data_C.root</td><td>unknown</td><td>does not exist</td></tr>" in page


def test_a_plot_that_is_a_link_or_not_a_png_is_left_out_not_embedded(tmp_path):
    """A results folder from someone else whose plots/m4l.png links to a file of yours: the report embedded that
    file in the page (as a broken image), to leave with the report."""
    import base64
    import warnings

    secret = tmp_path / "id_rsa"
    secret.write_text("SECRET KEY")
    folder = tmp_path / "results"
    with publish(folder, "run", run="r1") as stage, writing(stage / "summary.json") as path:
        path.write_text(Summary.model_validate_json(EXAMPLE).to_json(), encoding="utf-8")
        (stage / "plots").mkdir()
        for name in ("m4l", "z1_mass", "z2_mass"):
            (stage / "plots" / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + name.encode())
    (folder / "plots" / "m4l.png").unlink()
    (folder / "plots" / "m4l.png").symlink_to(secret)
    (folder / "plots" / "z1_mass.png").write_text("not a PNG")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = render_report(folder)
    embedded = [base64.b64decode(data) for data in re.findall(r"base64,([A-Za-z0-9+/=]+)", page)]
    assert embedded == [b"\x89PNG\r\n\x1a\nz2_mass"]
    assert [str(w.message) for w in caught] == [
        f"{folder}: left out of the report, not made by hzz4l from this run (or not a PNG file of its own): "
        "plots/m4l.png, plots/z1_mass.png"
    ]
