"""The Ray executor on a local Ray cluster (2 CPUs), started once for the module.

Skipped when Ray is not installed (``pip install '.[ray]'``); CI installs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch

from suite.cli import main
from suite.config import parse_config
from suite.run import run_config
from tests.faulty_models import MARKER_ENV, faulty_models

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -c constraints.txt '.[ray]')")

from suite.executors.ray_executor import RayExecutor  # noqa: E402 - only with ray

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
COMPARED = ["model", "feature", "width", "params", "macs", "accuracy", "macro_f1", "epochs", "best_epoch", "status"]


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local Ray cluster for the module; its workers know the test-only models. Yields a folder they can write to."""
    folder = tmp_path_factory.mktemp("ray-marker")
    # Workers import the test-only models from this checkout (pytest's sys.path is not theirs).
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env_vars = {MARKER_ENV: str(folder), "PYTHONPATH": python_path}
    runtime_env = {"worker_process_setup_hook": "tests.faulty_models.register", "env_vars": env_vars}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning", runtime_env=runtime_env)
    try:
        yield folder
    finally:
        ray.shutdown()


@contextlib.contextmanager
def hard_timeout(seconds: int) -> Iterator[None]:
    """Fail the test instead of hanging: SIGALRM raises in the main thread (the driver polls Ray every second)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"the run did not end within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_smoke_on_ray_gives_the_same_results_as_local(marker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = [str(SMOKE), "--cache-dir", str(tmp_path / "cache")]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a Ray trial with 1 CPU trains with: a trial is deterministic per thread count
    try:
        assert main(["run", *common, "--out", str(tmp_path / "local")]) == 0
    finally:
        torch.set_num_threads(threads)
    with hard_timeout(300):
        assert main(["run", *common, "--out", str(tmp_path / "ray"), "--executor", "ray", "--cpus-per-trial", "1"]) == 0
    capsys.readouterr()
    (local,), (remote,) = (list((tmp_path / name).iterdir()) for name in ("local", "ray"))
    tables = [pd.read_csv(run / "results.csv", dtype={"trial_id": str}) for run in (local, remote)]
    assert len(tables[0]) == 14 and (tables[0]["status"] == "ok").all()
    pd.testing.assert_frame_equal(tables[0][["trial_id", *COMPARED]], tables[1][["trial_id", *COMPARED]])
    records = [json.loads(line) for line in (remote / "trials.jsonl").read_text().splitlines()]
    assert len({r["pid"] for r in records} - {os.getpid()}) >= 1 and {r["threads"] for r in records} == {1}
    manifest = json.loads((remote / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["executor"]["name"] == "ray"


def test_a_killed_worker_is_retried_and_one_that_keeps_dying_is_recorded_failed(marker: Path, tmp_path: Path) -> None:
    pid_file = marker / "killed_once.pid"
    killed: list[int] = []

    def kill_it() -> None:  # kill the worker while it trains its first attempt at `killed_once`
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.05)
        if pid_file.exists():
            killed.append(int(pid_file.read_text()))
            os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_it, daemon=True)
    killer.start()
    with faulty_models(), hard_timeout(240):
        config = parse_config(
            {
                "name": "faults",
                "dataset": {"name": "synthetic", "options": {"n_classes": 3, "examples_per_class": 10}},
                "models": ["killed_once", "dies", "mlp"],
                "budgets": {"params": ["20k"]},
                "training": {"epochs": 2, "batch_size": 8, "patience": 2},
            }
        )
        run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False, executor=RayExecutor(max_retries=1))
    killer.join(timeout=5)
    trials = {r["model"]: r for r in map(json.loads, (run_dir / "trials.jsonl").read_text().splitlines())}
    assert killed, "the killed_once trial never started"
    assert trials["killed_once"]["status"] == "ok" and trials["killed_once"]["pid"] != killed[0]  # retried elsewhere
    assert trials["dies"]["status"] == "failed"
    assert "the worker running this trial died or was lost (2 attempt(s))" in trials["dies"]["error"]
    assert trials["mlp"]["status"] == "ok"
