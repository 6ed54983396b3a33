"""The registry: listing, patterns, helpful errors."""

from __future__ import annotations

import pytest

from suite.errors import SuiteError, UnknownNameError
from suite.input_spec import InputSpec
from suite.models import create_model, get_family, list_models, register_model, resolve_model_names
from tests.helpers import ALL_MODELS


def test_list_models_with_pattern() -> None:
    assert list_models("cnn*") == ["cnn1d", "cnn2d"]
    assert list_models("*rnn*") == ["rnn", "crnn"]
    assert list_models("nothing*") == []


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_family_is_documented(name: str) -> None:
    family = get_family(name)
    assert family.summary and family.reference
    assert any(ch.isdigit() for ch in family.reference), "the reference should carry its year"
    assert family.builder.__module__.startswith("suite.models.")
    model = create_model(name, 10, family.adapt_input(InputSpec()))
    assert type(model).__doc__ and len(type(model).__doc__) > 200, "the model class needs a docstring with its reference"


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError) as error:
        get_family("lstn")
    assert "did you mean lstm" in str(error.value)
    assert "available: mlp" in str(error.value)


def test_resolve_model_names() -> None:
    assert resolve_model_names("all") == ALL_MODELS
    assert resolve_model_names("gru, lstm,gru") == ["gru", "lstm"]
    assert resolve_model_names("cnn*,tcn") == ["cnn1d", "cnn2d", "tcn"]
    with pytest.raises(UnknownNameError, match="no model matches"):
        resolve_model_names("zzz*")
    with pytest.raises(SuiteError, match="no model selected"):
        resolve_model_names(" , ")


def test_create_model_validates() -> None:
    spec = InputSpec()
    with pytest.raises(SuiteError, match="takes raw input"):
        create_model("samplecnn", 10, spec)
    with pytest.raises(SuiteError, match="n_classes"):
        create_model("mlp", 1, spec)
    with pytest.raises(SuiteError, match="width"):
        create_model("mlp", 10, spec, width=0)
    with pytest.raises(SuiteError, match="unexpected keyword"):
        create_model("mlp", 10, spec, widht=3)


def test_overrides_reach_the_family() -> None:
    spec = InputSpec()
    deep = create_model("cnn1d", 10, spec, width=8, depth=6)
    shallow = create_model("cnn1d", 10, spec, width=8, depth=2)
    assert sum(p.numel() for p in deep.parameters()) > sum(p.numel() for p in shallow.parameters())


def test_adapt_input_switches_only_what_the_family_cannot_take() -> None:
    spec = InputSpec(feature="mfcc")
    assert get_family("cnn2d").adapt_input(spec) is spec
    assert get_family("samplecnn").adapt_input(spec).feature == "raw"


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register_model("mlp", summary="x", reference="x 2000", default_width=1)(lambda **kw: None)
