"""What a run plans: its trials, in order, and the id that names each across runs and machines.

A trial's id hashes everything that decides what it trains (data, front end, model,
budget, tolerance, seed, training settings), so a resumed run, ``suite compare`` and
``suite reference check`` find the same trial by it on any machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from suite.config import RunConfig
from suite.data.base import AudioDataset
from suite.errors import SuiteError
from suite.executors import Trial
from suite.input_spec import InputSpec


def expand_trials(config: RunConfig) -> list[Trial]:
    """Every (budget, seed, model, protocol) combination of the config, in that nesting order.

    Seeds are outside the models, so a long run stopped part-way (or committed between
    sittings) has every family at the first seed before any at the second; the folds of
    a cross-validation are innermost, so a model's cross-validated figure is complete as
    early as possible.
    """
    budgets = [section.budget() for section in config.budgets]
    protocols = config.dataset.evaluation().protocols
    return [
        Trial(model, budget, seed, protocol)
        for budget in budgets
        for seed in config.seeds
        for model in config.models  # type: ignore[union-attr]
        for protocol in protocols
    ]


def dataset_identity(config: RunConfig, dataset: AudioDataset) -> dict[str, Any]:
    """What identifies the data a trial sees: name, version, resolved protocol, options, error policy."""
    return {
        "name": dataset.name,
        "version": dataset.version,
        "protocol": dataset.protocol,
        "options": config.dataset.options,
        "on_error": config.on_error,  # skipping unreadable files changes the data
    }


def trial_id(config: RunConfig, dataset: dict[str, Any], spec: InputSpec, trial: Trial) -> str:
    """A stable identity: hash of data set, protocol, front end, model, budget, tolerance, seed and training settings.

    ``measure`` and ``trial_timeout`` are left out: they change what is recorded about a
    trial or whether it may finish, not what it trains (a resumed run refuses another
    ``measure`` section; see :mod:`suite.resume`).
    """
    identity = {
        "dataset": dataset,
        "input": dataclasses.asdict(spec),
        "model": trial.model,
        "budget": [trial.budget.kind, trial.budget.value],
        "tolerance": config.tolerance,  # decides the width
        "seed": trial.seed,
        "training": config.training.model_dump(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def keep_trials(trials: list[Trial], ids: list[str], only: set[str], name: str) -> tuple[list[Trial], list[str]]:
    """The trials whose ids are in ``only``, in the config's order; an id of no trial of the config is an error."""
    if unknown := only - set(ids):
        raise SuiteError(  # the id hashes the data, front end, model, budget, seed and training: one of them changed
            f"{name}: no trial of this config has the id {', '.join(sorted(unknown))} (its data, front end, model, budget, "
            "seed or training differ)"
        )
    kept = [(trial, trial_id) for trial, trial_id in zip(trials, ids, strict=True) if trial_id in only]
    return [trial for trial, _ in kept], [trial_id for _, trial_id in kept]
