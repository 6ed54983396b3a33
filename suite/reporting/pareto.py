"""The Pareto front of accuracy against a cost: which models no other model beats on both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_front(costs: Sequence[float] | np.ndarray, scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Which points lie on the Pareto front of a cost (lower is better) and a score (higher is better).

    A point is on the front when no other point is at least as good on both axes and
    strictly better on one. Two identical points do not dominate each other, so both
    are on the front if either is; a point with a missing (NaN) coordinate is on no
    front and dominates nothing.

    Args:
        costs (Sequence[float]): Cost of each point (parameters, MACs, latency).
        scores (Sequence[float]): Score of each point (accuracy), same length.

    Returns:
        np.ndarray: Boolean mask, True for the points on the front.

    Example:
        >>> pareto_front([1, 2, 3], [0.5, 0.9, 0.8]).tolist()
        [True, True, False]
    """
    cost = np.asarray(costs, dtype=float)
    score = np.asarray(scores, dtype=float)
    if cost.shape != score.shape or cost.ndim != 1:
        raise ValueError(f"costs and scores must be 1-D and of the same length, got {cost.shape} and {score.shape}")
    valid = ~(np.isnan(cost) | np.isnan(score))
    c, s = cost[valid], score[valid]
    # dominated[i, j]: point j dominates point i. Quadratic, but fronts are drawn over
    # tens of aggregated points, and the plain definition is the one worth trusting.
    no_worse = (c[None, :] <= c[:, None]) & (s[None, :] >= s[:, None])
    better = (c[None, :] < c[:, None]) | (s[None, :] > s[:, None])
    on_front = np.zeros(cost.shape, dtype=bool)
    on_front[valid] = ~(no_worse & better).any(axis=1)
    return on_front
