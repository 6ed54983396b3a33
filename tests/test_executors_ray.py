"""The Ray executor on a local Ray cluster (2 CPUs), started once for the module: results, faults, the measurement phase.

Skipped when Ray is not installed (``pip install '.[ray]'``); CI installs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
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
from suite.report.load import machine_label
from suite.run import run_config
from tests.faulty_models import MARKER_ENV, faulty_models
from tests.helpers import TINY

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -c constraints.txt '.[ray]')")

from suite.executors import ray_executor  # noqa: E402 - only with ray
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


MEASURE = {"latency": {"batch_sizes": [1], "min_run_time": 0.05}, "memory": True}


def ray_run(config: dict, tmp_path: Path) -> tuple[Path, dict[str, dict]]:
    """Run ``config`` on the module's Ray cluster (2 trials at a time); returns the folder and the records by model."""
    with faulty_models(), hard_timeout(240):
        executor = RayExecutor()
        run_dir = run_config(parse_config(config), out=tmp_path, cache_dir=tmp_path / "c", progress=False, executor=executor)
    return run_dir, {r["model"]: r for r in map(json.loads, (run_dir / "trials.jsonl").read_text().splitlines())}


def overlaps(start: float, end: float, other_start: float, other_end: float) -> bool:
    return start < other_end and other_start < end


def test_with_measure_each_trial_is_measured_with_no_training_on_its_node(marker: Path, tmp_path: Path) -> None:
    # sleepy trains longest (0.2 s a batch), so the others finish while it trains: their node must drain first.
    models = ["sleepy", "mlp", "cnn1d"]  # 2 train at once; cnn1d waits for the node to be measured and free again
    config = TINY | {"models": models, "measure": MEASURE, "training": {"epochs": 3, "batch_size": 8, "patience": 3}}
    run_dir, trials = ray_run(config, tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and set(trials) == set(models)
    for record in trials.values():
        assert record["status"] == "ok", record["error"]
        assert record["latency_ms"] > 0 and record["peak_mem_infer_mb"] > 0 and record["timings"]
        assert record["machine"] == machine_label(manifest)  # the local cluster is this machine: the driver's label
        assert record["measure_host"] == record["host"] and record["train_ended"] <= record["measure_started"]
    for measured in trials.values():
        for other in trials.values():
            assert other["node"] == measured["node"]  # one node: every training is on the measured node
            window = (measured["measure_started"], measured["measure_ended"])
            assert not overlaps(other["train_started"], other["train_ended"], *window), (other["model"], measured["model"])
            if other is not measured:
                assert not overlaps(other["measure_started"], other["measure_ended"], *window)
    # The drain: once sleepy or mlp finished training, the node took no new trial until both were measured.
    assert trials["cnn1d"]["train_started"] > max(trials[m]["measure_ended"] for m in ("sleepy", "mlp"))
    table = pd.read_csv(run_dir / "results.csv")
    assert table["latency_ms"].notna().all() and table["peak_mem_train_mb"].notna().all()


def test_without_measure_there_is_no_measurement_phase_and_the_machine_is_where_it_trained(marker: Path, tmp_path: Path) -> None:
    run_dir, trials = ray_run(TINY, tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for record in trials.values():
        assert record["status"] == "ok" and record["machine"] == machine_label(manifest) and record["node"]
        assert not {"measure_started", "measure_pid", "latency_ms", "peak_mem_infer_mb", "timings"} & set(record)


def test_a_trial_that_fails_or_times_out_in_training_is_not_measured(marker: Path, tmp_path: Path) -> None:
    config = TINY | {"models": ["raises", "nan_loss", "mlp"], "measure": {"memory": True}}
    _, trials = ray_run(config, tmp_path / "faults")
    assert trials["raises"]["error"] == "RuntimeError: boom on purpose"
    assert trials["nan_loss"]["error"] == "FloatingPointError: training loss became nan in epoch 1"
    assert trials["mlp"]["status"] == "ok" and trials["mlp"]["peak_mem_infer_mb"] > 0
    # sleepy needs 10 epochs x 3 batches x 0.2 s = 6 s of training (patience 10: no early stop); 2 s are allowed.
    training = {"epochs": 10, "batch_size": 8, "patience": 10}
    slow = {"models": ["sleepy"], "measure": MEASURE, "trial_timeout": 2, "training": training}
    _, timed = ray_run(TINY | slow, tmp_path / "t")
    assert timed["sleepy"]["error"].startswith("TrialTimeout: exceeded trial_timeout of 2 s")
    for record in [trials["raises"], trials["nan_loss"], timed["sleepy"]]:
        assert record["status"] == "failed" and record["machine"]
        assert not {"measure_started", "latency_ms", "peak_mem_infer_mb"} & set(record)


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def test_an_overdue_measurement_is_cancelled_recorded_failed_and_its_node_freed(marker: Path) -> None:
    executor = RayExecutor(trial_timeout=1)
    executor.prepare("cpu")
    node_id = next(iter(executor.nodes.nodes))
    executor.nodes.nodes[node_id].measuring = True
    stuck = ray.remote(sleep).options(num_cpus=0).remote(600)  # a measurement that never ends
    task = type("Task", (), {"head": {"trial_id": "t"}})()
    record = {"trial_id": "t", "accuracy": 0.5, "machine": "m"}
    limit = 1 + ray_executor.GRACE_SECONDS
    jobs = {stuck: ray_executor._Job("measure", task, node_id, time.monotonic() - limit - 1, record)}  # type: ignore[arg-type]
    ((_, failed),) = list(executor._stop_overdue(jobs))
    assert not jobs and not executor.nodes.nodes[node_id].measuring
    assert failed["status"] == "failed" and failed["accuracy"] == 0.5
    assert re.fullmatch(r"TrialTimeout: exceeded trial_timeout of 1 s; cancelled after [\d.]+ s while measuring", failed["error"])
    with pytest.raises(ray.exceptions.RayError):
        ray.get(stuck, timeout=60)
