"""Which streamer a model gets: its exact one when its family has one, else the sliding window."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from suite.input_spec import InputSpec
from suite.models.attention import AttentionRNN
from suite.models.cnn1d import CNN1d
from suite.models.crnn import CRNN
from suite.models.recurrent import RecurrentClassifier
from suite.models.tcn import TCN
from suite.models.transformer import KeywordTransformer
from suite.streaming.base import Streamer
from suite.streaming.stateful import (
    CausalAttentionStreamer,
    CausalCNN1dStreamer,
    CausalCRNNStreamer,
    CausalTCNStreamer,
    CausalTransformerStreamer,
    RecurrentStreamer,
)
from suite.streaming.window import SlidingWindow

#: Exact streamers by model class, and when each applies (the convolutional and attention families only when causal).
_EXACT: list[tuple[type[nn.Module], Callable[[nn.Module], bool], Callable[[nn.Module], Streamer]]] = [
    (RecurrentClassifier, lambda m: not m.rnn.bidirectional, RecurrentStreamer),
    (TCN, lambda m: m.causal, CausalTCNStreamer),
    (CRNN, lambda m: m.causal, CausalCRNNStreamer),
    (CNN1d, lambda m: m.causal, CausalCNN1dStreamer),
    (AttentionRNN, lambda m: m.causal, CausalAttentionStreamer),
    (KeywordTransformer, lambda m: m.causal, CausalTransformerStreamer),
]


def streamer_for(model: nn.Module, spec: InputSpec) -> Streamer:
    """The exact streamer of ``model`` when there is one, else a :class:`SlidingWindow` over ``spec``'s input.

    A model of its own (a plugin) streams exactly by having a ``streamer()`` method that
    returns a :class:`Streamer`.
    """
    own = getattr(model, "streamer", None)
    if callable(own):
        return own()
    for kind, applies, build in _EXACT:
        if isinstance(model, kind) and applies(model):
            return build(model)
    return SlidingWindow(model, spec)
