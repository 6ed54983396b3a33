"""Decoding and preparing audio: soundfile to read, soxr to resample.

Every clip goes through the same steps: decode (any format libsndfile reads, any bit
depth, as float32), mix to mono, resample to the comparison's rate, then pad with
zeros at the end or crop around the centre to the clip length. A decoded clip must hold
samples, all finite: a float file with a NaN or an infinity would make every training
loss NaN, or be scored as it is, so it is refused like a file that cannot be decoded.
"""

from __future__ import annotations

import os

import numpy as np
import soundfile
import soxr

from suite.errors import SuiteError


class AudioDecodeError(SuiteError):
    """A file that cannot be decoded, holds no samples, or holds a sample that is NaN or infinite."""


def read_audio(path: str | os.PathLike[str], offset: float = 0.0, duration: float | None = None) -> tuple[np.ndarray, int]:
    """Decode ``path`` (optionally a window of it) to ``(waveform (channels, samples) float32, sample_rate)``.

    Raises:
        AudioDecodeError: naming the file, when it is missing, not audio, empty, or holds
            NaN or infinite samples (a float or double WAV can).
    """
    try:
        info = soundfile.info(str(path))
        start = round(offset * info.samplerate)
        frames = -1 if duration is None else round(duration * info.samplerate)
        data, sample_rate = soundfile.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as error:
        raise AudioDecodeError(f"cannot decode {path}: {error}") from None
    if data.shape[0] == 0:
        raise AudioDecodeError(f"{path} holds no samples")
    finite = np.isfinite(data)
    if not finite.all():
        first = int(np.argmin(finite.all(axis=1)))  # the first frame with a NaN or an infinity
        kinds = " and ".join(kind for kind, found in (("NaN", np.isnan(data).any()), ("infinite", np.isinf(data).any())) if found)
        raise AudioDecodeError(f"{path} holds {kinds} samples (first at sample {start + first})")
    return np.ascontiguousarray(data.T), int(sample_rate)


def prepare_waveform(waveform: np.ndarray, sample_rate: int, target_rate: int, n_samples: int) -> np.ndarray:
    """Mix to mono, resample to ``target_rate`` (soxr, high quality) and fix the length.

    Args:
        waveform (np.ndarray): ``(channels, samples)`` or ``(samples,)``.
        sample_rate (int): Rate of ``waveform``.
        target_rate (int): Rate wanted.
        n_samples (int): Length wanted; shorter clips are zero-padded at the end,
            longer ones cropped around their centre.

    Returns:
        np.ndarray: ``(n_samples,)`` float32.
    """
    mono = waveform.mean(axis=0) if waveform.ndim == 2 else waveform
    if sample_rate != target_rate:
        mono = soxr.resample(mono, sample_rate, target_rate, quality="HQ")
    return fix_length(np.asarray(mono, dtype=np.float32), n_samples)


def fix_length(signal: np.ndarray, n_samples: int) -> np.ndarray:
    """Zero-pad at the end or crop around the centre to exactly ``n_samples``."""
    if len(signal) >= n_samples:
        start = (len(signal) - n_samples) // 2
        return signal[start : start + n_samples]
    return np.pad(signal, (0, n_samples - len(signal)))
