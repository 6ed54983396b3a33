"""The ``ray`` executor: each trial is one Ray task with its own resource request.

Without an address Ray starts a cluster on this machine; with one (``auto`` or
``HOST:PORT``) it joins a running cluster. Workers build their data set from the data
root the driver names, so on a cluster that path must be the same shared folder on
every node (the feature cache too, or each node computes the features once). The
driver alone writes results, as each task ends.

Faults: a task whose worker process dies (killed, out of memory, node lost) is retried
by Ray up to ``max_retries`` times, then recorded as ``failed``. With ``trial_timeout``
the worker stops the trial at its next batch past the deadline (see
:class:`~suite.executors.base.Deadline`); a task still running a grace period after
that is cancelled (its worker killed) by the driver and recorded as ``failed``, so no
trial can hang the run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from typing import Any

from suite.errors import SuiteError
from suite.executors.base import Executor, FeatureStore, TrialTask, execute_trial

INSTALL_HINT = "--executor ray needs Ray, an optional extra: pip install -c constraints.txt '.[ray]' (or: pip install ray)"
#: Seconds past ``trial_timeout`` before the driver cancels a task its worker did not stop.
GRACE_SECONDS = 30.0
POLL_SECONDS = 1.0

_STORE: FeatureStore | None = None  # one per worker process, kept between the trials it runs


def _ray_trial(task: TrialTask) -> dict[str, Any]:
    """Body of the Ray task: run one trial in the worker, features kept for its next trial."""
    global _STORE
    if _STORE is None:
        _STORE = FeatureStore(progress=False)
    try:
        return {"record": execute_trial(task, _STORE, progress=False)}
    except SuiteError as error:  # bad data or settings: the driver stops the run with this line
        return {"suite_error": str(error)}


def import_ray() -> Any:
    """``import ray``, or a one-line :class:`SuiteError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SuiteError(INSTALL_HINT) from None
    return ray


class RayExecutor(Executor):
    """Trials as Ray tasks, as many at a time as the cluster's free resources allow.

    Args:
        address (str, optional): ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` of a running
            cluster; ``None`` starts a local one. Ignored when Ray is already initialised
            in this process. (Default: ``None``)
        cpus_per_trial (float): CPUs reserved per trial; the trial trains with that many
            threads (at least 1). (Default: ``1``)
        gpus_per_trial (float): GPUs reserved per trial; with ``--device auto`` a trial with
            a GPU trains on it. (Default: ``0``)
        max_retries (int): How many times a trial whose worker died is run again. (Default: ``2``)
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
        resources = self.ray.cluster_resources()
        for kind, asked in (("CPU", self.cpus), ("GPU", self.gpus)):
            if asked > resources.get(kind, 0):
                # Ray would queue such a task forever: refuse instead of hanging.
                raise SuiteError(
                    f"each trial asks for {asked:g} {kind}(s) but the Ray cluster has {resources.get(kind, 0):g}; "
                    f"lower --{kind.lower()}s-per-trial"
                )

    def _capacity(self) -> int:
        """Trials that fit on the cluster at once; more in flight would only queue."""
        resources = self.ray.cluster_resources()
        fits = [resources.get("CPU", 0) // self.cpus] + ([resources.get("GPU", 0) // self.gpus] if self.gpus else [])
        return max(1, int(min(fits)))

    def run(self, tasks: Sequence[TrialTask]) -> Iterator[tuple[TrialTask, dict[str, Any]]]:
        ray = self.ray
        remote = ray.remote(_ray_trial).options(
            num_cpus=self.cpus, num_gpus=self.gpus, max_retries=self.max_retries, retry_exceptions=False
        )
        threads = max(1, int(self.cpus))
        waiting = list(tasks)
        waiting.reverse()  # pop() from the end keeps the planned order
        in_flight: dict[Any, tuple[TrialTask, float]] = {}
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < self._capacity():
                    task = waiting.pop()
                    task = dataclasses.replace(task, threads=threads)
                    in_flight[remote.remote(task)] = (task, time.monotonic())
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    task, started = in_flight.pop(ref)
                    yield task, self._outcome(ref, task, started)
                yield from self._stop_overdue(in_flight)
        finally:
            for ref in in_flight:  # Ctrl-C or an error in the driver: stop what is still running
                ray.cancel(ref, force=True)

    def _outcome(self, ref: Any, task: TrialTask, started: float) -> dict[str, Any]:
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            # The task's own exceptions become failed records in the worker; what reaches
            # here is the system: a worker that died on every attempt, a lost node.
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            if isinstance(error, self.ray.exceptions.RayTaskError):  # raised outside the trial's own handler
                message = f"{type(error).__name__}: {first}"
            else:
                lost = f"the worker running this trial died or was lost ({self.max_retries + 1} attempt(s))"
                message = f"{type(error).__name__}: {lost}; {first}"
            return task.head | {"status": "failed", "error": message, "wall_seconds": time.monotonic() - started}
        if "suite_error" in result:
            raise SuiteError(result["suite_error"])
        return result["record"]

    def _stop_overdue(self, in_flight: dict[Any, tuple[TrialTask, float]]) -> Iterator[tuple[TrialTask, dict[str, Any]]]:
        """Cancel tasks past ``trial_timeout`` + grace: their worker did not stop them (a batch that never ends)."""
        if self.trial_timeout is None:
            return
        limit = self.trial_timeout + max(GRACE_SECONDS, 0.1 * self.trial_timeout)
        now = time.monotonic()
        for ref, (task, started) in list(in_flight.items()):
            if now - started > limit:
                self.ray.cancel(ref, force=True)
                del in_flight[ref]
                error = f"TrialTimeout: exceeded trial_timeout of {self.trial_timeout:g} s; cancelled after {now - started:.1f} s"
                yield task, task.head | {"status": "failed", "error": error, "wall_seconds": now - started}

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "cpus_per_trial": self.cpus,
            "gpus_per_trial": self.gpus,
            "max_retries": self.max_retries,
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
