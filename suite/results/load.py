"""Read results folders into one tidy table: the one loader the CLI, the report and the tests use.

A results folder (see :mod:`suite.results`) holds ``manifest.json``, ``trials.jsonl``
and ``results.csv``. A run may still be going (status ``running``, fewer trials than
planned), may have been interrupted, or may have crashed mid-write, so the loader takes
what is there: a truncated last line of ``trials.jsonl`` is skipped and noted, a
missing ``trials.jsonl`` falls back to ``results.csv``, a missing manifest is noted.
A figure that is not a finite number (``inf`` params, a 400-digit integer, text) is
read as unknown (NaN) and noted, never passed on to crash a table or a test; only the
metrics declared in ``INFINITE_METRICS`` (an unbounded receptive field) keep ``inf``.
Runs of one data set and protocol must have used the same data
(:mod:`suite.results.identity`); runs that did not are refused in one line.
Nothing in here trains or measures anything.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from suite.environment import identified
from suite.environment import machine_label as environment_machine_label
from suite.errors import SuiteError
from suite.metrics import FLOAT32, FLOPS, INFINITE_METRICS, METRICS, QUALITY, TEXT_METRICS, TIMED_SETTING
from suite.results.folder import RESULT_COLUMNS, read_trial_lines
from suite.results.identity import DataIdentity, data_identity, pooled_identities, unchecked_note
from suite.results.manifest import read_manifest

RESULT_FILES = ("manifest.json", "trials.jsonl", "results.csv")
#: Columns every trials frame has, whatever the runs recorded (missing values are NaN).
TRIAL_COLUMNS = (
    "run",
    "machine",
    *RESULT_COLUMNS,
    FLOPS,
    "best_val_accuracy",
    "wall_seconds",
    "confusion_matrix",
)
NUMERIC_COLUMNS = (
    "budget", "seed", "width", *(m for m in METRICS if m not in TEXT_METRICS), "best_val_accuracy", "wall_seconds"
)  # fmt: skip
#: Keys of a trial record that identify it; copied onto its curve and timing rows.
KEY_COLUMNS = ("run", "machine", "trial_id", "model", "dataset", "protocol", "fold", "budget_kind", "budget", "seed")


@dataclass
class RunInfo:
    """One results folder: where it is, its manifest and how many trials it holds."""

    path: Path
    manifest: dict[str, Any]
    n_trials: int = 0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return str(self.manifest.get("status") or "unknown")

    @property
    def planned(self) -> int | None:
        planned = self.manifest.get("trials_planned")
        return int(planned) if isinstance(planned, int) else None

    @property
    def machine(self) -> str:
        return machine_label(self.manifest)

    @property
    def data(self) -> DataIdentity | None:
        """The data the run used, from its manifest (:mod:`suite.results.identity`); ``None`` when unrecorded."""
        return data_identity(self.manifest)


@dataclass
class Results:
    """Everything a report needs, read from one or more results folders.

    Attributes:
        trials (pd.DataFrame): One row per trial: ``run``, ``machine`` and every flat
            column of ``results.csv`` (plus ``flops``, ``best_val_accuracy``,
            ``wall_seconds`` and ``confusion_matrix``, a list of lists or None).
        curves (pd.DataFrame): One row per trial and epoch: the key columns, ``epoch``
            (from 1), ``train_loss``, ``val_accuracy`` and ``lr``.
        timings (pd.DataFrame): One row per trial and timed setting: the key columns
            and the fields of :class:`suite.measure.latency.Timing`, with ``times_ms`` (the
            raw per-block times, a list) for ``suite compare``'s significance tests.
        runs (list[RunInfo]): The folders, in the order given.
        notes (list[str]): What was skipped or assumed while reading, for the report.
    """

    trials: pd.DataFrame
    curves: pd.DataFrame
    timings: pd.DataFrame
    runs: list[RunInfo]
    notes: list[str] = field(default_factory=list)


def sittings(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The environment of every sitting of a run: its start's, then each resumption's (in order)."""
    resumed = manifest.get("resumed") or []
    return [manifest.get("environment") or {}] + [r.get("environment") or {} for r in resumed if isinstance(r, dict)]


def _agreed(manifest: dict[str, Any], key: str) -> str | None:
    """``key`` of the environment when every sitting recorded the same value; ``None`` when any differs or lacks it."""
    values = {env.get(key) for env in sittings(manifest)}
    value = values.pop() if len(values) == 1 else None
    return value if isinstance(value, str) and value else None


def _driver_label(manifest: dict[str, Any], *, identify: bool) -> str:
    env = manifest.get("environment") or {}
    if not env:
        return "unknown machine"
    gpu = env.get("gpu") if str(manifest.get("device", "")).startswith("cuda") else None
    if not identify:
        return environment_machine_label(env.get("cpu"), env.get("cpu_count"), gpu)
    identity, capability = _agreed(manifest, "cpu_id"), _agreed(manifest, "cpu_capability")
    return environment_machine_label(env.get("cpu"), env.get("cpu_count"), gpu, identity=identity, capability=capability)


def machine_label(manifest: dict[str, Any]) -> str:
    """``"AMD EPYC, 2 CPUs (family 25 model 17, AVX512)"``: the machine of the driver that wrote the run.

    The label of a trial is its record's ``machine`` (where it was measured: a Ray worker's
    node, or the driver itself on the local executor); this is the fallback for records
    without one (folders written before records carried it), in the same format. The CPU
    generation and kernel level are added only when every sitting of the run recorded the
    same ones: a run resumed on another CPU cannot say which trials ran where.
    """
    return _driver_label(manifest, identify=True)


def trial_machine(record: dict[str, Any], run: RunInfo) -> str:
    """The machine that measured a trial: its record's ``machine``, else the run's (from the manifest).

    Records written before labels carried the CPU generation and kernel level (they have no
    ``cpu_id``) get them here where they can be known: the level from the record, the
    generation from the run when the record names the driver's CPU and every sitting agreed
    on it. So an old AVX2 run and a new AVX-512 one of the same "AMD EPYC" are told apart.
    """
    machine = record.get("machine")
    if not (isinstance(machine, str) and machine):
        return run.machine
    if "cpu_id" in record:  # written by this_machine with the identity already in the label
        return machine
    same_cpu = machine == _driver_label(run.manifest, identify=False)
    identity = _agreed(run.manifest, "cpu_id") if same_cpu else None
    capability = record.get("cpu_capability")
    return identified(machine, identity, capability if isinstance(capability, str) else None)


def _is_run(folder: Path) -> bool:
    return any((folder / name).is_file() for name in RESULT_FILES)


def expand_run_dirs(paths: list[str | Path]) -> list[Path]:
    """The results folders named by ``paths``; a folder of run folders (``results/``) stands for all of them.

    Raises:
        SuiteError: for a path that does not exist, is not a folder or holds no results.
    """
    if not paths:
        raise SuiteError("no results folder given")
    folders: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SuiteError(f"results folder {path} not found")
        if not path.is_dir():
            raise SuiteError(f"{path} is a file, not a results folder")
        try:
            if _is_run(path):
                folders.append(path)
                continue
            children = sorted(child for child in path.iterdir() if child.is_dir() and _is_run(child))
        except OSError as error:  # a folder without read permission
            raise SuiteError(f"cannot read {path}: {error.strerror or error}") from None
        if not children:
            raise SuiteError(f"{path} holds no results (no {', '.join(RESULT_FILES)})")
        folders += children
    return list(dict.fromkeys(folders))  # the same folder named twice is read once


def _read_records(folder: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Trial records from ``trials.jsonl``, else from ``results.csv`` (flat columns only)."""
    jsonl = folder / "trials.jsonl"
    if jsonl.is_file():
        # The one reader of trial logs (the resume reads them too): lines that are not records come back as notes.
        try:
            log = read_trial_lines(jsonl)
        except OSError as error:  # it names unreadable files itself; this is for any other I/O error
            raise SuiteError(f"cannot read {jsonl}: {error.strerror or error}") from None
        lines = log.notes()
        notes += [f"{folder.name}: {line}; skipped" for line in lines[:5]]
        if len(lines) > 5:
            notes.append(f"{folder.name}: {len(lines) - 5} more lines of trials.jsonl that are not records skipped")
        return log.records
    csv = folder / "results.csv"
    if csv.is_file():
        notes.append(f"{folder.name}: no trials.jsonl; read results.csv (no learning curves, confusion matrices or timings)")
        try:
            frame = pd.read_csv(csv, dtype={"trial_id": str, "error": str}, keep_default_na=True)
        except (OSError, ValueError) as error:
            notes.append(f"{folder.name}: results.csv unreadable ({error}); skipped")
            return []
        return [{k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))} for row in frame.to_dict("records")]
    return []


def _curve_rows(record: dict[str, Any], keys: dict[str, Any]) -> list[dict[str, Any]]:
    curves = record.get("curves") or {}
    if not isinstance(curves, dict):
        return []
    length = max((len(v) for v in curves.values() if isinstance(v, list)), default=0)
    rows = []
    for epoch in range(length):
        row = dict(keys, epoch=epoch + 1)
        for name in ("train_loss", "val_accuracy", "lr"):
            values = curves.get(name) or []
            row[name] = values[epoch] if epoch < len(values) else np.nan
        rows.append(row)
    return rows


def _timing_rows(record: dict[str, Any], keys: dict[str, Any]) -> list[dict[str, Any]]:
    timings = record.get("timings") or []
    return [keys | t for t in timings if isinstance(t, dict)]


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in columns:
        if column not in frame:
            frame[column] = np.nan
    return frame


def _drop_repeats(trials: pd.DataFrame, runs: list[RunInfo], notes: list[str]) -> pd.DataFrame:
    """The same trial (same id: config, model, budget, seed) on the same machine twice: keep the later run's.

    Pooling both would count one seed twice in a mean over seeds.
    """
    if trials.empty or trials["trial_id"].isna().all():
        return trials
    started = {run.name: str(run.manifest.get("started") or "") for run in runs}
    order = trials["run"].map(started)
    ranked = trials.assign(_started=order, _index=np.arange(len(trials))).sort_values(["_started", "_index"])
    # A fold's trial has the same id in a cross-validation and alone: they are different evaluations (protocols).
    repeated = ranked.duplicated(subset=["trial_id", "machine", "protocol"], keep="last") & ranked["trial_id"].notna()
    if repeated.any():
        notes.append(
            f"{int(repeated.sum())} trial(s) appear in more than one run on the same machine (same configuration, "
            "model, budget and seed); the later run's result is used"
        )
    return ranked[~repeated].sort_values("_index").drop(columns=["_started", "_index"])


def _kept(frame: pd.DataFrame, kept: set[tuple[Any, Any]]) -> np.ndarray:
    """Rows of curves or timings whose trial survived :func:`_drop_repeats` (a boolean mask, even when empty)."""
    return np.array([key in kept for key in zip(frame["run"], frame["trial_id"], strict=True)], dtype=bool)


def _finite(value: Any) -> float:
    """A figure as a float: ``inf`` for a number beyond float range, NaN for anything that is not a number."""
    if isinstance(value, bool | np.bool_) or value is None:
        return math.nan
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:  # a 400-digit integer
            return math.inf
    if isinstance(value, str):
        try:
            return float(value)
        except (ValueError, OverflowError):
            return math.nan
    return math.nan


def _numeric_columns(trials: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Every figure column as numbers; values that are not finite become NaN (unknown), with a note naming them."""
    for column in NUMERIC_COLUMNS:
        values = trials[column]
        try:
            converted = pd.to_numeric(values, errors="coerce")
        except (OverflowError, TypeError, ValueError):
            converted = pd.Series([_finite(v) for v in values], index=values.index, dtype=float)
        if converted.dtype == object:  # e.g. a huge integer kept as a Python int
            converted = pd.Series([_finite(v) for v in values], index=values.index, dtype=float)
        infinite = np.isinf(converted.to_numpy(dtype=float, na_value=np.nan))
        if infinite.any() and column not in INFINITE_METRICS:
            runs = ", ".join(dict.fromkeys(trials.loc[infinite, "run"].astype(str)))
            notes.append(f"{column} is not a finite number in {int(infinite.sum())} trial(s) of {runs}; read as unknown")
            converted = converted.astype(float).mask(infinite)
        trials[column] = converted
    ok = trials["status"] == "ok"
    for column in QUALITY:
        unknown = ok & trials[column].isna()
        if unknown.any():
            runs = ", ".join(dict.fromkeys(trials.loc[unknown, "run"].astype(str)))
            notes.append(f"{column} is NaN in {int(unknown.sum())} ok trial(s) of {runs}")
    return trials


def load_results(paths: list[str | Path]) -> Results:
    """Read one or more results folders into :class:`Results`.

    Args:
        paths (list[str | Path]): Run folders (``results/default-20261129-003032``), or
            folders of run folders.

    Returns:
        Results: trials, curves and timings of every run, with the manifests and notes
        on anything that was skipped.

    Raises:
        SuiteError: for a folder that is missing, unreadable or holds no results, or runs of one
            data set and protocol that used different data (:mod:`suite.results.identity`).
    """
    notes: list[str] = []
    runs: list[RunInfo] = []
    trial_rows: list[dict[str, Any]] = []
    curve_rows: list[dict[str, Any]] = []
    timing_rows: list[dict[str, Any]] = []
    for folder in expand_run_dirs(paths):
        manifest = read_manifest(folder, notes)
        run = RunInfo(folder, manifest)
        records = _read_records(folder, notes)
        run.n_trials = len(records)
        runs.append(run)
        for record in records:
            row = {k: v for k, v in record.items() if k not in ("curves", "timings", "uncounted_ops")}
            row |= {"run": run.name, "machine": trial_machine(record, run)}
            keys = {k: row.get(k) for k in KEY_COLUMNS}
            trial_rows.append(row)
            curve_rows += _curve_rows(record, keys)
            timing_rows += _timing_rows(record, keys)
    pooled_identities(((run.name, run.data) for run in runs), "")
    unchecked = [run.name for run in runs if run.data is None or not run.data.checkable]
    if unchecked and len(runs) > 1:
        notes.append(unchecked_note(unchecked, ""))
    trials = _frame(trial_rows, TRIAL_COLUMNS)
    trials["status"] = trials["status"].fillna("unknown").astype(str)
    trials = _numeric_columns(trials, notes)
    trials["error"] = [e if isinstance(e, str) else "" for e in trials["error"]]
    trials = _drop_repeats(trials, runs, notes).reset_index(drop=True)
    kept = set(zip(trials["run"], trials["trial_id"], strict=True))
    curves = _frame(curve_rows, (*KEY_COLUMNS, "epoch", "train_loss", "val_accuracy", "lr"))
    timings = _frame(timing_rows, (*KEY_COLUMNS, *TIMED_SETTING, "status", "median_ms"))
    timings["dtype"] = timings["dtype"].fillna(FLOAT32)  # every figure was float32 before int8 models were timed
    curves = curves[_kept(curves, kept)].reset_index(drop=True)
    timings = timings[_kept(timings, kept)].reset_index(drop=True)
    return Results(trials, curves, timings, runs, notes)
