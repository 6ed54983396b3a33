"""Parameters, model size and multiply-accumulates (MACs) of a model.

Convention, stated with every figure the suite writes (:data:`MAC_CONVENTION`): ``macs``
counts the multiply-accumulates of matrix products and convolutions for one example
(batch 1), as fvcore does; ``flops = 2 * macs``; element-wise work (activations, norms,
pooling, additions, softmax) is not in ``macs`` and every op left out is listed in
``uncounted_ops``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch
from fvcore.nn.jit_analysis import JitModelAnalysis
from torch import nn

from suite.errors import CountingError
from suite.measure.handles import MATRIX_OP_HANDLES, MATRIX_OPS

MAC_CONVENTION = (
    "macs = multiply-accumulates of matrix products and convolutions per example at batch 1 "
    "(fvcore convention); flops = 2 x macs; element-wise ops are not counted"
)


class MacCountAnalysis(JitModelAnalysis):
    """fvcore's jit analysis with the suite's handles and nothing ignored silently.

    Unlike :class:`fvcore.nn.FlopCountAnalysis`, no op is on an ignore list: every op
    without a handle shows up in :meth:`unsupported_ops`, so the caller can list it.
    """

    def __init__(self, model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        super().__init__(model, inputs)
        self._ignored_ops = set()  # fvcore hides e.g. aten::relu by default; we list them
        self.set_op_handle(**MATRIX_OP_HANDLES)
        self.unsupported_ops_warnings(False)
        self.uncalled_modules_warnings(False)
        self.tracer_warnings("none")


@dataclass(frozen=True)
class MacCount:
    """Result of :func:`count_macs`.

    Attributes:
        macs: Total multiply-accumulates.
        by_op: MACs per counted op kind, e.g. ``{"conv": 1200, "lstm": 800}``.
        uncounted_ops: Ops seen in the trace and not counted, with how often they ran.
    """

    macs: int
    by_op: dict[str, int] = field(default_factory=dict)
    uncounted_ops: dict[str, int] = field(default_factory=dict)


def count_macs(model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> MacCount:
    """Count the MACs of one forward pass of ``model`` on ``inputs`` with fvcore.

    The model is traced in eval mode under ``torch.no_grad`` and restored to its mode.

    Raises:
        CountingError: if an op that carries matrix products has no handle.
    """
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analysis = MacCountAnalysis(model, inputs)
            by_op = {op: int(n) for op, n in analysis.by_operator().items()}
            uncounted = dict(sorted(Counter(analysis.unsupported_ops()).items()))
    finally:
        model.train(was_training)
    missed = sorted(set(uncounted) & MATRIX_OPS)
    if missed:
        raise CountingError(f"ops carrying matrix products were not counted: {', '.join(missed)}")
    return MacCount(macs=sum(by_op.values()), by_op=by_op, uncounted_ops=uncounted)


def count_params(model: nn.Module) -> int:
    """Trainable parameters; shared tensors are counted once. Works on the meta device."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_bytes(model: nn.Module) -> int:
    """Size of the state dict stored in float32: every floating tensor at 4 bytes.

    Parameters and buffers (e.g. BatchNorm running statistics) count; integer buffers
    keep their own size. This is the size of the weights on disk, without the pickle
    framing that ``torch.save`` adds.
    """
    return sum(t.numel() * (4 if t.is_floating_point() else t.element_size()) for t in model.state_dict().values())
