"""The Pareto front: on it when no other point is at least as good on both axes and better on one."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from suite.reporting import pareto_front


def dominated_by_definition(costs: list[float], scores: list[float]) -> list[bool]:
    """The definition, written out point by point (what the vectorised version must agree with)."""
    on = []
    for i in range(len(costs)):
        if np.isnan(costs[i]) or np.isnan(scores[i]):
            on.append(False)
            continue
        beaten = False
        for j in range(len(costs)):
            if j == i or np.isnan(costs[j]) or np.isnan(scores[j]):
                continue
            no_worse = costs[j] <= costs[i] and scores[j] >= scores[i]
            better = costs[j] < costs[i] or scores[j] > scores[i]
            beaten |= no_worse and better
        on.append(not beaten)
    return on


def test_docstring_example() -> None:
    assert pareto_front([1, 2, 3], [0.5, 0.9, 0.8]).tolist() == [True, True, False]


def test_cheaper_and_as_good_dominates() -> None:
    # B costs more for the same accuracy: dominated. C is cheapest: on the front even though worst.
    assert pareto_front([100, 200, 50], [0.9, 0.9, 0.5]).tolist() == [True, False, True]


def test_identical_points_do_not_dominate_each_other() -> None:
    assert pareto_front([1, 1, 2], [0.8, 0.8, 0.7]).tolist() == [True, True, False]


def test_equal_cost_higher_score_wins() -> None:
    assert pareto_front([5, 5], [0.7, 0.9]).tolist() == [False, True]


def test_nan_is_on_no_front_and_dominates_nothing() -> None:
    assert pareto_front([np.nan, 2, 3], [1.0, 0.5, 0.6]).tolist() == [False, True, True]
    assert pareto_front([1, 2], [np.nan, 0.5]).tolist() == [False, True]


def test_empty_and_single() -> None:
    assert pareto_front([], []).tolist() == []
    assert pareto_front([3.0], [0.1]).tolist() == [True]


def test_front_is_a_staircase() -> None:
    """Sorted by cost, the front's scores strictly increase: each step buys accuracy."""
    rng = np.random.default_rng(0)
    costs, scores = rng.lognormal(12, 1, 200), rng.uniform(0.5, 1, 200)
    mask = pareto_front(costs, scores)
    order = np.argsort(costs[mask])
    assert np.all(np.diff(scores[mask][order]) > 0)


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_the_definition(seed: int) -> None:
    """Random clouds with many ties (values drawn from small sets) and some NaNs."""
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    costs = [rng.choice([1.0, 2.0, 3.0, 5.0, 8.0, np.nan]) for _ in range(n)]
    scores = [rng.choice([0.5, 0.7, 0.9, 0.95, np.nan]) for _ in range(n)]
    assert pareto_front(costs, scores).tolist() == dominated_by_definition(costs, scores)


def test_no_point_on_the_front_dominates_another_on_it() -> None:
    points = list(itertools.product([1.0, 2.0, 4.0], [0.6, 0.8, 0.9]))
    costs, scores = [p[0] for p in points], [p[1] for p in points]
    mask = pareto_front(costs, scores)
    assert [p for p, on in zip(points, mask, strict=True) if on] == [(1.0, 0.9)]


def test_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        pareto_front([1, 2], [0.5])
