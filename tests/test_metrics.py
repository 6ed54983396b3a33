"""suite.metrics: one definition per metric, and no metric name written out anywhere else in the package."""

from __future__ import annotations

import ast
import json
import math
import pickle
from pathlib import Path

import pytest

from suite import metrics
from suite.metrics import ACCURACY, HEADLINE, LATENCY_MS, METRICS, PARAMS, Metric, is_headline, seed_aggregations
from suite.results import RESULT_COLUMNS

PACKAGE = Path(__file__).resolve().parents[1] / "suite"


def _literals(tree: ast.AST) -> list[ast.Constant]:
    """String constants that are code, not ``__all__`` entries (those name functions, which may share a metric's name)."""
    exported: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            exported |= {id(sub) for sub in ast.walk(node)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in exported]


def test_no_metric_name_is_written_out_outside_its_definition() -> None:
    names = {str(metric) for metric in METRICS}
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.value!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "metrics.py"
        for node in _literals(ast.parse(path.read_text()))
        if node.value in names
    ]
    assert not found, "use the constants of suite.metrics instead: " + ", ".join(found)


def test_the_check_finds_a_literal_it_should() -> None:
    tree = ast.parse('record["accuracy"] = 1\n__all__ = ["model_bytes"]\nx = f"{record[\'params\']}"')
    assert sorted(n.value for n in _literals(tree) if n.value in {"accuracy", "params", "model_bytes"}) == ["accuracy", "params"]


@pytest.mark.parametrize("metric", METRICS, ids=str)
def test_every_metric_declares_itself(metric: Metric) -> None:
    assert metric.label and metric.over_seeds in ("spread", "mean", "first")
    assert metric.direction in ("higher", "lower", None)
    assert metric.judge in ("quality", "latency", "memory", "count", None)
    assert metric.show(None) == "—" and isinstance(metric.show(1.5), str)
    assert metrics.by_name(str(metric)) is metric and pickle.loads(pickle.dumps(metric)) is metric
    assert json.loads(json.dumps({metric: 1})) == {str(metric): 1}


def test_results_csv_has_every_metric_but_flops_in_the_declared_order() -> None:
    recorded = [column for column in RESULT_COLUMNS if metrics.is_metric(column)]
    assert recorded == [m for m in METRICS if m is not metrics.FLOPS]


def test_seed_aggregations_follow_the_declarations() -> None:
    specs = seed_aggregations((ACCURACY, LATENCY_MS, PARAMS), kinds=("spread", "mean", "first"))
    assert specs == {
        "accuracy_mean": ("accuracy", "mean"),
        "accuracy_std": ("accuracy", "std"),
        "accuracy_min": ("accuracy", "min"),
        "accuracy_max": ("accuracy", "max"),
        "latency_ms": ("latency_ms", "mean"),
        "params": ("params", "first"),
    }


def test_the_headline_setting_is_one_rule() -> None:
    setting = {**HEADLINE, "threads": 1}
    assert is_headline(setting) and not is_headline({**setting, "batch_size": 32})
    assert is_headline({**setting, "threads": 2}, fewest_threads=2) and not is_headline({**setting, "threads": 2})


def test_values_are_shown_as_each_metric_declares() -> None:
    assert ACCURACY.show(0.9843) == "98.4 %" and PARAMS.show(101_200) == "101.2 k" and LATENCY_MS.show(0.8213) == "0.821 ms"
    assert metrics.shown("peak_mem_train_mb", 3.14159) == "3.14 MiB" and metrics.shown("not a metric", 3) == "3"
    assert metrics.budget_text("macs", 2e6) == "2 M MACs" and math.isclose(float(ACCURACY.show(0.5)[:-2]), 50.0)
