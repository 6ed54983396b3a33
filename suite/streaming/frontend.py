"""The front end, one hop at a time: an incremental log-mel (and MFCC) frame per hop of samples.

The offline front end (:class:`suite.features.LogMel`) frames a *centred* STFT: frame
``t`` covers samples ``[t * hop - n_fft / 2, t * hop + n_fft / 2)``. Streaming, frame
``t`` can be computed once ``n_fft / 2`` samples past its centre have arrived: that half
window is the front end's lookahead (16 ms at 16 kHz with a 512-point FFT). Each hop
costs one windowed ``n_fft``-point real FFT, the mel product and the log, and the
frames equal the offline ones (a test checks it).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from suite.features import LOG_FLOOR, MFCC, LogMel, build_frontend
from suite.input_spec import InputSpec
from suite.streaming.base import State


class IncrementalFrontEnd(nn.Module):
    """Log-mel or MFCC frames from hops of ``hop_length`` samples: ``(B, hop) -> (B, n_features)``.

    State: the last ``n_fft + delay`` samples, where ``delay`` rounds the half window up to
    whole hops (the frame is emitted ``ceil(n_fft / 2 / hop)`` hops after its centre).
    """

    def __init__(self, spec: InputSpec) -> None:
        super().__init__()
        offline = build_frontend(spec)
        if not isinstance(offline, LogMel | MFCC):
            raise ValueError(f"{spec.feature!r} input has no front end to stream")
        logmel = offline.logmel if isinstance(offline, MFCC) else offline
        self.dct = offline.dct if isinstance(offline, MFCC) else None
        self.n_fft, self.hop = spec.n_fft, spec.hop_length
        self.delay_hops = math.ceil(self.n_fft / 2 / self.hop)
        self.skip = self.delay_hops * self.hop - self.n_fft // 2  # newest samples not yet in the emitted frame
        left = (self.n_fft - spec.win_length) // 2  # torch.stft centres the window in the FFT frame
        window = torch.zeros(self.n_fft)
        window[left : left + spec.win_length] = logmel.window
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("filterbank", logmel.filterbank, persistent=False)
        self.lookahead_ms = self.n_fft / 2 / spec.sample_rate * 1000

    def initial_state(self, batch: int) -> State:
        # The offline STFT pads n_fft / 2 zeros before the clip: the buffer starts as zeros.
        return {"samples": torch.zeros(batch, self.n_fft + self.skip)}

    def step(self, hop: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One hop of samples in; the frame whose last sample has now arrived out, and the new state."""
        samples = torch.cat([state["samples"][:, hop.shape[1] :], hop], dim=1)
        frame = samples[:, : self.n_fft] if self.skip else samples
        power = torch.fft.rfft(frame * self.window).abs().square()  # (B, n_fft // 2 + 1)
        features = torch.log(power @ self.filterbank.T + LOG_FLOOR)  # (B, n_mels)
        if self.dct is not None:
            features = features @ self.dct.T  # (B, n_mfcc)
        return features, {"samples": samples}
