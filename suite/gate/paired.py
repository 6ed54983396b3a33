"""Per-example paired statistics of two sides' test predictions: the exact null, and the seed shift it cannot see.

Both sides hold ``(seeds, examples)`` bool arrays of which test examples each seed got
right, on one test set. Under no change and no global per-seed shift, the outcomes of
one example over all ``k = k_base + k_new`` seeds are exchangeable; everything in
:func:`exact_stratified_tails` and :func:`null_variance` rests on that. A seed that
trains a better or worse model *overall* breaks it: every example of that seed moves
together. :func:`seed_shift` measures that part from the seeds of each side (Cochran's
Q, the method-of-moments excess of DerSimonian & Laird 1986), so that the accuracy
judge can add it to the paired test's variance instead of mistaking it for a change.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2


def exact_stratified_tails(base: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """``P(S <= s)`` and ``P(S >= s)`` of NEW's correct count ``S`` under no change, given each example's total.

    Under no change the ``k = k_base + k_new`` outcomes of one example are exchangeable,
    so given that ``t`` of them are right, NEW's share is hypergeometric
    (``k`` outcomes, ``t`` right, ``k_new`` drawn); examples are independent, so ``S``'s
    distribution is the convolution over examples (the exact conditional test of
    Mantel & Haenszel's stratified 2 x 2 tables; McNemar's test when ``k = 2``).

    Args:
        base (np.ndarray): Bool, shape ``(k_base, examples)``.
        new (np.ndarray): Bool, shape ``(k_new, examples)``.
    """
    k_base, k_new = len(base), len(new)
    k = k_base + k_new
    totals = base.sum(axis=0) + new.sum(axis=0)
    informative = (totals > 0) & (totals < k)  # all right or all wrong: NEW's share is fixed
    observed = int(new[:, informative].sum())
    pmf, offset = np.ones(1), 0
    for total, count in enumerate(np.bincount(totals[informative], minlength=k).tolist()):
        if count:
            low, one = _hypergeometric(k_base, k_new, total)
            pmf = np.convolve(pmf, _convolution_power(one, count))
            offset += low * count
    index = observed - offset
    return float(min(1.0, pmf[: index + 1].sum())), float(min(1.0, pmf[index:].sum()))


@functools.cache
def _hypergeometric(k_base: int, k_new: int, total: int) -> tuple[int, np.ndarray]:
    """Smallest possible count and the distribution of NEW's right outcomes when ``total`` of all are right."""
    k = k_base + k_new
    low, high = max(0, total - k_base), min(total, k_new)
    weights = np.array([math.comb(total, x) * math.comb(k - total, k_new - x) for x in range(low, high + 1)], float)
    return low, weights / weights.sum()


def _convolution_power(pmf: np.ndarray, times: int) -> np.ndarray:
    """The distribution of the sum of ``times`` independent draws from ``pmf`` (by repeated squaring)."""
    result, square = np.ones(1), pmf
    while times:
        if times & 1:
            result = np.convolve(result, square)
        times >>= 1
        if times:
            square = np.convolve(square, square)
    return result


def null_variance(base: np.ndarray, new: np.ndarray) -> float:
    """Variance of ``mean(new) - mean(base)`` accuracy under the exact paired null (no change, no seed shift).

    Given ``t`` of an example's ``k`` outcomes right, NEW's share ``X`` is hypergeometric
    with ``Var X = k_new (t/k)(1 - t/k)(k - k_new)/(k - 1)``; examples are independent,
    and the difference of the sides' mean accuracies is ``S (1/k_new + 1/k_base) / n``
    minus a constant, where ``S`` is NEW's correct count over all ``n`` examples.

    Args:
        base (np.ndarray): Bool, shape ``(k_base, examples)``.
        new (np.ndarray): Bool, shape ``(k_new, examples)``.
    """
    k_base, k_new, examples = len(base), len(new), base.shape[1]
    k = k_base + k_new
    share = (base.sum(axis=0) + new.sum(axis=0)) / k
    variance_s = float((k_new * share * (1 - share) * (k - k_new) / (k - 1)).sum())
    return variance_s * ((1 / k_new + 1 / k_base) / examples) ** 2


@dataclass(frozen=True)
class SeedShift:
    """How much seeds of one model differ *globally*, beyond examples flipping, pooled over both sides.

    Attributes:
        variance (float): The estimated variance of a seed's accuracy from a global shift
            (``tau^2``, accuracy as a fraction; 0 when the seeds spread no more than flips do).
        df (int): Its degrees of freedom: ``sum(k - 1)`` over the sides with two or more seeds.
        p (float): Cochran's Q test of "seeds differ only by examples flipping", pooled
            (the sides' Q add up, as do their degrees of freedom); NaN when ``df`` is 0.
    """

    variance: float
    df: int
    p: float


def seed_shift(*sides: np.ndarray) -> SeedShift:
    """The global per-seed shift of accuracy, estimated from each side's seeds (Cochran 1950; DerSimonian & Laird 1986).

    On one side of ``k`` seeds with per-seed accuracies of sample variance ``s^2``,
    examples flipping alone give a seed's accuracy the variance
    ``v = sum_i p_i (1 - p_i) / n^2``, estimated without bias by
    ``v_hat = k / (k - 1) * sum_i p_hat_i (1 - p_hat_i) / n^2`` (``p_hat_i``: the share of
    the side's seeds right on example ``i``). Cochran's ``Q = (k - 1) s^2 / v_hat`` is
    chi-squared with ``k - 1`` degrees of freedom when seeds differ only by flips, and the
    excess ``s^2 - v_hat`` estimates the shift's variance; pooled over sides by their
    degrees of freedom and floored at 0.

    Args:
        *sides (np.ndarray): Bool arrays ``(seeds, examples)``; sides of one seed add nothing.
    """
    q_total, excess, df = 0.0, 0.0, 0
    for correct in sides:
        k, examples = correct.shape
        if k < 2:
            continue
        accuracies = correct.mean(axis=1)
        spread = float(accuracies.var(ddof=1))
        share = correct.mean(axis=0)
        flips = k / (k - 1) * float((share * (1 - share)).sum()) / examples**2
        excess += (k - 1) * (spread - flips)
        q_total += (k - 1) * spread / flips if flips > 0 else (math.inf if spread > 0 else 0.0)
        df += k - 1
    if not df:
        return SeedShift(0.0, 0, math.nan)
    return SeedShift(max(excess / df, 0.0), df, float(chi2.sf(q_total, df)))
