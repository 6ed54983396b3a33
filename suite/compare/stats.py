"""Verdicts on one metric of one model: is NEW better, worse, or the same within noise?

Each judge returns a :class:`Judgement`. The rules, and why:

- **Latency** is noisy on shared machines, so a change must be both *real* and *large
  enough to matter*: the two sets of raw per-block times differ by a two-sided
  Mann-Whitney U test at ``alpha`` (rank-based: a few slow outlier blocks cannot fake
  a shift), and the medians differ by at least the ``--fail-on`` percentage. A
  significant 2 % change is noise from the host's point of view; a 30 % change measured
  from 3 runs is not significant. Without raw times (comparing ``summary.csv`` files),
  only the percentage can be checked, and the detail says so.
- **Accuracy** varies with the seed, so a drop must exceed twice the pooled standard
  error of the two means (about a 95 % bound) and a minimum in points.
- **Memory** on CPU is counted from allocation events and barely varies: a plain
  relative threshold.
- **Params and MACs** are exact: any change is reported; whether it fails depends on
  the rule (``any``, or ``tolerance``: only when the budget match left its tolerance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import mannwhitneyu

Verdict = Literal["improved", "regressed", "unchanged", "changed", "missing"]
#: Significance level of the latency test.
ALPHA = 0.01
#: A latency test needs at least this many raw times on each side.
MIN_RUNS = 5
#: An accuracy change must exceed this many pooled standard errors.
SE_FACTOR = 2.0


@dataclass(frozen=True)
class Judgement:
    """One verdict, the change behind it and how it was decided."""

    verdict: Verdict
    change: float | None  # relative (latency, memory, params, macs) or in points (accuracy)
    detail: str


def _relative_change(base: float, new: float) -> float:
    return new / base - 1 if base else math.inf if new else 0.0


def judge_times(
    base: Sequence[float] | None,
    new: Sequence[float] | None,
    base_median: float,
    new_median: float,
    threshold: float,
    alpha: float = ALPHA,
) -> Judgement:
    """Latency (lower is better) from raw times when both sides have them, else from the medians alone.

    Args:
        base, new: Raw per-block times, or ``None`` when only medians are known.
        base_median, new_median: The medians compared (the effect size).
        threshold (float): Smallest relative change that counts (0.10 = 10 %).
        alpha (float): Significance level of the Mann-Whitney U test. (Default: ``0.01``)
    """
    change = _relative_change(base_median, new_median)
    beyond = abs(change) >= threshold
    direction: Verdict = "regressed" if change > 0 else "improved"
    if base is None or new is None or min(len(base), len(new)) < MIN_RUNS:
        detail = f"{change:+.1%}; threshold {threshold:.0%}; no raw times on both sides: threshold only"
        return Judgement(direction if beyond else "unchanged", change, detail)
    p_value = float(mannwhitneyu(np.asarray(base), np.asarray(new), alternative="two-sided").pvalue)
    detail = f"{change:+.1%}; threshold {threshold:.0%}; Mann-Whitney p={p_value:.2g} ({len(base)} vs {len(new)} runs)"
    return Judgement(direction if beyond and p_value < alpha else "unchanged", change, detail)


def _standard_error(std: float, n: int) -> float:
    return 0.0 if n < 2 or not math.isfinite(std) else std / math.sqrt(n)


def judge_accuracy(
    base_mean: float, base_std: float, base_n: int, new_mean: float, new_std: float, new_n: int, min_points: float
) -> Judgement:
    """Accuracy-like metric in [0, 1] (higher is better), judged against the seed spread.

    The change must exceed ``max(min_points, 2 x pooled SE)`` percentage points, where
    the pooled standard error is ``sqrt(s_base^2 / n_base + s_new^2 / n_new)``; a side
    with one seed contributes no spread (its standard deviation is unknown).
    """
    change = (new_mean - base_mean) * 100
    pooled = math.hypot(_standard_error(base_std, base_n), _standard_error(new_std, new_n)) * 100
    bar = max(min_points, SE_FACTOR * pooled)
    detail = f"{change:+.2f} pt; bar {bar:.2f} pt (min {min_points:g} pt, 2 x SE {pooled:.2f} pt; seeds {base_n} vs {new_n})"
    if change <= -bar:
        return Judgement("regressed", change, detail)
    if change >= bar:
        return Judgement("improved", change, detail)
    return Judgement("unchanged", change, detail)


def judge_relative(base: float, new: float, threshold: float) -> Judgement:
    """A lower-is-better figure with little noise (peak memory): a plain relative threshold."""
    change = _relative_change(base, new)
    detail = f"{change:+.1%}; threshold {threshold:.0%}"
    if change >= threshold:
        return Judgement("regressed", change, detail)
    if change <= -threshold:
        return Judgement("improved", change, detail)
    return Judgement("unchanged", change, detail)


def judge_exact(base: float, new: float, rule: str, out_of_tolerance: bool) -> Judgement:
    """Parameters or MACs: any change is reported; ``rule`` says when it fails.

    Args:
        rule: ``any`` (every change regresses) or ``tolerance`` (only when NEW's budget
            match is outside the tolerance or infeasible; otherwise ``changed``).
        out_of_tolerance: Whether NEW's budget match left the tolerance.
    """
    if base == new:
        return Judgement("unchanged", 0.0, "identical")
    change = _relative_change(base, new)
    if rule == "any":
        return Judgement("regressed", change, f"{change:+.2%}; any change fails (params/macs=any)")
    if out_of_tolerance:
        return Judgement("regressed", change, f"{change:+.2%}; the budget match left its tolerance")
    return Judgement("changed", change, f"{change:+.2%}; budget match still within tolerance")
