"""Convolutional-recurrent network."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.blocks import ConvBNReLU2d, conv_out_length
from suite.models.registry import register_model


class CRNN(nn.Module):
    """Convolutional front end followed by GRU layers (Hello Edge CRNN).

    After Zhang et al. 2017 and Arik et al. 2017 (Convolutional Recurrent Neural
    Networks for Small-Footprint Keyword Spotting): one ``10x4`` (frequency x time)
    convolution with ``width`` channels and stride ``(4, 2)``, whose output frames
    (channels x remaining bins) feed ``num_layers`` GRU layers of ``width`` units; the
    GRU outputs are averaged over time and classified by a linear layer.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Convolution channels and GRU units.
        num_layers (int): GRU layers. (Default: ``2``)
        kernel (tuple[int, int]): Convolution kernel (frequency, time). (Default: ``(10, 4)``)
        stride (tuple[int, int]): Convolution stride (frequency, time). (Default: ``(4, 2)``)
        causal (bool): Pad time only on the past side (``kernel[1] - 1`` frames), so that
            the model sees no future frame and can stream; the default pads both sides,
            looking ``kernel[1] // 2`` frames ahead. (Default: ``False``)

    Shapes: ``(B, F, T) -> (B, C, F', T') -> (B, T', C * F') -> (B, n_classes)``.
    """

    def __init__(
        self,
        n_classes: int,
        input_spec: InputSpec,
        width: int,
        num_layers: int = 2,
        kernel: tuple[int, int] = (10, 4),
        stride: tuple[int, int] = (4, 2),
        causal: bool = False,
    ) -> None:
        super().__init__()
        n_features, _ = input_spec.shape
        self.causal, self.n_features = causal, n_features
        self.kernel, self.stride = kernel, stride
        if causal:  # frequency padded as before; time: kernel - 1 zeros before the first frame, none after the last
            conv = nn.Conv2d(1, width, kernel, stride, (kernel[0] // 2, 0), bias=False)
            self.conv = nn.Sequential(nn.ZeroPad2d((kernel[1] - 1, 0, 0, 0)), conv, nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        else:
            self.conv = ConvBNReLU2d(1, width, kernel, stride)
        out_bins = conv_out_length(n_features, kernel[0], stride[0], padding=kernel[0] // 2)
        self.gru = nn.GRU(width * out_bins, width, num_layers, batch_first=True)
        self.fc = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.unsqueeze(1))  # (B, C, F', T')
        outputs, _ = self.gru(x.flatten(1, 2).transpose(1, 2))  # (B, T', C * F') -> (B, T', H)
        return self.fc(outputs.mean(dim=1))  # (B, H) -> (B, n_classes)


@register_model(
    "crnn",
    summary="convolutional front end + GRU",
    reference="Zhang et al. 2017, Hello Edge (CRNN); Arik et al. 2017, Convolutional Recurrent Neural Networks for KWS",
    default_width=48,
)
def crnn(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> CRNN:
    return CRNN(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]


@register_model(
    "crnn_causal",
    summary="the CRNN with a causal (past-only) convolution: streams frame by frame",
    reference="Zhang et al. 2017, Hello Edge (CRNN), with causal time padding",
    default_width=48,
    variant_of="crnn",
)
def crnn_causal(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> CRNN:
    return CRNN(n_classes, input_spec, width, causal=True, **overrides)  # type: ignore[arg-type]
