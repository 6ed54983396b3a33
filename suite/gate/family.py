"""One comparison's verdicts on one kind of metric, held to ``alpha`` together.

Each row of a comparison is tested at ``alpha`` on its own, but the gate fails when any
row regresses, so the chance that one of many crosses by luck grows with their number.
Measured without this rule: latency, resampled from three sets of 23 kept runs of
``benchmarks/bench_compare_gate.py`` on this machine, 6.7 %, 10.7 % and 8.3 % of A/A
comparisons of ten settings raised one (1.7 %, 2.7 % and 1.0 % with it); accuracy,
simulated 3 vs 3 seeds as ``tests/test_gate_family.py`` draws them, 1.15 % of unchanged
five-model comparisons and 3.1 % of fourteen-model ones (0.45 % and 0.25 % with it;
3.8 % and 12.8 % without it where some models' seeds also differ globally).
:func:`control_false_alarms` is the rule ``suite compare`` applies to its latency
settings (one family) and to its accuracy and macro-F1 rows (another).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import false_discovery_control

from suite.gate.stats import ALPHA, Judgement
from suite.metrics import Direction


def control_false_alarms(
    judgements: Sequence[Judgement], better: Direction = "lower", noun: str = "settings", alpha: float = ALPHA
) -> list[Judgement]:
    """The verdicts of one family of rows (a comparison's latency settings, or its quality rows), held to ``alpha``.

    A ``regressed`` or ``improved`` verdict also needs its one-sided p-value, in its
    direction, below ``alpha`` after Benjamini-Hochberg over every row a test judged
    (Benjamini & Hochberg, 1995, as ``scipy.stats.false_discovery_control``). Where
    nothing changed, that bounds the chance of any ``regressed`` in the family by
    ``alpha`` for independent or positively dependent tests (Benjamini & Yekutieli, 2001:
    the latency settings share the machine's state, a model's accuracy and macro-F1 its
    predictions; a premise, and the rows' own p-values must be right). Where several rows
    did change, it keeps the rate of false verdicts among the verdicts at ``alpha``, and
    rows that changed together keep each other significant (the step-up). With one row
    the rule is the test's own.

    Args:
        judgements: Every judgement of the family; those without a p-value (decided by a
            threshold alone, or not tested) pass through unchanged, and ``unstable`` ones
            are left out (their p-values would only lower the others' bar).
        better (Direction): Which way is better for this metric: ``lower`` (latency) or
            ``higher`` (accuracy). (Default: ``lower``)
        noun (str): What the rows are, for the detail. (Default: ``settings``)
        alpha (float): The level per direction. (Default: ``0.01``)

    Returns:
        list[Judgement]: The judgements in the same order, ``regressed`` or ``improved``
        turned ``unchanged`` where the adjustment takes their significance away.
    """
    tested = [i for i, j in enumerate(judgements) if j.p is not None and j.change is not None and j.verdict != "unstable"]
    result = list(judgements)
    if len(tested) < 2:
        return result
    two_sided = np.array([judgements[i].p for i in tested], dtype=float)
    rose = np.array([(judgements[i].change or 0.0) > 0 for i in tested])
    worse = rose if better == "lower" else ~rose
    one_sided = {
        "regressed": np.where(worse, two_sided / 2, 1 - two_sided / 2),
        "improved": np.where(worse, 1 - two_sided / 2, two_sided / 2),
    }
    adjusted = {verdict: false_discovery_control(p, method="bh") for verdict, p in one_sided.items()}
    for k, i in enumerate(tested):
        judged = judgements[i]
        if judged.verdict not in adjusted:
            continue
        q = float(adjusted[judged.verdict][k])
        family = f"Benjamini-Hochberg over {len(tested)} {noun}: adjusted p={q:.2g}"
        if q < alpha:
            result[i] = Judgement(judged.verdict, judged.change, f"{judged.detail}; {family}", judged.p)
        else:
            detail = f"{judged.detail}; {family}, not significant at {alpha:g} once all {len(tested)} are counted"
            result[i] = Judgement("unchanged", judged.change, detail, judged.p)
    return result
