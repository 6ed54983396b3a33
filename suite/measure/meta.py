"""Counting without weights: models built on the ``meta`` device.

The budget matcher tries many widths; building each model for real would allocate and
initialise up to tens of millions of weights per try. On the meta device a model has
shapes but no storage, so construction is cheap, and a forward pass under
:class:`torch.utils.flop_counter.FlopCounterMode` prices every matrix product at the
dispatcher level (scaled-dot-product attention included). Recurrent layers would
decompose into one small matrix product per time step there, thousands of dispatches
per try, so :class:`RecurrentOpCounter` prices them by formula at the function level
instead. fvcore cannot trace on meta (its jit tracer fails in the meta convolution
shape checks), which is why the figure the suite reports comes from
:func:`suite.measure.counting.count_macs`; the tests check that both agree for every
family.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from suite.input_spec import InputSpec
from suite.measure.counting import count_params
from suite.measure.handles import recurrent_macs
from suite.metrics import PARAMS
from suite.models.registry import create_model

_RECURRENT_OPS = frozenset({torch.lstm, torch.gru, torch.rnn_tanh, torch.rnn_relu})


class RecurrentOpCounter(TorchFunctionMode):
    """Counts ``torch.lstm/gru/rnn_*`` MACs by formula and returns empty outputs of the right shape.

    Only the padded (non-packed) form is intercepted; a packed sequence runs as usual
    and is counted by the flop counter from its decomposition.
    """

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        packed = len(args) > 1 and isinstance(args[1], torch.Tensor) and args[1].dim() == 1
        if func not in _RECURRENT_OPS or kwargs or packed:
            return func(*args, **kwargs)
        inputs, hidden, weights, bidirectional = args[0], args[1], args[2], args[7]
        self.macs += recurrent_macs(inputs.shape[:-1].numel(), [w.shape for w in weights])
        states = tuple(hidden) if isinstance(hidden, (tuple, list)) else (hidden,)
        outputs = inputs.new_empty((*inputs.shape[:-1], states[0].shape[-1] * (2 if bidirectional else 1)))
        return (outputs, *(torch.empty_like(state) for state in states))


def count_on_meta(name: str, input_spec: InputSpec, width: int, kind: str, n_classes: int) -> int:
    """``params`` or ``macs`` (batch 1) of family ``name`` at ``width``, without allocating weights.

    Args:
        name (str): Family name.
        input_spec (InputSpec): Input of the model (already adapted to the family).
        width (int): Width to build.
        kind (str): ``"params"`` or ``"macs"``.
        n_classes (int): Output logits.
    """
    with torch.device("meta"):
        model = create_model(name, n_classes, input_spec, width)
    if kind == PARAMS:
        return count_params(model)
    model.eval()
    example = torch.empty((1, *input_spec.shape), device="meta")
    with FlopCounterMode(display=False) as counter, RecurrentOpCounter() as recurrent, torch.no_grad():
        model(example)
    return counter.get_total_flops() // 2 + recurrent.macs  # the flop counter counts 2 flops per MAC
