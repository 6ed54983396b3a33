"""Reference kernels: fixed work timed beside every model so that a latency carries its machine's state.

Milliseconds from two machines, or from one shared machine at two moments, are not
comparable; a latency divided by a reference kernel timed *in the same rounds* mostly
is. One kernel does not fit every figure, because a batch-1 model on a CPU is bound by
per-operator overhead (dispatch, small allocations, thread hand-offs) while a large
batch is bound by arithmetic, and a busy neighbour slows the two differently. So there
are two, and each timing uses the one that matches what it is bound by:

- ``overhead``: a tiny two-layer perceptron step on one 64-wide vector (six small
  operators, microseconds): dispatch-bound, like a batch-1 model. Used for batch 1.
- ``compute``: a float32 ``256 x 256 @ 256 x 256`` matrix product (33.5 MFLOP):
  arithmetic-bound, like a large batch. Used for larger batches; its rate is reported
  as ``matmul_gflops`` (this machine's measured float32 matrix-product rate at these
  threads, not a hardware peak).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

COMPUTE_SIZE = 256
OVERHEAD_WIDTH = 64


def reference_kind(batch_size: int) -> str:
    """``overhead`` for batch 1 (dispatch-bound), ``compute`` for larger batches (arithmetic-bound)."""
    return "overhead" if batch_size == 1 else "compute"


def reference_kernel(kind: str, device: torch.device) -> Callable[[], torch.Tensor]:
    """A zero-argument callable doing the reference work ``kind`` on ``device`` (inputs made once, seeded)."""
    generator = torch.Generator().manual_seed(0)
    if kind == "compute":
        a, b = (torch.randn(COMPUTE_SIZE, COMPUTE_SIZE, generator=generator).to(device) for _ in range(2))
        return lambda: torch.mm(a, b)
    if kind == "overhead":
        x = torch.randn(1, OVERHEAD_WIDTH, generator=generator).to(device)
        w1, w2 = (torch.randn(OVERHEAD_WIDTH, OVERHEAD_WIDTH, generator=generator).to(device) / 8 for _ in range(2))
        b1, b2 = (torch.zeros(OVERHEAD_WIDTH, device=device) for _ in range(2))

        def step() -> torch.Tensor:
            hidden = F.gelu(F.layer_norm(F.linear(x, w1, b1), (OVERHEAD_WIDTH,)))
            return F.linear(hidden, w2, b2).softmax(dim=-1)

        return step
    raise ValueError(f"unknown reference kernel {kind!r}; expected overhead or compute")


def matmul_gflops(compute_ms: float) -> float:
    """The measured float32 matrix-product rate: ``2 * 256^3`` flops per ``compute`` run of ``compute_ms``."""
    return 2 * COMPUTE_SIZE**3 / (compute_ms * 1e-3) / 1e9
