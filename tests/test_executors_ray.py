"""The Ray executor on a local Ray cluster (2 CPUs): results, faults, the measurement phase.

Ray runs in child processes (:mod:`tests.ray_child`), never in pytest's: an abort inside
Ray's core fails the tests of that child, with its stderr in the message, instead of
ending the whole run. Starting a child and its cluster takes most of a test's time, so
the plain runs of three tests share one child (:func:`runs`). Skipped when Ray is not
installed (``pip install '.[ray]'``); CI installs it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import torch

from suite.cli import main
from suite.results.load import machine_label
from tests.esc10_fixture import make_esc10
from tests.faulty_models import MARKER_ENV
from tests.helpers import TINY
from tests.ray_child import Children, RayChild, run_folder, trial_records

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -c constraints.txt '.[ray]')")

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
COMPARED = ["model", "feature", "width", "params", "macs", "accuracy", "macro_f1", "epochs", "best_epoch", "status"]
#: A run where some trial fails on purpose exits 0 or, once `suite run` reports failed trials, 1.
SOME_FAILED = (0, 1)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A folder the test-only models' workers write to (``$SUITE_TEST_MARKER``)."""
    folder = tmp_path / "marker"
    folder.mkdir()
    return folder


@pytest.fixture
def children(tmp_path: Path, marker: Path) -> Iterator[Children]:
    """Starts this test's Ray children; stops them and their clusters at the end."""
    with Children(tmp_path, env={MARKER_ENV: str(marker)}) as started:
        yield started


def run_args(config: dict[str, Any] | Path, folder: Path, *options: str) -> list[str]:
    """``run CONFIG --out … --cache-dir … --executor ray [options]``; a dict config is written to ``folder`` first."""
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(config, dict):
        path = folder / "config.yaml"
        path.write_text(json.dumps(config))  # JSON is YAML
        config = path
    return ["run", str(config), "--out", str(folder / "out"), "--cache-dir", str(folder / "cache"), "--executor", "ray", *options]


MEASURE = {"latency": {"batch_sizes": [1], "min_run_time": 0.05}, "memory": True}
#: The plain runs, by name: run in turn by one child on one cluster (2 trials at a time).
RUNS: dict[str, dict[str, Any]] = {
    "plain": TINY,
    # sleepy trains longest (0.2 s a batch), so the others finish while it trains: their node must drain first.
    # 2 train at once; cnn1d waits for the node to be measured and free again.
    "measure": TINY
    | {"models": ["sleepy", "mlp", "cnn1d"], "measure": MEASURE, "training": {"epochs": 3, "batch_size": 8, "patience": 3}},
    "faults": TINY | {"models": ["raises", "nan_loss", "mlp"], "measure": {"memory": True}},
    # sleepy needs 10 epochs x 3 batches x 0.2 s = 6 s of training (patience 10: no early stop); 2 s are allowed.
    "timeout": TINY
    | {"models": ["sleepy"], "measure": MEASURE, "trial_timeout": 2, "training": {"epochs": 10, "batch_size": 8, "patience": 10}},
    # A cross-validation on the ESC-10 fixture (its copy's digest is added by :func:`runs`): workers train each fold.
    "cv": {
        "name": "cv",
        "dataset": {"name": "esc10", "protocol": "cv"},
        "input": {"sample_rate": 8000, "clip_seconds": 0.25, "n_mels": 16},
        "models": ["mlp"],
        "budgets": {"params": ["5k"]},
        "training": {"epochs": 2, "batch_size": 4, "patience": 2},
    },
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RayChild]]:
    """Every run of :data:`RUNS`, one after the other in one child; yields their parent folder and the child."""
    folder = tmp_path_factory.mktemp("ray-runs")
    (folder / "marker").mkdir()
    digest = make_esc10(folder / "data")
    cv = RUNS["cv"] | {"dataset": RUNS["cv"]["dataset"] | {"options": {"sha256": digest}}}
    argvs = [run_args(config, folder / name) for name, config in RUNS.items() if name != "cv"]
    argvs.append(run_args(cv, folder / "cv", "--data-root", str(folder / "data")))
    with Children(folder, env={MARKER_ENV: str(folder / "marker")}) as children:  # ended before the tests: no nesting
        child = children.start(*argvs)
        child.wait()
    yield folder, child


def run_of(runs: tuple[Path, RayChild], name: str, codes: tuple[int, ...] = (0,)) -> Path:
    """The folder of run ``name`` of :func:`runs`; fails the test unless that run ended with one of ``codes``."""
    folder, child = runs
    ended = child.result() or []
    index = list(RUNS).index(name)
    assert index < len(ended), child.failure(f"the child ended before run {name!r} did")
    assert ended[index] in codes, child.failure(f"run {name!r} ended with exit code {ended[index]}")
    return run_folder(folder / name / "out")


def test_smoke_on_ray_gives_the_same_results_as_local(
    children: Children, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [str(SMOKE), "--cache-dir", str(tmp_path / "ray" / "cache")]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what a Ray trial with 1 CPU trains with: a trial is deterministic per thread count
    try:
        assert main(["run", *common, "--out", str(tmp_path / "local")]) == 0
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    # As a user runs it: `suite run` starts its own local Ray cluster (and shuts it down).
    child = children.run(run_args(SMOKE, tmp_path / "ray", "--cpus-per-trial", "1"), own_ray=True)
    local, remote = run_folder(tmp_path / "local"), run_folder(tmp_path / "ray" / "out")
    tables = [pd.read_csv(run / "results.csv", dtype={"trial_id": str}) for run in (local, remote)]
    assert len(tables[0]) == 14 and (tables[0]["status"] == "ok").all()
    pd.testing.assert_frame_equal(tables[0][["trial_id", *COMPARED]], tables[1][["trial_id", *COMPARED]])
    records = [json.loads(line) for line in (remote / "trials.jsonl").read_text().splitlines()]
    assert child.pid not in {r["pid"] for r in records} and {r["threads"] for r in records} == {1}  # trained in workers
    manifest = json.loads((remote / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["executor"]["name"] == "ray"
    assert not child.leftovers(), "processes of its Ray cluster outlived a `suite run` that ended normally"


def test_a_killed_worker_is_retried_and_one_that_keeps_dying_is_recorded_failed(
    children: Children, marker: Path, tmp_path: Path
) -> None:
    pid_file = marker / "killed_once.pid"
    killed: list[int] = []
    stop = threading.Event()

    def kill_it() -> None:  # kill the worker while it trains its first attempt at `killed_once`
        while not stop.is_set() and not pid_file.exists():
            time.sleep(0.05)
        if pid_file.exists():
            killed.append(int(pid_file.read_text()))
            os.kill(killed[0], signal.SIGKILL)

    config = {
        "name": "faults",
        "dataset": {"name": "synthetic", "options": {"n_classes": 3, "examples_per_class": 10}},
        "models": ["killed_once", "dies", "mlp"],
        "budgets": {"params": ["20k"]},
        "training": {"epochs": 2, "batch_size": 8, "patience": 2},
    }
    killer = threading.Thread(target=kill_it, daemon=True)
    killer.start()
    try:
        children.run(run_args(config, tmp_path, "--max-retries", "1"), codes=SOME_FAILED)
    finally:
        stop.set()
        killer.join(timeout=5)
    trials = trial_records(run_folder(tmp_path / "out"))
    assert killed, "the killed_once trial never started"
    assert trials["killed_once"]["status"] == "ok" and trials["killed_once"]["pid"] != killed[0]  # retried elsewhere
    assert trials["dies"]["status"] == "failed"
    assert "the worker running this trial died or was lost (2 attempt(s))" in trials["dies"]["error"]
    assert trials["mlp"]["status"] == "ok"


def overlaps(start: float, end: float, other_start: float, other_end: float) -> bool:
    return start < other_end and other_start < end


def test_with_measure_each_trial_is_measured_with_no_training_on_its_node(runs: tuple[Path, RayChild]) -> None:
    run_dir = run_of(runs, "measure")
    trials = trial_records(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and set(trials) == set(RUNS["measure"]["models"])
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


def test_without_measure_there_is_no_measurement_phase_and_the_machine_is_where_it_trained(runs: tuple[Path, RayChild]) -> None:
    run_dir = run_of(runs, "plain")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for record in trial_records(run_dir).values():
        assert record["status"] == "ok" and record["machine"] == machine_label(manifest) and record["node"]
        assert not {"measure_started", "measure_pid", "latency_ms", "peak_mem_infer_mb", "timings"} & set(record)


def test_a_trial_that_fails_or_times_out_in_training_is_not_measured(runs: tuple[Path, RayChild]) -> None:
    trials, timed = trial_records(run_of(runs, "faults", SOME_FAILED)), trial_records(run_of(runs, "timeout", SOME_FAILED))
    assert trials["raises"]["error"] == "RuntimeError: boom on purpose"
    assert trials["nan_loss"]["error"] == "FloatingPointError: training loss became nan in epoch 1"
    assert trials["mlp"]["status"] == "ok" and trials["mlp"]["peak_mem_infer_mb"] > 0
    assert timed["sleepy"]["error"].startswith("TrialTimeout: exceeded trial_timeout of 2 s")
    for record in [trials["raises"], trials["nan_loss"], timed["sleepy"]]:
        assert record["status"] == "failed" and record["machine"]
        assert not {"measure_started", "latency_ms", "peak_mem_infer_mb"} & set(record)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def stall(started: str) -> None:
    """A task that never ends; it creates the file ``started`` once it runs."""
    Path(started).touch()
    time.sleep(600)


def overdue_tasks() -> dict[str, Any]:
    """Run in a child, on its cluster: what ``_ended`` and ``_stop_overdue`` do with ended and stuck tasks."""
    from suite.executors import ray_executor
    from suite.executors.ray_executor import RayExecutor

    executor = RayExecutor(trial_timeout=1)
    executor.prepare("cpu")
    node_id = next(iter(executor.nodes.nodes))
    short = ray.remote(sleep).options(num_cpus=0)
    ended = [short.remote(0), short.remote(0)]
    ray.wait(ended, num_returns=2, timeout=300)
    collected = executor._ended(list(ended))  # every ended task at once, not only the first
    # Both ended, and both past the deadline by the driver's clock; only the stuck one may be cancelled.
    executor.nodes.nodes[node_id].measuring = True
    started = Path(os.environ[MARKER_ENV]) / "stall.started"
    stuck = ray.remote(stall).options(num_cpus=0).remote(str(started))  # a measurement that never ends
    deadline = time.monotonic() + 300
    while not started.exists() and time.monotonic() < deadline:  # running, as an overdue task is, not still starting
        time.sleep(0.05)
    long_ago = time.monotonic() - 1 - ray_executor.GRACE_SECONDS - 1
    task = SimpleNamespace(head={"trial_id": "t"})
    record = {"trial_id": "t", "accuracy": 0.5, "machine": "m"}
    jobs = {
        ended[0]: ray_executor._Job("train", task, node_id, long_ago, record),  # type: ignore[arg-type]
        stuck: ray_executor._Job("measure", task, node_id, long_ago, record),  # type: ignore[arg-type]
    }
    failed = [failure for _, failure in executor._stop_overdue(jobs)]
    outcome = {
        "collected": len(collected),
        "left": ["ended" if ref == ended[0] else "stuck" for ref in jobs],
        "ended_result": ray.get(ended[0]),
        "measuring": executor.nodes.nodes[node_id].measuring,
        "failed": failed,
    }
    try:
        ray.get(stuck, timeout=120)
        outcome["stuck"] = "returned"
    except ray.exceptions.RayError as error:
        outcome["stuck"] = type(error).__name__
    outcome["stuck_started"] = started.exists()
    return outcome


def test_an_overdue_task_is_cancelled_and_recorded_failed_but_one_that_ended_is_not(children: Children) -> None:
    outcome = children.call("tests.test_executors_ray:overdue_tasks")
    assert outcome["collected"] == 2
    assert outcome["left"] == ["ended"] and outcome["ended_result"] == 0  # kept, for the next poll to take its record
    assert not outcome["measuring"]  # the cancelled measurement freed its node
    (failed,) = outcome["failed"]
    assert failed["status"] == "failed" and failed["accuracy"] == 0.5
    assert re.fullmatch(r"TrialTimeout: exceeded trial_timeout of 1 s; cancelled after [\d.]+ s while measuring", failed["error"])
    assert outcome["stuck_started"] and outcome["stuck"] in ("TaskCancelledError", "WorkerCrashedError")  # cancelled


def test_a_cross_validation_on_ray_trains_each_fold_in_a_worker_as_locally(runs: tuple[Path, RayChild], tmp_path: Path) -> None:
    run_dir = run_of(runs, "cv")
    remote = sorted((json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()), key=lambda r: r["fold"])
    assert [r["fold"] for r in remote] == [f"fold{k}" for k in range(1, 6)] and {r["protocol"] for r in remote} == {"cv"}
    assert all(r["status"] == "ok" and r["threads"] == 1 for r in remote)
    config = json.loads((run_dir.parents[1] / "config.yaml").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Ray trial with 1 CPU trains: a trial is deterministic per thread count
    try:
        argv = [
            "run",
            str(run_dir.parents[1] / "config.yaml"),
            "--out",
            str(tmp_path / "local"),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
        assert main([*argv, "--data-root", str(run_dir.parents[2] / "data")]) == 0, config
    finally:
        torch.set_num_threads(threads)
    local = [json.loads(line) for line in (run_folder(tmp_path / "local") / "trials.jsonl").read_text().splitlines()]
    assert [(r["trial_id"], r["accuracy"]) for r in local] == [(r["trial_id"], r["accuracy"]) for r in remote]  # in fold order
