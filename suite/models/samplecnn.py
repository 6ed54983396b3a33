"""Sample-level CNN on the raw waveform."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import Classifier, ConvBNReLU1d, conv_out_length
from suite.models.registry import register_model


class SampleCNN(nn.Module):
    """Sample-level deep CNN (Lee et al. 2017, arXiv:1703.01789).

    A strided stem ``Conv1d(k=3, stride=3)`` turns samples into frames of 3, then blocks
    of ``Conv1d(k=3) -> BN -> ReLU -> MaxPool(3)`` shrink time by 3 each, as many as the
    clip allows (7 for 16,000 samples, as the paper's 3^n models do for 59,049). The
    first half of the blocks has ``width`` channels, the second half ``2 * width``
    (the paper doubles 128 -> 256 -> 512). Global average pooling and a linear layer
    give the logits.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): ``raw`` input of ``n_samples`` samples.
        width (int): Channels of the stem and of the first half of the blocks.
        max_blocks (int): Upper bound on the number of blocks. (Default: ``9``)

    Shapes: ``(B, S) -> (B, 1, S) -> (B, n_classes)``.
    """

    def __init__(self, n_classes: int, input_spec: InputSpec, width: int, max_blocks: int = 9) -> None:
        super().__init__()
        length = conv_out_length(input_spec.n_samples, 3, stride=3)
        n_blocks = 0
        while length >= 3 and n_blocks < max_blocks:
            length //= 3
            n_blocks += 1
        channels = [width if index < (n_blocks + 1) // 2 else 2 * width for index in range(n_blocks)]
        layers: list[nn.Module] = [ConvBNReLU1d(1, width, 3, stride=3)]
        for in_channels, out_channels in zip([width, *channels], channels, strict=False):
            layers += [ConvBNReLU1d(in_channels, out_channels, 3), nn.MaxPool1d(3)]
        self.features = nn.Sequential(*layers)
        self.classifier = Classifier(channels[-1] if channels else width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x.unsqueeze(1)))  # (B, 1, S) -> (B, C, S / 3^(n+1)) -> (B, n_classes)


@register_model(
    "samplecnn",
    input_kinds=("raw",),
    summary="sample-level CNN on the raw waveform (kernel 3, stride 3)",
    reference="Lee et al. 2017, Sample-level Deep Convolutional Neural Networks for Music Auto-tagging Using Raw Waveforms",
    default_width=32,
)
def samplecnn(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> SampleCNN:
    return SampleCNN(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
