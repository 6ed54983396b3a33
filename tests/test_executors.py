"""Executors without Ray: faults become failed records, timeouts stop a trial, options are checked."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from suite.cli import main
from suite.config import parse_config
from suite.errors import SuiteError
from suite.executors import make_executor
from suite.models import list_models
from suite.runner import run_config
from tests.faulty_models import FAULTY, faulty_models
from tests.helpers import TINY


def read_trials(run_dir: Path) -> dict[str, dict]:
    return {r["model"]: r for r in map(json.loads, (run_dir / "trials.jsonl").read_text().splitlines())}


def test_a_raising_and_a_nan_model_fail_with_their_messages_the_others_finish(tmp_path: Path) -> None:
    with faulty_models():
        config = parse_config(TINY | {"models": ["raises", "mlp", "nan_loss", "cnn1d"]})
        run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    trials = read_trials(run_dir)
    assert trials["raises"]["status"] == "failed" and trials["raises"]["error"] == "RuntimeError: boom on purpose"
    assert trials["nan_loss"]["status"] == "failed"
    assert trials["nan_loss"]["error"] == "FloatingPointError: training loss became nan in epoch 1"
    assert trials["mlp"]["status"] == trials["cnn1d"]["status"] == "ok"
    table = pd.read_csv(run_dir / "results.csv")
    assert table["model"].tolist() == ["raises", "mlp", "nan_loss", "cnn1d"]  # planned order
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"


def test_faulty_models_are_gone_after_the_test() -> None:
    assert not set(FAULTY) & set(list_models())


def test_trial_timeout_stops_the_trial_at_its_next_batch(tmp_path: Path) -> None:
    # No bound depends on the machine's speed: unstopped, sleepy sleeps through 10 epochs x 3 batches x 0.2 s and
    # finishes ok; stopped, it fails at the first batch past the deadline. (A second, fast model used to check
    # that the others finish inside the limit, but on a loaded machine no limit is "inside" for sure.)
    with faulty_models():
        training = {"epochs": 10, "batch_size": 8, "patience": 10}
        config = parse_config(TINY | {"models": ["sleepy"], "trial_timeout": 4, "training": training})
        run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    sleepy = read_trials(run_dir)["sleepy"]
    assert sleepy["status"] == "failed" and sleepy["error"].startswith("TrialTimeout: exceeded trial_timeout of 4 s")
    stopped = re.search(r"stopped after (\d+\.\d) s, in (training|evaluation)\)$", sleepy["error"])
    assert stopped and float(stopped.group(1)) >= 4, sleepy["error"]


def test_ray_options_without_ray_executor_are_refused() -> None:
    with pytest.raises(SuiteError, match="cpus-per-trial only apply to --executor ray"):
        make_executor("local", cpus_per_trial=2)


def test_ray_executor_without_ray_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(TINY))
    code = main(["run", str(config), "--executor", "ray", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install -c constraints.txt '.[ray]'" in err
    assert not (tmp_path / "r").exists()
