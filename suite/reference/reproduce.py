"""``suite reference check``: re-run a sample of committed reference trials here and judge them.

A trial is defined by its config, model, budget and seed, and on a CPU it is
deterministic for a given thread count (:func:`suite.trial.train_trial` sets it) and
instruction set of the kernels (:mod:`suite.cpu_isa`). So a committed trial re-run from
its own stored config, with the thread count it recorded, on its instruction set (in a
new process with the libraries capped when this machine's is higher), must predict every
test example exactly as it did; on a machine with a lower one it cannot be expected to,
and the line says so. The check asserts that, per trial, on
the test predictions themselves (not only the accuracy), and then runs ``suite compare``
of the committed trials of the re-run models (every seed) against the re-runs, as
``suite compare`` does by default: on the machine that made them, latency as a ratio to
the reference kernel timed between its rounds (so a busier hour is judged by how the
model's cost compares with fixed work then), with the committed seeds giving the
run-to-run spread; on another machine latency is shown but not judged (across CPU
generations the ratio moves too), so predictions, accuracy and counts decide.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from suite.config import parse_config
from suite.cpu_isa import ORDER, cpu_capability, environment_for
from suite.crossval import FOLD
from suite.errors import SuiteError
from suite.gate import Comparison, compare_paths, parse_fail_on
from suite.metrics import ACCURACY
from suite.numbers import compact_count
from suite.reference.leaderboard import RESULTS
from suite.results import RunWriter, latest_records, read_manifest, read_trial_log
from suite.runner import run_config

#: Trials re-run by default: enough to catch a change in training or data loading, few enough for a CI job.
DEFAULT_TRIALS = 3


@dataclass(frozen=True)
class Rerun:
    """A committed trial and its re-run here.

    Attributes:
        committed: The committed record.
        new: The re-run's record.
        level: The instruction set the committed trial trained with (its record's, else ``--cpu-capability``,
            else this machine's: :mod:`suite.cpu_isa`).
        caps: The variables the re-run ran under to use that level's kernels; ``None`` when this machine
            cannot (a higher level than its own), so that the same predictions cannot be expected.
        searched: Whether the record did not name its level, so that it was looked for (:func:`_repeat`).
    """

    committed: dict[str, Any]
    new: dict[str, Any]
    level: str = ""
    caps: dict[str, str] | None = field(default_factory=dict)
    searched: bool = False

    @property
    def identical(self) -> bool:
        """Same status and the same prediction for every test example."""
        keys = ("status", "test_predictions")
        return all(self.committed.get(key) == self.new.get(key) for key in keys)

    @property
    def passed(self) -> bool:
        """Identical, or not expected to be (other kernels); the comparison then judges its accuracy."""
        return self.identical or self.caps is None

    def line(self) -> str:
        """``cnn1d params=100k seed 1: 99.7 % committed, 99.7 % here, identical predictions (2 threads, AVX2 kernels)``."""
        record = self.committed
        head = f"{record['model']} {record['budget_kind']}={compact_count(float(record['budget']))} seed {record['seed']}"
        if record.get(FOLD):
            head += f" {record[FOLD]}"

        def accuracy(trial: dict[str, Any]) -> str:
            value = trial.get(ACCURACY)
            return f"{100 * value:.1f} %" if isinstance(value, int | float) else str(trial.get("status"))

        same = "identical predictions" if self.identical else "DIFFERENT predictions"
        kernels = f"{self.level} kernels" + (" (capped)" if self.caps else "")
        if self.searched:
            kernels += ", a level the record does not name: " + (
                "the one that repeats it" if self.identical else "none repeats it"
            )
        if self.caps is None:
            kernels = f"trained with {self.level} kernels, which this machine lacks: not expected to be identical"
        threads = self.new.get("threads")
        return f"{head}: {accuracy(record)} committed, {accuracy(self.new)} here, {same} ({threads} threads, {kernels})"


@dataclass(frozen=True)
class Check:
    """What ``suite reference check`` found.

    Attributes:
        name: The reference config.
        folder: Where the committed trials and the re-runs were written (``committed/``, ``rerun/``).
        reruns: Each sampled trial with its re-run.
        comparison: ``suite compare`` of the re-run models' committed trials against the re-runs (default basis).
    """

    name: str
    folder: Path
    reruns: list[Rerun]
    comparison: Comparison

    @property
    def exit_code(self) -> int:
        """0 when every re-run that could predicted exactly as committed and the comparison found no regression, else 1."""
        return 0 if all(rerun.passed for rerun in self.reruns) and self.comparison.exit_code == 0 else 1


def committed_trials(folder: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(record, manifest)`` of every finished (``ok``) trial in the run folders under ``folder``."""
    runs = sorted(path.parent for path in folder.glob("*/manifest.json"))
    if not runs:
        raise SuiteError(f"no committed runs in {folder} (run `suite run configs/reference/<name>.yaml --out {folder}`)")
    found = []
    for run in runs:
        manifest = dict(read_manifest(run, purpose="check"))
        records = latest_records(read_trial_log(run / "trials.jsonl")[0]).values()
        found += [(record, manifest) for record in records if record.get("status") == "ok"]
    return found


def sample(trials: list[Any], count: int, seed: int) -> list[Any]:
    """``count`` of ``trials`` drawn without replacement by ``seed``, in their committed order."""
    if count < 1:
        raise SuiteError(f"--trials must be at least 1, got {count}")
    picks = np.random.default_rng(seed).choice(len(trials), size=min(count, len(trials)), replace=False)
    return [trials[index] for index in sorted(picks)]


def _rerun(record: dict[str, Any], manifest: dict[str, Any], out: Path, options: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """Run one committed trial again from its run's stored config, with the threads it trained with; its record and folder.

    The config is narrowed to the trial's model, budget and seed; a cross-validation keeps
    its every fold (the records name the run's evaluation, ``cv``) and runs only the
    trial's own fold, picked by its id.
    """
    stored = dict(manifest.get("config") or {})
    budget = {record["budget_kind"]: compact_count(float(record["budget"]))}
    config = parse_config(stored | {"models": [record["model"]], "seeds": [record["seed"]], "budgets": [budget]}, "check")
    torch.set_num_threads(int(record.get("threads") or torch.get_num_threads()))
    source = f"suite reference check of {manifest.get('name')}"
    run_dir = run_config(config, source=source, out=out, only={str(record.get("trial_id"))}, **options)
    new = list(latest_records(read_trial_log(run_dir / "trials.jsonl")[0]).values())
    if len(new) != 1:
        raise SuiteError(f"the re-run of {record.get('model')} seed {record.get('seed')} wrote {len(new)} trials, not 1")
    return new[0], run_dir


def _rerun_capped(caps: dict[str, str], *args: Any) -> tuple[dict[str, Any], Path]:
    """:func:`_rerun` in a new process whose environment has ``caps``: the libraries read them when they start."""
    saved = {name: os.environ.get(name) for name in caps}
    os.environ.update(caps)  # a spawned process copies the environment when it starts, in submit()
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(_rerun, *args).result()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _repeat(
    record: dict[str, Any], manifest: dict[str, Any], folder: Path, options: dict[str, Any], here: str, unrecorded: str | None
) -> Rerun:
    """Re-run one committed trial on its instruction set; its run folder goes to ``folder/rerun``.

    A record that names its level is re-run on it. One from before records kept it is
    re-run on ``unrecorded`` when given, else on this machine's level and then, while the
    predictions differ, on each lower level this machine can cap its libraries at: the
    level that repeats it is then found, and said in the line. Tries that did not repeat
    it stay in ``folder/tries``.
    """
    recorded = record.get("cpu_capability") or unrecorded
    levels = [str(recorded)] if recorded else [level for level in reversed(ORDER) if environment_for(level, here) is not None]
    rerun = None
    for index, level in enumerate(levels):
        caps = environment_for(level, here)
        args = (record, manifest, folder / "tries" / f"{record['trial_id']}-{index}", options)
        new, run_dir = _rerun_capped(caps, *args) if caps else _rerun(*args)
        rerun = Rerun(record, new, level, caps, searched=not recorded)
        if rerun.identical or index == len(levels) - 1:
            (folder / "rerun").mkdir(parents=True, exist_ok=True)
            shutil.move(run_dir, folder / "rerun" / run_dir.name)
            break
    assert rerun is not None  # levels holds this machine's own at least
    return rerun


def _setting(record: dict[str, Any]) -> tuple[Any, ...]:
    """What a re-run is compared on: model, budget and, in a cross-validation, the fold."""
    return record["model"], record["budget_kind"], record["budget"], record.get(FOLD)


def _write_committed(folder: Path, committed: list[tuple[dict[str, Any], dict[str, Any]]], source: Path) -> None:
    """Committed trials as one run folder (the first one's run manifest, these records), for ``suite compare``."""
    folder.mkdir(parents=True)
    writer = RunWriter(folder, [str(record.get("trial_id")) for record, _ in committed])
    writer.write_manifest(committed[0][1] | {"trials_planned": len(committed), "sampled_from": str(source)})
    for record, _ in committed:
        writer.add_trial(record)


def check(
    name: str,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    root: str | Path = ".",
    out: str | Path | None = None,
    data_root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    level_of_unrecorded: str | None = None,
) -> Check:
    """Re-run ``trials`` committed trials of reference config ``name`` here and judge them (``suite reference check``).

    Args:
        name (str): A folder of ``results/reference`` (``fsdd-100k``).
        trials (int): How many finished trials to re-run. (Default: ``3``)
        seed (int): Which ones: the seed of the draw. (Default: ``0``)
        root (str | Path): The repository. (Default: the current folder)
        out (str | Path, optional): Where the committed sample and the re-runs go. (Default: a new temporary folder)
        data_root, cache_dir: As for ``suite run``.
        progress (bool): Show the re-runs' progress. (Default: ``False``)
        level_of_unrecorded (str, optional): The instruction set (``AVX2``) of committed trials whose records
            do not name theirs (written before records kept it). (Default: looked for, :func:`_repeat`)

    Raises:
        SuiteError: for an unknown name, or a folder without finished trials.
    """
    source = Path(root) / RESULTS / name
    if not source.is_dir():
        known = sorted(path.name for path in (Path(root) / RESULTS).glob("*") if path.is_dir())
        raise SuiteError(f"no reference results named {name!r} in {source.parent} (there: {', '.join(known) or 'none'})")
    committed = committed_trials(source)
    picked = sample(committed, trials, seed)
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"suite-check-{name}-"))
    if (folder / "committed").exists() or (folder / "rerun").exists():
        raise SuiteError(f"--out {folder} already holds a check; give a new folder")
    options = {"data_root": data_root, "cache_dir": cache_dir, "progress": progress}
    threads, here = torch.get_num_threads(), cpu_capability()
    try:
        reruns = [_repeat(record, manifest, folder, options, here, level_of_unrecorded) for record, manifest in picked]
    finally:
        torch.set_num_threads(threads)
    # The base holds every committed seed of the re-run models: each seed's latency was measured in its own
    # trial, so the gate judges latency with runs as the unit and their spread (one run a side, judged on its
    # blocks alone, called 13 of 90 settings "regressed" for the same code an hour apart). Models not re-run
    # (and folds) are left out of the base, and the seeds not re-run are not "missing".
    # A fold of a cross-validation is judged against the same fold's other seeds: folds differ far more than seeds.
    rerun = {_setting(record) for record, _ in picked}
    base = [(record, manifest) for record, manifest in committed if _setting(record) in rerun]
    _write_committed(folder / "committed" / f"{name}-committed", base, source)
    fail_on = parse_fail_on("missing=ignore")
    comparison = compare_paths(folder / "committed", folder / "rerun", fail_on)
    return Check(name, folder, reruns, comparison)
