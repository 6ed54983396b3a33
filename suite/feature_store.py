"""Data sets and features of one process, built on first use and kept (:class:`FeatureStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suite.data import get_dataset
from suite.data.base import AudioDataset, ensure_dataset
from suite.feature_cache import FileFeatures, file_features
from suite.input_spec import InputSpec
from suite.models import get_family
from suite.train import TrialData

if TYPE_CHECKING:  # the trial module builds on this one
    from suite.trial import TrialTask


@dataclass
class FeatureStore:
    """Data sets and features of one process, built on first use and kept.

    A Ray worker runs many trials in turn; keeping the features between them saves
    reading the cache again for every trial. Each file set's features are kept once
    (:class:`~suite.feature_cache.FileFeatures`), and the standardised trial data of one
    protocol only: the folds of a cross-validation select their splits from the same
    files instead of holding k copies.
    """

    progress: bool = False
    datasets: dict[str, AudioDataset] = field(default_factory=dict)
    files: dict[tuple[str, InputSpec], FileFeatures] = field(default_factory=dict)
    data: dict[tuple[str, InputSpec], TrialData] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def dataset(self, task: TrialTask) -> AudioDataset:
        section = task.config.dataset
        protocol = task.protocol
        key = repr((section.model_dump(mode="json"), task.data_root, protocol))
        if key not in self.datasets:
            if task.adapter is not None:
                ensure_dataset(section.name, task.adapter)
            self.datasets[key] = get_dataset(section.name, root=task.data_root, protocol=protocol, **section.options)
        return self.datasets[key]

    def features(self, task: TrialTask, spec: InputSpec) -> TrialData:
        """The trial data of ``spec`` (the family's adapted input) on the task's protocol."""
        dataset = self.dataset(task)
        files_key = (repr((task.config.dataset.model_dump(mode="json"), task.data_root, task.config.on_error)), spec)
        key = (repr((files_key[0], task.protocol)), spec)
        if key not in self.data:
            if files_key not in self.files:
                cache_dir = Path(task.cache_dir) if task.cache_dir else None
                files = file_features(dataset, spec, cache_dir, task.config.on_error, self.progress)
                self.files[files_key] = files
                self.summaries[spec.feature] = {
                    "key": files.key,
                    "cache_hit": files.cache_hit,
                    "seconds": round(files.seconds, 3),
                    "skipped": files.skipped,
                }
            for other in [k for k in self.data if k[1] == spec]:  # one protocol's standardised copy at a time
                del self.data[other]
            self.data[key] = TrialData.from_features(self.files[files_key].select(dataset), spec)
        return self.data[key]

    def warm(self, tasks: Sequence[TrialTask]) -> dict[str, dict[str, Any]]:
        """Compute (or read) the features every task will need, once per protocol and front end.

        A problem with the data (a file that cannot be decoded) then stops the run here,
        in one line, before a results folder is made. Returns :attr:`summaries`.
        """
        seen: set[tuple[str | None, InputSpec]] = set()
        for task in tasks:
            family = task.family or get_family(task.trial.model)
            adapted = family.adapt_input(task.spec)
            if (task.protocol, adapted) not in seen:
                seen.add((task.protocol, adapted))
                self.features(task, adapted)
        return self.summaries
