"""1-D CNN over spectrogram time, frequency bins as channels."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import Classifier, ConvBNReLU1d
from suite.models.registry import register_model


class CNN1d(nn.Module):
    """Temporal convolutions that treat the frequency bins as input channels.

    In the manner of TC-ResNet (Choi et al. 2019, arXiv:1904.03814) without the residual
    connections: ``depth`` blocks of ``Conv1d(k=kernel_size) -> BN -> ReLU -> MaxPool(2)``
    with ``width`` channels, then global average pooling and a linear classifier.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Channels of every convolution.
        depth (int): Convolution blocks. (Default: ``4``)
        kernel_size (int): Temporal kernel. (Default: ``3``)
        causal (bool): Pad only the past (``kernel_size - 1`` frames) in every convolution,
            so that no output depends on a later frame and the model can stream; the
            default pads both sides, looking ``kernel_size // 2`` frames ahead per block.
            (Default: ``False``)

    Shapes: ``(B, F, T) -> (B, n_classes)``.
    """

    def __init__(
        self, n_classes: int, input_spec: InputSpec, width: int, depth: int = 4, kernel_size: int = 3, causal: bool = False
    ) -> None:
        super().__init__()
        n_features, _ = input_spec.shape
        self.causal = causal
        blocks: list[nn.Module] = []
        for index in range(depth):
            conv = ConvBNReLU1d(n_features if index == 0 else width, width, kernel_size, causal=causal)
            blocks += [conv, nn.MaxPool1d(2, ceil_mode=True)]
        self.features = nn.Sequential(*blocks)
        self.classifier = Classifier(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, F, T) -> (B, C, T / 2^depth) -> (B, n_classes)


@register_model(
    "cnn1d",
    summary="temporal 1-D convolutions, frequency bins as channels",
    reference="Choi et al. 2019, Temporal Convolution for Real-time Keyword Spotting on Mobile Devices",
    default_width=64,
)
def cnn1d(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> CNN1d:
    return CNN1d(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]


@register_model(
    "cnn1d_causal",
    summary="the 1-D CNN with causal (past-only) padding: streams frame by frame",
    reference="Choi et al. 2019 (TC-ResNet), with causal padding",
    default_width=64,
    variant_of="cnn1d",
)
def cnn1d_causal(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> CNN1d:
    return CNN1d(n_classes, input_spec, width, causal=True, **overrides)  # type: ignore[arg-type]
