"""Test-only model families that fail on purpose.

They are registered only by the tests that use them (:func:`faulty_models`) and removed
after, so :func:`suite.models.list_models` never shows them to other tests. Ray workers
register them with :func:`register` as their process setup hook. Each behaves like a
small MLP in eval mode (so matching and counting work) and misbehaves in training:

- ``raises``: raises ``RuntimeError("boom on purpose")``;
- ``nan_loss``: returns NaN logits, so the training loss is NaN;
- ``sleepy``: sleeps 0.2 s per training batch (for timeouts and kills mid-run);
- ``dies``: kills its own process with SIGKILL (Ray tests only: it would kill pytest);
- ``killed_once``: on its first attempt writes its pid to ``$SUITE_TEST_MARKER/killed_once.pid``
  and waits to be killed; on a retry (the file exists) it trains normally.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models import registry

FAULTY = ("raises", "nan_loss", "sleepy", "dies", "killed_once")
MARKER_ENV = "SUITE_TEST_MARKER"


class Faulty(nn.Module):
    """Mean over time, two linear layers; ``mode`` says how training goes wrong."""

    def __init__(self, n_classes: int, spec: InputSpec, width: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.layers = nn.Sequential(nn.Linear(spec.shape[0], width), nn.ReLU(), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self._misbehave()
        logits = self.layers(x.mean(dim=-1))
        return logits * float("nan") if self.training and self.mode == "nan_loss" else logits

    def _misbehave(self) -> None:
        if self.mode == "raises":
            raise RuntimeError("boom on purpose")
        if self.mode == "sleepy":
            time.sleep(0.2)
        if self.mode == "dies":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "killed_once":
            pid_file = Path(os.environ[MARKER_ENV]) / "killed_once.pid"
            if not pid_file.exists():
                partial = pid_file.with_suffix(".part")
                partial.write_text(str(os.getpid()))
                partial.rename(pid_file)  # the killer never reads half a pid
                time.sleep(120)  # killed long before this ends


def register_test_families(names: Iterable[str], module: Callable[[int, InputSpec, int, str], nn.Module]) -> None:
    """Register each of ``names`` (once per process) as a test-only family built by ``module(classes, spec, width, name)``."""
    for name in names:
        if name in registry.list_models():
            continue

        def build(n_classes: int, input_spec: InputSpec, width: int = 16, _name: str = name) -> nn.Module:
            return module(n_classes, input_spec, width, _name)

        registry.register_model(name, summary=f"test-only: {name}", reference="none", default_width=16, max_width=4096)(build)


def register() -> None:
    """Register every faulty family (once per process)."""
    register_test_families(FAULTY, Faulty)


def unregister() -> None:
    for mode in FAULTY:
        registry._REGISTRY._items.pop(mode, None)  # the registry has no public removal: only tests need one


@contextlib.contextmanager
def faulty_models() -> Iterator[None]:
    """The faulty families, registered for the duration of the block."""
    register()
    try:
        yield
    finally:
        unregister()
