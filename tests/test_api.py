"""The public Python API (suite.api, exported by ``suite``): each command as a function, and the CLI as a thin layer over it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import suite
from suite.errors import SuiteError
from tests.helpers import TINY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> suite.RunResult:
    folder = tmp_path_factory.mktemp("api")
    return suite.run(TINY, out=folder / "results", cache_dir=folder / "cache", progress=False, seeds=[1])


def test_run_returns_the_folder_its_records_and_a_results_table(tiny_run: suite.RunResult) -> None:
    assert (tiny_run.run_dir / "trials.jsonl").is_file()
    assert tiny_run.results.shape[0] == 2 and set(tiny_run.results["model"]) == {"mlp", "cnn1d"}
    assert list(tiny_run.results["seed"]) == [1, 1]  # the override replaced the config's seeds
    assert [r["model"] for r in tiny_run.records] == list(tiny_run.results["model"]) and tiny_run.failed == []
    on_disk = pd.read_csv(tiny_run.run_dir / "results.csv")
    pd.testing.assert_frame_equal(tiny_run.results, on_disk)


def test_load_results_report_and_compare_take_the_run(tiny_run: suite.RunResult, tmp_path: Path) -> None:
    trials = suite.load_results(tiny_run.run_dir)
    assert len(trials) == 2 and set(trials["model"]) == {"mlp", "cnn1d"} and "notes" in trials.attrs
    written = suite.report(tiny_run.run_dir, out=tmp_path / "report", formats="md")
    assert (tmp_path / "report" / "README.md") in written.files
    comparison = suite.compare(tiny_run.run_dir, tiny_run.run_dir)
    assert comparison.exit_code == 0 and comparison.count("regressed") == 0


def test_profile_returns_one_row_per_family() -> None:
    table = suite.profile(["mlp", "cnn1d"], "20k", progress=False)
    assert list(table["model"]) == ["mlp", "cnn1d"] and (table["status"] == "ok").all()
    assert ((table["params"] - 20_000).abs() <= 0.05 * 20_000).all()


def test_bad_input_raises_the_suites_error() -> None:
    with pytest.raises(SuiteError, match="unknown model 'no-such'"):
        suite.profile("no-such", "20k")
    with pytest.raises(SuiteError, match=r"config file nowhere\.yaml not found"):
        suite.run("nowhere.yaml")
    with pytest.raises(SuiteError, match="seeds"):
        suite.run(TINY, seeds="many")


def test_import_suite_is_quick_and_the_api_loads_on_first_use() -> None:
    code = "import sys, suite; print('torch' in sys.modules, 'suite.api' in sys.modules)"
    code += "; suite.run; print('suite.api' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    assert shown == ["False", "False", "True"]
    assert set(suite.__all__) <= set(dir(suite)) and callable(suite.register_model) and callable(suite.register_dataset)


COMMANDS = ("_list", "_profile", "_run", "_report", "_compare", "_history")


def test_every_command_handler_is_short_and_calls_the_api() -> None:
    tree = ast.parse((ROOT / "suite" / "cli.py").read_text())
    handlers = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in COMMANDS}
    assert set(handlers) == set(COMMANDS)
    for name, node in handlers.items():
        length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
        assert length <= 20, f"{name} is {length} lines"
        imported = {alias.name for sub in ast.walk(node) if isinstance(sub, ast.ImportFrom) for alias in sub.names}
        # `suite list` shows the registries through suite.listing, which calls list_models and list_datasets.
        api = {"run", "profile", "report", "compare", "history"} if name != "_list" else {"listing"}
        assert imported & api, f"{name} calls none of {sorted(api)}"
