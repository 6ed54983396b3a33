"""Residual 2-D CNN for keyword spotting."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import Classifier, ConvBNReLU2d
from suite.models.registry import register_model


class ResidualBlock(nn.Module):
    """Two ``3x3`` convolutions with an identity shortcut (He et al. 2016).

    With ``stride > 1`` the first convolution downsamples and the shortcut subsamples
    (a 1x1 average pool with that stride), so the block adds no parameters for it.
    """

    def __init__(self, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvBNReLU2d(channels, channels, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.shortcut = nn.AvgPool2d(1, stride) if stride > 1 else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResNet(nn.Module):
    """Residual CNN after Tang & Lin 2018 (res8), sized for budget matching.

    res8's layout: a ``3x3`` stem, average pooling, then three residual blocks of two
    ``3x3`` convolutions with ``width`` channels. To keep the smallest MAC budgets
    reachable, the stem has stride 2 and the first two blocks downsample by 2 (res8
    pools by 4x3 once instead). Global average pooling and a linear layer.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Channels of every convolution.
        strides (tuple[int, ...]): Stride of each residual block. (Default: ``(2, 2, 1)``)

    Shapes: ``(B, F, T) -> (B, 1, F, T) -> (B, n_classes)``.
    """

    def __init__(self, n_classes: int, input_spec: InputSpec, width: int, strides: tuple[int, ...] = (2, 2, 1)) -> None:
        super().__init__()
        self.stem = nn.Sequential(ConvBNReLU2d(1, width, 3, stride=2), nn.AvgPool2d(2, ceil_mode=True))
        self.blocks = nn.Sequential(*(ResidualBlock(width, stride) for stride in strides))
        self.classifier = Classifier(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.stem(x.unsqueeze(1))))  # (B, 1, F, T) -> (B, C, F', T') -> (B, n_classes)


@register_model(
    "resnet",
    summary="residual 2-D CNN (res8 style)",
    reference="Tang & Lin 2018, Deep Residual Learning for Small-footprint Keyword Spotting",
    default_width=45,
)
def resnet(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> ResNet:
    return ResNet(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
