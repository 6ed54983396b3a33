"""Shared fixtures: the reference input and the registry, so every family is covered."""

from __future__ import annotations

import pytest
import torch

from suite.input_spec import InputSpec
from suite.models import get_family, list_models

ALL_MODELS = list_models()


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture
def default_spec() -> InputSpec:
    return InputSpec()


def spec_for(name: str, spec: InputSpec | None = None) -> InputSpec:
    """The input a family is measured on (raw waveform for samplecnn)."""
    return get_family(name).adapt_input(spec or InputSpec())
