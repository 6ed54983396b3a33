"""Decoding and preparing audio: any rate, channel count and sample format becomes mono at the target rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from suite.audio import AudioDecodeError, fix_length, prepare_waveform, read_audio
from tests.helpers_audio import write_wav


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT", "PCM_U8"])
def test_read_any_sample_format(tmp_path: Path, subtype: str) -> None:
    path = write_wav(tmp_path / "x.wav", 0.25, 8000, subtype=subtype)
    waveform, rate = read_audio(path)
    assert rate == 8000 and waveform.dtype == np.float32 and waveform.shape == (1, 2000)
    assert 0 < np.abs(waveform).max() <= 1.0


def test_stereo_44k_becomes_mono_8k(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "stereo.wav", 1.0, 44100, channels=2)
    waveform, rate = read_audio(path)
    assert waveform.shape == (2, 44100) and rate == 44100
    prepared = prepare_waveform(waveform, rate, 8000, 8000)
    assert prepared.shape == (8000,) and prepared.dtype == np.float32


def test_resampling_keeps_a_tone(tmp_path: Path) -> None:
    rate = 44100
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    prepared = prepare_waveform(tone[None, :], rate, 8000, 8000)
    spectrum = np.abs(np.fft.rfft(prepared))
    assert abs(np.argmax(spectrum) * 8000 / 8000 - 440) <= 1


def test_window_of_a_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", 3.0, 16000)
    waveform, _ = read_audio(path, offset=1.0, duration=1.0)
    full, _ = read_audio(path)
    assert np.array_equal(waveform, full[:, 16000:32000])


def test_empty_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    soundfile.write(str(path), np.zeros((0, 1), dtype=np.float32), 8000)
    with pytest.raises(AudioDecodeError, match=r"empty\.wav holds no samples"):
        read_audio(path)


@pytest.mark.parametrize("content", [b"", b"not audio at all", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_corrupt_or_non_audio_file_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError, match=r"cannot decode .*broken\.wav"):
        read_audio(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match=r"gone\.wav"):
        read_audio(tmp_path / "gone.wav")


def test_fix_length() -> None:
    signal = np.arange(10, dtype=np.float32)
    assert fix_length(signal, 14).tolist() == [*range(10), 0, 0, 0, 0]
    assert fix_length(signal, 4).tolist() == [3, 4, 5, 6]
    assert fix_length(signal, 10) is signal or np.array_equal(fix_length(signal, 10), signal)
