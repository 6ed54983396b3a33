"""Benchmark suite for audio deep-learning architectures.

The package answers one question: *at the same budget, which audio architecture is
best, and at what cost?* The command line (``suite run|profile|report|compare|history``)
calls the functions of the public API, which are importable from here::

    import suite

    run = suite.run("configs/smoke.yaml", data_root="../shared/data")
    print(run.results[["model", "params", "accuracy"]])
    suite.report(run.run_dir)
    suite.compare("results/baselines/ci", run.run_dir).exit_code

Your own families and data sets: :func:`register_model` and :func:`register_dataset`
in-process, or a ``module:attribute`` reference or an installed entry point by name
(see "Benchmark your own model" in the README). The API's modules are imported on first
use, so ``import suite`` stays quick.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("audio-arch-suite")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

#: Public name -> the module that defines it (imported on first access, PEP 562).
_API = {
    "run": "suite.api",
    "profile": "suite.api",
    "report": "suite.api",
    "compare": "suite.api",
    "history": "suite.api",
    "load_results": "suite.api",
    "RunResult": "suite.api",
    "ModelFamily": "suite.models",
    "register_model": "suite.models",
    "list_models": "suite.models",
    "create_model": "suite.models",
    "register_dataset": "suite.data",
    "list_datasets": "suite.data",
    "AudioDataset": "suite.data",
    "SuiteError": "suite.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'suite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
