"""Recurrent encoder with attention pooling over time."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.registry import register_model


class AttentionRNN(nn.Module):
    """Neural attention model for speech commands (de Andrade et al. 2018, arXiv:1808.08929).

    Two ``5x1`` convolutions (10 channels, then back to 1) smooth the spectrogram along
    frequency, two bidirectional LSTM layers of ``width`` units per direction encode the
    frames, and a dot-product attention whose query is a projection of the middle
    frame's encoding pools the sequence into one vector. Two linear layers classify it.

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): LSTM units per direction.
        conv_channels (int): Channels of the first convolution. (Default: ``10``)

    Shapes: ``(B, F, T) -> (B, T, 2H) -> (B, 2H) -> (B, n_classes)``.
    """

    def __init__(self, n_classes: int, input_spec: InputSpec, width: int, conv_channels: int = 10) -> None:
        super().__init__()
        n_features, _ = input_spec.shape
        self.conv = nn.Sequential(
            nn.Conv2d(1, conv_channels, (5, 1), padding=(2, 0)),
            nn.BatchNorm2d(conv_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(conv_channels, 1, (5, 1), padding=(2, 0)),
            nn.BatchNorm2d(1),
            nn.ReLU(inplace=True),
        )
        self.lstm = nn.LSTM(n_features, width, num_layers=2, batch_first=True, bidirectional=True)
        self.query = nn.Linear(2 * width, 2 * width)
        self.head = nn.Sequential(nn.Linear(2 * width, width), nn.ReLU(inplace=True), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.unsqueeze(1)).squeeze(1)  # (B, F, T)
        encoded, _ = self.lstm(x.transpose(1, 2))  # (B, T, 2H)
        query = self.query(encoded[:, encoded.shape[1] // 2]).unsqueeze(1)  # (B, 1, 2H)
        weights = torch.softmax(torch.bmm(query, encoded.transpose(1, 2)), dim=-1)  # (B, 1, T)
        context = torch.bmm(weights, encoded).squeeze(1)  # (B, 2H)
        return self.head(context)  # (B, n_classes)


@register_model(
    "attention",
    summary="conv + bidirectional LSTM encoder with attention pooling over time",
    reference="de Andrade et al. 2018, A Neural Attention Model for Speech Command Recognition",
    default_width=64,
)
def attention(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> AttentionRNN:
    return AttentionRNN(n_classes, input_spec, width, **overrides)  # type: ignore[arg-type]
