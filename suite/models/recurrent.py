"""Recurrent networks over frames: vanilla RNN, LSTM and GRU."""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.models.registry import register_model

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentClassifier(nn.Module):
    """Stacked recurrent layers over the feature frames, mean-pooled over time.

    The Hello Edge LSTM/GRU baselines (Zhang et al. 2017) in a common form: frames are
    the time steps and the bins the inputs. The outputs are averaged over time rather
    than taking the last step, which keeps gradients flowing to early frames (this
    matters most for the vanilla RNN).

    Args:
        n_classes (int): Output logits.
        input_spec (InputSpec): Shape ``(F, T)`` of the input features.
        width (int): Hidden units per layer and direction.
        cell (str): ``"rnn"`` (tanh, Elman 1990), ``"lstm"`` (Hochreiter & Schmidhuber
            1997) or ``"gru"`` (Cho et al. 2014). (Default: ``"lstm"``)
        num_layers (int): Stacked layers. (Default: ``2``)
        bidirectional (bool): Run both directions. (Default: ``False``)
        dropout (float): Dropout between layers. (Default: ``0.1``)

    Shapes: ``(B, F, T) -> (B, T, F) -> (B, T, H) -> (B, n_classes)``.
    """

    def __init__(
        self,
        n_classes: int,
        input_spec: InputSpec,
        width: int,
        cell: str = "lstm",
        num_layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        n_features, _ = input_spec.shape
        self.rnn = CELLS[cell](n_features, width, num_layers, batch_first=True, dropout=dropout, bidirectional=bidirectional)
        self.fc = nn.Linear(width * (2 if bidirectional else 1), n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(x.transpose(1, 2))  # (B, T, F) -> (B, T, H * directions)
        return self.fc(outputs.mean(dim=1))  # (B, H * directions) -> (B, n_classes)


def _register(cell: str, summary: str, reference: str, default_width: int) -> None:
    @register_model(cell, summary=summary, reference=reference, default_width=default_width)
    def build(n_classes: int, input_spec: InputSpec, width: int, **overrides: object) -> RecurrentClassifier:
        return RecurrentClassifier(n_classes, input_spec, width, cell=cell, **overrides)  # type: ignore[arg-type]


# Variants as data: one class, three registered families.
_register("rnn", "vanilla (tanh) RNN over frames", "Elman 1990, Finding Structure in Time", 128)
_register("lstm", "LSTM over frames", "Hochreiter & Schmidhuber 1997, Long Short-Term Memory", 64)
_register("gru", "GRU over frames", "Cho et al. 2014, Learning Phrase Representations using RNN Encoder-Decoder", 64)
