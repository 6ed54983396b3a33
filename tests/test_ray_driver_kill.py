"""A `suite run --executor ray` whose driver dies mid-run (SIGKILL; SIGABRT, as an abort inside Ray sends) loses no
finished trial, leaves no Ray process behind, and is finished by ``--resume``.

The driver runs in a child process (:mod:`tests.ray_child`) on its own local Ray
cluster. Trials of the gated test models wait for a gate file, so the test decides which
trials have finished when it kills the driver; there is no timing in it.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.helpers import TINY
from tests.ray_child import GATES_ENV, Children, RayChild, run_folder

pytest.importorskip("ray", reason="ray is not installed (pip install -c constraints.txt '.[ray]')")

#: mlp finishes at once; gated_a and gated_b train when their gate is opened. Trial order: mlp, gated_a, gated_b.
CONFIG = TINY | {"name": "killed", "models": ["mlp", "gated_a", "gated_b"]}


def finished_lines(log: Path) -> list[str]:
    """The complete lines of ``trials.jsonl`` (a line is written whole, but a reader may catch it mid-write)."""
    if not log.exists():
        return []
    return [line for line in log.read_text().splitlines(keepends=True) if line.endswith("\n")]


def wait_for_trials(child: RayChild, out: Path, count: int, timeout: float = 600.0) -> Path:
    """Wait until the run under ``out`` has ``count`` finished trials; returns its folder. Fails if the driver ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folders = [path for path in out.iterdir() if path.is_dir()] if out.is_dir() else []
        if folders and len(finished_lines(folders[0] / "trials.jsonl")) >= count:
            return folders[0]
        assert child.process.poll() is None, child.failure(f"the driver ended before {count} trial(s) finished")
        time.sleep(0.2)
    raise AssertionError(child.failure(f"{count} trial(s) did not finish within {timeout:g} s"))


def kill_driver(child: RayChild, signum: signal.Signals) -> None:
    """Kill the driver with ``signum``; then no process of its Ray cluster may be left running."""
    assert child.kill(signum) == -signum, child.failure(f"the driver was sent {signum.name}")
    left = child.leftovers()
    assert not left, f"processes of the Ray cluster outlived its driver killed by {signum.name}: {left}"


def test_a_killed_ray_driver_loses_no_finished_trial_and_the_run_resumes(tmp_path: Path) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    config = tmp_path / "killed.yaml"
    config.write_text(json.dumps(CONFIG))  # JSON is YAML
    out = tmp_path / "out"
    run = ["run", str(config), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--executor", "ray"]
    with Children(tmp_path, env={GATES_ENV: str(gates)}) as children:
        # 1. mlp finishes; gated_a and gated_b wait at their gates: SIGKILL the driver.
        first = children.start(run)
        run_dir = wait_for_trials(first, out, 1)
        kill_driver(first, signal.SIGKILL)
        before_kill = finished_lines(run_dir / "trials.jsonl")
        assert [json.loads(line)["model"] for line in before_kill] == ["mlp"]

        # 2. Resumed with gated_a's gate open: gated_a finishes, gated_b waits: SIGABRT the driver.
        (gates / "gated_a.open").touch()
        second = children.start([*run, "--resume", str(run_dir)])
        wait_for_trials(second, out, 2)
        kill_driver(second, signal.SIGABRT)
        before_abort = finished_lines(run_dir / "trials.jsonl")
        assert before_abort[:1] == before_kill and [json.loads(line)["model"] for line in before_abort[1:]] == ["gated_a"]

        # 3. Resumed with every gate open: only gated_b is left, and the run completes.
        (gates / "gated_b.open").touch()
        children.run([*run, "--resume", str(run_dir)])
    assert run_folder(out) == run_dir
    lines = finished_lines(run_dir / "trials.jsonl")
    assert lines[:2] == before_abort  # the records written before each kill are unchanged
    records = [json.loads(line) for line in lines]
    assert [r["model"] for r in records] == ["mlp", "gated_a", "gated_b"]  # each trial ran once
    assert all(r["status"] == "ok" for r in records)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["resumed"]) == 2
    assert len((run_dir / "results.csv").read_text().splitlines()) == 1 + 3
