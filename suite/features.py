"""Front ends as torch modules: ``raw``, ``logmel`` and ``mfcc``.

The STFT is :func:`torch.stft` (centred, Hann window), the mel filterbank comes from
librosa (Slaney-style, as librosa and torchaudio's ``norm="slaney"`` build it), and the
MFCC is the orthonormal DCT-II of the log-mel spectrum from scipy. Being modules, the
front ends run on any device and can be timed with the model (end-to-end latency).
"""

from __future__ import annotations

import librosa
import numpy as np
import scipy.fft
import torch
from torch import nn

from suite.input_spec import InputSpec

#: Bumped whenever what a front end computes changes, so cached features are rebuilt.
FEATURES_VERSION = 1
LOG_FLOOR = 1e-6


class LogMel(nn.Module):
    """Log mel spectrogram: ``(B, S) -> (B, n_mels, n_frames)``.

    ``log(mel_filterbank @ |STFT|^2 + 1e-6)`` with ``n_fft``, ``win_length`` and
    ``hop_length`` from the :class:`InputSpec`.
    """

    def __init__(self, spec: InputSpec) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = spec.n_fft, spec.hop_length, spec.win_length
        filterbank = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels)
        self.register_buffer("filterbank", torch.from_numpy(filterbank.astype(np.float32)), persistent=False)
        self.register_buffer("window", torch.hann_window(spec.win_length), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        stft = torch.stft(
            waveform,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )  # (B, n_fft // 2 + 1, T)
        power = stft.real.square() + stft.imag.square()
        return torch.log(torch.matmul(self.filterbank, power) + LOG_FLOOR)  # (B, n_mels, T)


class MFCC(nn.Module):
    """MFCC: orthonormal DCT-II over the mel axis of :class:`LogMel`: ``(B, S) -> (B, n_mfcc, n_frames)``."""

    def __init__(self, spec: InputSpec) -> None:
        super().__init__()
        self.logmel = LogMel(spec)
        dct = scipy.fft.dct(np.eye(spec.n_mels), type=2, norm="ortho", axis=0)[: spec.n_mfcc]  # (n_mfcc, n_mels)
        self.register_buffer("dct", torch.from_numpy(dct.astype(np.float32)), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.matmul(self.dct, self.logmel(waveform))  # (B, n_mfcc, T)


def build_frontend(spec: InputSpec) -> nn.Module:
    """The front end named by ``spec.feature``; ``raw`` is the identity."""
    return {"raw": lambda s: nn.Identity(), "logmel": LogMel, "mfcc": MFCC}[spec.feature](spec)
