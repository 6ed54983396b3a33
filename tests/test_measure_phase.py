"""The measurement phase without Ray: the weights travel, the deadline carries over, nodes drain, records name their machine."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from suite.budget import Budget, build_matched
from suite.config import parse_config
from suite.cpu_isa import cpu_capability
from suite.environment import cpu_id, cpu_model, machine_label, this_machine
from suite.executors.ray_nodes import Nodes, Trained
from suite.input_spec import InputSpec
from suite.reporting import load_results
from suite.results.load import machine_label as manifest_machine_label
from suite.runner import run_config
from suite.trial import TrainedTrial, Trial, TrialTask, measure_trained
from tests.helpers import TINY

N_CLASSES = 3


def trained_mlp(config: dict, spent: float = 0.0) -> tuple[TrialTask, TrainedTrial]:
    """An mlp at 20k parameters whose weights were changed as training would (seeded), as a trial still to be measured."""
    parsed = parse_config(config)
    spec, trial = InputSpec(), Trial("mlp", Budget.parse("params", "20k"), seed=0)
    built = build_matched("mlp", spec, trial.budget, N_CLASSES, trial.seed, parsed.tolerance)
    assert built.model is not None
    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        for parameter in built.model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator))
    head = {"trial_id": "t", "model": "mlp", "budget_kind": "params", "budget": 20_000, "seed": 0}
    task = TrialTask("t", trial, parsed, spec, head, data_root="/nowhere", cache_dir=None, device="cpu")
    record = head | {"device": "cpu", "width": built.match.width, "params": built.params, "wall_seconds": 1.0}
    return task, TrainedTrial(record, built.model, built.spec, built.macs, N_CLASSES, spent)


def test_a_rebuilt_model_is_the_trained_one() -> None:
    task, trained = trained_mlp(TINY)
    rebuilt = TrainedTrial.rebuild(task, trained.record, trained.state_bytes(), N_CLASSES, spent=0.5)
    assert rebuilt.model is not None and trained.model is not None and rebuilt.spent == 0.5
    example = trained.spec.example(batch_size=4)  # type: ignore[union-attr]
    trained.model.eval(), rebuilt.model.eval()
    assert torch.equal(trained.model(example), rebuilt.model(example))  # the trained weights, not the seed's


def test_a_rebuild_that_gives_another_model_is_refused() -> None:
    task, trained = trained_mlp(TINY)
    wrong = trained.record | {"params": trained.record["params"] + 1}
    try:
        TrainedTrial.rebuild(task, wrong, trained.state_bytes(), N_CLASSES, spent=0.0)
    except RuntimeError as error:
        assert "is not the trained one" in str(error)
    else:
        raise AssertionError("a rebuild with another parameter count was accepted")


def test_measuring_gives_the_figures_and_the_machine() -> None:
    task, trained = trained_mlp(TINY | {"measure": {"memory": True}})
    record = measure_trained(trained, task.config)
    assert record["status"] == "ok" and record["peak_mem_infer_mb"] > 0 and record["peak_mem_train_mb"] > 0
    assert record["machine"] == this_machine("cpu") and record["cpu_id"] == cpu_id()
    assert record["machine"] == machine_label(cpu_model(), os.cpu_count(), identity=cpu_id(), capability=cpu_capability())
    assert record["measure_started"] <= record["measure_ended"] and record["wall_seconds"] > 1.0  # training's second kept


def test_the_measurement_counts_the_training_time_against_trial_timeout() -> None:
    task, trained = trained_mlp(TINY | {"measure": {"memory": True}, "trial_timeout": 5}, spent=6.0)
    record = measure_trained(trained, task.config)
    assert record["status"] == "failed"
    stopped = re.fullmatch(
        r"TrialTimeout: exceeded trial_timeout of 5 s \(stopped after ([\d.]+) s, while measuring latency and memory\)",
        record["error"],
    )
    assert stopped and float(stopped[1]) >= 6.0, record["error"]  # the 6 s of training count
    assert "peak_mem_infer_mb" not in record and record["params"] == trained.record["params"]  # training fields kept


def test_a_node_with_a_trial_to_measure_drains_while_the_others_keep_training() -> None:
    nodes = Nodes(cpus_per_trial=1, gpus_per_trial=0)
    assert nodes.update({"a": {"CPU": 2.0}, "b": {"CPU": 2.0}}) == []
    placed = []
    for _ in range(4):
        node = nodes.place()
        assert node is not None
        nodes.started_training(node)
        placed.append(node)
    assert sorted(placed) == ["a", "a", "b", "b"] and nodes.place() is None  # two slots per node, spread
    nodes.ended_training("a")
    assert nodes.queue_measurement("a", Trained("task-1", {}, 1.0))
    assert nodes.place() is None  # a's free slot is not used: a drains
    assert nodes.next_measurement() is None  # a still trains one trial: not quiet yet
    nodes.ended_training("b")
    assert nodes.place() == "b"  # the other node keeps training
    nodes.started_training("b")
    nodes.ended_training("a")
    assert nodes.queue_measurement("a", Trained("task-2", {}, 1.0))
    node, first = nodes.next_measurement()  # type: ignore[misc]
    assert (node, first.task) == ("a", "task-1") and nodes.next_measurement() is None  # one measurement at a time
    assert nodes.place() is None
    nodes.ended_measurement("a")
    node, second = nodes.next_measurement()  # type: ignore[misc]
    assert (node, second.task) == ("a", "task-2") and nodes.place() is None
    nodes.ended_measurement("a")
    assert nodes.place() == "a" and not nodes.waiting_to_measure()  # drained and measured: a trains again


def test_trials_queued_on_a_node_that_left_are_returned() -> None:
    nodes = Nodes(cpus_per_trial=2, gpus_per_trial=1)
    nodes.update({"a": {"CPU": 4.0, "GPU": 1.0}, "b": {"CPU": 8.0}})
    assert nodes.slots(nodes.nodes["a"]) == 1 and nodes.slots(nodes.nodes["b"]) == 0  # b has no GPU
    assert nodes.largest() == {"CPU": 8.0, "GPU": 1.0}
    nodes.started_training("a")
    nodes.ended_training("a")
    nodes.queue_measurement("a", Trained("task", {}, 1.0))
    lost = nodes.update({"b": {"CPU": 8.0}})
    assert [t.task for t in lost] == ["task"] and not nodes.queue_measurement("a", Trained("other", {}, 1.0))


def test_a_trial_row_names_the_machine_of_its_record_else_the_runs(tmp_path: Path) -> None:
    run_dir = run_config(parse_config(TINY), out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    records = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    assert {r["machine"] for r in records} == {manifest_machine_label(manifest)}  # the same label, from either source
    records[0]["machine"] = "Other CPU, 64 CPUs"
    del records[1]["machine"]  # as in folders written before records named their machine
    (run_dir / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    trials = load_results([run_dir]).trials.set_index("model")
    assert trials.loc["mlp", "machine"] == "Other CPU, 64 CPUs"
    assert trials.loc["cnn1d", "machine"] == manifest_machine_label(manifest)
