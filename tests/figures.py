"""Fixed inputs of the figure tests and the image comparison against the baselines in ``tests/baseline/``.

Every figure of the project is drawn here from small inputs written out in full (no random numbers, no runs), saved
as the PNG a user gets (as :func:`analysis.style.save` writes it) and compared with matplotlib's own
:func:`matplotlib.testing.compare.compare_images` against the committed baseline of the same name. A change in any
figure fails the test with the difference image's path.

Regenerate the baselines deliberately, after looking at every new image, with::

    python -m pytest tests/analysis/test_figures.py --update-baselines

(``--update-baselines`` writes ``tests/baseline/<name>.png`` instead of comparing; see tests/conftest.py).
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import hist
import numpy as np
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnchoredOffsetbox, TextArea
from matplotlib.testing.compare import compare_images
from scipy import stats

from analysis import style
from analysis.plots import stack_components
from fitting.analysis import FitReport, analyse
from fitting.systematics import Impact, Pull, SystematicFit, Uncertainty
from tests.fitting.sets import EDGES, PUBLISHED_DATA, deficit, published, signal_shape

BASELINE = Path(__file__).parent / "baseline"
#: RMS difference (0-255 grey levels) tolerated between a figure and its baseline: the same figure redrawn with the
#: same matplotlib and fonts differs by 0; one 0.12-high error bar left out of a ratio panel by 0.6, a moved label,
#: legend entry or curve by more. A new matplotlib or font may need the baselines regenerated (after looking).
TOLERANCE = 0.3


def check_figure(fig: Figure, name: str, folder: Path, update: bool) -> Path:
    """Save ``fig`` as a user gets it and compare the PNG with ``tests/baseline/<name>.png`` (``update``: replace
    the baseline instead). Returns the PNG written."""
    [png] = style.save(fig, folder / name, ("png",))  # as a user gets it (the PDF, slow to write, left out)
    baseline = BASELINE / f"{name}.png"
    if update:
        BASELINE.mkdir(exist_ok=True)
        shutil.copyfile(png, baseline)
        return png
    assert baseline.exists(), f"no baseline {baseline}: look at {png}, then run with --update-baselines"
    failure = compare_images(str(baseline), str(png), tol=TOLERANCE, in_decorator=True)
    assert failure is None, (
        f"{name} differs from its baseline (RMS {failure['rms']:.2f} > {TOLERANCE}): see {failure['actual']} and "
        f"{failure['diff']}; if the change is intended, regenerate the baselines with --update-baselines"
    )
    return png


def texts(fig: Figure) -> list[str]:
    """Every text a reader sees: titles, tick labels, legends and the experiment label's lines."""
    out = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    for box in fig.findobj(AnchoredOffsetbox):
        out += [a.get_text() for a in box.findobj(TextArea)]
    return out


def legend_labels(fig: Figure) -> list[str]:
    """The legend entries of every panel, in order."""
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def _hist(edges: np.ndarray, contents: dict[str, tuple[np.ndarray, np.ndarray]], label: str, name: str) -> hist.Hist:
    h = hist.Hist(
        hist.axis.StrCategory(list(contents), name="dataset", growth=True),
        hist.axis.Variable(edges, name=name, label=label),
        storage=hist.storage.Weight(),
    )
    for dataset, (values, variances) in contents.items():
        h[dataset, :] = np.stack([values, variances], axis=-1)
    return h


ROLES = {"data": "data", "llll": "background", "Zee": "background", "ttbar_lep": "background",
         "ggH125_ZZ4lep": "signal"}  # fmt: skip
#: The published templates' background (tests.fitting.sets.published) split into the display groups.
SPLIT = {"llll": 0.88, "Zee": 0.07, "ttbar_lep": 0.05}


def m4l(nbins: int = 34) -> hist.Hist:
    """m4l in ``nbins`` bins from 80 to 250 GeV: the templates of the fit tests split by sample; in 34 bins the
    published ATLAS Open Data counts, else counts made up from the prediction, with one empty bin."""
    edges = np.linspace(80.0, 250.0, nbins + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(published().background)])
    background = np.diff(np.interp(edges, EDGES, cumulative))
    signal = np.diff(stats.norm.cdf(edges, 125.0, 2.0)) * signal_shape().sum()
    if nbins == len(PUBLISHED_DATA):
        data = PUBLISHED_DATA
    else:
        data = np.round((background + signal) * (1.1 + 0.2 * np.sin(np.arange(nbins) * 2.3)))
        data[nbins // 2] = 0.0
    contents = {"data": (data, data), "ggH125_ZZ4lep": (signal, signal * 0.001)}
    contents |= {name: (share * background, share * background * 0.01) for name, share in SPLIT.items()}
    return _hist(edges, contents, r"$m_{4\ell}$ [GeV]", "mass")


def lepton_eta() -> hist.Hist:
    """Lepton eta in 54 bins from -2.7 to 2.7 (negative ticks), empty beyond the acceptance |eta| < 2.5."""
    edges = np.linspace(-2.7, 2.7, 55)
    centres = 0.5 * (edges[1:] + edges[:-1])
    inside = np.abs(centres) < 2.5
    shape = np.where(inside, 30.0 * np.exp(-0.5 * (centres / 1.4) ** 2), 0.0)
    data = np.where(inside, np.round(1.2 * shape + 4.0 * np.cos(centres * 5.0)), 0.0)
    contents = {
        "data": (data, data),
        "llll": (shape, shape * 0.004),
        "Zee": (0.02 * shape, 0.02 * shape * 0.3),
        "ggH125_ZZ4lep": (0.05 * shape, 0.05 * shape * 0.001),
    }
    return _hist(edges, contents, r"lepton $\eta$", "eta")


def postfit_components(report: FitReport) -> list[tuple[str, np.ndarray, str]]:
    """The stack of :func:`m4l` (34 bins) as ``(label, values, role)``, whose sums are the templates of ``report``."""
    return stack_components(m4l(), ROLES)


@functools.cache
def fit_report(statistic: str = "poisson", method: str = "profile", templates: str = "published") -> FitReport:
    """Every statistical step on fixed templates: the published data (tests.fitting.sets) or a deficit at 125 GeV
    whose best s_s lies below the tutorial's grid; few toys, a fixed seed."""
    inputs = {"published": published, "deficit": deficit}[templates]()
    return analyse(inputs, statistic, method=method, gof_toys=2000, coverage_toys=50, coverage_points=40, seed=1)


#: A fit with nuisance parameters as cabinetry gives it (numbers of the demo's order), for the pulls and impacts.
SYSTEMATIC_FIT = SystematicFit(
    s_s=1.12,
    total=Uncertainty(0.41, 0.47),
    stat=Uncertainty(0.40, 0.46),
    syst=Uncertainty(0.09, 0.10),
    at_boundary=False,
    s_b=1.18,
    s_b_error=0.09,
    pulls=(
        Pull("lep_scale", 0.35, 0.92),
        Pull("ele_eff", -0.12, 0.99),
        Pull("mu_eff", 0.05, 1.0),
        Pull("lumi", -0.41, 0.97),
        Pull("zz_xsec", 1.45, 0.71),
    ),
    impacts=(
        Impact("mc_stat", 0.052, -0.052, 0.052, -0.052),
        Impact("lep_scale", 0.041, -0.038, 0.037, -0.035),
        Impact("zz_xsec", -0.030, 0.033, -0.021, 0.024),
        Impact("lumi", -0.012, 0.013, -0.011, 0.012),
        Impact("ele_eff", -0.008, 0.008, -0.008, 0.008),
        Impact("mu_eff", -0.004, 0.004, -0.004, 0.004),
    ),
    twice_nll=71.3,
)
