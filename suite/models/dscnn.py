"""Depthwise-separable CNN."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import Classifier, ConvBNReLU2d, DepthwiseSeparableConv2d
from suite.models.registry import register_model


class DSCNN(nn.Module):
    """DS-CNN of Hello Edge (Zhang et al. 2017), the MLPerf Tiny keyword-spotting model.

    A ``10x4`` (frequency x time) stem with stride 2, then ``depth`` depthwise-separable
    blocks (depthwise ``3x3`` + pointwise ``1x1``, each with BN and ReLU), all with
    ``width`` channels; global average pooling and a linear layer. The first block has
    stride 2 here (Hello Edge's input is a 49x10 MFCC patch, far smaller than ours),
    so that the smallest MAC budgets stay reachable.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Channels of every layer.
        depth (int): Depthwise-separable blocks. (Default: ``4``)

    Shapes: ``(B, F, T) -> (B, 1, F, T) -> (B, n_classes)``.
    """

    def __init__(self, n_classes: int, input_spec: InputSpec, width: int, depth: int = 4) -> None:
        super().__init__()
        blocks = [DepthwiseSeparableConv2d(width, width, stride=2 if index == 0 else 1) for index in range(depth)]
        self.features = nn.Sequential(ConvBNReLU2d(1, width, (10, 4), stride=2), *blocks)
        self.classifier = Classifier(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.unsqueeze(1)))  # (B, 1, F, T) -> (B, C, F', T') -> (B, n_classes)


@register_model(
    "dscnn",
    summary="depthwise-separable CNN (Hello Edge, MLPerf Tiny)",
    reference="Zhang et al. 2017, Hello Edge: Keyword Spotting on Microcontrollers (DS-CNN)",
    default_width=64,
)
def dscnn(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> DSCNN:
    return DSCNN(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
