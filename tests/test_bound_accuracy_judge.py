"""The upper bound on any accuracy judge's power (benchmarks/bound_accuracy_judge.py), checked against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from tests.helpers import load_benchmark

_BOUND = load_benchmark("bound_accuracy_judge")
best_power, t_test_power = _BOUND.best_power, _BOUND.t_test_power


def _z_test_power(budget: float, seeds: tuple[int, int] = (3, 3)) -> float:
    drop_z = 5.0 / (1.5 * math.sqrt(1 / seeds[0] + 1 / seeds[1]))
    return float(stats.norm.sf(stats.norm.isf(budget) - drop_z))


@pytest.mark.parametrize("budget", [0.005, 0.01])
def test_held_at_flips_only_the_best_judge_is_the_known_variance_z_test(budget: float) -> None:
    """With no global share to guard against, Neyman-Pearson's most powerful test is the one-sided z test."""
    found = best_power(budget=budget, max_ratio=0.0)
    expected = _z_test_power(budget)
    assert abs(found.bound - expected) < 0.002 and abs(found.achieved - expected) < 0.003, (found, expected)
    assert found.achieved <= found.bound + 1e-9


def test_the_dual_bound_is_tight_and_below_90_percent_at_3_vs_3() -> None:
    """The issue's two asks conflict: no judge held to 1 % at every global share catches 90 % of -5 pt at 3 vs 3."""
    found = best_power()
    assert found.achieved <= found.bound + 1e-9 and found.bound - found.achieved < 0.005, found
    assert 0.68 < found.bound < 0.70, found  # 69.3 % (the module docstring's model)
    assert best_power(budget=0.02).bound < 0.90  # not even at twice the budget
    assert best_power(budget=0.03).bound > 0.90  # three times is the price


def test_the_bound_grows_with_the_budget_the_seeds_and_a_smaller_global_share() -> None:
    budgets = [best_power(budget=budget).bound for budget in (0.005, 0.01, 0.02)]
    assert budgets == sorted(budgets) and budgets[0] < budgets[-1]
    shares = [best_power(max_ratio=ratio).bound for ratio in (0.0, 1 / 3, 1.0)]
    assert shares == sorted(shares, reverse=True) and shares[0] > shares[-1]
    assert best_power(seeds=(4, 4)).bound > best_power().bound


def test_the_t_test_power_matches_scipys_t_test_on_simulated_seeds_and_stays_under_the_bound() -> None:
    """The t test ignores ``v``, so its false-alarm rate is its level at every share: one of the judges bounded."""
    rng, reps = np.random.default_rng(41), 100_000
    base, new = 80 + 1.5 * rng.standard_normal((reps, 3)), 75 + 1.5 * rng.standard_normal((reps, 3))
    simulated = float((stats.ttest_ind(base, new, axis=1, alternative="greater").pvalue <= 0.01).mean())
    assert simulated == pytest.approx(t_test_power(), abs=0.005)  # 64.6 %
    assert best_power().bound >= t_test_power()


@pytest.mark.parametrize("share", [0.0, 0.3, 0.8, 0.95])  # 0.8: where the budget binds (0.99 %)
def test_the_best_judge_replayed_on_raw_seed_accuracies_holds_its_budget_and_power(share: float) -> None:
    """Monte Carlo from raw seeds (not the LP's cell probabilities): 3 + 3 accuracies, flips plus a global shift.

    It checks the reduction to ``(z, r)`` and the cell arithmetic, at shares between the
    LP's grid points; the false "regressed" rate within the budget, and the power at flips
    only as the LP computed it.
    """
    found, rng, reps, sigma = best_power(), np.random.default_rng(31), 200_000, 1.5

    def judged(drop: float, global_share: float) -> float:
        flips, shift = sigma * math.sqrt(1 - global_share), sigma * math.sqrt(global_share)
        seeds = 80.0 + flips * rng.standard_normal((reps, 6)) + shift * rng.standard_normal((reps, 6))
        base, new = seeds[:, :3], seeds[:, 3:] - drop
        v = flips**2  # what the judge is given
        z = (base.mean(axis=1) - new.mean(axis=1)) / math.sqrt(v * 2 / 3)
        r = (base.var(axis=1, ddof=1) + new.var(axis=1, ddof=1)) / 2 / v
        return float(found.reject(z, r).mean())

    assert judged(0.0, share) <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / reps)
    if share == 0.0:
        assert judged(5.0, 0.0) == pytest.approx(found.achieved, abs=0.005)


def test_each_side_needs_two_seeds() -> None:
    with pytest.raises(ValueError, match="two or more seeds"):
        best_power(seeds=(1, 3))
