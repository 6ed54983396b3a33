"""The Ray driver's view of the cluster: where a training task may go, which node drains to be measured.

Latency and memory are measured on a quiet node: with a ``measure`` section, a trial
that finishes training waits in its node's queue; the node takes no new training task
(it *drains*) until its training tasks have ended and every trial queued there has been
measured, one at a time, by a task that reserves all of the node's CPUs. Other nodes
keep training meanwhile. This module is plain bookkeeping (no Ray calls), so the policy
is tested without a cluster; :mod:`suite.executors.ray_executor` acts on it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Trained:
    """A trial that finished training and waits to be measured.

    Attributes:
        task (Any): Its :class:`~suite.trial.TrialTask`.
        payload (dict): What the training task returned: ``record``, ``state`` (the
            trained weights), ``n_classes``, ``spent`` (seconds of ``trial_timeout`` used).
        train_seconds (float): How long the driver saw its training task run, counted
            against ``trial_timeout`` when the driver watches the measurement.
    """

    task: Any
    payload: dict[str, Any]
    train_seconds: float


@dataclass
class Node:
    """One node's share of the run.

    Attributes:
        cpus, gpus (float): The node's Ray resources (totals, not what is free).
        training (int): Training tasks of this run sent to the node and not yet ended.
        measuring (bool): A measurement task is running (or starting) on the node.
        queue (deque[Trained]): Trials trained here, waiting for the node to be quiet.
    """

    cpus: float
    gpus: float
    training: int = 0
    measuring: bool = False
    queue: deque[Trained] = field(default_factory=deque)

    @property
    def draining(self) -> bool:
        """True while the node must take no new training task."""
        return self.measuring or bool(self.queue)

    @property
    def quiet(self) -> bool:
        """True when nothing of this run is running on the node."""
        return self.training == 0 and not self.measuring


class Nodes:
    """Which alive node takes the next training task, and which may be measured on now.

    Args:
        cpus_per_trial (float): CPUs each training task reserves.
        gpus_per_trial (float): GPUs each training task reserves.
    """

    def __init__(self, cpus_per_trial: float, gpus_per_trial: float) -> None:
        self.cpus, self.gpus = cpus_per_trial, gpus_per_trial
        self.nodes: dict[str, Node] = {}

    def update(self, alive: dict[str, dict[str, float]]) -> list[Trained]:
        """Take the alive nodes (node id -> Ray resources); returns the trials queued on nodes that are gone.

        A gone node's trained weights were sent back to the driver, but its trials must be
        measured where they trained, so they cannot be measured any more.
        """
        lost: list[Trained] = []
        for node_id in [n for n in self.nodes if n not in alive]:
            lost += self.nodes.pop(node_id).queue
        for node_id, resources in alive.items():
            node = self.nodes.setdefault(node_id, Node(resources.get("CPU", 0.0), resources.get("GPU", 0.0)))
            node.cpus, node.gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        return lost

    def slots(self, node: Node) -> int:
        """Training tasks that fit on ``node`` at once."""
        fits = [node.cpus // self.cpus] + ([node.gpus // self.gpus] if self.gpus else [])
        return int(min(fits))

    def place(self) -> str | None:
        """The node for the next training task: the one with the most free slots that is not draining; ``None`` if none."""
        free = {node_id: self.slots(node) - node.training for node_id, node in self.nodes.items() if not node.draining}
        best = max(free, key=lambda node_id: free[node_id], default=None)
        return best if best is not None and free[best] > 0 else None

    def started_training(self, node_id: str) -> None:
        self.nodes[node_id].training += 1

    def ended_training(self, node_id: str) -> None:
        if node_id in self.nodes:  # a node that left is forgotten with its count
            self.nodes[node_id].training = max(0, self.nodes[node_id].training - 1)

    def queue_measurement(self, node_id: str, trained: Trained) -> bool:
        """Queue ``trained`` on the node it trained on (which drains from now); ``False`` if that node is gone."""
        if node_id not in self.nodes:
            return False
        self.nodes[node_id].queue.append(trained)
        return True

    def next_measurement(self) -> tuple[str, Trained] | None:
        """A queued trial of a quiet node (nothing of the run on it), which is marked measuring; ``None`` if none."""
        for node_id, node in self.nodes.items():
            if node.queue and node.quiet:
                node.measuring = True
                return node_id, node.queue.popleft()
        return None

    def ended_measurement(self, node_id: str) -> None:
        if node_id in self.nodes:
            self.nodes[node_id].measuring = False

    def waiting_to_measure(self) -> bool:
        """Whether any trial still waits to be measured."""
        return any(node.queue for node in self.nodes.values())

    def largest(self) -> dict[str, float]:
        """The most CPUs and GPUs of any one node: a trial must fit on one."""
        return {
            "CPU": max((node.cpus for node in self.nodes.values()), default=0.0),
            "GPU": max((node.gpus for node in self.nodes.values()), default=0.0),
        }
