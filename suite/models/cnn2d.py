"""2-D CNN over the time-frequency plane."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import Classifier, ConvBNReLU2d
from suite.models.registry import register_model


class CNN2d(nn.Module):
    """Plain 2-D convolutions over the spectrogram as a one-channel image.

    After Sainath & Parada 2015 (Convolutional Neural Networks for Small-footprint
    Keyword Spotting) in a VGG-like form: a strided ``3x3`` stem, then ``depth - 1``
    blocks of ``MaxPool(2) -> 3x3 conv -> BN -> ReLU`` (each block halves the map
    before convolving it), all with ``width`` channels, global average pooling and a
    linear classifier.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Channels of every convolution.
        depth (int): Convolution layers including the stem. (Default: ``4``)

    Shapes: ``(B, F, T) -> (B, 1, F, T) -> (B, n_classes)``.
    """

    def __init__(self, n_classes: int, input_spec: InputSpec, width: int, depth: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU2d(1, width, 3, stride=2)]
        for _ in range(depth - 1):
            layers += [nn.MaxPool2d(2, ceil_mode=True), ConvBNReLU2d(width, width, 3)]
        self.features = nn.Sequential(*layers)
        self.classifier = Classifier(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.unsqueeze(1)))  # (B, 1, F, T) -> (B, C, F', T') -> (B, n_classes)


@register_model(
    "cnn2d",
    summary="2-D convolutions over time-frequency",
    reference="Sainath & Parada 2015, Convolutional Neural Networks for Small-footprint Keyword Spotting",
    default_width=48,
)
def cnn2d(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> CNN2d:
    return CNN2d(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
