"""Input specs: shapes follow the centred-STFT convention; bad values are clear errors."""

from __future__ import annotations

import pytest

from suite.errors import SuiteError, UnknownNameError
from suite.input_spec import INPUT_PRESETS, PRESET_CLASSES, InputSpec, input_preset


def test_default_is_one_second_16k_40_mels_10ms_hop() -> None:
    spec = InputSpec()
    assert (spec.sample_rate, spec.n_samples, spec.hop_length, spec.win_length, spec.n_fft) == (16000, 16000, 160, 400, 512)
    assert spec.shape == (40, 101)
    assert spec.replace(feature="raw").shape == (16000,)
    assert spec.replace(feature="mfcc", n_mfcc=13).shape == (13, 101)


def test_fsdd_preset() -> None:
    spec = input_preset("fsdd")
    assert spec.sample_rate == 8000 and spec.shape == (40, 101) and spec.n_fft == 256


def test_every_preset_has_a_class_count() -> None:
    assert set(PRESET_CLASSES) == set(INPUT_PRESETS)


def test_example_is_seeded() -> None:
    assert InputSpec().example(2).shape == (2, 40, 101)
    assert InputSpec().example(1).equal(InputSpec().example(1))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"feature": "stft"}, "unknown feature kind"),
        ({"sample_rate": 0}, "sample_rate must be positive"),
        ({"clip_seconds": -1.0}, "clip_seconds must be positive"),
        ({"feature": "mfcc", "n_mfcc": 80}, "cannot exceed n_mels"),
        ({"clip_seconds": 0.001}, "shorter than one analysis window"),
    ],
)
def test_invalid_specs(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        InputSpec().replace(**changes)


def test_unknown_preset_lists_available() -> None:
    with pytest.raises(UnknownNameError, match="available: default, fsdd"):
        input_preset("librispeech")
