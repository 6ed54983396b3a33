"""Shared fixtures, and torch's thread count under pytest-xdist."""

from __future__ import annotations

import os

import pytest
import torch

# Timing tests check what is recorded, never how fast: waiting up to 30 s per figure for
# a quiet machine (the other xdist worker is a neighbour that never goes quiet) only
# lengthens the run. Measured here under `-n 2`: the deploy run's fixture took 128 s, 16 s alone.
os.environ.setdefault("SUITE_QUIET_WAIT_SECONDS", "0")

if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    # Under `pytest -n N` each worker gets its share of the cores. torch's default (a thread
    # per core in every worker) oversubscribes them, and OpenMP's spinning threads then
    # stall small trainings: measured here with 2 workers on 2 cores, the FSDD cache test
    # took 100 s instead of 9 s. Subprocesses the tests start inherit the setting.
    _THREADS = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = str(_THREADS)
    torch.set_num_threads(_THREADS)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
