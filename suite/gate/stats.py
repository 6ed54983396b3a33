"""Verdicts on one metric of one model: is NEW better, worse, or the same within noise?

Each judge returns a :class:`Judgement`. The rules, and why:

- **Latency**: see :mod:`suite.gate.latency` (runs or blocks as the unit, a
  significance test and a threshold, unstable figures never judged alone).
- **Accuracy and macro-F1**: see :mod:`suite.gate.accuracy` and
  :mod:`suite.gate.macro_f1` (paired tests on per-example predictions, Welch's t or
  borrowed spread over seeds).
- **Over a comparison**, latency settings and quality rows are each held to the level
  together (:mod:`suite.gate.family`): the gate fails when any row regresses.
- **Memory** on CPU is counted from allocation events and barely varies: a plain
  relative threshold.
- **Params and MACs** are exact: any change is reported; whether it fails depends on
  the rule (``any``, or ``tolerance``: only when the budget match left its tolerance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

#: ``unstable``: measured while the machine was disturbed; ``not judged``: the latency of sides that ran on
#: different machines. Both are shown and never fail the gate.
Verdict = Literal["improved", "regressed", "unchanged", "changed", "missing", "unstable", "not judged"]
#: Significance level of the latency and accuracy tests.
ALPHA = 0.01


@dataclass(frozen=True)
class Judgement:
    """One verdict, the change behind it and how it was decided."""

    verdict: Verdict
    change: float | None  # relative (latency, memory, params, macs) or in points (accuracy)
    detail: str
    #: Latency and quality: the two-sided p-value of the row's own test, before the adjustment over the
    #: comparison's rows of that kind (:func:`suite.gate.family.control_false_alarms`, whose value the detail
    #: gives); ``None`` where no test decided (a threshold or the min-points bar alone).
    p: float | None = None


def _relative_change(base: float, new: float) -> float:
    return new / base - 1 if base else math.inf if new else 0.0


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
