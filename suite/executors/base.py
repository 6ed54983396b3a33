"""What every executor is: where and when the phases of a trial (:mod:`suite.trial`) run.

The driver alone writes results, as :meth:`Executor.run` yields them; the local executor
runs each trial in the driver's process, the Ray executor on a cluster.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from suite.feature_store import FeatureStore
from suite.trial import TrialTask


class Executor(ABC):
    """Where trials run. The driver alone writes results, as :meth:`run` yields them."""

    name: str = ""
    progress: bool = True

    def prepare(self, device: str, trial_timeout: float | None = None) -> None:  # noqa: B027 - optional hook
        """Check the settings and start what is needed, before any trial is sent.

        Raises:
            SuiteError: for settings this executor cannot run with.
        """

    @abstractmethod
    def run(self, tasks: Sequence[TrialTask]) -> Iterator[tuple[TrialTask, dict[str, Any]]]:
        """Run ``tasks``; yield ``(task, record)`` as each one finishes, in any order."""

    def describe(self) -> dict[str, Any]:
        """Settings for the manifest."""
        return {"name": self.name}

    def resume_options(self) -> list[str]:
        """The command-line options that select this executor again (for the resume command)."""
        return []

    def warm(self, tasks: Sequence[TrialTask]) -> dict[str, Any]:
        """Compute (or read) in the driver every feature set ``tasks`` need, before a results folder is made.

        Workers then read the cache instead of each computing the same features, and a
        problem with the data stops the run in one line before any trial is sent.
        Returns the feature summary for the manifest.
        """
        return FeatureStore(progress=self.progress).warm(tasks)

    def feature_summary(self) -> dict[str, Any]:
        """Feature sets computed or read so far, for the manifest."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`run` started."""
