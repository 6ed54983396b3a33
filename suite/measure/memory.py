"""Peak memory of one inference and of one training step.

CUDA: the caching allocator's own statistics (``torch.cuda.max_memory_allocated`` after
``reset_peak_memory_stats``), minus what was allocated before the step.

CPU: PyTorch keeps no CPU allocator statistics, so the step runs under ``torch.profiler``
with ``profile_memory=True``. PyTorch's CPU allocator then reports every block it hands
out and every block it takes back, each with its address, size and a nanosecond
timestamp (:func:`allocation_events` reads them from the profiler's event tree, the
records ``torch.profiler``'s own memory timeline is built from; both kinds are there,
and an inference's events net to zero). Taken in time order, the running total of the
blocks allocated during the step is the memory the step holds at each moment; its
maximum is the peak (:func:`running_peak`). Only these raw events are used, not the
per-op figures of ``profile.events()``, which net out what an op allocates and frees
inside itself.

Included: every block PyTorch's CPU allocator hands out during the step: outputs,
activations, temporaries, and scratch that an op allocates and frees inside itself.
On this build (torch 2.13.0+cpu) that covers oneDNN's scratchpads and workspaces,
which ideep allocates through PyTorch's allocator: the scratchpad of an LSTM of width
84 at batch 512 (101 frames) is a 72.6 MiB block inside ``aten::mkldnn_rnn_layer``,
freed before the op returns. For a training step it also covers the tensors autograd
saves, the gradients and AdamW's temporaries.

Excluded: what existed before the step: the weights (``model_bytes``), AdamW's two
moment buffers (``2 * model_bytes``, created by an unmeasured first step) and the input
batch; one-time caches (an unmeasured call of the same step comes first); and memory
that libraries take outside PyTorch's allocator (oneDNN's JIT-compiled kernels and
primitive cache, thread stacks, Python objects).

The figure is memory *allocated*, as on CUDA, not memory *resident*: Linux backs a page
only when it is first written. oneDNN's LSTM writes only part of its scratchpad, so for
that LSTM at batch 512 the process's peak resident set grows by about 60 MiB for one
inference while the allocator has 115 MiB out at the peak; with glibc made to write
every block it allocates (``M_PERTURB``) the resident growth is the figure to within
1 %. In the families without an LSTM both growths were within 7 % of the figure at
batches 64 to 512 (mlp, whose figure is 1-2 MiB there, within 20 %: pages are 4 KiB).
``tests/test_memory_peak.py`` checks these relations in a fresh process.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile

if TYPE_CHECKING:
    from torch._C._autograd import _ProfilerResult


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


#: Device types whose allocations are host memory (the profiler files ideep/MKLDNN blocks under their own type).
_HOST_DEVICES = frozenset({"cpu", "mkldnn", "ideep"})


def allocation_events(result: _ProfilerResult) -> list[tuple[int, int, int]]:
    """The host allocator's raw allocation and free events of a recording, in time order.

    Args:
        result (torch._C._autograd._ProfilerResult): ``profile.profiler.kineto_results``
            of a recording made with ``profile_memory=True``.

    Returns:
        list[tuple[int, int, int]]: ``(time_ns, address, bytes)`` per event, ``bytes``
        positive for an allocation and negative for a free. The allocator reports
        every block it hands out or takes back (zero-byte blocks excepted); a block
        allocated before the recording began has no allocation event, so its free, if
        reported, matches none.
    """
    events: list[tuple[int, int, int]] = []
    # Depth first, children in recording order: within one thread that is time order,
    # which the stable sort below keeps for events that share a timestamp.
    stack = list(reversed(result.experimental_event_tree()))
    while stack:
        node = stack.pop()
        kind, fields = node.typed
        if kind == _EventType.Allocation and fields.device.type in _HOST_DEVICES:
            events.append((node.start_time_ns, fields.ptr, fields.alloc_size))
        stack.extend(reversed(node.children))
    events.sort(key=lambda event: event[0])
    return events


def running_peak(events: list[tuple[int, int, int]]) -> int:
    """Maximum over time of the bytes held by the blocks allocated during the recording.

    Args:
        events (list[tuple[int, int, int]]): ``(time_ns, address, bytes)`` in time
            order, as :func:`allocation_events` returns them.

    Returns:
        int: The peak (``0`` when nothing was allocated). A free is matched to the
        allocation at its address; a free with no allocation in the recording (a block
        that existed before, such as last step's gradients) is left out, so memory
        that predates the step neither counts nor lowers the figure.
    """
    live: dict[int, int] = {}
    held = peak = 0
    for _, address, nbytes in events:
        if nbytes > 0:
            held += nbytes - live.get(address, 0)  # a repeated address without its free: count the block once
            live[address] = nbytes
            peak = max(peak, held)
        elif address in live:
            held -= live.pop(address)
    return peak


def _cpu_peak_bytes(step: Callable[[], object]) -> int:
    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        step()
    assert recorded.profiler is not None and recorded.profiler.kineto_results is not None  # set when the block exits
    return running_peak(allocation_events(recorded.profiler.kineto_results))


def _cuda_peak_bytes(step: Callable[[], object], device: torch.device) -> int:
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def peak_bytes(step: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated while ``step()`` runs, above what was allocated before it.

    Args:
        step (Callable[[], object]): The work to measure; it runs once, its result is dropped.
        device (torch.device): Where it allocates: ``cuda`` reads the caching allocator's
            statistics, anything else is recorded as the CPU allocator's events.

    Returns:
        int: Bytes (see the module's docstring for what is counted).
    """
    return _cuda_peak_bytes(step, device) if device.type == "cuda" else _cpu_peak_bytes(step)


def inference_peak_bytes(model: nn.Module, example: torch.Tensor) -> int:
    """Peak memory of one eval-mode forward pass on ``example`` (batch 1 by convention).

    Args:
        model (nn.Module): The model, on ``example``'s device; it is put in eval mode.
        example (torch.Tensor): A batch as the model takes it, e.g. ``(B, F, T)``.

    Returns:
        int: Peak bytes of the measured pass. One unmeasured pass comes first, so that
        one-time work (caches, lazily built kernels) counts no more here than when the
        measurement follows the latency timing.
    """
    model.eval()

    def step() -> None:
        with torch.inference_mode():
            model(example)

    step()
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
