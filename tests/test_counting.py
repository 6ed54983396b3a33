"""MAC counts against independent formulas written out here, and against torch's flop counter."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from suite.errors import CountingError
from suite.measure import count_macs, count_params, model_bytes
from suite.models import create_model
from suite.models.blocks import MultiHeadSelfAttention
from tests.helpers import ALL_MODELS, spec_for


def recurrent_formula(gates: int, n_in: int, hidden: int, steps: int, layers: int = 1, directions: int = 1) -> int:
    """Per layer, direction and step: ``gates * (in * H + H * H)``; deeper layers read ``H * directions``."""
    total = 0
    for layer in range(layers):
        layer_in = n_in if layer == 0 else hidden * directions
        total += directions * steps * gates * (layer_in * hidden + hidden * hidden)
    return total


CASES = [
    ("linear", nn.Linear(40, 30), (1, 40), 40 * 30),
    ("linear over frames", nn.Linear(40, 30), (1, 101, 40), 101 * 40 * 30),
    ("conv1d", nn.Conv1d(40, 64, 3, padding=1), (1, 40, 101), 101 * 64 * 40 * 3),
    ("conv1d strided", nn.Conv1d(1, 8, 3, stride=3), (1, 1, 300), 100 * 8 * 1 * 3),
    ("conv2d", nn.Conv2d(8, 16, 3, padding=1), (1, 8, 40, 101), 40 * 101 * 16 * 8 * 9),
    ("conv2d strided", nn.Conv2d(1, 16, (10, 4), stride=(2, 2)), (1, 1, 40, 101), 16 * 49 * 16 * 1 * 40),
    ("depthwise conv", nn.Conv2d(32, 32, 3, padding=1, groups=32), (1, 32, 20, 50), 20 * 50 * 32 * 9),
    ("lstm 1 layer", nn.LSTM(40, 64, batch_first=True), (1, 101, 40), recurrent_formula(4, 40, 64, 101)),
    ("lstm 2 layers", nn.LSTM(40, 64, 2, batch_first=True), (1, 101, 40), recurrent_formula(4, 40, 64, 101, 2)),
    (
        "lstm 2 layers bidirectional",
        nn.LSTM(40, 64, 2, batch_first=True, bidirectional=True),
        (1, 101, 40),
        recurrent_formula(4, 40, 64, 101, 2, 2),
    ),
    ("lstm time-major", nn.LSTM(40, 32), (101, 1, 40), recurrent_formula(4, 40, 32, 101)),
    ("lstm batch 3", nn.LSTM(40, 32, batch_first=True), (3, 50, 40), 3 * recurrent_formula(4, 40, 32, 50)),
    ("gru", nn.GRU(40, 48, 2, batch_first=True), (1, 101, 40), recurrent_formula(3, 40, 48, 101, 2)),
    (
        "gru bidirectional",
        nn.GRU(40, 48, batch_first=True, bidirectional=True),
        (1, 101, 40),
        recurrent_formula(3, 40, 48, 101, 1, 2),
    ),
    ("rnn tanh", nn.RNN(40, 96, 2, batch_first=True), (1, 101, 40), recurrent_formula(1, 40, 96, 101, 2)),
    ("rnn relu", nn.RNN(40, 96, nonlinearity="relu", batch_first=True), (1, 101, 40), recurrent_formula(1, 40, 96, 101)),
    # Self-attention over L tokens of width D: Q, K, V and output projections 4 * L * D^2,
    # scores and weighted sum 2 * L^2 * D (independent of the number of heads).
    ("self-attention 4 heads", MultiHeadSelfAttention(64, 4), (1, 51, 64), 4 * 51 * 64**2 + 2 * 51**2 * 64),
    ("self-attention 1 head", MultiHeadSelfAttention(48, 1), (2, 30, 48), 2 * (4 * 30 * 48**2 + 2 * 30**2 * 48)),
]


@pytest.mark.parametrize(("module", "shape", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_macs_match_formula(module: nn.Module, shape: tuple[int, ...], expected: int) -> None:
    counted = count_macs(module, torch.randn(shape)).macs
    # Exact, not merely within 1 %: an off-by-one frame or step (the likeliest counting
    # bug) would hide inside a 1 % tolerance.
    assert counted == expected


class TorchMultiheadAttention(nn.Module):
    """``nn.MultiheadAttention`` as self-attention; with weights it runs baddbmm/bmm, without it SDPA."""

    def __init__(self, dim: int, heads: int, need_weights: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=self.need_weights)[0]


@pytest.mark.parametrize("need_weights", [True, False])
def test_torch_multihead_attention_matches_formula(need_weights: bool) -> None:
    tokens, dim = 40, 64
    counted = count_macs(TorchMultiheadAttention(dim, 4, need_weights), torch.randn(1, tokens, dim)).macs
    assert counted == 4 * tokens * dim**2 + 2 * tokens**2 * dim


def test_lstm_with_projection_counts_the_projection() -> None:
    lstm = nn.LSTM(40, 64, batch_first=True, proj_size=16)
    # Gates read the input and the projected state (16); the projection maps 64 -> 16.
    expected = 101 * (4 * 64 * (40 + 16) + 16 * 64)
    assert count_macs(lstm, torch.randn(1, 101, 40)).macs == expected


# The flop counter's blind spots on CPU: oneDNN's fused LSTM and CPU attention count 0 there.
CPU_BLIND_OPS = {"lstm", "scaled_dot_product_attention"}


@pytest.mark.parametrize("name", ALL_MODELS)
def test_agrees_with_torch_flop_counter(name: str) -> None:
    """Where torch's counter sees an op it must agree exactly (after the factor 2)."""
    spec = spec_for(name)
    model = create_model(name, n_classes=10, input_spec=spec).eval()
    counted = count_macs(model, spec.example())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(spec.example())
    blind = sum(macs for op, macs in counted.by_op.items() if op in CPU_BLIND_OPS)
    assert counter.get_total_flops() == 2 * (counted.macs - blind)


def test_uncounted_ops_are_listed() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    counted = count_macs(model, torch.randn(1, 1, 8, 8))
    assert {"aten::batch_norm", "aten::relu"} <= set(counted.uncounted_ops)
    assert counted.macs == 6 * 6 * 4 * 9


class UsesMatrixVector(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(8, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mv(self.weight, x)


def test_an_uncountable_matrix_op_is_an_error_not_a_zero() -> None:
    with pytest.raises(CountingError, match="aten::mv"):
        count_macs(UsesMatrixVector(), torch.randn(16))


def test_params_and_bytes() -> None:
    model = nn.Sequential(nn.Linear(10, 5), nn.BatchNorm1d(5))
    model[1].weight.requires_grad_(False)
    assert count_params(model) == 10 * 5 + 5 + 5  # frozen BN weight excluded
    # float tensors at 4 bytes: 55 linear + 5 + 5 BN affine + 5 + 5 running stats; int64 counter 8 bytes
    assert model_bytes(model) == (55 + 20) * 4 + 8


def test_count_restores_training_mode() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train()
    count_macs(model, torch.randn(1, 4))
    assert model.training


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        memory = x[:, :10]
        return self.attn(x, memory, memory, need_weights=False)[0]


def test_torch_cross_attention_matches_formula() -> None:
    length, source, dim = 30, 10, 32
    counted = count_macs(CrossAttention(dim, 2), torch.randn(1, length, dim)).macs
    expected = dim * dim * (2 * length + 2 * source) + 2 * length * source * dim
    # Exact, not merely within 1 %: an off-by-one frame or step (the likeliest counting
    # bug) would hide inside a 1 % tolerance.
    assert counted == expected
