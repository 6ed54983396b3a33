"""Loading results folders: complete, in progress, failed, damaged, and several at once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from suite.config import parse_config
from suite.errors import SuiteError
from suite.metrics import ACCURACY
from suite.reporting import load_results
from suite.reporting.summary import summarise
from suite.reporting.tables import Column, _mark_best
from suite.runner import run_config
from tests.report_fixtures import build_run


def test_complete_run_one_row_per_trial(tmp_path: Path) -> None:
    run = build_run(tmp_path, models=["mlp", "crnn"], seeds=[0, 1], failed=[("crnn", 1)])
    results = load_results([run])
    trials = results.trials
    assert len(trials) == 4 and results.notes == []
    assert list(trials["model"]) == ["mlp", "mlp", "crnn", "crnn"]
    assert trials["status"].tolist() == ["ok", "ok", "ok", "failed"]
    assert trials.loc[3, "error"].startswith("RuntimeError") and pd.isna(trials.loc[3, "accuracy"])
    assert trials["accuracy"].dtype.kind == "f" and trials["params"].dtype.kind in "if"
    assert {"run", "machine", "latency_ms", "confusion_matrix"} <= set(trials.columns)
    assert trials.loc[0, "machine"] == "AMD EPYC, 2 CPUs (family 25 model 17, AVX2)" and trials.loc[0, "run"] == run.name
    # Curves: one row per epoch of each ok trial; timings: one per timed setting (2 scopes x 2 batch sizes).
    ok = trials[trials["status"] == "ok"]
    assert len(results.curves) == ok["epochs"].sum()
    assert len(results.timings) == 4 * len(ok) and all(len(t) == 15 for t in results.timings["times_ms"])
    assert results.runs[0].status == "complete" and results.runs[0].planned == 4 and results.runs[0].n_trials == 4


def test_matches_results_csv(tmp_path: Path) -> None:
    """The loader's flat columns are exactly what results.csv holds."""
    run = build_run(tmp_path, models=["mlp", "gru"], seeds=[0])
    trials = load_results([run]).trials
    csv = pd.read_csv(run / "results.csv", dtype={"trial_id": str})
    for column in ("trial_id", "model", "params", "macs", "accuracy", "macro_f1", "latency_ms", "peak_mem_train_mb"):
        assert trials[column].tolist() == csv[column].tolist(), column


def test_run_in_progress(tmp_path: Path) -> None:
    run = build_run(tmp_path, models=["mlp", "cnn1d", "crnn"], seeds=[0, 1], status="running", n_done=3)
    results = load_results([run])
    assert len(results.trials) == 3
    info = results.runs[0]
    assert (info.status, info.planned, info.n_trials) == ("running", 6, 3)
    assert json.loads((run / "manifest.json").read_text())["ended"] is None


def test_truncated_last_line_is_skipped_and_noted(tmp_path: Path) -> None:
    run = build_run(tmp_path, models=["mlp", "cnn1d"], seeds=[0])
    with (run / "trials.jsonl").open("a") as out:
        out.write('{"trial_id": "abc", "model": "tc')  # a crash mid-write
    results = load_results([run])
    assert len(results.trials) == 2
    assert any("line 3 of trials.jsonl is incomplete" in note for note in results.notes)


def test_results_csv_alone_is_enough(tmp_path: Path) -> None:
    run = build_run(tmp_path, models=["mlp", "cnn1d"], seeds=[0, 1])
    (run / "trials.jsonl").unlink()
    results = load_results([run])
    assert len(results.trials) == 4 and results.curves.empty and results.timings.empty
    assert any("no trials.jsonl" in note for note in results.notes)
    assert summarise(results)["accuracy_mean"].notna().all()


def test_missing_manifest_is_noted(tmp_path: Path) -> None:
    run = build_run(tmp_path, models=["mlp"], seeds=[0])
    (run / "manifest.json").unlink()
    results = load_results([run])
    assert len(results.trials) == 1 and results.runs[0].machine == "unknown machine"
    assert any("no manifest.json" in note for note in results.notes)


def test_two_runs_merged_and_repeats_dropped(tmp_path: Path) -> None:
    """Seed 0 run twice on one machine counts once (the later run's); another machine's is kept."""
    first = build_run(tmp_path, models=["mlp", "gru"], seeds=[0], stamp="20261129-003032")
    second = build_run(tmp_path, models=["mlp", "gru"], seeds=[0, 1, 2], stamp="20261129-010000")
    other = build_run(tmp_path, models=["mlp", "gru"], seeds=[0], cpu="Intel Xeon", cpu_count=8, stamp="20261130-000000")
    results = load_results([first, second, other])
    trials = results.trials
    assert len(trials) == 6 + 2
    assert set(trials[trials["machine"].str.startswith("AMD EPYC, 2 CPUs")]["run"]) == {second.name}
    assert any("2 trial(s) appear in more than one run" in note for note in results.notes)
    summary = summarise(results)
    assert sorted(summary["n_ok"]) == [1, 1, 3, 3]
    assert set(results.curves["run"]) == {second.name, other.name}


def test_folder_of_runs(tmp_path: Path) -> None:
    build_run(tmp_path, models=["mlp"], seeds=[0], stamp="20261129-003032")
    build_run(tmp_path, models=["mlp"], seeds=[0], stamp="20261129-013032")
    assert len(load_results([tmp_path]).runs) == 2


def test_summary_statistics(tmp_path: Path) -> None:
    run = build_run(tmp_path, models=["mlp", "crnn"], seeds=[0, 1, 2], failed=[("crnn", 2)])
    results = load_results([run])
    summary = summarise(results).set_index("model")
    mlp = results.trials[results.trials["model"] == "mlp"]["accuracy"]
    assert summary.loc["mlp", "accuracy_mean"] == pytest.approx(mlp.mean())
    assert summary.loc["mlp", "accuracy_std"] == pytest.approx(mlp.std(ddof=1))
    assert (summary.loc["crnn", "n_ok"], summary.loc["crnn", "n_failed"]) == (2, 1)
    assert summary["rank"].min() == 1
    assert "latency_model_cpu_eager_b32_t1_ms" in summary.columns


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_bad_folders_are_one_line_errors(tmp_path: Path, make: str) -> None:
    path = tmp_path / "x"
    if make == "file":
        path.write_text("")
    elif make == "empty":
        path.mkdir()
    with pytest.raises(SuiteError, match=r"not found|is a file|holds no results"):
        load_results([path])


def test_fixture_records_have_the_keys_suite_run_writes(tmp_path: Path) -> None:
    """One real (tiny) `suite run` next to the fixture builder: same manifest keys, same record keys in the same order."""
    config = parse_config(
        {
            "name": "tiny",
            "dataset": {"name": "synthetic", "options": {"n_classes": 3, "examples_per_class": 6}},
            "input": {"sample_rate": 8000, "clip_seconds": 0.25},
            "models": ["mlp"],
            "budgets": [{"params": "5k"}, {"params": 50}],  # no width of mlp has as few as 50 parameters
            "training": {"epochs": 1, "batch_size": 8, "patience": 1},
            "measure": {"latency": {"batch_sizes": [1, 2], "min_run_time": 0.01}, "memory": True},
        }
    )
    real = run_config(config, out=tmp_path / "real", cache_dir=tmp_path / "cache", progress=False)
    fake = build_run(tmp_path / "fake", models=["mlp", "samplecnn"], seeds=[0], infeasible=[("samplecnn", 100_000)])
    real_manifest, fake_manifest = (json.loads((r / "manifest.json").read_text()) for r in (real, fake))
    assert list(real_manifest) == list(fake_manifest)
    real_records = [json.loads(line) for line in (real / "trials.jsonl").read_text().splitlines()]
    fake_records = [json.loads(line) for line in (fake / "trials.jsonl").read_text().splitlines()]
    by_status = {r["status"]: r for r in fake_records}
    for record in real_records:
        assert list(record) == list(by_status[record["status"]]), record["status"]
    assert {r["status"] for r in real_records} == {"ok", "infeasible"}
    assert list(real_records[0]["timings"][0]) == list(by_status["ok"]["timings"][0])
    assert (real / "results.csv").read_text().splitlines()[0] == (fake / "results.csv").read_text().splitlines()[0]
    assert len(load_results([real]).trials) == len(real_records)


def test_models_with_the_same_right_answers_share_their_rank_and_both_are_best(tmp_path: Path) -> None:
    # ESC-10's dscnn and cnn2d: 337 of 400 right over five folds of 80, whose means of per-fold
    # fractions differ only in their last bits (0.8425 either way).
    folds = {"mlp": [0.825, 0.875, 0.825, 0.9, 0.7875], "cnn1d": [0.7875, 0.9, 0.7125, 0.9125, 0.9]}
    run = build_run(tmp_path, models=list(folds), seeds=[0, 1, 2, 3, 4])
    path = run / "trials.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["accuracy"] = folds[record["model"]][record["seed"]]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = summarise(load_results([run])).set_index("model")
    assert summary.loc["mlp", "accuracy_mean"] != summary.loc["cnn1d", "accuracy_mean"]  # the float sums differ
    assert summary.loc["mlp", "rank"] == summary.loc["cnn1d", "rank"] == 1
    board = summarise(load_results([run]))
    best = _mark_best(board, Column.of(ACCURACY))
    assert best.all()
