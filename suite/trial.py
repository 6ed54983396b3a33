"""One trial, from its task to its record: match, build, count, train, test, then measure.

A :class:`TrialTask` holds everything one trial needs (the config, its input, the data
root, the cache folder, the device) and nothing that lives only in the driver, so the
same task gives the same record in the driver's process (``local``) or in a Ray worker
(``ray``). A trial has two phases: :func:`train_trial` (match, build, count, train,
test) and, when the config has a ``measure`` section, :func:`measure_trained` (latency
and memory of the trained model). :func:`execute_trial` runs both in one process; the
Ray executor runs the second in a task that has the node to itself. Executors
(:mod:`suite.executors`) decide only where and when each phase happens.
"""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from suite.budget import Budget, build_matched
from suite.config import RunConfig
from suite.cpu_isa import cpu_capability
from suite.crossval import CV
from suite.data.base import AudioDataset
from suite.deploy.stage import deploy_trained
from suite.environment import cpu_id, this_machine
from suite.errors import SuiteError
from suite.feature_store import FeatureStore
from suite.input_spec import InputSpec
from suite.measure.costs import measure_costs
from suite.metrics import BUDGET_ERROR, FLOPS, MACS, MODEL_BYTES, PARAMS
from suite.models import ModelFamily, get_family
from suite.models.registry import ensure_family
from suite.train import train_model


class TrialTimeout(Exception):
    """A trial ran past the config's ``trial_timeout``."""


@dataclass(frozen=True)
class Trial:
    """One training of one family at one budget with one seed, on one protocol (a fold, in a cross-validation).

    ``protocol`` ``None`` means the config's own (a run with one protocol).
    """

    model: str
    budget: Budget
    seed: int
    protocol: str | None = None


@dataclass(frozen=True)
class TrialTask:
    """One trial, self-contained: what a worker needs to run it anywhere.

    Attributes:
        trial_id: The trial's stable identity (see :func:`suite.runner.trial_id`).
        trial: Model, budget and seed.
        config: The run's config (training protocol, tolerance, measure, timeout).
        spec: The run's input; the family adapts it to its front end.
        head: The record's identifying fields (model, data set, protocol, budget, seed).
        data_root: Absolute data root; on a cluster it must be the same path on every node.
        cache_dir: Absolute feature cache folder, or ``None`` for the worker's default.
        device: ``auto``, ``cpu`` or ``cuda``, resolved where the trial runs.
        threads: CPU threads to train with, or ``None`` to keep the process's setting.
        family: The trial's model family, carried so that a worker knows a family that was
            registered only in the driver's process (``suite.register_model`` in a script).
        adapter: The data set's adapter class, carried for the same reason.
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
    family: ModelFamily | None = None
    adapter: type[AudioDataset] | None = None

    @property
    def protocol(self) -> str | None:
        """The protocol the trial trains and tests on: its fold, else the config's single protocol."""
        if self.trial.protocol is not None:
            return self.trial.protocol
        protocol = self.config.dataset.protocol  # a task built by hand: the config's one protocol, else the default
        return protocol if isinstance(protocol, str) and protocol != CV else None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SuiteError("--device cuda was asked for, but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise SuiteError(f"unknown device {name!r}; expected auto, cpu or cuda")
    return torch.device(name)


class Deadline:
    """The trial's ``trial_timeout``, checked at every forward call of the model being trained.

    PyTorch cannot stop a thread, and killing the process would lose the other trials'
    state, so the local executor stops a trial where it is safe to: a forward
    pre-hook raises :class:`TrialTimeout` at the next batch (training or evaluation)
    after the deadline, and the trial unwinds like any failed trial. A single batch
    that takes longer than the timeout is not interrupted; the deadline is checked
    again after measuring. The clock starts when the trial's features are ready.

    Args:
        seconds (float, optional): The timeout; ``None`` for none.
        spent (float): Seconds already used by an earlier phase of the same trial (its
            training, when the measurement runs in another process). (Default: ``0``)
    """

    def __init__(self, seconds: float | None, spent: float = 0.0) -> None:
        self.seconds = seconds
        self.start = time.monotonic() - spent

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def check(self, phase: str) -> None:
        if self.seconds is not None and self.elapsed() > self.seconds:
            raise TrialTimeout(f"exceeded trial_timeout of {self.seconds:g} s (stopped after {self.elapsed():.1f} s, {phase})")

    def hook(self, module: torch.nn.Module, inputs: Any) -> None:
        self.check("in training" if module.training else "in evaluation")


#: Keys of a record that say where and when its phases ran, in the order they end it (after every figure).
PHASE_KEYS = ("wall_seconds", "machine", "cpu_id", "train_started", "train_ended", "node")


def needs_measuring(config: RunConfig) -> bool:
    """Whether the config's ``measure`` section asks for latency, memory or streaming (a measurement phase)."""
    return config.measure.latency is not None or config.measure.memory or config.measure.streaming is not None


@dataclass
class TrainedTrial:
    """A trial after its training phase: the record so far and, when it is still to be measured, the model.

    Attributes:
        record (dict): Every field known after training. Complete (with ``status``) when
            the trial failed, was infeasible or has nothing to measure.
        model (torch.nn.Module, optional): The trained model, only while it is still to be measured.
        spec (InputSpec, optional): The model's (adapted) input.
        macs (int, optional): Its MACs at batch 1.
        n_classes (int): Output classes. (Default: ``0``)
        spent (float): Seconds of ``trial_timeout`` the training used. (Default: ``0``)
        deployed (dict[str, bytes]): The int8 ONNX files by precision, to time
            (:class:`suite.deploy.stage.Deployment`). (Default: none)
    """

    record: dict[str, Any]
    model: torch.nn.Module | None = None
    spec: InputSpec | None = None
    macs: int | None = None
    n_classes: int = 0
    spent: float = 0.0
    deployed: dict[str, bytes] = field(default_factory=dict)

    @property
    def to_measure(self) -> bool:
        return self.model is not None

    def state_bytes(self) -> bytes:
        """The trained weights (``state_dict`` on the CPU), to rebuild the model in another process."""
        assert self.model is not None, "only a trial still to be measured has a model"
        buffer = io.BytesIO()
        torch.save({key: value.detach().cpu() for key, value in self.model.state_dict().items()}, buffer)
        return buffer.getvalue()

    @classmethod
    def rebuild(
        cls,
        task: TrialTask,
        record: dict[str, Any],
        state: bytes,
        n_classes: int,
        spent: float,
        deployed: dict[str, bytes] | None = None,
    ) -> TrainedTrial:
        """The trained trial in this process: build the same model (family, budget, seed) and load its weights.

        Raises:
            RuntimeError: when the rebuilt model is not the one that was trained (another
                width or parameter count: a different version of the suite on this node).
        """
        trial = task.trial
        if task.family is not None:
            ensure_family(task.family)
        built = build_matched(trial.model, task.spec, trial.budget, n_classes, trial.seed, task.config.tolerance)
        if built.model is None or (built.match.width, built.params) != (record.get("width"), record.get(PARAMS)):
            raise RuntimeError(
                f"the rebuilt model (width {built.match.width}, {built.params} parameters) is not the trained one "
                f"(width {record.get('width')}, {record.get(PARAMS)}); is the same suite version installed on every node?"
            )
        built.model.load_state_dict(torch.load(io.BytesIO(state), weights_only=True))
        return cls(record, built.model, built.spec, built.macs, n_classes, spent, deployed or {})


def train_trial(task: TrialTask, store: FeatureStore, progress: bool = False) -> TrainedTrial:
    """Match, build, count, train and test one trial: everything but measuring its latency and memory.

    Any exception of the trial (including NaN loss, out of memory and
    :class:`TrialTimeout`) gives a ``failed`` record with the error. A
    :class:`SuiteError` (bad data or settings: every trial would hit it) is raised.
    """
    start = time.perf_counter()
    if task.family is not None:
        ensure_family(task.family)
    if task.threads is not None:
        torch.set_num_threads(task.threads)  # a trial is deterministic for a given thread count
    record: dict[str, Any] = dict(task.head)
    started = time.time()
    trained = TrainedTrial(record)
    try:
        device = resolve_device(task.device)
        record |= {"device": str(device), "threads": torch.get_num_threads(), "host": socket.gethostname(), "pid": os.getpid()}
        record["cpu_capability"] = cpu_capability()  # with seed and threads, what repeats a CPU trial (suite.cpu_isa)
        trained = _train(task, store, device, progress)
        record |= trained.record  # a trial that fails in training keeps none of its fields (as always)
        trained = dataclasses.replace(trained, record=record)
    except SuiteError:
        raise
    except Exception as error:
        record_failure(record, error)
    record["wall_seconds"] = time.perf_counter() - start
    # Where it trained; a measurement replaces it with where it measured, which is what the label is for.
    # With cpu_id beside it the label is known to name the CPU generation (see trial_machine).
    record |= {"machine": this_machine(str(record.get("device", "cpu"))), "cpu_id": cpu_id()}
    record |= {"train_started": started, "train_ended": time.time()}
    return trained


def record_failure(record: dict[str, Any], error: Exception) -> dict[str, Any]:
    """Mark ``record`` (in place, and return it) ``failed`` with the first line of ``error``."""
    record |= {"status": "failed", "error": f"{type(error).__name__}: {error}".splitlines()[0]}
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # an out-of-memory trial must not starve the next one
    return record


def _train(task: TrialTask, store: FeatureStore, device: torch.device, progress: bool) -> TrainedTrial:
    """The training phase; the returned record holds the fields it adds."""
    trial, config = task.trial, task.config
    data = store.features(task, get_family(trial.model).adapt_input(task.spec))
    # The clock starts once the features are ready: they are computed once for the whole
    # run (by the first trial that needs them, or by the driver for Ray), not per trial.
    deadline = Deadline(config.trial_timeout)
    built = build_matched(trial.model, task.spec, trial.budget, data.n_classes, trial.seed, config.tolerance)
    record: dict[str, Any] = {
        "feature": built.spec.feature,
        "width": built.match.width,
        PARAMS: built.params,
        MACS: built.macs,
        FLOPS: 2 * built.macs,
        MODEL_BYTES: built.model_bytes,
        BUDGET_ERROR: built.budget_error,
        "uncounted_ops": built.uncounted_ops,
    }
    if built.model is None:
        record |= {"status": "infeasible", "error": built.match.reason}
        return TrainedTrial(record)
    deterministic = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    hook = built.model.register_forward_pre_hook(deadline.hook) if deadline.seconds is not None else None
    try:
        label = f"{trial.model} {trial.budget} seed {trial.seed}"
        result = train_model(built.model, data, config.training, trial.seed, device, progress, label=label)
    finally:
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        if hook is not None:
            hook.remove()  # a hook would add its own cost to every timed forward call
    record |= dataclasses.asdict(result)
    files: dict[str, bytes] = {}
    if config.measure.quantize:
        deploy_start = time.perf_counter()
        deployment = deploy_trained(
            built.model, data, config.measure.quantize, config.training.batch_size, result.accuracy,
            config.measure.calibration_batches,
        )  # fmt: skip
        record |= deployment.fields | {"deploy_seconds": time.perf_counter() - deploy_start}
        files = deployment.files
        deadline.check("after quantizing")
    if not needs_measuring(config):
        record |= {"status": "ok", "error": ""}
        return TrainedTrial(record)
    return TrainedTrial(record, built.model, built.spec, built.macs, data.n_classes, deadline.elapsed(), files)


def measure_trained(trained: TrainedTrial, config: RunConfig) -> dict[str, Any]:
    """Measure a trained model's latency and memory here and now; returns the trial's complete record.

    The one measurement path of every executor: the local one calls it in the process
    that trained the model, the Ray one in a task that has the node to itself. The
    record gains the ``measure`` section's figures, ``status``, ``machine`` (this
    machine's :func:`~suite.environment.machine_label`), ``measure_host``,
    ``measure_pid``, ``measure_started`` and ``measure_ended`` (Unix seconds); its
    ``wall_seconds`` grows by the time measuring took. A failure, or passing
    ``trial_timeout`` (counting the training's time), gives a ``failed`` record that
    keeps the training's fields but no figure of the measurement.

    Raises:
        SuiteError: for settings no trial can be measured with (as :func:`train_trial`).
    """
    assert trained.model is not None and trained.spec is not None, "nothing to measure"
    start, started = time.perf_counter(), time.time()
    # The figures go where a one-phase record has them; where and when each phase ran, last.
    record = {key: value for key, value in trained.record.items() if key not in PHASE_KEYS}
    deadline = Deadline(config.trial_timeout, spent=trained.spent)
    measure, model = config.measure, trained.model
    try:
        costs, timings = measure_costs(
            model,
            trained.spec,
            trained.macs,
            measure.latency,
            measure.memory,
            config.training.batch_size,
            trained.n_classes,
            trained.deployed,
        )
        deadline.check("while measuring latency and memory")
        if measure.streaming is not None:
            from suite.streaming.measure import measure_streaming

            settings = measure.streaming
            figures, stream_timings = measure_streaming(model, trained.spec, settings.min_run_time, settings.p99_steps)
            costs |= figures
            timings = [*timings, *(t.to_dict() for t in stream_timings)]
            deadline.check("while measuring streaming")
        record |= costs | {"timings": timings, "status": "ok", "error": ""}
    except SuiteError:
        raise
    except Exception as error:
        record_failure(record, error)
    record["wall_seconds"] = float(trained.record.get("wall_seconds", 0.0)) + time.perf_counter() - start
    record |= {"machine": this_machine(str(record.get("device", "cpu"))), "cpu_id": cpu_id()}
    record |= {key: trained.record[key] for key in PHASE_KEYS[3:] if key in trained.record}
    record |= {"measure_host": socket.gethostname(), "measure_pid": os.getpid()}
    return record | {"measure_started": started, "measure_ended": time.time()}


def execute_trial(task: TrialTask, store: FeatureStore, progress: bool = False) -> dict[str, Any]:
    """Train, test and (with a ``measure`` section) measure one trial in this process; returns its whole record.

    See :func:`train_trial` and :func:`measure_trained`, which it runs one after the other.
    """
    trained = train_trial(task, store, progress)
    return measure_trained(trained, task.config) if trained.to_measure else trained.record
