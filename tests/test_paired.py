"""suite.gate.paired: the paired null's variance and the seed shift, against independent computations."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import chi2

from suite.gate.paired import null_variance, seed_shift


def _cochran_q(correct: np.ndarray) -> float:
    """Cochran's Q in its textbook form (Cochran 1950): seed totals C_j, example totals R_i, grand total T."""
    k = correct.shape[0]
    seeds, examples = correct.sum(axis=1), correct.sum(axis=0)
    total = seeds.sum()
    return (k - 1) * (k * (seeds**2).sum() - total**2) / (k * total - (examples**2).sum())


def test_null_variance_matches_shuffling_each_examples_outcomes_between_seeds() -> None:
    rng = np.random.default_rng(0)
    base, new = rng.random((3, 200)) < 0.8, rng.random((2, 200)) < 0.7
    pooled = np.concatenate([base, new])
    differences = []
    for _ in range(20000):
        shuffled = rng.permuted(pooled, axis=0)  # each example's outcomes permuted among the 5 seeds
        differences.append(shuffled[3:].mean() - shuffled[:3].mean())
    assert math.isclose(null_variance(base, new), float(np.var(differences)), rel_tol=0.03)


def test_seed_shift_q_is_cochrans_q_and_pools_the_sides() -> None:
    rng = np.random.default_rng(1)
    base = rng.random((3, 300)) < rng.uniform(0.6, 0.95, size=(3, 1))  # seeds of clearly different accuracy
    new = rng.random((4, 300)) < 0.8
    shift = seed_shift(base, new)
    q = _cochran_q(base) + _cochran_q(new)
    assert shift.df == 2 + 3 and math.isclose(shift.p, float(chi2.sf(q, 5)), rel_tol=1e-9)
    assert shift.variance > 0.001 and shift.p < 1e-6


def test_seeds_that_differ_only_by_flips_show_no_shift_on_average() -> None:
    rng = np.random.default_rng(2)
    difficulty = rng.beta(4, 1, size=300)
    estimates = [seed_shift(rng.random((3, 300)) < difficulty).variance for _ in range(400)]
    flips = float((difficulty * (1 - difficulty)).sum()) / 300**2
    # Floored at 0, the estimate is positive about half the time and small against the flips' variance.
    assert 0.3 < np.mean(np.array(estimates) > 0) < 0.7 and np.mean(estimates) < 0.5 * flips


def test_one_seed_sides_carry_no_shift_information() -> None:
    shift = seed_shift(np.ones((1, 10), bool), np.zeros((1, 10), bool))
    assert shift.df == 0 and shift.variance == 0 and math.isnan(shift.p)
