"""Helpers shared by the tests: the registry, so every family is covered automatically."""

from __future__ import annotations

from suite.input_spec import InputSpec
from suite.models import get_family, list_models

ALL_MODELS = list_models()


def spec_for(name: str, spec: InputSpec | None = None) -> InputSpec:
    """The input a family is measured on (raw waveform for samplecnn)."""
    return get_family(name).adapt_input(spec or InputSpec())
