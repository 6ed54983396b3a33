"""Dilated temporal convolutional network."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import Classifier, ConvBNReLU1d
from suite.models.registry import register_model


class DilatedResidualBlock(nn.Module):
    """``x + ReLU(BN(Conv1d(k, dilation)))``: time resolution is kept."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, causal: bool = False) -> None:
        super().__init__()
        self.conv = ConvBNReLU1d(channels, channels, kernel_size, dilation=dilation, causal=causal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class TCN(nn.Module):
    """Temporal convolutional network with dilations 1, 2, 4, ... (Bai et al. 2018).

    A pointwise convolution maps the ``F`` bins to ``width`` channels, then ``depth``
    residual blocks of dilated ``Conv1d(k=3)`` with dilation ``2^i`` (as in WaveNet,
    van den Oord et al. 2016) give a receptive field of ``1 + 2 * (2^depth - 1)`` frames
    (63 frames for the default depth of 5). Global average pooling and a linear layer.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Channels of every block.
        depth (int): Dilated blocks. (Default: ``5``)
        kernel_size (int): Temporal kernel. (Default: ``3``)
        causal (bool): Pad only the past, so that frame ``t``'s features depend on frames
            ``<= t`` (as in Bai et al.'s TCN) and the model can stream with no lookahead;
            the default pads both sides ("same"), looking ``2^depth - 1`` frames ahead.
            (Default: ``False``)

    Shapes: ``(B, F, T) -> (B, n_classes)``.
    """

    def __init__(
        self, n_classes: int, input_spec: InputSpec, width: int, depth: int = 5, kernel_size: int = 3, causal: bool = False
    ) -> None:
        super().__init__()
        n_features, _ = input_spec.shape
        self.causal = causal
        self.stem = ConvBNReLU1d(n_features, width, 1)
        self.blocks = nn.Sequential(*(DilatedResidualBlock(width, kernel_size, 2**index, causal) for index in range(depth)))
        self.classifier = Classifier(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.stem(x)))  # (B, F, T) -> (B, C, T) -> (B, n_classes)


@register_model(
    "tcn",
    summary="dilated residual 1-D convolutions (dilations 1, 2, 4, ...)",
    reference="Bai et al. 2018, An Empirical Evaluation of Generic Convolutional and Recurrent Networks for Sequence Modeling",
    default_width=64,
)
def tcn(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> TCN:
    return TCN(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]


@register_model(
    "tcn_causal",
    summary="the TCN with causal (past-only) padding: streams frame by frame",
    reference="Bai et al. 2018 (causal convolutions as in their TCN)",
    default_width=64,
    variant_of="tcn",
)
def tcn_causal(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> TCN:
    return TCN(n_classes, input_spec, width, causal=True, **overrides)  # type: ignore[arg-type]
