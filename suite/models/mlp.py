"""Fully connected network on the flattened log-mel patch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from suite.input_spec import InputSpec
from suite.models.registry import register_model


class MLP(nn.Module):
    """Fully connected classifier on a flattened spectrogram patch.

    Follows the DNN baseline of Hello Edge (Zhang et al. 2017, arXiv:1711.07128): the
    feature patch is flattened and fed through ``depth`` hidden layers. Before
    flattening, frames are average-pooled by ``time_pool`` (40 ms with a 10 ms hop, the
    frame stride Hello Edge uses) so that the first layer does not dwarf the others.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Units of every hidden layer.
        depth (int): Hidden layers. (Default: ``3``)
        time_pool (int): Frames averaged before flattening. (Default: ``4``)
        dropout (float): Dropout after each hidden layer. (Default: ``0.1``)

    Shapes: ``(B, F, T) -> (B, n_classes)``.
    """

    def __init__(
        self, n_classes: int, input_spec: InputSpec, width: int, depth: int = 3, time_pool: int = 4, dropout: float = 0.1
    ) -> None:
        super().__init__()
        n_features, n_frames = input_spec.shape
        self.time_pool = time_pool
        layers: list[nn.Module] = []
        in_features = n_features * (n_frames // time_pool)
        for _ in range(depth):
            layers += [nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            in_features = width
        self.hidden = nn.Sequential(*layers)
        self.fc = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool1d(x, self.time_pool)  # (B, F, T) -> (B, F, T // pool)
        return self.fc(self.hidden(x.flatten(1)))  # (B, F * T // pool) -> (B, n_classes)


@register_model(
    "mlp",
    summary="fully connected layers on the flattened log-mel patch",
    reference="Zhang et al. 2017, Hello Edge: Keyword Spotting on Microcontrollers (DNN)",
    default_width=128,
    max_width=8192,
)
def mlp(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> MLP:
    return MLP(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
