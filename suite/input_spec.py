"""What a model sees: sample rate, clip length and front end.

Every model family is built for an :class:`InputSpec`, so that two families compared at
the same budget see exactly the same audio. Spectrogram shapes follow the
torchaudio/librosa convention for a centred STFT: ``n_frames = 1 + n_samples // hop``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch

from suite.errors import SuiteError, UnknownNameError

FeatureKind = Literal["logmel", "mfcc", "raw"]
FEATURE_KINDS: tuple[str, ...] = ("logmel", "mfcc", "raw")


@dataclass(frozen=True)
class InputSpec:
    """The input of every model in a comparison.

    Args:
        sample_rate (int): Sample rate in Hz after resampling. (Default: ``16000``)
        clip_seconds (float): Every clip is padded or cropped to this length. (Default: ``1.0``)
        feature (str): Front end: ``"logmel"``, ``"mfcc"`` or ``"raw"``. (Default: ``"logmel"``)
        n_mels (int): Mel bands of the filterbank. (Default: ``40``)
        n_mfcc (int): Cepstral coefficients kept for ``"mfcc"``. (Default: ``40``)
        win_ms (float): Analysis window length in milliseconds. (Default: ``25.0``)
        hop_ms (float): Hop between frames in milliseconds. (Default: ``10.0``)

    A model takes a batch of shape ``(B, n_features, n_frames)`` for ``logmel`` and
    ``mfcc``, and ``(B, n_samples)`` for ``raw``: see :attr:`shape`.
    """

    sample_rate: int = 16000
    clip_seconds: float = 1.0
    feature: FeatureKind = "logmel"
    n_mels: int = 40
    n_mfcc: int = 40
    win_ms: float = 25.0
    hop_ms: float = 10.0

    def __post_init__(self) -> None:
        if self.feature not in FEATURE_KINDS:
            raise SuiteError(f"unknown feature kind {self.feature!r}; expected one of {', '.join(FEATURE_KINDS)}")
        for name in ("sample_rate", "clip_seconds", "n_mels", "n_mfcc", "win_ms", "hop_ms"):
            if not getattr(self, name) > 0:
                raise SuiteError(f"input spec: {name} must be positive, got {getattr(self, name)!r}")
        if self.feature == "mfcc" and self.n_mfcc > self.n_mels:
            raise SuiteError(f"input spec: n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if self.hop_length < 1 or self.n_samples < self.win_length:
            raise SuiteError("input spec: the clip is shorter than one analysis window")

    @property
    def n_samples(self) -> int:
        """Samples per clip."""
        return round(self.sample_rate * self.clip_seconds)

    @property
    def hop_length(self) -> int:
        """Hop in samples."""
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def win_length(self) -> int:
        """Window in samples."""
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def n_fft(self) -> int:
        """FFT size: the smallest power of two that holds the window."""
        return 1 << math.ceil(math.log2(self.win_length))

    @property
    def n_frames(self) -> int:
        """Frames of a centred STFT over one clip."""
        return 1 + self.n_samples // self.hop_length

    @property
    def n_features(self) -> int:
        """Feature bins per frame (0 for ``raw``)."""
        return {"logmel": self.n_mels, "mfcc": self.n_mfcc, "raw": 0}[self.feature]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example, without the batch dimension."""
        if self.feature == "raw":
            return (self.n_samples,)
        return (self.n_features, self.n_frames)

    def replace(self, **changes: object) -> InputSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def example(self, batch_size: int = 1, device: str | torch.device = "cpu") -> torch.Tensor:
        """A random batch of this shape, ``(batch_size, *shape)``, for tracing and timing."""
        generator = torch.Generator().manual_seed(0)
        return torch.randn((batch_size, *self.shape), generator=generator).to(device)

    def describe(self) -> str:
        """One line for people, e.g. ``16 kHz, 1.0 s, logmel 40 x 101``."""
        head = f"{self.sample_rate / 1000:g} kHz, {self.clip_seconds:g} s, {self.feature}"
        return f"{head} {self.n_samples} samples" if self.feature == "raw" else f"{head} {' x '.join(map(str, self.shape))}"


#: Inputs named on the command line (``--input``). ``default`` is the suite's reference
#: input: a 1-second 16 kHz clip, 40 log-mel bins, 25 ms windows, 10 ms hop.
INPUT_PRESETS: dict[str, InputSpec] = {
    "default": InputSpec(),
    # FSDD is 8 kHz; 1 s holds 99 % of its recordings (median 0.42 s).
    "fsdd": InputSpec(sample_rate=8000, clip_seconds=1.0),
    # Speech Commands v0.02 clips are 1 s at 16 kHz.
    "speech_commands": InputSpec(sample_rate=16000, clip_seconds=1.0),
    # ESC-50 clips are 5 s at 44.1 kHz; 22.05 kHz and 64 bands are common practice.
    "esc50": InputSpec(sample_rate=22050, clip_seconds=5.0, n_mels=64, n_mfcc=40),
    # UrbanSound8K clips are at most 4 s.
    "urbansound8k": InputSpec(sample_rate=22050, clip_seconds=4.0, n_mels=64, n_mfcc=40),
}


#: Classes of the data set behind each preset, the default ``n_classes`` when profiling.
PRESET_CLASSES: dict[str, int] = {"default": 10, "fsdd": 10, "speech_commands": 12, "esc50": 50, "urbansound8k": 10}


def input_preset(name: str) -> InputSpec:
    """The :class:`InputSpec` registered under ``name`` (see :data:`INPUT_PRESETS`)."""
    try:
        return INPUT_PRESETS[name]
    except KeyError:
        raise UnknownNameError(f"unknown input {name!r}; available: {', '.join(INPUT_PRESETS)}") from None
