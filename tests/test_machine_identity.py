"""Machines that share a name are still told apart: CPU generation and kernel level are part of the label.

Two cloud VMs both called "AMD EPYC" ran batch-1 convolutions 1.5 to 3 times apart (an
AVX2-only one and an AVX-512 one); with one label the report averaged their latency and
``suite compare`` judged milliseconds across them as if they were one machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from suite.config import parse_config
from suite.cpu_isa import cpu_capability
from suite.environment import cpu_generation, cpu_id, cpu_model, git_commit, machine_label, this_machine
from suite.gate.compare import FailOn, compare_paths
from suite.reference.leaderboard import Board, tables
from suite.reporting import load_results
from suite.reporting.summary import is_pooled, summarise, without_pooled
from suite.runner import run_config
from tests.compare_fixtures import edit_trials
from tests.helpers import TINY
from tests.report_fixtures import CPU_ID, build_run

ZEN4 = "AuthenticAMD family 25 model 17 stepping 1"
ZEN2 = "AuthenticAMD family 23 model 49 stepping 0"


def test_the_label_names_the_generation_and_the_kernel_level() -> None:
    assert cpu_generation(ZEN4) == "family 25 model 17" and cpu_generation(None) is None and cpu_generation("x86") is None
    assert machine_label("AMD EPYC", 2) == "AMD EPYC, 2 CPUs"  # nothing known, nothing added
    assert machine_label("AMD EPYC", 2, identity=ZEN4, capability="AVX512") == "AMD EPYC, 2 CPUs (family 25 model 17, AVX512)"
    zen2, zen4 = (machine_label("AMD EPYC", 2, identity=identity, capability="AVX2") for identity in (ZEN2, ZEN4))
    assert zen2 != zen4
    assert machine_label("AMD EPYC", 2, "NVIDIA H200", capability="AVX2") == "AMD EPYC, 2 CPUs, NVIDIA H200 (AVX2)"
    here = this_machine("cpu")
    assert here == machine_label(cpu_model(), os.cpu_count(), identity=cpu_id(), capability=cpu_capability())
    assert here.endswith(f"{cpu_capability()})")  # this machine's kernel level is always known


def _as_written_before_identity(run: Path, manifest_edit: Any = None) -> Path:
    """The run as older code wrote it: record labels of the CPU model alone and no ``cpu_id`` in the records."""

    def edit(record: dict[str, Any]) -> None:
        record["machine"] = "AMD EPYC, 2 CPUs"
        record.pop("cpu_id", None)

    if manifest_edit is not None:
        path = run / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest_edit(manifest)
        path.write_text(json.dumps(manifest))
    return edit_trials(run, edit)


def test_older_records_get_the_identity_their_run_recorded(tmp_path: Path) -> None:
    run = _as_written_before_identity(build_run(tmp_path / "a", models=["mlp"], seeds=[0]))
    assert set(load_results([run]).trials["machine"]) == {"AMD EPYC, 2 CPUs (family 25 model 17, AVX2)"}
    # Resumed on another CPU: the run cannot say which trial ran where, so only the record's own level is added.
    resumed = _as_written_before_identity(
        build_run(tmp_path / "b", models=["mlp"], seeds=[0]),
        lambda m: m.__setitem__("resumed", [{"environment": m["environment"] | {"cpu_id": ZEN2}}]),
    )
    assert set(load_results([resumed]).trials["machine"]) == {"AMD EPYC, 2 CPUs (AVX2)"}


def _seed_two_on(run: Path, identity: str, level: str) -> Path:
    """Seed 2's trials as if measured on another CPU of the same name (a run resumed elsewhere)."""

    def edit(record: dict[str, Any]) -> None:
        if record["seed"] == 2:
            record |= {"cpu_id": identity, "cpu_capability": level}
            record["machine"] = machine_label("AMD EPYC", 2, identity=identity, capability=level)

    return edit_trials(run, edit)


def test_a_run_resumed_on_another_generation_is_two_machines_in_reports_boards_and_compare(tmp_path: Path) -> None:
    run = _seed_two_on(build_run(tmp_path / "runs", models=["mlp", "cnn1d"], seeds=[0, 1, 2], measure=True), ZEN2, "AVX2")
    summary = summarise(load_results([run]))
    own = without_pooled(summary)
    assert sorted(own["n_ok"]) == [1, 1, 2, 2]  # latency of the two CPUs is not averaged
    assert own["machine"].nunique() == 2 and CPU_ID != ZEN2
    assert sorted(summary.loc[summary["machine"].map(is_pooled), "n_ok"]) == [3, 3]  # accuracy over all the run's seeds
    board = Board("tiny", summary, [json.loads((run / "manifest.json").read_text())])
    text = tables(board)
    assert text.startswith("The trials were measured on 2 machines") and text.count("| rank | model |") == 1
    assert "B: AMD EPYC, 2 CPUs (family 23 model 49, AVX2), 2 trials" in text and "| latency (A) | latency (B) |" in text
    # Against a run of one machine: the sides differ, so milliseconds are not compared directly.
    other = build_run(tmp_path / "other", models=["mlp", "cnn1d"], seeds=[0, 1, 2], measure=True)
    comparison = compare_paths(other, run, FailOn())
    assert comparison.basis == "rel" and "different machines" in comparison.basis_reason
    assert any("trials from 2 machines" in note and "latency pooled" in note for note in comparison.notes)


def test_resuming_on_another_machine_says_so_before_it_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = parse_config(TINY | {"models": ["mlp"]})
    run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    run_config(config, out=run_dir, cache_dir=tmp_path / "c", progress=False)
    assert "resume:" not in capsys.readouterr().err  # the same machine: nothing to say
    elsewhere = machine_label("AMD EPYC", 2, identity=ZEN2, capability="AVX2")
    edit_trials(run_dir, lambda record: record.__setitem__("machine", elsewhere))
    run_config(config, out=run_dir, cache_dir=tmp_path / "c", progress=False)
    err = capsys.readouterr().err
    assert f"resume: the trials so far were measured on {elsewhere}; this is {this_machine('cpu')}:" in err


def test_a_checkout_is_dirty_for_changed_code_not_for_results_written_into_it(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    package = tmp_path / "suite"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", "suite/a.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "code")
    assert git_commit(package)["dirty"] is False
    (tmp_path / "results" / "run").mkdir(parents=True)
    (tmp_path / "results" / "run" / "trials.jsonl").write_text("{}\n")  # a run's own folder: not code
    assert git_commit(package)["dirty"] is False
    # A committed run resumed: its tracked results (and the regenerated reports) change, and are still not code.
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "README.md").write_text("board\n")
    git("add", "results", "reports")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "results")
    (tmp_path / "results" / "run" / "trials.jsonl").write_text("{}\n{}\n")
    (tmp_path / "reports" / "README.md").write_text("board, updated\n")
    assert git_commit(package)["dirty"] is False
    (package / "b.py").write_text("y = 2\n")  # a new module inside the package: code
    assert git_commit(package)["dirty"] is True
    (package / "b.py").unlink()
    (package / "a.py").write_text("x = 2\n")  # a tracked file changed
    assert git_commit(package)["dirty"] is True
