"""A BC-ResNet-style family: broadcasted residual blocks (Kim et al. 2021, Interspeech).

The plugin contract, as for the built-in families: a builder
``builder(n_classes, input_spec, width, **overrides) -> nn.Module`` decorated with
:func:`suite.register_model`, which declares the width knob the budget matcher scales
(``default_width``, ``min_width``, ``max_width``). Importing this module registers the
family; the entry point ``bcresnet = "bcresnet_plugin.models:bcresnet"`` lets the suite
import it when a config names ``bcresnet``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import suite
from suite.input_spec import InputSpec


class BroadcastedBlock(nn.Module):
    """One broadcasted residual block: a frequency-wise part, and a temporal part broadcast back over frequency.

    ``f = BN(depthwise 3x1 conv(x))`` works on each frequency band; ``t`` averages ``f``
    over frequency and applies a depthwise temporal conv, BN, SiLU and a pointwise conv;
    the output is ``ReLU(x + f + t)`` with ``t`` broadcast over frequency. (BC-ResNet's
    sub-spectral normalisation and dropout are left out: this is an example.)

    Shapes: ``(B, C, F, T) -> (B, C, F, T)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.frequency = nn.Sequential(
            nn.Conv2d(channels, channels, (3, 1), padding=(1, 0), groups=channels, bias=False), nn.BatchNorm2d(channels)
        )
        self.temporal = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=1, groups=channels, bias=False),
            nn.BatchNorm1d(channels),
            nn.SiLU(),
            nn.Conv1d(channels, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frequency = self.frequency(x)  # (B, C, F, T)
        temporal = self.temporal(frequency.mean(dim=2))  # (B, C, T)
        return F.relu(x + frequency + temporal.unsqueeze(2))


class BCResNet(nn.Module):
    """A ``5x5`` stem with stride 2, ``depth`` broadcasted blocks of ``width`` channels, global pooling, a linear layer.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Channels of every block.
        depth (int): Broadcasted blocks. (Default: ``4``)

    Shapes: ``(B, F, T) -> (B, n_classes)``.
    """

    def __init__(self, n_classes: int, input_spec: InputSpec, width: int, depth: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 5, stride=2, padding=2, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(*(BroadcastedBlock(width) for _ in range(depth)))
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.stem(x.unsqueeze(1)))  # (B, 1, F, T) -> (B, C, F/2, T/2)
        return self.head(features.mean(dim=(2, 3)))  # (B, C) -> (B, n_classes)


@suite.register_model(
    "bcresnet",
    summary="broadcasted residual CNN (BC-ResNet style; example plugin)",
    reference="Kim et al. 2021, Broadcasted Residual Learning for Efficient Keyword Spotting (Interspeech)",
    default_width=32,
    min_width=4,
    max_width=512,
)
def bcresnet(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> BCResNet:
    return BCResNet(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
