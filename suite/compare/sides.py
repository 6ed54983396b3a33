"""One side of a comparison (BASE or NEW), read from a results folder or a report's ``summary.csv``.

Both sources become the same two tables, aggregated over seeds:

- ``models``: one row per (data set, protocol, budget kind, budget, model) with the
  accuracy and macro-F1 mean, standard deviation and number of seeds, the counts, the
  budget error and peak memory;
- ``latency``: one row per model and timed setting (scope, device, backend, batch size,
  threads) with its level in milliseconds and relative to the interleaved reference
  kernel and, from a results folder, the blocks of every session (each trial's timing
  of that setting; in ms and relative to the reference of the block's round) with
  whether the session was ``unstable``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from suite.compare.accuracy import SeedResults
from suite.compare.latency import Sessions
from suite.errors import SuiteError
from suite.report.load import RunInfo, expand_run_dirs, load_results

KEYS = ["dataset", "protocol", "budget_kind", "budget", "model"]
SETTING = ["scope", "device", "backend", "batch_size", "threads"]
DEFAULT_TOLERANCE = 0.05
_SETTING_COLUMN = re.compile(r"^latency_(model|e2e)_(\w+?)_(\w+?)_b(\d+)_t(\d+)_ms$")


@dataclass
class Side:
    """What one side measured.

    Attributes:
        source (str): The folder or file it was read from.
        machines (list[str]): Machine labels of its runs.
        models (pd.DataFrame): Per-model figures (see the module docstring).
        latency (pd.DataFrame): Per-model, per-setting latency.
        tolerance (float): The budget matcher's tolerance of its runs.
        raw_times (bool): Whether raw per-block times are known.
        interleaved (bool): Whether every timing has a reference kernel timed between
            its rounds (results written since the timer took rounds).
        notes (list[str]): What was assumed while reading.
    """

    source: str
    machines: list[str]
    models: pd.DataFrame
    latency: pd.DataFrame
    tolerance: float = DEFAULT_TOLERANCE
    raw_times: bool = True
    interleaved: bool = False
    notes: list[str] = field(default_factory=list)


def load_side(path: str | Path) -> Side:
    """Read ``path``: a results folder (or a folder of them) or a ``summary.csv``.

    Raises:
        SuiteError: when ``path`` is missing, unreadable or holds no trial.
    """
    path = Path(path)
    if not path.exists():
        raise SuiteError(f"{path} does not exist (expected a results folder or a report's summary.csv)")
    side = _from_summary(path) if path.is_file() else _from_results(path)
    if side.models.empty:
        raise SuiteError(f"{path} holds no finished or infeasible trial to compare")
    return side


def _read_runs(path: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[RunInfo], list[str]]:
    """Trials and timings of every run under ``path``, each run read on its own.

    Reading the runs one by one keeps repeated runs of the same config (the report's
    loader keeps only the latest of those): a baseline of several runs pools their raw
    times, so one noisy measurement cannot make a model look slower or faster.
    """
    parts = [load_results([folder]) for folder in expand_run_dirs([path])]
    trials = pd.concat([p.trials for p in parts], ignore_index=True)
    timings = pd.concat([p.timings for p in parts if not p.timings.empty] or [parts[0].timings], ignore_index=True)
    return trials, timings, [run for p in parts for run in p.runs], [note for p in parts for note in p.notes]


def _from_results(path: Path) -> Side:
    all_trials, timings, runs, notes = _read_runs(path)
    trials = all_trials[all_trials["status"].isin(["ok", "infeasible"])]
    # A seed trained in several runs counts once (its mean): runs repeat measurements, not seeds.
    ok = trials[trials["status"] == "ok"].groupby([*KEYS, "seed"], sort=False, as_index=False).mean(numeric_only=True)
    models = trials.groupby(KEYS, sort=False).agg(
        params=("params", "first"),
        macs=("macs", "first"),
        budget_error=("budget_error", "first"),
        infeasible=("status", lambda s: bool((s == "infeasible").all())),
    )
    quality = ok.groupby(KEYS, sort=False).agg(
        accuracy_mean=("accuracy", "mean"),
        accuracy_std=("accuracy", "std"),
        macro_f1_mean=("macro_f1", "mean"),
        macro_f1_std=("macro_f1", "std"),
        n_seeds=("accuracy", "count"),
        peak_mem_infer_mb=("peak_mem_infer_mb", "mean"),
        peak_mem_train_mb=("peak_mem_train_mb", "mean"),
    )
    models = models.join(quality).join(_seed_results(trials[trials["status"] == "ok"])).reset_index()
    tolerances = {float(run.manifest.get("config", {}).get("tolerance", DEFAULT_TOLERANCE)) for run in runs}
    if len(runs) > 1:
        notes.append(f"{path}: {len(runs)} runs pooled (raw times of every run; each seed's accuracy averaged over runs)")
    return Side(
        source=str(path),
        machines=sorted(set(all_trials["machine"].dropna())),
        models=models,
        latency=_latency_from_timings(timings),
        tolerance=min(tolerances, default=DEFAULT_TOLERANCE),
        interleaved=_interleaved(timings),
        notes=notes,
    )


def _seed_results(ok: pd.DataFrame) -> pd.DataFrame:
    """Per model: its seeds' accuracies with their per-example predictions (:class:`SeedResults`) and macro-F1s.

    A seed trained in several runs counts once: its accuracy is the mean over runs and
    its predictions are the first run's (on CPU the runs are identical; where they are
    not, :meth:`SeedResults.from_trials` finds that the predictions do not reproduce the
    accuracy and the judge falls back to the seeds).
    """
    rows = {}
    for key, group in ok.groupby(KEYS, sort=False):
        per_seed = group.groupby("seed", sort=True)
        firsts = group.drop_duplicates("seed").set_index("seed").sort_index()
        predictions = list(firsts["test_predictions"]) if "test_predictions" in firsts else None
        targets = list(firsts["test_targets"]) if "test_targets" in firsts else None
        accuracy = per_seed["accuracy"].mean()
        rows[key] = {
            "accuracy_seeds": SeedResults.from_trials(list(accuracy), predictions, targets),
            "macro_f1_seeds": tuple(float(v) for v in per_seed["macro_f1"].mean()),
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["accuracy_seeds", "macro_f1_seeds"]).rename_axis(KEYS)


def _interleaved(timings: pd.DataFrame) -> bool:
    """Whether every ``ok`` timing carries the reference of each of its rounds."""
    if timings.empty or "reference_rounds_ms" not in timings:
        return False
    ok = timings[timings["status"] == "ok"]["reference_rounds_ms"]
    return bool(len(ok)) and all(isinstance(r, list) and r for r in ok)


def _relative_blocks(row: pd.Series) -> list[float] | None:
    """Each block divided by the reference of its round (older results: by the session's one reference)."""
    times = row.get("times_ms")
    if not isinstance(times, list) or not times:
        return None
    rounds, references = row.get("block_rounds"), row.get("reference_rounds_ms")
    if isinstance(rounds, list) and isinstance(references, list) and len(rounds) == len(times) and references:
        return [t / references[r] for t, r in zip(times, rounds, strict=True)]
    reference = row.get("reference_ms")
    return [t / reference for t in times] if reference and np.isfinite(reference) else None


def _sessions(blocks: list[list[float] | None], unstable: list[bool]) -> Sessions | None:
    """The sessions of one setting, or ``None`` unless every session kept its blocks."""
    if not blocks or any(b is None for b in blocks):
        return None
    return Sessions.of(blocks, unstable)  # type: ignore[arg-type]


def _latency_from_timings(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per model and setting; every trial's timing of it is one session (a run's measurement of that model)."""
    columns = [*KEYS, *SETTING, "median_ms", "median_rel", "sessions_ms", "sessions_rel", "n_unstable"]
    if timings.empty:
        return pd.DataFrame(columns=columns)
    timings = timings[timings["status"] == "ok"]
    rows = []
    for key, group in timings.groupby([*KEYS, *SETTING], sort=False):
        records = [r for _, r in group.iterrows()]
        unstable = [r.get("stability") == "unstable" for r in records]
        blocks_ms = [r["times_ms"] if isinstance(r.get("times_ms"), list) and r["times_ms"] else None for r in records]
        sessions_ms, sessions_rel = _sessions(blocks_ms, unstable), _sessions([_relative_blocks(r) for r in records], unstable)
        rows.append(
            dict(
                zip([*KEYS, *SETTING], key, strict=True),
                median_ms=sessions_ms.usable().level() if sessions_ms else float(group["median_ms"].median()),
                median_rel=sessions_rel.usable().level() if sessions_rel else float(group["latency_rel"].median()),
                sessions_ms=sessions_ms,
                sessions_rel=sessions_rel,
                n_unstable=sum(unstable),
            )
        )
    return pd.DataFrame(rows, columns=columns)


def _from_summary(path: Path) -> Side:
    try:
        summary = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SuiteError(f"cannot read {path} as a summary.csv: {error}") from None
    missing = [c for c in [*KEYS, "machine", "accuracy_mean", "n_ok", "params", "macs"] if c not in summary]
    if missing:
        raise SuiteError(f"{path} is not a report's summary.csv: no column {', '.join(missing)}")
    n_seeds = summary["n_ok"].fillna(0).astype(int)
    models = summary.assign(
        n_seeds=n_seeds,
        infeasible=(n_seeds == 0) & (summary.get("n_infeasible", 0) > 0),
        **{c: summary.get(c, np.nan) for c in ("accuracy_std", "macro_f1_mean", "macro_f1_std", "budget_error")},
        **{c: summary.get(c, np.nan) for c in ("peak_mem_infer_mb", "peak_mem_train_mb")},
    )
    rows = []
    for column in summary.columns:
        match = _SETTING_COLUMN.match(column)
        if not match:
            continue
        scope, device, backend, batch, threads = match.groups()
        headline = (scope, device, backend, batch, threads) == ("model", "cpu", "eager", "1", "1")
        for _, row in summary[summary[column].notna()].iterrows():
            rel = row.get("latency_rel", np.nan) if headline else np.nan
            setting = {"scope": scope, "device": device, "backend": backend, "batch_size": int(batch), "threads": int(threads)}
            rows.append({**{k: row[k] for k in KEYS}, **setting, "median_ms": row[column], "median_rel": rel})
    latency = pd.DataFrame(rows, columns=[*KEYS, *SETTING, "median_ms", "median_rel"])
    latency = latency.assign(sessions_ms=None, sessions_rel=None, n_unstable=0)
    return Side(
        source=str(path),
        machines=sorted(set(summary["machine"].dropna())),
        models=models[[*KEYS, *(c for c in models.columns if c not in KEYS and c != "machine")]],
        latency=latency,
        raw_times=False,
        notes=[f"{path.name}: a summary, so latency is judged by its threshold only (no raw times)"],
    )
