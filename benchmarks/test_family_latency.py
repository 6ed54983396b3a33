"""pytest-benchmark suite: one benchmark per model family, for CI regression tracking.

Every family at 25k parameters, batch 1, one thread, eval mode under
``torch.inference_mode``, on the default input. Not part of the default test run (it
lives outside ``tests/``); run it with::

    pytest benchmarks --benchmark-only --benchmark-autosave
    pytest benchmarks --benchmark-only --benchmark-compare --benchmark-compare-fail=median:15%
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from suite.budget import Budget, build_matched
from suite.input_spec import InputSpec
from suite.models import list_models

BUDGET = Budget("params", 25_000)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Batch-1 latency is measured on one thread, as the suite's default."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", list_models())
def test_family_latency(benchmark: pytest.FixtureRequest, name: str) -> None:
    built = build_matched(name, InputSpec(), BUDGET, n_classes=10)
    assert built.model is not None, built.match.reason
    model, example = built.model.eval(), built.spec.example(batch_size=1)
    benchmark.extra_info.update({"width": built.match.width, "params": built.params, "macs": built.macs, "threads": 1})
    with torch.inference_mode():
        logits = benchmark(model, example)
    assert logits.shape == (1, 10)
