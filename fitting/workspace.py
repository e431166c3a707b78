"""The statistical model as a HistFactory workspace (pyhf's JSON format), written without pyhf.

One channel ``m4l`` holding the bins that enter the fit; one sample per role: ``signal`` scaled by
the ``normfactor`` ``s_s`` and ``background`` by ``s_b``. With ``mc_stat`` both samples carry the
``staterror`` modifier ``mc_stat`` (their absolute statistical uncertainties per bin): one factor
gamma per bin on the total prediction with a Gaussian constraint of relative width
sqrt(sum of variances) / (sum of predictions), exactly the Barlow–Beeston-lite model of
:mod:`fitting.statistics`. Its likelihood is the ``poisson`` statistic of this package whatever
statistic a fit used. The measurement ``hzz4l`` has ``s_s`` as parameter of interest; the bounds
are pyhf's default box [0, 10], inside which every bin's prediction is >= 0 (the fits of this package
also allow negative ``s_s`` where every prediction stays >= 0: widen the bounds to explore that).

Example:
    >>> import numpy as np
    >>> from fitting.templates import Templates
    >>> t = Templates.from_arrays(np.arange(3.0), [5, 2], [0.5, 1.0], [5.0, 1.0], [0.01, 0.02], [0.3, 0.1])
    >>> spec = workspace(t, mc_stat=True)
    >>> [s["name"] for s in spec["channels"][0]["samples"]], spec["observations"][0]["data"]
    (['signal', 'background'], [5.0, 2.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fitting.templates import Templates

__all__ = ["BOUNDS", "CHANNEL", "staterror_widths", "workspace"]

CHANNEL = "m4l"
BOUNDS = (0.0, 10.0)


def staterror_widths(sigmas: list[np.ndarray], total: np.ndarray) -> list[np.ndarray]:
    """The absolute widths of the ``staterror`` modifier of each sample, their statistical uncertainties per bin;
    in a bin where no sample has any, pyhf needs a non-zero width: the last sample gets 1e-6 of the prediction
    (this package floors it too)."""
    empty = np.all([sigma == 0 for sigma in sigmas], axis=0)
    return [*sigmas[:-1], np.where(empty, 1e-6 * total, sigmas[-1])]


def workspace(templates: Templates, mc_stat: bool = False) -> dict[str, Any]:
    """The pyhf workspace (a JSON-ready dict, schema version 1.0.0) of the model of ``templates``."""
    samples = []
    widths = staterror_widths(
        [np.sqrt(templates.signal_var), np.sqrt(templates.background_var)], templates.signal + templates.background
    )
    sigma = dict(zip(("signal", "background"), widths, strict=True))
    for role, nominal, parameter in (
        ("signal", templates.signal, "s_s"),
        ("background", templates.background, "s_b"),
    ):
        modifiers: list[dict[str, Any]] = [{"name": parameter, "type": "normfactor", "data": None}]
        if mc_stat:
            modifiers.append({"name": "mc_stat", "type": "staterror", "data": sigma[role].tolist()})
        samples.append({"name": role, "data": nominal.tolist(), "modifiers": modifiers})
    parameters = [{"name": name, "bounds": [list(BOUNDS)], "inits": [1.0]} for name in ("s_s", "s_b")]
    return {
        "channels": [{"name": CHANNEL, "samples": samples}],
        "observations": [{"name": CHANNEL, "data": templates.data.tolist()}],
        "measurements": [{"name": "hzz4l", "config": {"poi": "s_s", "parameters": parameters}}],
        "version": "1.0.0",
    }
