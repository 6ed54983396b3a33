"""Peak memory of one inference and of one training step.

CUDA: the caching allocator's own statistics (``torch.cuda.max_memory_allocated`` after
``reset_peak_memory_stats``), minus what was allocated before the step.

CPU: PyTorch keeps no CPU allocator statistics, so the step runs under
``torch.profiler`` with ``profile_memory=True``, which records every allocation (with
the op that made it) and every free. Ordered in time, their running sum is the memory
the step holds at each moment; its maximum is the peak. What it includes: every
tensor allocated during the step (activations, temporaries, workspace, and for a
training step the gradients). What it
excludes: what existed before the step (the weights, whose size is ``model_bytes``,
AdamW's state, ``2 * model_bytes``, and the input batch) and memory that libraries
allocate outside PyTorch's allocator.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import ProfilerActivity, profile


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block.

    Kineto, the profiler's native backend, prints two ``USDT: ... profiler_start/stop``
    lines to the process's stderr on every use, past Python's ``sys.stderr``; in a run
    that measures 40 trials they would bury the progress bars. Python exceptions still
    propagate (they are raised after the descriptor is restored).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _cpu_peak_bytes(step: Callable[[], object]) -> int:
    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        step()
    events = [e for e in recorded.events() if (e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage)]
    events.sort(key=lambda e: e.time_range.start)
    deltas = (e.cpu_memory_usage if e.name == "[memory]" else e.self_cpu_memory_usage for e in events)
    return max(itertools.accumulate(deltas, initial=0))


def _cuda_peak_bytes(step: Callable[[], object], device: torch.device) -> int:
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def peak_bytes(step: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated while ``step()`` runs, above what was allocated before it."""
    return _cuda_peak_bytes(step, device) if device.type == "cuda" else _cpu_peak_bytes(step)


def inference_peak_bytes(model: nn.Module, example: torch.Tensor) -> int:
    """Peak memory of one eval-mode forward pass on ``example`` (batch 1 by convention)."""
    model.eval()

    def step() -> None:
        with torch.inference_mode():
            model(example)

    return peak_bytes(step, example.device)


def training_peak_bytes(model: nn.Module, batch: torch.Tensor, targets: torch.Tensor) -> int:
    """Peak memory of one steady-state training step (forward, backward, AdamW update).

    One unmeasured step first creates AdamW's two moment buffers per parameter (they
    live for the whole training, like the weights: ``2 * model_bytes``); gradients are
    then released (``set_to_none``) as the training loop does, so the measured step
    includes activations, gradients and the optimiser's temporaries. The model's weights
    are updated: pass a model you do not need afterwards.
    """
    model.train()
    optimizer = torch.optim.AdamW(model.parameters())

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(batch), targets).backward()
        optimizer.step()

    step()
    optimizer.zero_grad(set_to_none=True)
    try:
        return peak_bytes(step, batch.device)
    finally:
        optimizer.zero_grad(set_to_none=True)
