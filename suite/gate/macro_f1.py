"""The macro-F1 judge: a paired randomisation test over test examples when each side has one seed.

Macro-F1 is not a mean over examples, so the exact paired test that judges accuracy
(:mod:`suite.gate.accuracy`) does not apply. With one seed a side and per-example
predictions on the same test set, the approximate randomisation test does (Noreen
1989; Yeh 2000, "More accurate tests for the statistical significance of result
differences", who recommends it for F-scores): if the model did not change, which side
made which prediction on an example is arbitrary, so swapping the two sides'
predictions on a random half of the examples, ``PERMUTATIONS`` times, gives the null
distribution of the macro-F1 difference. Otherwise (several seeds, or no predictions)
seeds are the unit, as for accuracy without predictions
(:func:`suite.gate.accuracy.judge_moments`).
"""

from __future__ import annotations

import numpy as np

from suite.gate.accuracy import SeedResults, format_p, judge_moments, quality_verdict
from suite.gate.stats import ALPHA, Judgement

#: Random swaps of the two sides' predictions; the p-value's resolution is 1 / (PERMUTATIONS + 1).
PERMUTATIONS = 4000


def macro_f1_rows(predictions: np.ndarray, targets: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Macro-F1 of every row of ``predictions`` (shape ``(R, n)``) against ``targets`` (``(n,)``), over ``labels``.

    As :func:`suite.train.classification_metrics`: per-class ``2 TP / (predicted + true)``
    (0 for a class absent from both), averaged over ``labels``.
    """
    predicted = predictions[..., None] == labels  # (R, n, C)
    true = targets[:, None] == labels  # (n, C)
    tp = (predicted & true).sum(axis=1)
    denominator = predicted.sum(axis=1) + true.sum(axis=0)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    return f1.mean(axis=1)


def randomisation_p(base: np.ndarray, new: np.ndarray, targets: np.ndarray, permutations: int = PERMUTATIONS) -> float:
    """Two-sided p-value of the macro-F1 difference of two prediction vectors on the same examples."""
    labels = np.union1d(targets, np.union1d(base, new))
    observed = np.diff(macro_f1_rows(np.stack([base, new]), targets, labels))[0]
    swap = np.random.default_rng(0).random((permutations, len(targets))) < 0.5  # seeded: the same inputs, the same p
    first, second = np.where(swap, new, base), np.where(swap, base, new)
    differences = macro_f1_rows(second, targets, labels) - macro_f1_rows(first, targets, labels)
    return float((1 + np.sum(np.abs(differences) >= abs(observed) - 1e-12)) / (permutations + 1))


def judge_macro_f1(
    base: SeedResults, new: SeedResults, base_f1: tuple[float, ...], new_f1: tuple[float, ...], min_points: float,
    alpha: float = ALPHA,
) -> Judgement:  # fmt: skip
    """Macro-F1 of NEW against BASE.

    Args:
        base, new: Each side's seeds (their predictions and targets, when known).
        base_f1, new_f1: Each side's per-seed macro-F1, in [0, 1].
        min_points (float): Smallest change that counts, in percentage points.
        alpha (float): Two-sided significance level. (Default: ``0.01``)
    """
    paired = (
        len(base_f1) == len(new_f1) == 1
        and base.correct is not None
        and new.correct is not None
        and np.array_equal(base.targets, new.targets)
    )
    if not paired:
        moments = [(float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v)) for v in (base_f1, new_f1)]
        return judge_moments(moments[0], moments[1], min_points, alpha)
    assert base.targets is not None and base.predictions is not None and new.predictions is not None
    change = (new_f1[0] - base_f1[0]) * 100
    p = randomisation_p(base.predictions[0], new.predictions[0], base.targets)
    detail = f"{change:+.2f} pt (min {min_points:g} pt), 1 vs 1 seeds; paired randomisation {format_p(p)} "
    detail += f"({len(base.targets)} examples, {PERMUTATIONS} swaps)"
    return Judgement(quality_verdict(change, min_points, p <= alpha), change, detail, p)
