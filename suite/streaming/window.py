"""The sliding window: how a model that needs its whole input listens to a stream.

At every hop the window moves by one frame (or one hop of samples) and the model runs
on all of it again: the cost per hop is the full model's, the state is the window
itself, and the receptive field is the window (the model's input length).
"""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.streaming.base import State, Streamer


class SlidingWindow(Streamer):
    """Recompute ``model`` over the last ``spec.n_frames`` frames (or ``spec.n_samples`` samples) at every hop.

    Before the window has filled, its start holds zeros (silence in the feature domain is
    not zero, so those first outputs are not the model's on a shorter clip; after
    ``n_frames`` hops the window is exactly the last clip-length of the stream).
    """

    mode = "window"

    def __init__(self, model: nn.Module, spec: InputSpec) -> None:
        self.model, self.spec = model, spec
        self.raw = spec.feature == "raw"
        self.hop_shape = (spec.hop_length,) if self.raw else (spec.n_features,)
        self.receptive_field_frames = spec.n_samples // spec.hop_length if self.raw else spec.n_frames

    def initial_state(self, batch: int) -> State:
        return {"window": torch.zeros(batch, *self.spec.shape)}

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        if self.raw:  # (B, S): the oldest hop of samples out, the new one in
            window = torch.cat([state["window"][:, hop.shape[1] :], hop], dim=1)
        else:  # (B, F, T): the oldest frame out, the new one in
            window = torch.cat([state["window"][:, :, 1:], hop.unsqueeze(2)], dim=2)
        return self.model(window), {"window": window}
