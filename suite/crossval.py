"""What a run evaluates on: one protocol, or the folds of a k-fold cross-validation.

Data sets such as ESC-10, ESC-50 and UrbanSound8K come with predefined folds and are
reported as the mean accuracy over the test folds (Piczak 2015; Salamon et al. 2014).
A config names that with ``protocol: cv`` (every fold the adapter declares in
:attr:`~suite.data.base.AudioDataset.folds`) or a list of protocols; a run then trains
every model x budget x seed on every fold. Each trial's record keeps the run's
evaluation as its ``protocol`` (``cv``) and the fold it was tested on as ``fold``, so
summaries, reports, ``suite compare`` and ``suite history`` group a cross-validation
like one protocol and aggregate over its folds as they do over seeds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from suite.data.base import AudioDataset
from suite.errors import SuiteError, short_repr
from suite.metrics import SCORES

#: The protocol name that means "every fold of the data set".
CV = "cv"
#: The record field that names a cross-validation trial's test fold.
FOLD = "fold"


@dataclass(frozen=True)
class Evaluation:
    """The protocols of one run and the name its records carry.

    Attributes:
        label (str): The records' ``protocol``: the protocol itself, ``cv`` for every
            fold, or the folds joined with ``+`` (``fold1+fold3``) for some of them.
        protocols (tuple[str, ...]): The protocols trained and tested, in order.
    """

    label: str
    protocols: tuple[str, ...]

    @property
    def is_cv(self) -> bool:
        """Whether the run cross-validates (more than one protocol): its records then name their fold."""
        return len(self.protocols) > 1


def resolve_evaluation(adapter: type[AudioDataset], protocol: str | list[str] | None) -> Evaluation:
    """The evaluation a config's ``protocol`` names for data set ``adapter``.

    Args:
        adapter: The data set's adapter class (its ``protocols``, ``folds`` and default).
        protocol: ``None`` (the default protocol), one protocol, ``cv``, or a list of protocols.

    Raises:
        SuiteError: for an unknown protocol, ``cv`` on a data set without folds, or a repeated protocol.
    """
    available = ", ".join([*adapter.protocols, *([CV] if adapter.folds else [])])
    if protocol is None:
        return Evaluation(adapter.default_protocol, (adapter.default_protocol,))
    if protocol == CV:
        if not adapter.folds:
            raise SuiteError(f"{adapter.name} has no folds, so protocol cv means nothing; protocols: {available}")
        return Evaluation(CV, tuple(adapter.folds))
    names = [protocol] if isinstance(protocol, str) else list(protocol)
    if not names:
        raise SuiteError(f"{adapter.name}: the protocol list is empty")
    for name in names:
        if name not in adapter.protocols:
            raise SuiteError(f"{adapter.name}: unknown protocol {short_repr(name)}; available: {available}")
    if len(set(names)) < len(names):
        raise SuiteError(f"{adapter.name}: a protocol is listed twice in {short_repr(names)}")
    if len(names) == 1:
        return Evaluation(names[0], (names[0],))
    label = CV if adapter.folds and sorted(names) == sorted(adapter.folds) else "+".join(names)
    return Evaluation(label, tuple(names))


def describe_evaluation(evaluation: Evaluation, datasets: Mapping[str, AudioDataset]) -> dict[str, Any]:
    """The manifest's ``dataset``: the protocol's own description, or one for every fold together.

    A cross-validation's description is the first fold's with ``protocol`` the label,
    ``folds`` the split sizes of each fold, and ``digest`` a digest of every fold's.

    Raises:
        SuiteError: when the folds do not share their class names (an adapter's bug).
    """
    described = {protocol: datasets[protocol].describe() for protocol in evaluation.protocols}
    first = described[evaluation.protocols[0]]
    if not evaluation.is_cv:
        return first
    classes = {protocol: datasets[protocol].class_names for protocol in evaluation.protocols}
    if any(names != classes[evaluation.protocols[0]] for names in classes.values()):
        raise SuiteError(f"{first['name']}: the folds {', '.join(evaluation.protocols)} do not share their classes")
    digest = hashlib.sha256("|".join(described[p]["digest"] for p in evaluation.protocols).encode()).hexdigest()
    folds = {protocol: description["examples"] for protocol, description in described.items()}
    return first | {"protocol": evaluation.label, "folds": folds, "digest": digest}


def pool_folds(trials: pd.DataFrame) -> pd.DataFrame:
    """Each seed's cross-validation as one record: what ``suite compare`` and ``suite history`` judge.

    The trials of one run, model, budget and seed on the folds of a cross-validation
    become one row: ``ok`` when every fold is (else ``failed`` when one failed, else
    ``infeasible``), its accuracy the pooled accuracy over every test fold (each example
    of the data set tested once: the mean over folds, weighted by their sizes), its test
    predictions and targets the folds' concatenated in fold order (so the paired test
    runs over the whole data set), its other figures the mean over folds. Rows without
    a fold pass through unchanged.

    Args:
        trials (pd.DataFrame): Trial records (:func:`suite.results.load.load_results`'s ``trials``).
    """
    if FOLD not in trials or trials[FOLD].isna().all():
        return trials
    plain, crossed = trials[trials[FOLD].isna()], trials[trials[FOLD].notna()]
    keys = ["run", "machine", "dataset", "protocol", "budget_kind", "budget", "model", "seed"]
    pooled = [_pooled(group) for _, group in crossed.groupby(keys, sort=False, dropna=False)]
    return pd.concat([plain, pd.DataFrame(pooled)], ignore_index=True)


def _pooled(group: pd.DataFrame) -> dict[str, Any]:
    """One seed's folds as one record (see :func:`pool_folds`)."""
    group = group.sort_values(FOLD, key=lambda folds: folds.map(_fold_number), kind="stable")
    row = group.iloc[0].to_dict() | {FOLD: None, "folds": " ".join(map(str, group[FOLD]))}
    statuses = set(group["status"])
    row["status"] = "ok" if statuses == {"ok"} else "failed" if "failed" in statuses else "infeasible"
    if row["status"] != "ok":
        failed = group[group["status"] != "ok"]
        row["error"] = f"{failed[FOLD].iloc[0]}: {failed['error'].iloc[0]}" if "error" in group else None
        return row
    for column in group.select_dtypes("number").columns:
        row[column] = group[column].mean()
    sizes = [len(t) if isinstance(t, list) else np.nan for t in group.get("test_targets", [None] * len(group))]
    if not np.isnan(sizes).any():
        row["test_targets"] = [t for targets in group["test_targets"] for t in targets]
        for score in SCORES:  # the float32 model's, and each int8 model's where it has one
            if score.accuracy not in group or group[score.accuracy].isna().any():
                continue
            row[score.accuracy] = float(np.average(group[score.accuracy], weights=sizes))
            predictions = group.get(score.predictions)
            usable = predictions is not None and all(isinstance(p, list) for p in predictions)
            row[score.predictions] = [p for fold in predictions for p in fold] if usable else None
    else:  # predictions not recorded: the mean over folds, and no paired test
        row["test_predictions"] = row["test_targets"] = None
    return row


def _fold_number(fold: object) -> float:
    """``fold3`` -> 3 (so fold10 sorts after fold9); other names keep their place."""
    text = str(fold)
    return float(text.removeprefix("fold")) if text.removeprefix("fold").isdigit() else np.inf
