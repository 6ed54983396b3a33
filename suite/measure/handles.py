"""fvcore op handles for the ops it prices at 0: recurrent layers and attention.

fvcore's :class:`~fvcore.nn.FlopCountAnalysis` has no handle for ``aten::lstm``,
``aten::gru``, ``aten::rnn_tanh``/``rnn_relu`` or ``aten::scaled_dot_product_attention``
and reports them as unsupported, i.e. 0 MACs. The handles below follow fvcore's
convention: one "flop" is one multiply-accumulate of a matrix product.

A handle receives the traced graph's input and output values of one op
(``torch._C.Value``) and returns the MAC count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from math import prod
from typing import Any

from fvcore.nn.jit_handles import (
    addmm_flop_jit,
    bmm_flop_jit,
    conv_flop_jit,
    einsum_flop_jit,
    get_shape,
    linear_flop_jit,
    matmul_flop_jit,
)

Handle = Callable[[list[Any], list[Any]], int]


def _list_elements(value: Any) -> list[Any]:
    """The values packed into a ``prim::ListConstruct``, or ``[]`` for anything else."""
    node = value.node()
    return list(node.inputs()) if node.kind() == "prim::ListConstruct" else []


def recurrent_macs(n_vectors: int, weight_shapes: Iterable[Sequence[int] | None]) -> int:
    """``n_vectors * sum(rows * cols)`` over the 2-D weights of a recurrent op.

    Every weight matrix of every layer and direction (input-hidden ``W_ih``,
    hidden-hidden ``W_hh`` and, for LSTMs with ``proj_size``, the projection ``W_hr``)
    multiplies one vector per time step and sequence, so for a plain LSTM layer this is
    the textbook ``T * B * 4 * (in * H + H * H)``. Shapes that are not 2-D (biases,
    hidden states) are skipped: bias additions and the gates' element-wise products are
    not matrix products.
    """
    return n_vectors * sum(shape[0] * shape[1] for shape in weight_shapes if shape is not None and len(shape) == 2)


def rnn_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``aten::lstm``, ``aten::gru``, ``aten::rnn_tanh`` and ``aten::rnn_relu``.

    See :func:`recurrent_macs`. Works for batched, unbatched and packed inputs: the
    number of input vectors (``batch * steps``) is ``numel(input) / input_size``.
    """
    vectors = prod(get_shape(inputs[0])[:-1])
    # The flat weights arrive as a list (hidden states, when listed, are 3-D; biases 1-D).
    return recurrent_macs(vectors, [get_shape(v) for value in inputs[1:] for v in _list_elements(value)])


def rnn_cell_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``aten::lstm_cell``/``gru_cell``/``rnn_*_cell``: ``B * (numel(W_ih) + numel(W_hh))``."""
    w_ih, w_hh = get_shape(inputs[2]), get_shape(inputs[3])
    vectors = prod(get_shape(inputs[0])[:-1])
    return vectors * (w_ih[0] * w_ih[1] + w_hh[0] * w_hh[1])


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``aten::scaled_dot_product_attention``.

    With ``q: (..., L, E)``, ``k: (..., S, E)`` and ``v: (..., S, Ev)``, the op computes
    ``softmax(q k^T) v``: ``L * S * E`` MACs for the scores and ``L * S * Ev`` for the
    weighted sum, for each of the ``prod(...)`` batch-and-head slices. The softmax and
    the scaling are element-wise and not counted.
    """
    q, k, v = (get_shape(value) for value in inputs[:3])
    slices, length, embed = prod(q[:-2]), q[-2], q[-1]
    return slices * length * k[-2] * (embed + v[-1])


def native_mha_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``aten::_native_multi_head_attention`` (``nn.MultiheadAttention``'s fast path).

    With ``query: (B, L, E)`` and ``key``/``value: (B, S, E)``: projections of the query
    (``L * E^2``), key and value (``2 * S * E^2``) and output (``L * E^2``), plus the
    attention itself, ``2 * L * S * E`` summed over heads, per sequence of the batch.
    """
    query, key = get_shape(inputs[0]), get_shape(inputs[1])
    batch, length, embed = prod(query[:-2]), query[-2], query[-1]
    source = key[-2]
    return batch * (embed * embed * (2 * length + 2 * source) + 2 * length * source * embed)


def baddbmm_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``aten::baddbmm(input, batch1 (b, n, m), batch2 (b, m, p))``: ``b * n * m * p``."""
    b, n, m = get_shape(inputs[1])
    return b * n * m * get_shape(inputs[2])[-1]


#: Every op that carries matrix products or convolutions, each with its handle. Only
#: these are counted: norms, pooling and activations are element-wise and reported as
#: uncounted instead (fvcore's defaults would add norms and some pools to the total).
MATRIX_OP_HANDLES: dict[str, Handle] = {
    "aten::addmm": addmm_flop_jit,
    "aten::bmm": bmm_flop_jit,
    "aten::baddbmm": baddbmm_flop_jit,
    "aten::_convolution": conv_flop_jit,
    "aten::einsum": einsum_flop_jit,
    "aten::matmul": matmul_flop_jit,
    "aten::mm": matmul_flop_jit,
    "aten::linear": linear_flop_jit,
    "aten::lstm": rnn_flop_jit,
    "aten::gru": rnn_flop_jit,
    "aten::rnn_tanh": rnn_flop_jit,
    "aten::rnn_relu": rnn_flop_jit,
    "aten::lstm_cell": rnn_cell_flop_jit,
    "aten::gru_cell": rnn_cell_flop_jit,
    "aten::rnn_tanh_cell": rnn_cell_flop_jit,
    "aten::rnn_relu_cell": rnn_cell_flop_jit,
    "aten::scaled_dot_product_attention": sdpa_flop_jit,
    "aten::_native_multi_head_attention": native_mha_flop_jit,
}

#: Ops that carry matrix products but have no handle here. Meeting one is an error:
#: a silent 0 is exactly the failure this module exists to prevent.
UNHANDLED_MATRIX_OPS: frozenset[str] = frozenset(
    {
        "aten::addbmm",
        "aten::addmv",
        "aten::mv",
        "aten::dot",
        "aten::vdot",
        "aten::tensordot",
        "aten::bilinear",
        "aten::convolution",
        "aten::conv1d",
        "aten::conv2d",
        "aten::conv3d",
        "aten::conv_transpose1d",
        "aten::conv_transpose2d",
        "aten::conv_transpose3d",
        "aten::_transformer_encoder_layer_fwd",
        "aten::_scaled_dot_product_flash_attention",
        "aten::_scaled_dot_product_efficient_attention",
        "aten::mkldnn_rnn_layer",
    }
)

MATRIX_OPS: frozenset[str] = frozenset(MATRIX_OP_HANDLES) | UNHANDLED_MATRIX_OPS
