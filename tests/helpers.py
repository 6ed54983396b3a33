"""Helpers shared by the tests: the registry, so every family is covered automatically."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from suite.input_spec import InputSpec
from suite.models import get_family, list_models

ALL_MODELS = list_models()


def spec_for(name: str, spec: InputSpec | None = None) -> InputSpec:
    """The input a family is measured on (raw waveform for samplecnn)."""
    return get_family(name).adapt_input(spec or InputSpec())


#: The smallest run config: two families on 3 synthetic classes, 2 epochs (seconds to run).
TINY = {
    "name": "tiny",
    "dataset": {"name": "synthetic", "options": {"n_classes": 3, "examples_per_class": 10}},
    "models": ["mlp", "cnn1d"],
    "budgets": {"params": ["20k"]},
    "seeds": [0],
    "training": {"epochs": 2, "batch_size": 8, "patience": 2},
}


def load_benchmark(name: str) -> ModuleType:
    """The script ``benchmarks/<name>.py`` as a module (benchmarks/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module
