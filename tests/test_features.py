"""Front ends agree with librosa, and their shapes with InputSpec."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from suite.features import LOG_FLOOR, build_frontend
from suite.input_spec import InputSpec


@pytest.mark.parametrize("rate", [8000, 16000])
def test_logmel_matches_librosa(rate: int) -> None:
    spec = InputSpec(sample_rate=rate)
    signal = torch.randn(2, spec.n_samples, generator=torch.Generator().manual_seed(0))
    features = build_frontend(spec)(signal)
    assert features.shape == (2, *spec.shape)
    reference = librosa.feature.melspectrogram(
        y=signal[1].numpy(), sr=rate, n_fft=spec.n_fft, hop_length=spec.hop_length, win_length=spec.win_length, n_mels=spec.n_mels
    )
    np.testing.assert_allclose(features.numpy()[1], np.log(reference + LOG_FLOOR), atol=1e-5)


def test_mfcc_matches_librosa() -> None:
    spec = InputSpec(sample_rate=8000, feature="mfcc", n_mfcc=13)
    signal = torch.randn(1, spec.n_samples, generator=torch.Generator().manual_seed(1))
    features = build_frontend(spec)(signal)
    assert features.shape == (1, 13, spec.n_frames)
    logmel = build_frontend(spec.replace(feature="logmel"))(signal)[0].numpy()
    np.testing.assert_allclose(features[0].numpy(), librosa.feature.mfcc(S=logmel, n_mfcc=13), atol=1e-5)


def test_raw_is_identity() -> None:
    signal = torch.randn(3, 8000)
    assert torch.equal(build_frontend(InputSpec(sample_rate=8000, feature="raw"))(signal), signal)
