"""`suite run` end to end: results folder, determinism, failures recorded, nothing lost on errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from suite import budget as profile_module  # build_matched lives next to the matcher
from suite.cli import main
from suite.config import parse_config
from suite.errors import SuiteError
from suite.executors import local as local_executor
from suite.models import registry
from suite.results import RESULT_COLUMNS
from suite.runner import run_config
from tests.helpers import TINY
from tests.helpers_audio import SHARED_DATA, write_wav

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def read_trials(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]


def test_smoke_config_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(CONFIGS / "smoke.yaml"), "--out", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert code == 0, out
    (run_dir,) = (tmp_path / "results").iterdir()
    assert f"results: {run_dir}" in out
    assert {p.name for p in run_dir.iterdir()} == {"manifest.json", "trials.jsonl", "results.csv"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["trials_planned"] == 14
    for key in ("config", "started", "ended", "environment", "dataset", "class_names", "input_spec", "mac_convention"):
        assert manifest[key], key
    environment = manifest["environment"]
    assert environment["libraries"]["torch"] and environment["libraries"]["fvcore"] and environment["python"]
    assert "commit" in environment["git"] and environment["cpu"] and environment["torch_threads"] >= 1
    assert environment["cpu_capability"] in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR", "SVE256")
    assert environment["cpu_id"] is None or " family " in environment["cpu_id"]  # /proc/cpuinfo's numbers, on Linux
    assert manifest["dataset"]["name"] == "synthetic" and len(manifest["dataset"]["digest"]) == 64
    trials = read_trials(run_dir)
    assert [t["model"] for t in trials] == manifest["config"]["models"]
    assert all(t["status"] == "ok" for t in trials), [t["error"] for t in trials]
    for trial in trials:
        assert 0 <= trial["accuracy"] <= 1 and 0 <= trial["macro_f1"] <= 1
        assert len(trial["confusion_matrix"]) == 4 and sum(map(sum, trial["confusion_matrix"])) == 16
        assert len(trial["curves"]["train_loss"]) == trial["epochs"] == len(trial["curves"]["val_accuracy"])
        assert trial["params"] > 0 and trial["macs"] > 0 and trial["samples_per_second"] > 0
        assert trial["cpu_capability"] == environment["cpu_capability"]  # with seed and threads, what repeats it
    table = pd.read_csv(run_dir / "results.csv")
    assert list(table.columns) == list(RESULT_COLUMNS) and len(table) == 14
    assert table["feature"].tolist().count("raw") == 1  # samplecnn


def test_same_config_and_seed_give_identical_results(tmp_path: Path) -> None:
    config = parse_config(TINY | {"models": ["cnn2d", "gru", "transformer"]})
    runs = [run_config(config, out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False) for _ in range(2)]
    first, second = (read_trials(run) for run in runs)
    assert runs[0] != runs[1]  # two folders: a run never overwrites another
    for a, b in zip(first, second, strict=True):
        assert (a["accuracy"], a["macro_f1"], a["curves"]["train_loss"]) == (
            b["accuracy"],
            b["macro_f1"],
            b["curves"]["train_loss"],
        )
        assert a["trial_id"] == b["trial_id"]


@pytest.mark.skipif(not (SHARED_DATA / "fsdd" / "recordings").is_dir(), reason="the shared FSDD copy is missing")
def test_fsdd_run_reuses_the_feature_cache(tmp_path: Path) -> None:
    settings = {"name": "fsdd-mini", "dataset": {"name": "fsdd"}, "models": ["cnn1d"], "budgets": {"params": ["25k"]}}
    config = parse_config(settings | {"training": {"epochs": 3}})
    runs = [
        run_config(config, data_root=SHARED_DATA, out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False) for _ in range(2)
    ]
    features = [json.loads((run / "manifest.json").read_text())["features"]["logmel"] for run in runs]
    assert not features[0]["cache_hit"] and features[1]["cache_hit"]
    assert features[0]["key"] == features[1]["key"]
    (trial,) = read_trials(runs[1])
    assert trial["status"] == "ok" and trial["accuracy"] > 0.6  # 3 epochs of a small CNN on real digits


def test_a_failing_trial_is_recorded_and_the_others_finish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = registry.create_model

    def create(name: str, *args: object, **kwargs: object) -> torch.nn.Module:
        model = original(name, *args, **kwargs)  # type: ignore[arg-type]
        if name == "mlp":
            forward = model.forward

            def explode(x: torch.Tensor) -> torch.Tensor:
                if model.training:  # counting runs in eval mode; training blows up
                    raise RuntimeError("boom on purpose")
                return forward(x)

            model.forward = explode  # type: ignore[method-assign]
        return model

    monkeypatch.setattr(profile_module, "create_model", create)
    run_dir = run_config(parse_config(TINY), out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    trials = {t["model"]: t for t in read_trials(run_dir)}
    assert trials["mlp"]["status"] == "failed" and "boom on purpose" in trials["mlp"]["error"]
    assert trials["cnn1d"]["status"] == "ok"


def test_infeasible_budget_is_recorded_not_trained(tmp_path: Path) -> None:
    run_dir = run_config(
        parse_config(TINY | {"budgets": {"params": [10]}}), out=tmp_path, cache_dir=tmp_path / "c", progress=False
    )
    trials = read_trials(run_dir)
    assert {t["status"] for t in trials} == {"infeasible"}
    assert all("smallest width" in t["error"] for t in trials)


def test_corrupt_wav_raises_naming_it_or_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "data" / "mine"
    rows = []
    for split, count in (("train", 6), ("validation", 3), ("test", 3)):
        for index in range(count):
            path = write_wav(root / f"{split}{index}.wav", 0.3, 8000, seed=index)
            rows.append({"path": path.name, "label": "ab"[index % 2], "split": split})
    (root / "train0.wav").write_bytes(b"garbage")
    pd.DataFrame(rows).to_csv(root / "all.csv", index=False)
    dataset = {"name": "manifest", "options": {"folder": str(root), "file": "all.csv"}}
    strict = parse_config(TINY | {"dataset": dataset, "models": ["mlp"]})
    with pytest.raises(SuiteError, match=r"cannot decode .*train0\.wav"):
        run_config(strict, data_root=tmp_path / "data", out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False)
    assert not (tmp_path / "r").exists()  # features are computed before a results folder is made: none is left behind
    lenient = parse_config(TINY | {"dataset": dataset, "models": ["mlp"], "on_error": "skip"})
    run_dir = run_config(lenient, data_root=tmp_path / "data", out=tmp_path / "r", cache_dir=tmp_path / "c", progress=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (skipped,) = manifest["features"]["logmel"]["skipped"]
    assert skipped[0].endswith("train0.wav")
    assert read_trials(run_dir)[0]["status"] == "ok"


def test_an_error_midway_keeps_the_finished_trials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    original = local_executor.execute_trial

    def flaky(*args: object, **kwargs: object) -> dict:
        calls["n"] += 1
        if calls["n"] == 2:
            raise SuiteError("disk full, say")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(local_executor, "execute_trial", flaky)
    with pytest.raises(SuiteError, match="disk full"):
        run_config(parse_config(TINY), out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    (run_dir,) = tmp_path.glob("tiny-*")
    assert [t["model"] for t in read_trials(run_dir)] == ["mlp"]
    assert len(pd.read_csv(run_dir / "results.csv")) == 1
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"


def test_ctrl_c_writes_what_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    calls = {"n": 0}
    original = local_executor.execute_trial

    def interrupted(*args: object, **kwargs: object) -> dict:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(local_executor, "execute_trial", interrupted)
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(TINY))
    code = main(["run", str(config), "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted: 1 of 2 trials finished" in err
    (run_dir,) = (tmp_path / "r").iterdir()
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    assert len(read_trials(run_dir)) == 1
    resume = f"resume with: suite run {config} --resume {run_dir} --cache-dir {tmp_path / 'c'}"
    assert err.strip().endswith(resume), err
    monkeypatch.setattr(local_executor, "execute_trial", original)
    assert main(resume.removeprefix("resume with: suite ").split()) == 0  # the printed command finishes the run
    assert [t["model"] for t in read_trials(run_dir)] == ["mlp", "cnn1d"]
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "configs/nope.yaml"], "config file configs/nope.yaml not found"),
        (["run", str(CONFIGS / "smoke.yaml"), "--device", "tpu"], "invalid choice: 'tpu'"),
    ],
)
def test_run_bad_input(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_data_root_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUITE_FSDD_URL", "http://127.0.0.1:9/none.tar.gz")  # no network in tests
    code = main(["run", str(CONFIGS / "default.yaml"), "--data-root", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"fsdd was not found in {tmp_path / 'empty' / 'fsdd'}" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())  # no empty run folder left behind
