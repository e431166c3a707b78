"""The ATLAS Open Data 2020 ``4lep`` samples of the tutorial, with their normalisation metadata.

This catalogue is the single source of the sample metadata: ``samples.json`` (the real
fileset) and the demo fileset are both built from it, and a test keeps them in step.

Example:
    >>> SAMPLES["ggH125_ZZ4lep"].role
    'signal'
    >>> SAMPLES["ggH125_ZZ4lep"].filename
    'mc_345060.ggH125_ZZ4lep.4lep.root'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DATA_PERIODS",
    "HIGGS",
    "HTTPS_BASE",
    "REDUCIBLE",
    "ROLES",
    "SAMPLES",
    "XROOTD_BASE",
    "ZZ",
    "Sample",
    "data_filename",
    "missing_samples",
    "process_groups",
    "real_fileset",
]

HTTPS_BASE = "https://atlas-opendata.web.cern.ch/atlas-opendata/samples/2020/4lep"
XROOTD_BASE = "root://eospublic.cern.ch//eos/opendata/atlas/OutreachDatasets/2020-01-22/4lep"
#: The roles a dataset can have, in the order tables and plots list them.
ROLES = ("data", "signal", "background")

#: Data periods of 2016 in the release and their luminosity in fb^-1 (10 fb^-1 in all).
DATA_PERIODS: dict[str, float] = {"A": 0.5, "B": 1.9, "C": 2.9, "D": 4.7}


#: Process groups of the simulated samples: the stacks of the plots and the samples of the fit with systematics.
HIGGS, ZZ, REDUCIBLE = "Higgs", "ZZ*", "Z+jets, ttbar"


@dataclass(frozen=True)
class Sample:
    """One simulated process: DSID, role, process group, cross-section (pb), sum of weights, filter efficiency."""

    name: str
    dsid: int
    role: str
    group: str
    xsec: float
    sumw: float
    red_eff: float = 1.0

    @property
    def filename(self) -> str:
        """File name in the release, e.g. ``mc_363490.llll.4lep.root``."""
        return f"mc_{self.dsid}.{self.name}.4lep.root"

    def metadata(self) -> dict[str, Any]:
        """The fileset metadata of this sample."""
        return {
            "role": self.role,
            "dsid": self.dsid,
            "xsec": self.xsec,
            "sumw": self.sumw,
            "red_eff": self.red_eff,
        }


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample("Zee", 361106, "background", REDUCIBLE, 1950.5295, 150277594200.0),
        Sample("Zmumu", 361107, "background", REDUCIBLE, 1950.6321, 147334691090.0),
        Sample("ttbar_lep", 410000, "background", REDUCIBLE, 452.693559, 49386600.0),
        Sample("llll", 363490, "background", ZZ, 1.2578, 7538705.8077),
        Sample("llvv", 363492, "background", ZZ, 12.466, 5039259.9696),
        Sample("ZqqZll", 363356, "background", ZZ, 2.20355112, 3439266.11559),
        Sample("ggH125_ZZ4lep", 345060, "signal", HIGGS, 0.0060239, 27881776.6536),
        Sample("WH125_ZZ4lep", 341964, "signal", HIGGS, 0.0003769, 149400.0),
        Sample("VBFH125_ZZ4lep", 344235, "signal", HIGGS, 0.0004633012, 3680490.83243),
        Sample("ZH125_ZZ4lep", 341947, "signal", HIGGS, 0.0000021424784, 150000.0),
    )
}


def process_groups(roles: dict[str, str]) -> dict[str, str]:
    """``{dataset: process group}`` of the simulated datasets among ``{dataset: role}``: the catalogue's group for
    the release's samples, the role (``signal``, ``background``) for any other dataset.

    Example:
        >>> process_groups({"llll": "background", "ggH125_ZZ4lep": "signal", "mine": "background", "data": "data"})
        {'llll': 'ZZ*', 'ggH125_ZZ4lep': 'Higgs', 'mine': 'background'}
    """
    return {name: SAMPLES[name].group if name in SAMPLES else role for name, role in roles.items() if role != "data"}


def data_filename(period: str) -> str:
    """File name of one data period, e.g. ``data_A.4lep.root``."""
    return f"data_{period}.4lep.root"


def real_fileset(base: str = HTTPS_BASE) -> dict[str, Any]:
    """The coffea fileset of the real release under ``base`` (HTTPS or XRootD), tree ``mini``."""
    fileset: dict[str, Any] = {
        s.name: {"files": {f"{base}/MC/{s.filename}": "mini"}, "metadata": s.metadata()} for s in SAMPLES.values()
    }
    fileset["data"] = {
        "files": {f"{base}/Data/{data_filename(p)}": "mini" for p in DATA_PERIODS},
        "metadata": {"role": "data"},
    }
    return fileset


def missing_samples(datasets: Iterable[str]) -> list[str]:
    """The tutorial's simulated samples absent from ``datasets``, when they are the release's samples at all.

    A fileset made of some of the release's samples (such as the real files shipped with the tests, which lack
    the large ZZ* and Higgs samples) gives an incomplete prediction; plots and summaries say so. A fileset with
    none of the release's sample names is someone else's analysis: nothing is reported missing.

    Example:
        >>> missing_samples(["Zee", "Zmumu", "ttbar_lep", "data"])[:3]
        ['llll', 'llvv', 'ZqqZll']
        >>> missing_samples(["my_signal", "data"])
        []
    """
    present = set(datasets)
    if not present & SAMPLES.keys():
        return []
    return [name for name in SAMPLES if name not in present]
