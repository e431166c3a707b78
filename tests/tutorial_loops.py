"""A loop-for-loop port of the tutorial's statistics (tut1 notebook, sections 1-4 and the last cell).

Kept as the tutorial wrote it — Python loops over grid points, toys and bins — with two changes
only: the histograms are arguments instead of globals, and random numbers come from a
``numpy.random.Generator`` passed in (one ``normal`` call per bin, in the tutorial's order), so a
seeded run can be compared with :mod:`fitting` number for number. It is the reference of the
tests of ``--method tutorial`` and the baseline of ``benchmarks/bench_fit.py``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def calcChiSq(obs, preds, numParams):
    chiSq = np.sum(np.power((obs - preds), 2) / (preds))
    ndf = len(obs) - numParams
    return chiSq, ndf


def generate_toy(means, rng):
    toy = np.empty(len(means))
    for i in range(len(means)):
        toy_bin = rng.normal(means[i], np.sqrt(means[i]), 1)
        toy[i] = toy_bin[0]
    return toy


def fit_s_s(H_data, H_125, H_bkg):
    s_s_ar = np.linspace(1.0, 3.0, 100)
    chi2_ar = np.empty(len(s_s_ar))
    minChi2, mindof, bestFit_s_s = 1000000, 1, 0.0
    for s_s in range(len(s_s_ar)):
        pred = (s_s_ar[s_s] * H_125) + (H_bkg)
        chi2, dof = calcChiSq(H_data, pred, 1)
        chi2_ar[s_s] = chi2
        if chi2 < minChi2:
            minChi2, mindof, bestFit_s_s = chi2, dof, s_s_ar[s_s]
    deltaChi2_ar = chi2_ar - minChi2
    p = np.poly1d(np.polyfit(s_s_ar, deltaChi2_ar, 2))
    crit = (p - 1.0).roots
    return bestFit_s_s, np.abs(crit[0] - bestFit_s_s), minChi2, mindof


def fit_s_b(H_data, H_125, H_bkg):
    s_b_ar = np.linspace(1.15, 1.4, 100)
    chi2_ar = np.empty(len(s_b_ar))
    minChi2, mindof, bestFit_s_b = 1000000, 1, 0.0
    for s_b in range(len(s_b_ar)):
        pred = (H_125) + (s_b_ar[s_b] * H_bkg)
        chi2, dof = calcChiSq(H_data, pred, 1)
        chi2_ar[s_b] = chi2
        if chi2 < minChi2:
            minChi2, mindof, bestFit_s_b = chi2, dof, s_b_ar[s_b]
    deltaChi2_ar = chi2_ar - minChi2
    p = np.poly1d(np.polyfit(s_b_ar, deltaChi2_ar, 2))
    crit = (p - 1.0).roots
    return bestFit_s_b, np.abs(crit[0] - bestFit_s_b), minChi2, mindof


S_S_2D = np.linspace(0.1, 2.7, 100)
S_B_2D = np.linspace(1.1, 1.5, 100)


def fit_2d(H_data, H_125, H_bkg):
    s_s_ar, s_b_ar = S_S_2D, S_B_2D
    chi2_ar = np.empty((len(s_s_ar), len(s_b_ar)))
    bestFit_s_s, bestFit_s_b, minChi2, mindof = 0.0, 0.0, 1000000, 1
    for s_s in range(len(s_s_ar)):
        for s_b in range(len(s_b_ar)):
            pred = (s_s_ar[s_s] * H_125) + (s_b_ar[s_b] * H_bkg)
            chi2, dof = calcChiSq(H_data, pred, 2)
            chi2_ar[s_s, s_b] = chi2
            if chi2 < minChi2:
                minChi2, mindof = chi2, dof
                bestFit_s_s, bestFit_s_b = s_s_ar[s_s], s_b_ar[s_b]
    deltaChi2_ar = chi2_ar - minChi2
    levels = [2.3]
    bf_point_index = [np.where(deltaChi2_ar == 0)[0][0], np.where(deltaChi2_ar == 0)[1][0]]
    s_s_left = s_s_ar[np.where(deltaChi2_ar[:, bf_point_index[1]] <= levels[0])[0][0]]
    s_s_right = s_s_ar[np.where(deltaChi2_ar[:, bf_point_index[1]] <= levels[0])[0][-1]]
    s_b_left = s_b_ar[np.where(deltaChi2_ar[bf_point_index[0], :] <= levels[0])[0][0]]
    s_b_right = s_b_ar[np.where(deltaChi2_ar[bf_point_index[0], :] <= levels[0])[0][-1]]
    return {
        "s_s": (bestFit_s_s, np.abs(bestFit_s_s - s_s_left), np.abs(bestFit_s_s - s_s_right)),
        "s_b": (bestFit_s_b, np.abs(bestFit_s_b - s_b_left), np.abs(bestFit_s_b - s_b_right)),
        "chi2": minChi2,
        "ndf": mindof,
        "index": bf_point_index,
    }


def goodness_of_fit(H_data, means, ntoys, nBins, rng):
    chi2_toys = np.empty(ntoys)
    for t in range(ntoys):
        toy = generate_toy(means, rng)
        chi2_toys[t] = calcChiSq(toy, means, 0)[0]
    chi2_data = calcChiSq(H_data, means, 0)[0]
    pVal = 1 - stats.chi2.cdf(chi2_data, nBins - 2)
    return chi2_toys, chi2_data, pVal


def coverage(H_125, H_bkg, model_means, bf_point_index, d_arr, N_toys, rng):
    s_s_ar, s_b_ar = S_S_2D, S_B_2D
    fracs = np.zeros(len(d_arr))
    for d_index, d in enumerate(d_arr):
        num_within_d = 0
        for _ in range(N_toys):
            chi2_ar_toy = np.empty((len(s_s_ar), len(s_b_ar)))
            H_toy = generate_toy(model_means, rng)
            minChi2 = 1000000
            for s_s in range(len(s_s_ar)):
                for s_b in range(len(s_b_ar)):
                    pred = (s_s_ar[s_s] * H_125) + (s_b_ar[s_b] * H_bkg)
                    chi2, _ = calcChiSq(H_toy, pred, 2)
                    chi2_ar_toy[s_s, s_b] = chi2
                    if chi2 < minChi2:
                        minChi2 = chi2
            deltaChi2_ar_toy = chi2_ar_toy - minChi2
            if deltaChi2_ar_toy[bf_point_index[0], bf_point_index[1]] <= d:
                num_within_d += 1
        fracs[d_index] = num_within_d / N_toys
    return fracs
