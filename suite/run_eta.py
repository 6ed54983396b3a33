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
machine than the earlier sittings.

A model with no finished trial yet (a fresh run goes model by model through its first
seed: a third of a 3-seed run) weighs its family's :data:`RELATIVE_TRIAL_COST`, put in
seconds by the models timed so far (the geometric mean of their seconds over their
relative costs). Weighed as the mean of the models seen so far, the ``esc10-100k``
reference run replayed as a fresh run said "1.6 h" after its ``mlp`` and ``cnn1d`` folds,
where 11.3 h were left (with the table: 6.5 h). Replayed on the committed runs' first pass (the ETA after
each trial until every model has one, against the time the rest really took), the 90th
percentile of the error factor fell from 7.19 to 1.79 on ``esc10-100k``, 3.01 to 1.46 on
``fsdd-25k`` and 3.41 to 1.26 on ``fsdd-speakers-100k`` (``tests/test_run_eta.py``
replays them). A model outside the table (a plugin) weighs the mean over every finished
trial; with no timed trial at all, the families weigh their relative costs and others 1
(the table's mean).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: One trial's mean ``wall_seconds`` per family over the mean of the 14 families, in the
#: committed ``results/reference/fsdd-100k`` run (3 seeds, 1 thread, AVX-512 EPYC). Only
#: the ratios matter; ``tests/test_run_eta.py`` recomputes them from that run.
RELATIVE_TRIAL_COST: dict[str, float] = {
    "mlp": 0.23,
    "cnn1d": 0.29,
    "cnn2d": 0.55,
    "samplecnn": 1.67,
    "tcn": 0.46,
    "resnet": 0.6,
    "rnn": 1.99,
    "lstm": 1.87,
    "gru": 0.94,
    "crnn": 0.49,
    "attention": 0.8,
    "transformer": 0.58,
    "dscnn": 2.34,
    "randwire": 1.19,
}


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
        timed = isinstance(took, int | float) and not isinstance(took, bool) and took >= 0
        if timed and isinstance(record.get("model"), str):
            seconds[record["model"]].append(float(took))
    every = [took for takes in seconds.values() for took in takes]
    if not every or sum(every) <= 0:
        return {}, 1.0
    return {model: sum(takes) / len(takes) for model, takes in seconds.items()}, sum(every) / len(every)


def relative_costs(records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Each model's mean ``wall_seconds`` over the mean of the models' means (how :data:`RELATIVE_TRIAL_COST` is made).

    Args:
        records (Iterable[Mapping[str, Any]]): Trial records (``model`` and ``wall_seconds``).

    Returns:
        dict[str, float]: ``{model: relative cost}``, averaging 1; empty with no timed record.
    """
    by_model, _ = model_weights(records)
    mean = sum(by_model.values()) / len(by_model) if by_model else 1.0
    return {model: seconds / mean for model, seconds in by_model.items()}


def weigh_work(
    records: Iterable[Mapping[str, Any]],
    done: Sequence[str],
    left: Sequence[str],
    prior: Mapping[str, float] = RELATIVE_TRIAL_COST,
) -> tuple[float, float]:
    """The weight of the trials done this sitting and of those left (see the module's formula).

    Args:
        records (Iterable[Mapping[str, Any]]): Every finished trial's record in the run,
            earlier sittings' included.
        done (Sequence[str]): The model of each trial finished this sitting.
        left (Sequence[str]): The model of each trial not finished yet.
        prior (Mapping[str, float]): Relative cost of a trial of each family, for models
            with no timed trial yet. (Default: :data:`RELATIVE_TRIAL_COST`)

    Returns:
        tuple[float, float]: ``(done, left)`` in the same unit; give them to
        :meth:`suite.progress.Progress.weigh`.
    """
    by_model, fallback = model_weights(records)
    # Only positive figures can set the scale (a log of each ratio): a 0 s record (a trial skipped at
    # once) or a 0 in a plugin's table must not stop the run, whose loop calls this after every trial.
    seen = [model for model in by_model if by_model[model] > 0 and prior.get(model, 0) > 0]
    if seen:
        # Seconds per unit of relative cost: the geometric mean of the timed models' ratios, so that one
        # family far dearer here than in the table (samplecnn on 5 s clips) does not inflate every other.
        per_unit = math.exp(sum(math.log(by_model[model] / prior[model]) for model in seen) / len(seen))
        unseen = {model: cost * per_unit for model, cost in prior.items()}
    elif not by_model:  # nothing timed: relative costs, and model_weights' 1 for a model outside the table
        unseen = dict(prior)
    else:  # only models outside the table are timed: nothing to put the table in seconds with
        unseen = {}
    weight = [by_model.get(model, unseen.get(model, fallback)) for model in (*done, *left)]
    return sum(weight[: len(done)]), sum(weight[len(done) :])
