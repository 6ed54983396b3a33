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
        causal (bool): One LSTM direction of ``2 * width`` units instead of two of ``width``,
            and the query from the newest frame over the last ``context`` frames instead of
            the middle frame over all: no output depends on a later frame, so the model
            streams. (Default: ``False``)
        context (int, optional): Frames the causal attention looks back over. (Default: the
            clip's frames)

    Shapes: ``(B, F, T) -> (B, T, 2H) -> (B, 2H) -> (B, n_classes)``.
    """

    def __init__(
        self,
        n_classes: int,
        input_spec: InputSpec,
        width: int,
        conv_channels: int = 10,
        causal: bool = False,
        context: int | None = None,
    ) -> None:
        super().__init__()
        n_features, n_frames = input_spec.shape
        self.causal = causal
        self.context = context or n_frames
        self.conv = nn.Sequential(
            nn.Conv2d(1, conv_channels, (5, 1), padding=(2, 0)),
            nn.BatchNorm2d(conv_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(conv_channels, 1, (5, 1), padding=(2, 0)),
            nn.BatchNorm2d(1),
            nn.ReLU(inplace=True),
        )
        # Causal: one direction of 2 * width units, so the encoding keeps its size (2H) and the head is unchanged.
        directions = 1 if causal else 2
        self.lstm = nn.LSTM(n_features, 2 * width // directions, num_layers=2, batch_first=True, bidirectional=not causal)
        self.query = nn.Linear(2 * width, 2 * width)
        self.head = nn.Sequential(nn.Linear(2 * width, width), nn.ReLU(inplace=True), nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.unsqueeze(1)).squeeze(1)  # (B, F, T): the convolutions are along frequency only
        encoded, _ = self.lstm(x.transpose(1, 2))  # (B, T, 2H)
        if self.causal:  # the newest frame asks, over the last `context` frames
            encoded = encoded[:, -self.context :]
            query = self.query(encoded[:, -1]).unsqueeze(1)  # (B, 1, 2H)
        else:
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


@register_model(
    "attention_causal",
    summary="the attention model made causal: one LSTM direction, the newest frame's query over a bounded past",
    reference="de Andrade et al. 2018, made causal here (no published causal form)",
    default_width=64,
    variant_of="attention",
)
def attention_causal(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> AttentionRNN:
    return AttentionRNN(n_classes, input_spec, width, causal=True, **overrides)  # type: ignore[arg-type]
