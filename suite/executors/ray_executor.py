"""The ``ray`` executor: each trial is one Ray task with its own resource request.

Without an address Ray starts a cluster on this machine; with one (``auto`` or
``HOST:PORT``) it joins a running cluster. Workers build their data set from the data
root the driver names, so on a cluster that path must be the same shared folder on
every node (the feature cache too, or each node computes the features once). The
driver alone writes results, as each trial ends.

Measurement on a quiet node: with a ``measure`` section, timing a model while other
trials train beside it would measure them too, so a trial has two tasks. Its training
task returns the record and the trained weights; the node it trained on then drains
(the driver sends it no new training task, see :mod:`suite.executors.ray_nodes`) and,
once no training task of the run is left on it, a measurement task pinned to that node
and reserving all of its CPUs rebuilds the model, loads the weights and measures it
(:func:`~suite.trial.measure_trained`, the local executor's own path). The
other nodes keep training. The driver therefore places every training task on a node
itself (node affinity, soft: a task of a lost node runs elsewhere). A record is yielded
only when complete; without a ``measure`` section there is no second task.

Faults: a task whose worker process dies (killed, out of memory, node lost) is retried
by Ray up to ``max_retries`` times, then recorded as ``failed``. With ``trial_timeout``
the worker stops the trial at its next batch past the deadline (see
:class:`~suite.trial.Deadline`; the measurement counts the training's time); a
task still running a grace period after that is cancelled (its worker killed) by the
driver and recorded as ``failed``, so no trial can hang the run.

Cancelling as little as possible: Ray's core has races between ``ray.cancel`` and the
reply of a task that is just ending; when the cancel wins, an internal check fails and
the driver process aborts (``Tried to complete task that was not pending``: Ray 2.60 does
it within seconds when tasks are cancelled without ``force`` as they end;
ray-project/ray#54798 fixed a sibling). So the driver cancels only with ``force=True``
and never a task it can see has ended: each poll collects every task that is ready, not
only the first; an overdue task is looked at once more right before it is cancelled;
and on an error or Ctrl-C in the driver, a local cluster this executor started is not
cancelled task by task but shut down whole by :meth:`RayExecutor.close` (on a joined
cluster only the tasks not yet ended are cancelled). What a driver that dies anyway (an
abort, SIGKILL) had finished is already in ``trials.jsonl``; ``--resume`` runs the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from suite.errors import SuiteError
from suite.executors.base import Executor
from suite.executors.ray_nodes import Nodes, Trained
from suite.feature_store import FeatureStore
from suite.trial import TrainedTrial, TrialTask, measure_trained, record_failure, train_trial

INSTALL_HINT = "--executor ray needs Ray, an optional extra: pip install -c constraints.txt '.[ray]' (or: pip install ray)"
#: Seconds past ``trial_timeout`` before the driver cancels a task its worker did not stop.
GRACE_SECONDS = 30.0
POLL_SECONDS = 1.0
#: Seconds the driver waits for a node that can take a trial (nodes lost) before it stops the run.
NODE_WAIT_SECONDS = 120.0

_STORE: FeatureStore | None = None  # one per worker process, kept between the trials it runs


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def _ray_train(task: TrialTask) -> dict[str, Any]:
    """Body of a training task: train one trial in the worker, features kept for its next trial.

    Returns ``{"record": ...}`` for a complete record, with ``state``, ``n_classes`` and
    ``spent`` added when the trial is still to be measured, or ``{"suite_error": ...}``.
    """
    global _STORE
    if _STORE is None:
        _STORE = FeatureStore(progress=False)
    try:
        trained = train_trial(task, _STORE, progress=False)
    except SuiteError as error:  # bad data or settings: the driver stops the run with this line
        return {"suite_error": str(error)}
    trained.record["node"] = _node_id()  # where it trained, and so where it is to be measured
    if not trained.to_measure:
        return {"record": trained.record}
    return {
        "record": trained.record,
        "state": trained.state_bytes(),
        "n_classes": trained.n_classes,
        "spent": trained.spent,
        "deployed": trained.deployed,
    }


def _ray_measure(task: TrialTask, payload: dict[str, Any]) -> dict[str, Any]:
    """Body of a measurement task (alone on its node): rebuild the trained model and measure it."""
    record = payload["record"]
    try:
        trained = TrainedTrial.rebuild(
            task, record, payload["state"], payload["n_classes"], payload["spent"], payload.get("deployed", {})
        )
        return {"record": measure_trained(trained, task.config)}
    except SuiteError as error:
        return {"suite_error": str(error)}
    except Exception as error:  # the model could not be rebuilt here: the trial is failed, the run goes on
        return {"record": record_failure(dict(record), error)}


def import_ray() -> Any:
    """``import ray``, or a one-line :class:`SuiteError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SuiteError(INSTALL_HINT) from None
    return ray


@dataclass
class _Job:
    """A task in flight: which phase of which trial, on which node, since when (driver's clock)."""

    phase: Literal["train", "measure"]
    task: TrialTask
    node: str
    started: float  # a measurement's is set back by its training's time: trial_timeout covers both
    record: dict[str, Any]  # what a failed record starts from


class RayExecutor(Executor):
    """Trials as Ray tasks, as many at a time as the nodes' resources allow; measured alone on their node.

    Args:
        address (str, optional): ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` of a running
            cluster; ``None`` starts a local one. Ignored when Ray is already initialised
            in this process. (Default: ``None``)
        cpus_per_trial (float): CPUs reserved per trial; the trial trains with that many
            threads (at least 1). (Default: ``1``)
        gpus_per_trial (float): GPUs reserved per trial (and by its measurement); with
            ``--device auto`` a trial with a GPU trains on it. (Default: ``0``)
        max_retries (int): How many times a task whose worker died is run again. (Default: ``2``)
        trial_timeout (float, optional): Seconds; see the module docstring. (Default: ``None``)
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        cpus_per_trial: float = 1,
        gpus_per_trial: float = 0,
        max_retries: int = 2,
        trial_timeout: float | None = None,
    ) -> None:
        if cpus_per_trial <= 0 or gpus_per_trial < 0 or max_retries < 0:
            raise SuiteError("--cpus-per-trial must be positive, --gpus-per-trial and max_retries at least 0")
        self.address, self.cpus, self.gpus, self.max_retries = address, cpus_per_trial, gpus_per_trial, max_retries
        self.trial_timeout = trial_timeout
        self.ray: Any = None
        self.owns_ray = False
        self.nodes = Nodes(cpus_per_trial, gpus_per_trial)
        self.idle_since: float | None = None  # when no node could take a waiting trial, since then
        self.unplaced: list[Trained] = []  # trained on a node not (yet) known to the driver

    def prepare(self, device: str, trial_timeout: float | None = None) -> None:
        if trial_timeout is not None:
            self.trial_timeout = trial_timeout
        self.ray = import_ray()
        if device == "cuda" and self.gpus <= 0:
            raise SuiteError("--device cuda with --executor ray needs --gpus-per-trial 1 (or more)")
        if not self.ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
            try:
                self.ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray cluster"
                raise SuiteError(f"cannot start or join {where}: {str(error).splitlines()[0]}") from None
            self.owns_ray = True
        self.nodes.update(self._alive())
        largest = self.nodes.largest()
        for kind, asked in (("CPU", self.cpus), ("GPU", self.gpus)):
            if asked > largest[kind]:
                # Ray would queue such a task forever: refuse instead of hanging.
                raise SuiteError(
                    f"each trial asks for {asked:g} {kind}(s) but no node of the Ray cluster has more than {largest[kind]:g}; "
                    f"lower --{kind.lower()}s-per-trial"
                )

    def _alive(self) -> dict[str, dict[str, float]]:
        """Alive nodes and their total resources."""
        return {node["NodeID"]: dict(node.get("Resources") or {}) for node in self.ray.nodes() if node.get("Alive")}

    def run(self, tasks: Sequence[TrialTask]) -> Iterator[tuple[TrialTask, dict[str, Any]]]:
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as OnNode

        train, measure = ray.remote(_ray_train), ray.remote(_ray_measure)
        common = {"num_gpus": self.gpus, "max_retries": self.max_retries, "retry_exceptions": False}
        threads = max(1, int(self.cpus))
        waiting = [dataclasses.replace(task, threads=threads) for task in reversed(tasks)]  # pop() keeps the planned order
        jobs: dict[Any, _Job] = {}
        try:
            while waiting or jobs or self.nodes.waiting_to_measure() or self.unplaced:
                for trained in self.nodes.update(self._alive()) + self._requeue():
                    yield trained.task, self._lost(trained)
                while (ready := self.nodes.next_measurement()) is not None:
                    node_id, trained = ready
                    node = self.nodes.nodes[node_id]
                    # All the node's CPUs: no other task asking for CPUs can run beside the measurement.
                    on_node = measure.options(num_cpus=node.cpus, scheduling_strategy=OnNode(node_id, soft=False), **common)
                    started = time.monotonic() - trained.train_seconds
                    jobs[on_node.remote(trained.task, trained.payload)] = _Job(
                        "measure", trained.task, node_id, started, trained.payload["record"]
                    )
                while waiting and (node_id := self.nodes.place()) is not None:
                    task = waiting.pop()
                    ref = train.options(num_cpus=self.cpus, scheduling_strategy=OnNode(node_id, soft=True), **common).remote(task)
                    jobs[ref] = _Job("train", task, node_id, time.monotonic(), task.head)
                    self.nodes.started_training(node_id)
                if not jobs:  # trials wait, but no node can take one now (nodes left the cluster)
                    self._wait_for_nodes(len(waiting))
                    continue
                self.idle_since = None
                for ref in self._ended(list(jobs)):
                    job = jobs.pop(ref)
                    self._release(job)
                    record = self._outcome(ref, job)
                    if record is not None:
                        yield job.task, record
                yield from self._stop_overdue(jobs)
        finally:
            self._stop_all(jobs)  # Ctrl-C or an error in the driver: stop what is still running

    def _ended(self, refs: list[Any]) -> list[Any]:
        """The tasks of ``refs`` that have ended: waits up to a poll for one, then takes every other one ready too.

        Taking them all matters: a task that ended but is left for the next poll could be
        found overdue by :meth:`_stop_overdue` in between, and be cancelled after it ended.
        """
        done, pending = self.ray.wait(refs, num_returns=1, timeout=POLL_SECONDS)
        if done and pending:
            more, _ = self.ray.wait(pending, num_returns=len(pending), timeout=0)
            done += more
        return done

    def _not_ended(self, refs: list[Any]) -> list[Any]:
        """The tasks of ``refs`` that have not ended at this instant (the only ones that may be cancelled)."""
        if not refs:
            return []
        # fetch_local=False: a result that exists on another node counts as ended, not yet copied here or not.
        ready = set(self.ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)[0])
        return [ref for ref in refs if ref not in ready]

    def _stop_all(self, jobs: dict[Any, _Job]) -> None:
        """Stop the tasks still in flight when the driver stops early (an error, Ctrl-C, SIGTERM).

        A local cluster this executor started is left to :meth:`close`, whose shutdown ends
        every worker at once: cancelling task by task first would only add chances of
        Ray's cancel-versus-reply race (see the module docstring). On a joined cluster
        the tasks that have not ended are cancelled, so that they do not run on.
        """
        if not jobs or self.owns_ray:
            return
        # Best effort: an error here must not hide the one that stopped the run.
        with contextlib.suppress(Exception):
            for ref in self._not_ended(list(jobs)):
                self.ray.cancel(ref, force=True)

    def _wait_for_nodes(self, left: int) -> None:
        """Sleep a poll while no node can take a trial; after :data:`NODE_WAIT_SECONDS` of that, stop the run."""
        now = time.monotonic()
        self.idle_since = self.idle_since or now
        if now - self.idle_since > NODE_WAIT_SECONDS:
            raise SuiteError(
                f"no node of the Ray cluster could take a trial for {NODE_WAIT_SECONDS:g} s ({left} trial(s) left); "
                "resume the run when the cluster is back"
            )
        time.sleep(POLL_SECONDS)

    def _release(self, job: _Job) -> None:
        if job.phase == "train":
            self.nodes.ended_training(job.node)
        else:
            self.nodes.ended_measurement(job.node)

    def _outcome(self, ref: Any, job: _Job) -> dict[str, Any] | None:
        """The trial's record, or ``None`` when it was queued to be measured."""
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            # The task's own exceptions become failed records in the worker; what reaches
            # here is the system: a worker that died on every attempt, a lost node.
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            if isinstance(error, self.ray.exceptions.RayTaskError):  # raised outside the trial's own handler
                message = f"{type(error).__name__}: {first}"
            else:
                doing = "running" if job.phase == "train" else "measuring"
                lost = f"the worker {doing} this trial died or was lost ({self.max_retries + 1} attempt(s))"
                message = f"{type(error).__name__}: {lost}; {first}"
            return job.record | {"status": "failed", "error": message, "wall_seconds": time.monotonic() - job.started}
        if "suite_error" in result:
            raise SuiteError(result["suite_error"])
        if "state" not in result:
            return dict(result["record"])
        trained = Trained(job.task, result, time.monotonic() - job.started)
        if not self.nodes.queue_measurement(result["record"]["node"], trained):
            self.unplaced.append(trained)  # a node that joined since the last look, or one that left
        return None

    def _requeue(self) -> list[Trained]:
        """Queue the trials of nodes unknown when they trained; returns those whose node is not alive."""
        unplaced, self.unplaced = self.unplaced, []
        return [trained for trained in unplaced if not self.nodes.queue_measurement(trained.payload["record"]["node"], trained)]

    @staticmethod
    def _lost(trained: Trained) -> dict[str, Any]:
        """The record of a trained trial whose node left the cluster before it could be measured there."""
        error = "NodeLost: the node that trained this trial left the Ray cluster before the trial was measured"
        return trained.payload["record"] | {"status": "failed", "error": error}

    def _stop_overdue(self, jobs: dict[Any, _Job]) -> list[tuple[TrialTask, dict[str, Any]]]:
        """Cancel tasks past ``trial_timeout`` + grace (their worker did not stop them: a batch that never ends).

        Returns the failed records of the cancelled tasks, which leave ``jobs``.
        """
        if self.trial_timeout is None:
            return []
        limit = self.trial_timeout + max(GRACE_SECONDS, 0.1 * self.trial_timeout)
        now = time.monotonic()
        overdue = [ref for ref, job in jobs.items() if now - job.started > limit]
        stopped = []
        # One more look right before cancelling (and no yield in between): a task that ended since the
        # last poll keeps its own record, taken at the next poll, and is never cancelled (module docstring).
        for ref in self._not_ended(overdue):
            self.ray.cancel(ref, force=True)
            job = jobs.pop(ref)
            self._release(job)
            took, phase = now - job.started, "" if job.phase == "train" else " while measuring"
            error = f"TrialTimeout: exceeded trial_timeout of {self.trial_timeout:g} s; cancelled after {took:.1f} s{phase}"
            stopped.append((job.task, job.record | {"status": "failed", "error": error, "wall_seconds": took}))
        return stopped

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "cpus_per_trial": self.cpus,
            "gpus_per_trial": self.gpus,
            "max_retries": self.max_retries,
            "measure_phase": "alone on its node",  # runs before this measured beside other trials
        }
        if self.ray is not None and self.ray.is_initialized():
            info["cluster_resources"] = {k: v for k, v in self.ray.cluster_resources().items() if k in ("CPU", "GPU")}
            info["ray_version"] = self.ray.__version__
        return info

    def resume_options(self) -> list[str]:
        options = ["--executor", "ray"]
        if self.address:
            options += ["--address", self.address]
        return [*options, f"--cpus-per-trial={self.cpus:g}", f"--gpus-per-trial={self.gpus:g}"]

    def close(self) -> None:
        if self.owns_ray and self.ray is not None and self.ray.is_initialized():
            self.ray.shutdown()
        self.owns_ray = False
