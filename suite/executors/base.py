"""What every executor shares: the trial task, running one trial, the deadline.

A :class:`TrialTask` holds everything one trial needs (the config, its input, the data
root, the cache folder, the device) and nothing that lives only in the driver, so the
same task gives the same record in the driver's process (``local``) or in a Ray worker
(``ray``). :func:`execute_trial` turns a task into its record; an executor decides only
where and when that happens.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from suite.budget import Budget
from suite.config import RunConfig
from suite.data import get_dataset
from suite.data.base import AudioDataset
from suite.errors import SuiteError
from suite.feature_cache import prepare_features
from suite.input_spec import InputSpec
from suite.measure.costs import measure_costs
from suite.models import get_family
from suite.profile import build_matched
from suite.train import TrialData, train_model


class TrialTimeout(Exception):
    """A trial ran past the config's ``trial_timeout``."""


@dataclass(frozen=True)
class Trial:
    """One training of one family at one budget with one seed."""

    model: str
    budget: Budget
    seed: int


@dataclass(frozen=True)
class TrialTask:
    """One trial, self-contained: what a worker needs to run it anywhere.

    Attributes:
        trial_id: The trial's stable identity (see :func:`suite.run.trial_id`).
        trial: Model, budget and seed.
        config: The run's config (training protocol, tolerance, measure, timeout).
        spec: The run's input; the family adapts it to its front end.
        head: The record's identifying fields (model, data set, protocol, budget, seed).
        data_root: Absolute data root; on a cluster it must be the same path on every node.
        cache_dir: Absolute feature cache folder, or ``None`` for the worker's default.
        device: ``auto``, ``cpu`` or ``cuda``, resolved where the trial runs.
        threads: CPU threads to train with, or ``None`` to keep the process's setting.
    """

    trial_id: str
    trial: Trial
    config: RunConfig
    spec: InputSpec
    head: dict[str, Any]
    data_root: str
    cache_dir: str | None
    device: str = "auto"
    threads: int | None = None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SuiteError("--device cuda was asked for, but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise SuiteError(f"unknown device {name!r}; expected auto, cpu or cuda")
    return torch.device(name)


@dataclass
class FeatureStore:
    """Data sets and standardised features of one process, built on first use and kept.

    A Ray worker runs many trials in turn; keeping the features between them saves
    reading the cache again for every trial.
    """

    progress: bool = False
    datasets: dict[str, AudioDataset] = field(default_factory=dict)
    data: dict[tuple[str, InputSpec], TrialData] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def dataset(self, task: TrialTask) -> AudioDataset:
        section = task.config.dataset
        key = repr((section.model_dump(mode="json"), task.data_root))
        if key not in self.datasets:
            self.datasets[key] = get_dataset(section.name, root=task.data_root, protocol=section.protocol, **section.options)
        return self.datasets[key]

    def features(self, task: TrialTask, spec: InputSpec) -> TrialData:
        """The trial data of ``spec`` (the family's adapted input)."""
        dataset = self.dataset(task)
        key = (repr((task.config.dataset.model_dump(mode="json"), task.data_root, task.config.on_error)), spec)
        if key not in self.data:
            cache_dir = Path(task.cache_dir) if task.cache_dir else None
            features = prepare_features(dataset, spec, cache_dir, task.config.on_error, self.progress)
            self.summaries[spec.feature] = {
                "key": features.key,
                "cache_hit": features.cache_hit,
                "seconds": round(features.seconds, 3),
                "skipped": features.skipped,
            }
            self.data[key] = TrialData.from_features(features, spec)
        return self.data[key]


class Deadline:
    """The trial's ``trial_timeout``, checked at every forward call of the model being trained.

    PyTorch cannot stop a thread, and killing the process would lose the other trials'
    state, so the local executor stops a trial where it is safe to: a forward
    pre-hook raises :class:`TrialTimeout` at the next batch (training or evaluation)
    after the deadline, and the trial unwinds like any failed trial. A single batch
    that takes longer than the timeout is not interrupted; the deadline is checked
    again after measuring. The clock starts when the trial's features are ready.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    def check(self, phase: str) -> None:
        if self.seconds is not None and time.monotonic() - self.start > self.seconds:
            elapsed = time.monotonic() - self.start
            raise TrialTimeout(f"exceeded trial_timeout of {self.seconds:g} s (stopped after {elapsed:.1f} s, {phase})")

    def hook(self, module: torch.nn.Module, inputs: Any) -> None:
        self.check("in training" if module.training else "in evaluation")


def execute_trial(task: TrialTask, store: FeatureStore, progress: bool = False) -> dict[str, Any]:
    """Match, build, count, train, test (and measure) one trial; returns its whole record.

    Any exception of the trial (including NaN loss, out of memory and
    :class:`TrialTimeout`) gives a ``failed`` record with the error. A
    :class:`SuiteError` (bad data or settings: every trial would hit it) is raised.
    """
    start = time.perf_counter()
    if task.threads is not None:
        torch.set_num_threads(task.threads)  # a trial is deterministic for a given thread count
    record: dict[str, Any] = dict(task.head)
    try:
        device = resolve_device(task.device)
        record |= {"device": str(device), "threads": torch.get_num_threads(), "host": socket.gethostname(), "pid": os.getpid()}
        record |= _train_and_measure(task, store, device, progress)
    except SuiteError:
        raise
    except Exception as error:
        record |= {"status": "failed", "error": f"{type(error).__name__}: {error}".splitlines()[0]}
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # an out-of-memory trial must not starve the next one
    record["wall_seconds"] = time.perf_counter() - start
    return record


def _train_and_measure(task: TrialTask, store: FeatureStore, device: torch.device, progress: bool) -> dict[str, Any]:
    trial, config = task.trial, task.config
    data = store.features(task, get_family(trial.model).adapt_input(task.spec))
    # The clock starts once the features are ready: they are computed once for the whole
    # run (by the first trial that needs them, or by the driver for Ray), not per trial.
    deadline = Deadline(config.trial_timeout)
    built = build_matched(trial.model, task.spec, trial.budget, data.n_classes, trial.seed, config.tolerance)
    record: dict[str, Any] = {
        "feature": built.spec.feature,
        "width": built.match.width,
        "params": built.params,
        "macs": built.macs,
        "flops": 2 * built.macs,
        "model_bytes": built.model_bytes,
        "budget_error": built.budget_error,
        "uncounted_ops": built.uncounted_ops,
    }
    if built.model is None:
        return record | {"status": "infeasible", "error": built.match.reason}
    deterministic = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    hook = built.model.register_forward_pre_hook(deadline.hook) if deadline.seconds is not None else None
    try:
        result = train_model(built.model, data, config.training, trial.seed, device, progress)
    finally:
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        if hook is not None:
            hook.remove()  # a hook would add its own cost to every timed forward call
    record |= dataclasses.asdict(result)
    measure = config.measure
    if measure.latency is not None or measure.memory:
        costs, timings = measure_costs(
            built.model, built.spec, built.macs, measure.latency, measure.memory, config.training.batch_size, data.n_classes
        )
        record |= costs | {"timings": timings}
        deadline.check("while measuring latency and memory")
    return record | {"status": "ok", "error": ""}


class Executor(ABC):
    """Where trials run. The driver alone writes results, as :meth:`run` yields them."""

    name: str = ""

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

    def feature_summary(self) -> dict[str, Any]:
        """Feature sets computed or read so far, for the manifest."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`run` started."""
