"""Was the machine steady while a figure was timed? Three signs that it was not.

A latency taken while a neighbour competes for the cores is not the model's cost, and
on a shared machine nothing else says so. Each figure is timed in rounds with a
reference kernel between them (:func:`suite.measure.latency.time_rounds`), which gives
three independent signs of disturbance:

- **reference drift**: the reference kernel, fixed work, ran at different speeds in
  different rounds (``max / min - 1`` of its per-round medians);
- **round disagreement**: the model's per-round medians, each divided by its round's
  reference, disagree (``max / min - 1``): the disturbance hit the model and the
  reference unequally, so even the ratio is off;
- **spread**: the model's blocks are widely spread (inter-quartile range / median),
  as when a time slice is lost in some blocks and not in others.

A figure beyond any bound is ``unstable``; the bounds are set well above what a quiet
machine shows (the README gives the measured rates: quiet and under a CPU burner).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Attempts in all for a figure that stays unstable.
MAX_ATTEMPTS = 3
#: Largest accepted ``max / min - 1`` of the reference's round medians.
MAX_REFERENCE_DRIFT = 0.15
#: Largest accepted ``max / min - 1`` of the model's round medians relative to their reference.
MAX_ROUND_DISAGREEMENT = 0.15
#: Largest accepted inter-quartile range of the blocks over their median.
MAX_SPREAD = 0.25


@dataclass(frozen=True)
class Assessment:
    """Whether a figure is stable, why not, and how far it is from stable (for keeping the best attempt)."""

    stable: bool
    reason: str
    badness: float


def assess(times_ms: Sequence[float], block_rounds: Sequence[int], reference_rounds_ms: Sequence[float]) -> Assessment:
    """Judge one attempt from its blocks, the round of each block and each round's reference.

    Args:
        times_ms: Per-call time of every model block (ms).
        block_rounds: Round index of every block.
        reference_rounds_ms: The reference's time in each round (ms).
    """
    times, rounds, references = np.asarray(times_ms), np.asarray(block_rounds), np.asarray(reference_rounds_ms)
    round_medians = np.array([np.median(times[rounds == r]) for r in np.unique(rounds)])
    relative = round_medians / references[np.unique(rounds)]
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    signs = {
        "reference drift": (references.max() / references.min() - 1, MAX_REFERENCE_DRIFT),
        "rounds disagree": (relative.max() / relative.min() - 1, MAX_ROUND_DISAGREEMENT),
        "block spread (IQR/median)": ((q3 - q1) / median, MAX_SPREAD),
    }
    beyond = [f"{name} {value:.0%} > {bound:.0%}" for name, (value, bound) in signs.items() if value > bound]
    badness = max(value / bound for value, bound in signs.values())
    return Assessment(not beyond, "; ".join(beyond), float(badness))
