"""How much of a run is done and how much is left, weighed by what each trial costs: the run's ETA.

The trials of one run differ in cost by up to 50 times: on the AVX-512 EPYC, an
``esc10-100k`` fold of ``samplecnn`` took 1,153 s on average and one of ``mlp`` 23 s. An
ETA that counts trials as equal (elapsed / trials done x trials left) swings with
whichever trial ended last: a resumed sitting that began with a ``samplecnn`` fold
said "ETA 16 h 39 min" for about 2 h of trials left. So each trial is weighed by its
model's mean ``wall_seconds`` in the run so far (this sitting's and earlier ones'
records), and the ETA is

    elapsed this sitting x (weight of the trials left) / (weight of the trials done this sitting)

Scaling by this sitting's own pace, rather than summing the weights as seconds, keeps
the ETA right when the trials run side by side (a Ray cluster) or on a faster or busier
machine than the earlier sittings. A model with no finished trial yet weighs the mean
over every finished trial; with none at all, every trial weighs 1 (the plain count).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def model_weights(records: Iterable[Mapping[str, Any]]) -> tuple[dict[str, float], float]:
    """Each model's mean ``wall_seconds`` over ``records``, and the mean over all of them.

    Args:
        records: Trial records (``model`` and ``wall_seconds``); others are skipped.

    Returns:
        ``({model: mean seconds}, mean seconds of any trial)``; ``({}, 1.0)`` with no timed record.
    """
    seconds: dict[str, list[float]] = defaultdict(list)
    for record in records:
        took = record.get("wall_seconds")
        if isinstance(took, int | float) and took >= 0 and isinstance(record.get("model"), str):
            seconds[record["model"]].append(float(took))
    every = [took for takes in seconds.values() for took in takes]
    if not every or sum(every) <= 0:
        return {}, 1.0
    return {model: sum(takes) / len(takes) for model, takes in seconds.items()}, sum(every) / len(every)


def weigh_work(records: Iterable[Mapping[str, Any]], done: Sequence[str], left: Sequence[str]) -> tuple[float, float]:
    """The weight of the trials done this sitting and of those left (see the module's formula).

    Args:
        records: Every finished trial's record in the run, earlier sittings' included.
        done: The model of each trial finished this sitting.
        left: The model of each trial not finished yet.

    Returns:
        ``(done, left)`` in the same unit; give them to :meth:`suite.progress.Progress.weigh`.
    """
    by_model, fallback = model_weights(records)
    weight = [by_model.get(model, fallback) for model in (*done, *left)]
    return sum(weight[: len(done)]), sum(weight[len(done) :])
