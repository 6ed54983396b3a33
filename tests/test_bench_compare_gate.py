"""The gate benchmark's own parts: its B runs must really slow the model, and BASE runs fall where it says.

The benchmark patches the factory the trial builds models with; when that factory moved
(issue 13), the B runs failed with an AttributeError that only a 90-minute run showed.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import torch

from suite.budget import Budget, build_matched
from suite.input_spec import InputSpec
from tests.helpers import load_benchmark
from tests.report_fixtures import build_run


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("bench_compare_gate")


def test_slowed_wraps_the_model_a_trial_builds_and_only_that_family(bench: ModuleType) -> None:
    budget, spec = Budget("params", 25_000), InputSpec()
    with bench.slowed("mlp", 0.0):
        slowed = build_matched("mlp", spec, budget, n_classes=10).model
        other = build_matched("cnn1d", spec, budget, n_classes=10).model
    after = build_matched("mlp", spec, budget, n_classes=10).model
    assert isinstance(slowed, bench.BusyWait)
    assert not isinstance(other, bench.BusyWait) and not isinstance(after, bench.BusyWait)
    x = spec.example(batch_size=2)
    slowed.eval()
    with torch.no_grad():
        assert torch.equal(slowed(x), slowed.model(x))  # the same answer, only later


@pytest.mark.parametrize(
    ("runs", "when", "positions"),
    [
        (3, "first", [0, 0, 0]),
        (1, "spread", [0]),
        (3, "spread", [0, 5, 10]),
        (4, "spread", [0, 3, 7, 10]),
        (13, "spread", [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 8, 9, 10]),
    ],
)
def test_base_runs_fall_before_the_pairs_named(bench: ModuleType, runs: int, when: str, positions: list[int]) -> None:
    assert bench.base_positions(runs, 10, when) == positions


def test_resample_counts_false_alarms_and_detections_from_kept_runs(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, plan = tmp_path / "gate", []
    for k in range(3):
        build_run(out / "base", models=("mlp",), seeds=[0], stamp=f"2026112{k}-020000")
    for k, (kind, speed) in enumerate([("A", 1.0), ("B", 2.0), ("A", 1.0), ("B", 2.0)]):
        run = build_run(out / "new", models=("mlp",), seeds=[10 + k], speed=speed, stamp=f"2026112{k}-030000")
        plan.append({"kind": kind, "repeat": k // 2, "seeds": [10 + k], "burner": None, "run": f"new/{run.name}"})
    bench.resample(plan, out, "mlp", draws=6, basis="ms")  # `speed` slows the whole machine: ms sees it, rel does not
    printed = capsys.readouterr().out
    assert "A/A latency: 0 of 6 raised a regression" in printed
    assert "A/B: 6 of 6 caught mlp" in printed
    bench.resample(plan, out, "mlp", draws=4, basis="ms", base_runs=2, new_runs=2)  # both A runs, then both B runs, as NEW
    printed = capsys.readouterr().out
    assert "4 comparisons of each kind, 2 run(s) in BASE and 2 in NEW" in printed
    assert "A/A latency: 0 of 4 raised a regression" in printed and "A/B: 4 of 4 caught mlp" in printed
