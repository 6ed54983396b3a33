"""Was the machine steady while a figure was timed? Three signs that it was not.

A latency taken while a neighbour competes for the cores is not the model's cost, and
on a shared machine nothing else says so. Each figure is timed in rounds with a
reference kernel between them (:func:`suite.measure.latency.time_rounds`), which gives
three independent signs of disturbance:

- **reference drift**: the reference kernel, fixed work, ran at different speeds in
  different rounds (``max / min - 1`` of its per-round medians);
- **round disagreement**: the model's per-round medians disagree (``max / min - 1``):
  the machine's speed changed between rounds;
- **spread**: the model's blocks are widely spread (inter-quartile range / median),
  as when a time slice is lost in some blocks and not in others.

A figure beyond any bound is ``unstable``. The bounds were set from 28 figures (14
families, batch 1 and 32, one attempt each) on this project's 2-core virtual machine,
quiet and with a CPU burner on each core: quiet, the block spread was 0.02-0.37 and the
rounds disagreed by 0.02-1.34 (three figures above 0.8: the host itself is shared);
disturbed, 0.11-1.71 and 0.32-3.64, most far above the bounds. The reference kernel's
drift told the two apart least (quiet up to 0.86, since a microsecond-scale kernel is
sensitive to the host), so its bound only catches a reference that ran at half speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Attempts in all for a figure that stays unstable.
MAX_ATTEMPTS = 3
#: Largest accepted ``max / min - 1`` of the reference's round medians.
MAX_REFERENCE_DRIFT = 1.0
#: Largest accepted ``max / min - 1`` of the model's round medians.
MAX_ROUND_DISAGREEMENT = 0.8
#: Largest accepted inter-quartile range of the blocks over their median.
MAX_SPREAD = 0.35


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
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    signs = {
        "reference drift": (references.max() / references.min() - 1, MAX_REFERENCE_DRIFT),
        "rounds disagree": (round_medians.max() / round_medians.min() - 1, MAX_ROUND_DISAGREEMENT),
        "block spread (IQR/median)": ((q3 - q1) / median, MAX_SPREAD),
    }
    beyond = [f"{name} {value:.0%} > {bound:.0%}" for name, (value, bound) in signs.items() if value > bound]
    badness = max(value / bound for value, bound in signs.values())
    return Assessment(not beyond, "; ".join(beyond), float(badness))
