"""The streaming interface: one step per hop, with the state passed in and out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch

#: A streamer's state: named tensors, returned anew by every step (the input state is never changed).
State = dict[str, torch.Tensor]


class Streamer(ABC):
    """A model run one hop at a time.

    Attributes:
        mode: ``"state"`` (exact: a small state is updated per hop) or ``"window"``
            (the model's whole input is recomputed at every hop).
        hop_shape: What one step takes, without the batch: ``(F,)`` for a feature frame,
            ``(hop_length,)`` for raw samples.
        lookahead_frames: Future hops the output needs before it is final (0: causal).
        receptive_field_frames: Hops one time step's features depend on; ``None`` when
            unbounded (a recurrent state carries the whole past). A model that averages
            over time averages everything heard so far on top of it.
        period: Hops after which the work per hop repeats (a strided layer runs on every
            ``stride``-th hop only): per-hop latency is timed over whole periods.
    """

    mode: ClassVar[str]
    hop_shape: tuple[int, ...]
    lookahead_frames: int = 0
    receptive_field_frames: int | None = None
    period: int = 1

    @abstractmethod
    def initial_state(self, batch: int) -> State:
        """The state before the first hop (zeros: what the full model's padding or initial state is)."""

    @abstractmethod
    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One hop ``(B, *hop_shape)`` in, logits ``(B, n_classes)`` for everything heard so far out, and the new state."""


def run_stream(streamer: Streamer, hops: torch.Tensor) -> torch.Tensor:
    """Stream ``hops`` ``(B, T, *hop_shape)`` step by step; returns the logits after every hop, ``(B, T, n_classes)``."""
    state = streamer.initial_state(hops.shape[0])
    outputs = []
    with torch.inference_mode():
        for index in range(hops.shape[1]):
            logits, state = streamer.step(hops[:, index], state)
            outputs.append(logits)
    return torch.stack(outputs, dim=1)


def state_bytes(state: State) -> int:
    """Bytes the state holds between two hops (every tensor, counters included)."""
    return sum(tensor.nelement() * tensor.element_size() for tensor in state.values())
