"""k-fold cross-validation: configs naming folds, trials per fold, one feature cache, fold aggregation, resume, compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from suite.api import history
from suite.config import parse_config
from suite.crossval import CV, resolve_evaluation
from suite.data.base import DATASETS
from suite.errors import SuiteError
from suite.executors import local as local_executor
from suite.gate import DEFAULT_FAIL_ON, compare_paths
from suite.reporting import write_report
from suite.reporting.summary import summarise
from suite.results.load import load_results
from suite.runner import RunInterrupted, run_config
from tests.esc10_fixture import make_esc10

FOLDS = [f"fold{k}" for k in range(1, 6)]


def cv_settings(sha: str, **changes: object) -> dict:
    settings = {
        "name": "esc10-cv",
        "dataset": {"name": "esc10", "protocol": "cv", "options": {"sha256": sha}},
        "input": {"sample_rate": 8000, "clip_seconds": 0.25, "feature": "logmel", "n_mels": 16},
        "models": ["mlp", "cnn2d"],
        "budgets": {"params": ["5k"]},
        "seeds": [0],
        "training": {"epochs": 2, "batch_size": 4, "patience": 2},
    }
    return settings | changes


@pytest.fixture(scope="module")
def esc10(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("data")
    return root, make_esc10(root)


@pytest.fixture(scope="module")
def cv_run(esc10: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root, sha = esc10
    work = tmp_path_factory.mktemp("cv")
    run = run_config(parse_config(cv_settings(sha)), data_root=root, out=work / "r", cache_dir=work / "c", progress=False)
    return run, work / "c"


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]


def test_a_config_names_every_fold_some_folds_or_one() -> None:
    esc10 = DATASETS.get("esc10")
    assert resolve_evaluation(esc10, CV).protocols == tuple(FOLDS) and resolve_evaluation(esc10, CV).label == CV
    assert resolve_evaluation(esc10, list(reversed(FOLDS))).label == CV  # every fold, in another order
    some = resolve_evaluation(esc10, ["fold1", "fold3"])
    assert (some.label, some.protocols, some.is_cv) == ("fold1+fold3", ("fold1", "fold3"), True)
    assert not resolve_evaluation(esc10, ["fold2"]).is_cv and resolve_evaluation(esc10, None).label == "fold1"
    for name in ("esc50", "urbansound8k"):  # the other fold data sets take cv the same way
        assert resolve_evaluation(DATASETS.get(name), CV).protocols == DATASETS.get(name).folds


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"name": "fsdd", "protocol": "cv"}, "fsdd has no folds, so protocol cv means nothing; protocols: official, speakers"),
        ({"name": "esc10", "protocols": ["fold1", "fold9"]}, "unknown protocol 'fold9'; available: fold1, .*, fold5, cv"),
        ({"name": "esc10", "protocols": ["fold1", "fold1"]}, "a protocol is listed twice"),
        ({"name": "esc10", "protocol": "cv", "protocols": ["fold1"]}, "give protocol or protocols, not both"),
    ],
)
def test_a_wrong_protocol_fails_when_the_config_is_read(dataset: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_config({"name": "x", "dataset": dataset, "budgets": {"params": ["5k"]}})


def test_trials_are_model_by_seed_by_fold_and_records_name_their_fold(cv_run: tuple[Path, Path]) -> None:
    run_dir, _ = cv_run
    trials = records(run_dir)
    assert [(t["model"], t["fold"]) for t in trials] == [(m, f) for m in ("mlp", "cnn2d") for f in FOLDS]
    assert {t["protocol"] for t in trials} == {CV} and all(t["status"] == "ok" for t in trials)
    assert len({t["trial_id"] for t in trials}) == 10
    assert [len(t["test_targets"]) for t in trials] == [5, 4, 4, 4, 4] * 2  # each fold's own test clips (fold1 has a second take)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["dataset"]["protocol"] == CV and list(manifest["dataset"]["folds"]) == FOLDS
    assert pd.read_csv(run_dir / "results.csv")["fold"].tolist() == FOLDS * 2


def test_features_are_computed_once_for_every_fold(cv_run: tuple[Path, Path]) -> None:
    run_dir, cache = cv_run
    assert len(list(cache.glob("esc10-logmel-*.pt"))) == 1
    features = json.loads((run_dir / "manifest.json").read_text())["features"]
    assert not features["logmel"]["cache_hit"]  # the one computation, not a fold that read it back


def test_the_summary_is_the_mean_over_folds_with_the_fold_spread_and_each_fold(cv_run: tuple[Path, Path]) -> None:
    run_dir, _ = cv_run
    summary = summarise(load_results([run_dir])).set_index("model")
    per_fold = pd.DataFrame(records(run_dir)).pivot(index="model", columns="fold", values="accuracy")
    for model in ("mlp", "cnn2d"):
        row = summary.loc[model]
        assert row["accuracy_mean"] == pytest.approx(per_fold.loc[model].mean())
        assert row["accuracy_std"] == pytest.approx(per_fold.loc[model].std(ddof=1))
        assert [row[f"accuracy_{fold}"] for fold in FOLDS] == pytest.approx(per_fold.loc[model, FOLDS].tolist())
        assert row["folds"] == " ".join(FOLDS) and row["n_ok"] == 5 and row["seeds"] == "0"


def test_the_report_shows_the_fold_mean_spread_and_detail(cv_run: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, _ = cv_run
    out = write_report([run_dir], tmp_path / "report").folder
    markdown = (out / "README.md").read_text()
    assert "5-fold cross-validation (cv)" in markdown and "folds × seeds" in markdown
    assert "accuracy fold5" in markdown and "the mean over the test folds ± the standard deviation across folds" in markdown
    table = pd.read_csv(out / "summary.csv")
    assert {f"accuracy_{fold}" for fold in FOLDS} <= set(table.columns)


def test_a_half_finished_cross_validation_resumes_its_missing_folds(
    esc10: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sha = esc10
    config = parse_config(cv_settings(sha))
    real = local_executor.execute_trial
    calls = []

    def interrupted_after_three(*args: object, **kwargs: object) -> dict:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(local_executor, "execute_trial", interrupted_after_three)
    with pytest.raises(RunInterrupted) as stopped:
        run_config(config, data_root=root, out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False)
    before = records(stopped.value.run_dir)
    assert [t["fold"] for t in before] == FOLDS[:3]
    monkeypatch.setattr(local_executor, "execute_trial", real)
    run_dir = run_config(config, data_root=root, out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False, resume=True)
    after = records(run_dir)
    assert run_dir == stopped.value.run_dir and after[:3] == before
    assert [(t["model"], t["fold"]) for t in after] == [(m, f) for m in ("mlp", "cnn2d") for f in FOLDS]


def test_compare_and_history_judge_each_family_over_its_folds(
    cv_run: tuple[Path, Path], esc10: tuple[Path, str], tmp_path: Path
) -> None:
    base, _ = cv_run
    root, sha = esc10
    new = run_config(
        parse_config(cv_settings(sha, seeds=[1])), data_root=root, out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False
    )
    comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
    rows = [row for row in comparison.rows if row["metric"] == "accuracy"]
    assert {row["model"] for row in rows} == {"mlp", "cnn2d"} and {row["protocol"] for row in rows} == {CV}
    for row in rows:  # one judgement per family, the paired test over every test fold: the whole copy
        assert "of 21 examples" in row["detail"], row["detail"]
    pooled = (
        pd.DataFrame(records(base))
        .groupby("model")[["accuracy", "test_targets"]]
        .apply(lambda g: np.average(g["accuracy"], weights=g["test_targets"].map(len)))
    )
    for row in rows:
        assert row["base"] == pytest.approx(pooled[row["model"]])
    shutil.copytree(base, tmp_path / "r" / base.name)  # history: both runs under one folder
    trend = history(tmp_path / "r", metric="accuracy")
    assert set(trend.values["protocol"]) == {CV} and len(trend.values) == 4  # 2 families x 2 runs, each over its folds
    first = trend.values[trend.values["run"] == base.name].set_index("model")["value"]
    assert first.to_dict() == pytest.approx(pooled.to_dict())  # the pooled accuracy over every test fold


def test_compare_of_two_cv_summaries_judges_by_the_bar_alone(cv_run: tuple[Path, Path], tmp_path: Path) -> None:
    run_dir, _ = cv_run
    summary = write_report([run_dir], tmp_path / "report", formats="md").folder / "summary.csv"
    comparison = compare_paths(summary, summary, DEFAULT_FAIL_ON)
    accuracy = [row for row in comparison.rows if row["metric"] == "accuracy"]
    assert accuracy and all("1 vs 1 seeds" in row["detail"] and "min-points bar only" in row["detail"] for row in accuracy)
    assert any("cross-validated rows are judged by the min-points bar alone" in note for note in comparison.notes)


def test_esc50_takes_protocol_cv_the_same_way(tmp_path: Path) -> None:
    from tests.test_datasets_public import make_esc50

    make_esc50(tmp_path / "data")
    settings = {
        "name": "esc50-cv",
        "dataset": {"name": "esc50", "protocol": "cv"},
        "input": {"sample_rate": 8000, "clip_seconds": 0.05, "feature": "logmel", "n_mels": 16, "hop_ms": 5, "win_ms": 10},
        "models": ["mlp"],
        "budgets": {"params": ["2k"]},
        "training": {"epochs": 1, "batch_size": 2},
    }
    run_dir = run_config(
        parse_config(settings), data_root=tmp_path / "data", out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False
    )
    trials = records(run_dir)
    assert [t["fold"] for t in trials] == FOLDS and {t["protocol"] for t in trials} == {CV}
    assert summarise(load_results([run_dir]))["folds"].tolist() == [" ".join(FOLDS)]
