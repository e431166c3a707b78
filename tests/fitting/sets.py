"""Histogram sets for the fitting tests: the published data of the facts file with smooth
templates, and pseudo-data drawn from known models."""

from __future__ import annotations

import numpy as np
from scipy import stats

from fitting.templates import Templates

EDGES = np.linspace(80.0, 250.0, 35)
#: Published ATLAS Open Data counts, loose cuts, 34 bins 80-250 GeV (facts file).
PUBLISHED_DATA = np.array(
    [
        6,
        28,
        39,
        8,
        3,
        6,
        7,
        8,
        24,
        12,
        10,
        8,
        9,
        11,
        7,
        6,
        11,
        6,
        7,
        5,
        15,
        16,
        8,
        15,
        11,
        12,
        10,
        9,
        6,
        13,
        8,
        8,
        10,
        9,
    ],
    dtype=float,
)


def signal_shape(total: float = 9.61) -> np.ndarray:
    cdf = stats.norm.cdf(EDGES, 125.0, 2.0)
    return total * np.diff(cdf)


def background_shape(total: float = 287.0) -> np.ndarray:
    smooth = np.convolve(np.pad(PUBLISHED_DATA, 2, mode="edge"), np.ones(5) / 5, mode="valid") + 0.5
    return total * smooth / smooth.sum()


def published() -> Templates:
    return Templates.from_arrays(
        EDGES,
        PUBLISHED_DATA,
        signal_shape(),
        background_shape() / 1.25,
        signal_shape() * 0.01,
        background_shape() * 0.02,
    )


def pseudo(seed: int, s_s: float = 1.0, s_b: float = 1.2, scale: float = 1.0) -> Templates:
    rng = np.random.default_rng(seed)
    signal, background = scale * signal_shape(), scale * background_shape(230.0)
    data = rng.poisson(s_s * signal + s_b * background).astype(float)
    return Templates.from_arrays(EDGES, data, signal, background, signal * 0.02, background * 0.01)


SETS = {
    "published": published,
    "pseudo1": lambda: pseudo(1),
    "pseudo2": lambda: pseudo(2, 1.8, 1.3),
    "pseudo3": lambda: pseudo(3, 0.6, 1.25),
}


def low_count(seed: int = 6) -> Templates:
    """About 40 events in 34 bins: most bins hold 0-3 events."""
    return pseudo(seed, 1.0, 1.0, scale=0.15)


def signal_bins_empty(seed: int = 3) -> Templates:
    """Low counts with no event at all in the bins of the signal peak: the best fit lies on the physical
    boundary, where the prediction of the most signal-like bin is zero."""
    signal, background = signal_shape(), background_shape(60.0)
    data = np.random.default_rng(seed).poisson(background).astype(float)
    data[signal > 0.05 * signal.max()] = 0
    return Templates.from_arrays(EDGES, data, signal, background, signal * 0.05, background * 0.05)


def zero_background(seed: int = 1, s_s: float = 0.0) -> Templates:
    """A bin at the peak with no background and no data (and bins without signal): the physical region is
    s_s >= 0, s_b >= 0."""
    signal, background = signal_shape(), 0.3 * background_shape(230.0)
    peak = int(np.argmax(signal))
    background[peak] = 0.0
    data = np.random.default_rng(seed).poisson(s_s * signal + background).astype(float)
    data[peak] = 0
    return Templates.from_arrays(EDGES, data, signal, background, signal * 0.02, background * 0.03 + 1e-3)


def deficit(seed: int = 2) -> Templates:
    """Fewer events than the background alone predicts around 125 GeV: the best s_s is negative."""
    signal, background = signal_shape(), background_shape(230.0)
    data = np.random.default_rng(seed).poisson(1.2 * background).astype(float)
    window = (EDGES[:-1] >= 118) & (EDGES[1:] <= 132)
    data[window] = np.floor(0.6 * data[window])
    return Templates.from_arrays(EDGES, data, signal, background, signal * 0.02, background * 0.01)
