"""Executors: where the trials of a run are trained.

``local`` (the default) trains one trial at a time in this process; ``ray`` sends each
trial to a Ray cluster as a task (``pip install '.[ray]'``). Both run the same
:func:`~suite.trial.execute_trial`, so a config gives the same records on
either; the driver (:mod:`suite.runner`) alone writes them.
"""

from __future__ import annotations

from typing import Any

from suite.errors import SuiteError
from suite.executors.base import Executor
from suite.executors.local import LocalExecutor
from suite.feature_store import FeatureStore
from suite.trial import Trial, TrialTask, TrialTimeout, execute_trial, resolve_device

EXECUTORS = ("local", "ray")


def make_executor(name: str, progress: bool = True, **options: Any) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``) with its options.

    Raises:
        SuiteError: for an unknown name, options the executor does not take, or
            ``ray`` without Ray installed (the message says how to install it).
    """
    if name == "local":
        if any(value not in (None, 0, False) for value in options.values()):
            given = ", ".join(sorted(key for key, value in options.items() if value not in (None, 0, False)))
            raise SuiteError(f"{given.replace('_', '-')} only apply to --executor ray")
        return LocalExecutor(progress=progress)
    if name == "ray":
        from suite.executors.ray_executor import RayExecutor, import_ray

        import_ray()  # fail at once, in one line, when Ray is missing
        executor = RayExecutor(**{key: value for key, value in options.items() if value is not None})
        executor.progress = progress  # the driver's own bars (computing features before trials are sent)
        return executor
    raise SuiteError(f"unknown executor {name!r}; expected {' or '.join(EXECUTORS)}")


__all__ = [
    "EXECUTORS",
    "Executor",
    "FeatureStore",
    "LocalExecutor",
    "Trial",
    "TrialTask",
    "TrialTimeout",
    "execute_trial",
    "make_executor",
    "resolve_device",
]
