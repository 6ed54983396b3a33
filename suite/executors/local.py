"""The ``local`` executor: trials run one at a time in the driver's own process.

With a ``measure`` section each trial is measured right after it trains, in the same
process, with no other trial running: :func:`~suite.trial.execute_trial` runs
:func:`~suite.trial.train_trial` then
:func:`~suite.trial.measure_trained`, the measurement the Ray executor runs in a
task that has its node to itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from suite.executors.base import Executor
from suite.feature_store import FeatureStore
from suite.trial import TrialTask, execute_trial, resolve_device


class LocalExecutor(Executor):
    """In-process, one trial at a time, with the process's thread count (the default executor).

    Args:
        progress (bool): Show a bar per epoch and while computing features. (Default: ``True``)
    """

    name = "local"

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress
        self.store = FeatureStore(progress=progress)

    def prepare(self, device: str, trial_timeout: float | None = None) -> None:
        resolve_device(device)  # --device cuda without CUDA fails before any folder is made

    def run(self, tasks: Sequence[TrialTask]) -> Iterator[tuple[TrialTask, dict[str, Any]]]:
        for task in tasks:
            yield task, execute_trial(task, self.store, self.progress)

    def warm(self, tasks: Sequence[TrialTask]) -> dict[str, Any]:
        return self.store.warm(tasks)  # kept in this process for the trials

    def feature_summary(self) -> dict[str, Any]:
        return dict(self.store.summaries)
