"""`suite history` over a folder of runs the tests build: order, trend table, marks, plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from suite.cli import main
from suite.compare import build_history, write_history
from suite.errors import SuiteError
from tests.compare_fixtures import jitter_times, slow_down
from tests.report_fixtures import build_run

MODELS = ("mlp", "cnn1d")
N_RUNS = 10
SLOW_RUN = 6  # from this run on, cnn1d is 30 % slower


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten nightly runs (written out of order), cnn1d slowed down from the seventh on."""
    folder = tmp_path_factory.mktemp("history") / "results"
    for night in reversed(range(N_RUNS)):
        run = build_run(folder, name="ci", models=MODELS, seeds=[0], stamp=f"202611{10 + night:02d}-020000")
        jitter_times(run, seed=night)
        if night >= SLOW_RUN:
            slow_down(run, 1.3, models={"cnn1d"})
    return folder


def test_runs_are_ordered_by_start_time_and_the_step_is_marked_once(root: Path) -> None:
    history = build_history(root, "latency_ms")
    assert list(history.runs["run"]) == [f"ci-202611{10 + n:02d}-020000" for n in range(N_RUNS)]
    cnn1d = history.values[history.values["model"] == "cnn1d"].reset_index(drop=True)
    assert list(cnn1d["verdict"]) == ["", *["unchanged"] * (SLOW_RUN - 1), "regressed", *["unchanged"] * (N_RUNS - SLOW_RUN - 1)]
    assert set(history.values[history.values["model"] == "mlp"]["verdict"]) == {"", "unchanged"}
    table = history.table()
    assert len(table) == N_RUNS and "▲" in table.iloc[SLOW_RUN]["cnn1d params=100000"]


def test_history_writes_markdown_csv_and_plots(root: Path, tmp_path: Path) -> None:
    history = build_history(root, "accuracy")
    written = write_history(history, tmp_path / "trend.md")
    assert [p.name for p in written] == ["trend.md", "trend.png", "trend.svg"]
    assert all(p.stat().st_size > 0 for p in written)
    assert "![accuracy by run](trend.png)" in written[0].read_text()
    csv = write_history(history, tmp_path / "trend.csv")[0].read_text().splitlines()
    assert len(csv) == 1 + N_RUNS * len(MODELS)


def test_history_cli_and_bad_input(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(root), "--metric", "latency_rel"]) == 0
    assert "History of latency_rel" in capsys.readouterr().out
    assert main(["history", str(root), "--metric", "speed"]) == 2
    assert "is not one of" in capsys.readouterr().err
    assert main(["history", str(tmp_path / "none")]) == 2
    assert main(["history", str(root), "--out", str(tmp_path / "trend.txt")]) == 2
    assert "expected a .md or .csv file" in capsys.readouterr().err
    with pytest.raises(SuiteError, match="holds no results"):
        build_history(tmp_path)
