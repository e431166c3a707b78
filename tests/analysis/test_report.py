"""``report.html`` in a real headless browser: it loads without console errors, every image renders,
and every number in its tables equals ``summary.json`` and ``fit.json``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from analysis.outputs import RUN_PLOTS
from tests.helpers import hzz4l

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        pytest.fail("CI needs chromium and chromedriver (.ci/run installs them)", pytrace=False)
    pytest.skip("no chromium/chromedriver here: apt-get install chromium chromium-driver", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

#: command-line runs, servers, clusters: the --runslow lane
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    steps = [
        ("demo", "--scale", "0.05", "--seed", "8", "-o", "demo"),
        ("run", "--fileset", "demo/fileset.json", "-o", "results", "--no-progress", "--fit"),
    ]
    for step in steps:
        ran = hzz4l(*step, cwd=folder)
        assert ran.returncode == 0, ran.stderr
    return folder / "results"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def resolve(key: str, summary: dict, fit: dict):
    """The JSON value a table cell claims to show, by its data-key."""
    if key.startswith("roles."):
        _, role, field = key.split(".")
        return sum(d[field] for d in summary["datasets"].values() if d["role"] == role)
    tree, path = (fit, key[4:]) if key.startswith("fit.") else (summary, key)
    for part in path.split("."):
        tree = tree[int(part)] if isinstance(tree, list) else tree[part]
    return tree


def test_the_fit_of_run_fit_is_the_fit_of_hzz4l_fit(results, tmp_path):
    # run --fit computes the fit while the run's figures are drawn: the same fit as `hzz4l fit` on the run
    again = tmp_path / "again"
    shutil.copytree(results, again)
    ran = hzz4l("fit", str(again), "--no-plots", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert json.loads((again / "fit.json").read_text()) == json.loads((results / "fit.json").read_text())


def test_page_loads_cleanly_with_every_image(results, browser):
    browser.get((results / "report.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    expected = sorted(p.stem for p in (results / "plots").glob("*.png"))
    assert sorted(alt for alt, *_ in images) == expected
    assert len(expected) == len(RUN_PLOTS) + 6  # the run's plots and the fit's
    assert not list((results / "plots").glob("*.pdf"))  # PDF copies only on request (--pdf)
    for alt, complete, width, height in images:
        assert complete and width > 0 and height > 0, alt
    assert 'src="http' not in (results / "report.html").read_text()  # self-contained


def test_numbers_equal_summary_and_fit(results, browser):
    browser.get((results / "report.html").as_uri())
    summary = json.loads((results / "summary.json").read_text())
    fit = json.loads((results / "fit.json").read_text())
    cells = browser.find_elements(By.CSS_SELECTOR, "td[data-key]")
    keys = {cell.get_attribute("data-key") for cell in cells}
    for required in (
        "lumi_fb",
        "preset",
        "executor",
        "datasets.data.yield",
        "datasets.llll.cutflow.isolation.events",
        "roles.signal.yield",
        "fit.fits.s_s,s_b.s_s.value",
        "fit.fits.s_s,s_b.s_b.err_high",
        "fit.gof.p_value_toys",
        "fit.significance.observed",
        "fit.prefit.chi2",
    ):
        assert required in keys, required
    for cell in cells:
        key = cell.get_attribute("data-key")
        expected = resolve(key, summary, fit)
        shown = json.loads(cell.get_attribute("data-value"))
        if isinstance(expected, float):
            assert shown == pytest.approx(expected, rel=1e-12), key
            text = cell.text.replace(",", "")
            decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
            assert float(text) == pytest.approx(expected, rel=1e-3, abs=0.5 * 10**-decimals), key
        else:
            assert shown == expected, key
            # strings, integers and lists (the flavour sums) as written, true and false as yes and no
            words = {True: "yes", False: "no"}
            assert cell.text == (words[expected] if isinstance(expected, bool) else str(expected)), key


def test_values_from_the_folder_cannot_inject_html(results, browser, tmp_path):
    """Issue 11, case 3: strings from summary.json, fit.json and plot file names are shown as text, never run."""
    folder = tmp_path / "results"
    shutil.copytree(results, folder)
    hostile = {
        "preset": "<script>window.pwned = 'preset'</script>",
        "fileset": '"><img src=x onerror="window.pwned=\'fileset\'">',
        "cut": "<img src=x onerror=\"window.pwned='cut'\">",
        "likelihood": "<img src=x onerror=\"window.pwned='likelihood'\">",
        "plot": "x\" onload=\"window.pwned='plot'",
    }
    summary = json.loads((folder / "summary.json").read_text())
    summary["preset"], summary["fileset"] = hostile["preset"], hostile["fileset"]
    for dataset in summary["datasets"].values():
        dataset["cutflow"][hostile["cut"]] = dataset["cutflow"].pop("charge")
    (folder / "summary.json").write_text(json.dumps(summary))
    fit = json.loads((folder / "fit.json").read_text())
    fit["significance"]["likelihood"] = hostile["likelihood"]  # a free text (the statistic is one of three)
    (folder / "fit.json").write_text(json.dumps(fit))
    (folder / "plots" / "gof_toys.png").rename(folder / "plots" / f"{hostile['plot']}.png")
    manifest = json.loads((folder / ".hzz4l-outputs.json").read_text())  # as a hostile folder would claim it
    manifest["files"][f"plots/{hostile['plot']}.png"] = manifest["files"].pop("plots/gof_toys.png")
    (folder / ".hzz4l-outputs.json").write_text(json.dumps(manifest))
    ran = hzz4l("report", "results", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr

    browser.get((folder / "report.html").as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.execute_script("return document.querySelectorAll('script, [onerror], [onload]').length") == 0
    shown = browser.find_element(By.TAG_NAME, "body").text
    for text in (hostile["preset"], hostile["cut"], hostile["plot"]):
        assert text in shown, text
    assert hostile["likelihood"] in shown and hostile["fileset"] in shown
    alts = browser.execute_script("return Array.from(document.images).map(i => i.alt)")
    assert hostile["plot"] in alts


def test_reads_like_a_results_page(results, browser):
    """Issue 13: no empty header rows, "1 dataset", named cuts with units, yields with uncertainties and data as
    integers, the expected significance, captions that say what a figure shows; the demo said to be synthetic."""
    browser.get((results / "report.html").as_uri())
    summary = json.loads((results / "summary.json").read_text())
    heads = browser.execute_script(
        "return Array.from(document.querySelectorAll('thead tr')).map(r => r.innerText.trim())"
    )
    assert all(heads), heads  # no grey header row without a word in it
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "1 dataset\n" in page or "1 dataset " in page
    assert "leading lepton pT > [GeV]" in page and "require_trigger" not in page
    data_yield = browser.find_element(By.CSS_SELECTOR, 'td[data-key="datasets.data.yield"]')
    assert data_yield.text == f"{summary['datasets']['data']['yield']:.0f}"  # an integer, as counted, not "255.000"
    error = data_yield.find_element(By.XPATH, "following-sibling::td[1]").text
    assert error == f"± {summary['datasets']['data']['yield'] ** 0.5:.0f}"
    assert browser.find_elements(By.CSS_SELECTOR, 'td[data-key="fit.significance.expected_sm"]')
    captions = [c.text for c in browser.find_elements(By.TAG_NAME, "figcaption")]
    assert all(" " in caption for caption in captions)  # sentences, not file stems
    assert summary["synthetic"]
    assert browser.title == "H→ZZ*→4ℓ: synthetic demo" and "ATLAS Open Data" not in page
    assert "Synthetic demo — not ATLAS data" in page
    truth = summary["truth"]  # beside each fitted value, and in the headline
    rows = browser.execute_script(
        "const t = Array.from(document.querySelectorAll('table')).find(t => t.tHead?.innerText.includes('demo truth'));"
        "return Array.from(t.tBodies[0].rows).map(r => [r.cells[0].innerText, r.cells[r.cells.length - 1].innerText]);"
    )
    shown = {name: float(value) for name, value in rows if name.startswith(("s_s", "s_b"))}
    assert shown == {
        "s_s alone (s_b = 1)": truth["s_s"],
        "s_b alone (s_s = 1)": truth["s_b"],
        "s_s (both free)": truth["s_s"],
        "s_b (both free)": truth["s_b"],
    }
    headline = browser.execute_script("return document.querySelector('h2 + p').innerText")
    assert f"drawn with ss = {truth['s_s']:g}, sb = {truth['s_b']:g}." in headline
