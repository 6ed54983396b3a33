"""A run that several machines shared: its quality over every trial, its times per machine (suite.reporting.summary).

A long reference run resumed on another machine splits its trials; each machine's rows
then average only the seeds it ran. The summary adds a board pooled over the run's
trials, without any figure that measures the machine, and the report, the reference
leaderboard and ``suite compare`` read it as such.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from suite.api import compare
from suite.metrics import ACCURACY, LATENCY_MS, METRICS, PARAMS
from suite.reference.leaderboard import Board, describe, tables
from suite.reporting import write_report
from suite.reporting.summary import is_pooled, pooled_machines, quality_view, summarise, without_pooled
from suite.results import read_manifest
from suite.results.load import load_results
from tests.report_fixtures import build_run

MODELS = ["mlp", "cnn1d", "gru"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeds 0 and 1 on a 2-CPU EPYC, seed 2 resumed on an 8-CPU Xeon twice as slow."""
    results = tmp_path_factory.mktemp("shared") / "results"
    return build_run(results, name="shared", models=MODELS, seeds=[0, 1, 2], resumed_on=("Intel Xeon", 8, [2]))


@pytest.fixture(scope="module")
def summary(shared: Path) -> pd.DataFrame:
    return summarise(load_results([shared]))


def test_the_pooled_board_comes_first_and_averages_every_trial(shared: Path, summary: pd.DataFrame) -> None:
    trials = load_results([shared]).trials
    machines = list(dict.fromkeys(trials["machine"]))
    pooled = summary[summary["machine"].map(is_pooled)]
    assert len(machines) == 2 and summary.index[summary["machine"].map(is_pooled)].tolist() == [0, 1, 2]
    assert pooled_machines(pooled["machine"].iloc[0]) == machines
    for _, row in pooled.iterrows():
        accuracies = trials.loc[trials["model"] == row["model"], ACCURACY]
        assert row["n_ok"] == 3 and row["seeds"] == "0 1 2"
        assert math.isclose(row[f"{ACCURACY}_mean"], accuracies.mean()) and math.isclose(row[f"{ACCURACY}_std"], accuracies.std())
    assert sorted(pooled["rank"]) == [1, 2, 3]
    # Each machine keeps its own rows: seeds 0 and 1 on one, seed 2 on the other.
    per_machine = without_pooled(summary)
    assert per_machine.groupby("machine", sort=False)["n_ok"].sum().tolist() == [6, 3]


def test_the_pooled_rows_carry_nothing_that_measures_the_machine(summary: pd.DataFrame) -> None:
    pooled = summary[summary["machine"].map(is_pooled)]
    bound = [str(m) for m in METRICS if m.per_machine and str(m) in summary]
    assert LATENCY_MS in bound and pooled[bound].isna().all().all()
    assert pooled.filter(regex=r"^latency_.*_ms$").isna().all().all()  # no timed-setting column either
    assert pooled[PARAMS].notna().all()
    # The slower machine's latency stays its own: never averaged with the other's.
    a, b = (part.set_index("model")[LATENCY_MS] for _, part in without_pooled(summary).groupby("machine", sort=False))
    assert (b / a).between(1.5, 2.6).all(), (a, b)


def test_the_same_trials_on_two_machines_are_compared_not_pooled(tmp_path: Path) -> None:
    runs = [
        build_run(tmp_path, models=MODELS, seeds=[0, 1], stamp="20261129-003032"),
        build_run(tmp_path, models=MODELS, seeds=[0, 1], cpu="Intel Xeon", cpu_count=8, stamp="20261130-003032"),
    ]
    summary = summarise(load_results(runs))
    assert not summary["machine"].map(is_pooled).any() and summary["machine"].nunique() == 2
    assert quality_view(summary).equals(summary)


def test_the_report_ranks_the_pooled_board_and_plots_it(shared: Path, tmp_path: Path) -> None:
    report = write_report([shared], out=tmp_path / "report")
    markdown = (report.folder / "README.md").read_text()
    assert "100 k params, machines A, B pooled (times and memory per machine below)" in markdown
    assert "100 k params, machine A (AMD EPYC" in markdown and "100 k params, machine B (Intel Xeon" in markdown
    written = pd.read_csv(report.folder / "summary.csv")
    assert written["machine"].map(is_pooled).sum() == len(MODELS)
    assert (report.folder / "plots").is_dir() and any((report.folder / "plots").glob("*accuracy-vs-params.svg"))


def test_the_reference_board_is_one_table_with_a_latency_per_machine(shared: Path, tmp_path: Path) -> None:
    report = write_report([shared], out=tmp_path / "report", formats="md")
    board = Board("shared", pd.read_csv(report.folder / "summary.csv"), [dict(read_manifest(shared, notes=[]))])
    text = tables(board)
    assert text.count("| rank |") == 1
    assert "| latency (A) | latency (B) | int8 drop | per hop (A) | per hop (B) |" in text
    assert "6 trials; B: Intel Xeon" in text and "over all of them" in text
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ") and "`" in line}
    assert sorted(rows) == sorted(f"`{model}`" for model in MODELS)
    assert all(" | 3 of 3 | " in line for line in rows.values())  # every seed, from both machines
    description = describe(board)
    assert "Status: complete." in description  # the pooled rows' trials are not counted twice
    assert "Measured on AMD EPYC, 2 CPUs (family 25 model 17, AVX2); Intel Xeon, 8 CPUs" in description


def test_compare_of_a_summary_judges_pooled_quality_and_keeps_budgets_one_machine_ran(shared: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    alone = build_run(results, name="small", models=MODELS, budgets=[("params", 25_000)], seeds=[0, 1])
    copy = shutil.copytree(shared, results / shared.name)
    report = write_report([copy, alone], out=tmp_path / "report", formats="md")
    csv = report.folder / "summary.csv"
    comparison = compare(csv, results)  # NEW: the two folders themselves, every trial
    accuracy = [row for row in comparison.rows if row["metric"] == ACCURACY.label]
    assert sorted((row["budget"], row["model"]) for row in accuracy) == sorted(
        (budget, model) for budget in (25_000, 100_000) for model in MODELS
    )  # one row per model and budget: the shared budget's pooled one, and the budget one machine ran
    summary = pd.read_csv(csv)
    pooled = summary[summary["machine"].map(is_pooled)].set_index("model")
    for row in (row for row in accuracy if row["budget"] == 100_000):
        assert math.isclose(row["base"], pooled.loc[row["model"], f"{ACCURACY}_mean"]) and row["verdict"] == "unchanged"
        assert math.isclose(row["base"], row["new"])  # the folder's accuracy over every trial: the same figure
    notes = [note for note in comparison.notes if "was shared by 2 machines" in note]
    assert len(notes) == 1 and "times and memory of AMD EPYC, 2 CPUs" in notes[0] and "6 of its 9 trials" in notes[0]


def test_a_trial_retried_on_the_other_machine_counts_once(shared: Path, tmp_path: Path) -> None:
    """mlp seed 2 failed on the first machine, and ``--retry-failed`` ran it again on the second."""
    run = tmp_path / shared.name
    shutil.copytree(shared, run)
    lines = (run / "trials.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    index, retried = next((i, r) for i, r in enumerate(records) if r["model"] == "mlp" and r["seed"] == 2)
    first = next(r["machine"] for r in records if r["seed"] == 0)
    failed = {k: retried[k] for k in ("trial_id", "model", "dataset", "protocol", "budget_kind", "budget", "seed")}
    records.insert(index, failed | {"machine": first, "status": "failed", "error": "RuntimeError: out of memory"})
    (run / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = summarise(load_results([run]))
    mlp = summary[(summary["model"] == "mlp")].set_index("machine")
    pooled = mlp.loc[next(m for m in mlp.index if is_pooled(m))]
    assert (pooled["n_trials"], pooled["n_ok"], pooled["n_failed"]) == (3, 3, 0)
    assert mlp.loc[first, "n_failed"] == 1  # the machine's own row still shows what failed on it
