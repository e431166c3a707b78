"""The normalisation of a simulated sample to a luminosity (one definition for the processor and the demo).

Example:
    >>> round(normalisation(10.0, xsec=1.0, sumw=1e4, red_eff=1.0), 6)  # 10 fb^-1 x 1 pb over 10^4 events
    1.0
"""

from __future__ import annotations

__all__ = ["normalisation"]


def normalisation(lumi_fb: float, xsec: float, sumw: float, red_eff: float) -> float:
    """``lumi_fb * 1000 * xsec / (sumw * red_eff)``: the weight of an event of unit ``mcWeight`` (and scale
    factors) that makes the sample's yield that of ``lumi_fb`` fb^-1; ``xsec`` in pb, ``sumw`` the sum of the
    generator weights before the skim, ``red_eff`` the filter efficiency."""
    return lumi_fb * 1000.0 * xsec / (sumw * red_eff)
