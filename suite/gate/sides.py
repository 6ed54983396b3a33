"""One side of a comparison (BASE or NEW), read from a results folder or a report's ``summary.csv``.

Both sources become the same two tables, aggregated over seeds:

- ``models``: one row per (data set, protocol, budget kind, budget, model) with the
  accuracy and macro-F1 mean, standard deviation and number of seeds (with a finite
  accuracy), the counts, the budget error, peak memory and ``health``, which seeds
  failed, never ran or scored NaN (:class:`~suite.gate.health.SeedHealth`); a model
  whose every trial failed has a row too (no seeds, no counts);
- ``latency``: one row per model and timed setting (scope, device, backend, batch size,
  threads) with its level in milliseconds and relative to the interleaved reference
  kernel and, from a results folder, the blocks of every session (each trial's timing
  of that setting; in ms and relative to the reference of the block's round) with
  whether the session was ``unstable``, and ``machines``, the labels of the machines
  whose finished trials timed it.

A side also says which data each data set was (:mod:`suite.results.identity`), so that
``suite compare`` and ``suite history`` refuse to judge across different data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from suite.crossval import pool_folds
from suite.errors import SuiteError
from suite.gate.accuracy import SeedResults
from suite.gate.health import SeedHealth
from suite.gate.latency import Sessions
from suite.metrics import (
    ACCURACY,
    BUDGET_ERROR,
    FLOAT32,
    INFINITE_METRICS,
    LATENCY_REL,
    MACS,
    MEMORY,
    PARAMS,
    PEAK_MEM_INFER_MB,
    PEAK_MEM_TRAIN_MB,
    SCORES,
    TIMED_SETTING,
    is_headline,
    seed_aggregations,
)
from suite.reporting.summary import BUDGET, is_pooled, machine_columns, pooled_machines
from suite.results.identity import DataIdentity, pooled_identities
from suite.results.load import NUMERIC_COLUMNS, RunInfo, expand_run_dirs, load_results

KEYS = ["dataset", "protocol", "budget_kind", "budget", "model"]
#: Every quality metric a side aggregates over seeds: the float32 model's and each int8 model's.
SCORED = tuple(metric for score in SCORES for metric in (score.accuracy, score.macro_f1))
SETTING = list(TIMED_SETTING)
DEFAULT_TOLERANCE = 0.05
_SETTING_COLUMN = re.compile(r"^latency_(model|e2e|stream|frontend)_(\w+?)_(\w+?)(?:_(int8_\w+?))?_b(\d+)_t(\d+)_ms$")


class EmptySide(SuiteError):
    """A results folder or summary that holds no trial to compare (a run that has not finished one yet)."""


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
        data (dict[tuple[str, str], DataIdentity]): The data of each (data set, protocol),
            where the runs recorded it.
        unchecked (list[str]): Runs (or the summary file) whose data is not recorded.
    """

    source: str
    machines: list[str]
    models: pd.DataFrame
    latency: pd.DataFrame
    tolerance: float = DEFAULT_TOLERANCE
    raw_times: bool = True
    interleaved: bool = False
    notes: list[str] = field(default_factory=list)
    data: dict[tuple[str, str], DataIdentity] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)


def load_side(path: str | Path) -> Side:
    """Read ``path``: a results folder (or a folder of them) or a ``summary.csv``.

    Raises:
        EmptySide: when ``path`` holds no trial (a :class:`SuiteError`).
        SuiteError: when ``path`` is missing or unreadable, or pools runs of different data
            under one data-set name.
    """
    path = Path(path)
    if not path.exists():
        raise SuiteError(f"{path} does not exist (expected a results folder or a report's summary.csv)")
    side = _from_summary(path) if path.is_file() else _from_results(path)
    if side.models.empty:
        raise EmptySide(f"{path} holds no finished, failed or infeasible trial to compare")
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
    all_trials = pool_folds(all_trials)  # a seed's cross-validation is one replicate, over every test fold
    data = pooled_identities(((run.name, run.data) for run in runs), f"{path}: ")
    trials = all_trials[all_trials["status"].isin(["ok", "infeasible", "failed"])]
    # A seed trained in several runs counts once (its mean): runs repeat measurements, not seeds.
    usable = trials[(trials["status"] == "ok") & trials[ACCURACY].notna()]
    ok = usable.groupby([*KEYS, "seed"], sort=False, as_index=False).mean(numeric_only=True)
    models = trials.groupby(KEYS, sort=False).agg(
        params=(PARAMS, "first"),
        macs=(MACS, "first"),
        budget_error=(BUDGET_ERROR, "first"),
        infeasible=("status", lambda s: bool((s == "infeasible").all())),
    )
    quality = ok.groupby(KEYS, sort=False).agg(
        **seed_aggregations((*SCORED, *MEMORY)),  # as the report's summary aggregates them
        n_seeds=(ACCURACY, "count"),
    )
    models = models.join(quality).join(_seed_results(usable)).join(_health(all_trials, runs)).reset_index()
    models["n_seeds"] = models["n_seeds"].fillna(0).astype(int)
    tolerances = {float(run.manifest.get("config", {}).get("tolerance", DEFAULT_TOLERANCE)) for run in runs}
    machines = sorted(set(all_trials["machine"].dropna()))
    if len(machines) > 1:
        # A run resumed on another CPU: its raw times are pooled, so a model's spread holds the
        # gap between the CPUs (23 % for one model of an AVX2 + AVX-512 run) and hides changes.
        notes.append(f"{path}: trials from {len(machines)} machines ({'; '.join(machines)}): latency pooled over them")
    if len(runs) > 1:
        notes.append(f"{path}: {len(runs)} runs pooled (raw times of every run; each seed's accuracy averaged over runs)")
    return Side(
        source=str(path),
        machines=machines,
        models=models,
        latency=_latency_from_timings(timings),
        tolerance=min(tolerances, default=DEFAULT_TOLERANCE),
        interleaved=_interleaved(timings),
        notes=notes,
        data=data,
        unchecked=[run.name for run in runs if run.data is None or not run.data.checkable],
    )


def _planned_seeds(run: RunInfo) -> list[int]:
    """The seeds a run's config planned for every model (none when the manifest does not say)."""
    seeds = (run.manifest.get("config") or {}).get("seeds")
    return [s for s in seeds if isinstance(s, int) and not isinstance(s, bool)] if isinstance(seeds, list) else []


def _health(trials: pd.DataFrame, runs: list[RunInfo]) -> pd.Series:
    """Per model: :class:`SeedHealth` from its records of every status and the seeds its runs planned."""
    planned = {run.name: _planned_seeds(run) for run in runs}
    seeded = trials[trials["seed"].notna()]
    health = {
        key: SeedHealth.of_records(group, [s for run in group["run"].unique() for s in planned.get(run, [])])
        for key, group in seeded.groupby(KEYS, sort=False)
    }
    return pd.Series(list(health.values()), index=_key_index(list(health)), name="health", dtype=object)


def _key_index(keys: list[tuple]) -> pd.MultiIndex:
    """A model index (even an empty one, which pandas would not infer as a MultiIndex)."""
    return pd.MultiIndex.from_tuples(keys, names=KEYS) if keys else pd.MultiIndex.from_arrays([[]] * len(KEYS), names=KEYS)


def _seed_results(ok: pd.DataFrame) -> pd.DataFrame:
    """Per model and :data:`~suite.metrics.SCORES` pair: the seeds' accuracies with their per-example predictions
    (``<accuracy>_seeds``, a :class:`SeedResults`) and macro-F1s (``<macro_f1>_seeds``, a tuple).

    ``ok`` holds only records with a finite accuracy.

    A seed trained in several runs counts once: its accuracy is the mean over runs and
    its predictions are the first run's (on CPU the runs are identical; where they are
    not, :meth:`SeedResults.from_trials` finds that the predictions do not reproduce the
    accuracy and the judge falls back to the seeds).
    """
    rows = {}
    columns = [f"{metric}_seeds" for score in SCORES for metric in (score.accuracy, score.macro_f1)]
    for key, group in ok.groupby(KEYS, sort=False):
        rows[key] = {}
        for score in SCORES:
            scored = group[group[score.accuracy].notna()] if score.accuracy in group else group.iloc[:0]
            if scored.empty:
                continue  # no seed has this score (a run without int8 models)
            per_seed = scored.groupby("seed", sort=True)
            firsts = scored.drop_duplicates("seed").set_index("seed").sort_index()
            predictions = list(firsts[score.predictions]) if score.predictions in firsts else None
            targets = list(firsts["test_targets"]) if "test_targets" in firsts else None
            accuracy = per_seed[score.accuracy].mean()
            rows[key][f"{score.accuracy}_seeds"] = SeedResults.from_trials(list(accuracy), predictions, targets)
            # Seeds without a macro-F1 are left out here; the seeds row reports them (suite.gate.health).
            rows[key][f"{score.macro_f1}_seeds"] = tuple(float(v) for v in per_seed[score.macro_f1].mean().dropna())
    return pd.DataFrame(list(rows.values()), index=_key_index(list(rows)), columns=columns)


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


def _sessions(blocks: list[list[float] | None], unstable: list[bool], runs: list[str]) -> Sessions | None:
    """The sessions of one setting (each labelled with its run), or ``None`` unless every session kept its blocks."""
    if not blocks or any(b is None for b in blocks):
        return None
    return Sessions.of(blocks, unstable, runs)  # type: ignore[arg-type]


def _latency_from_timings(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per model and setting; every trial's timing of it is one session (a run's measurement of that model)."""
    columns = [*KEYS, *SETTING, "median_ms", "median_rel", "sessions_ms", "sessions_rel", "n_unstable", "machines"]
    if timings.empty:
        return pd.DataFrame(columns=columns)
    timings = timings[timings["status"] == "ok"]
    rows = []
    for key, group in timings.groupby([*KEYS, *SETTING], sort=False):
        records = [r for _, r in group.iterrows()]
        unstable = [r.get("stability") == "unstable" for r in records]
        blocks_ms = [r["times_ms"] if isinstance(r.get("times_ms"), list) and r["times_ms"] else None for r in records]
        runs = [str(r.get("run", index)) for index, r in enumerate(records)]  # sessions of one run share its machine state
        sessions_ms = _sessions(blocks_ms, unstable, runs)
        sessions_rel = _sessions([_relative_blocks(r) for r in records], unstable, runs)
        rows.append(
            dict(
                zip([*KEYS, *SETTING], key, strict=True),
                median_ms=sessions_ms.usable().level() if sessions_ms else float(group["median_ms"].median()),
                median_rel=sessions_rel.usable().level() if sessions_rel else float(group[LATENCY_REL].median()),
                sessions_ms=sessions_ms,
                sessions_rel=sessions_rel,
                n_unstable=sum(unstable),
                machines=tuple(sorted(set(group["machine"].dropna()))),  # the machines that timed this figure
            )
        )
    return pd.DataFrame(rows, columns=columns)


def _summary_numbers(summary: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Numeric columns as numbers: text and ``inf`` become NaN (unknown) with a note; a key that is not one is an error."""
    notes = []
    prefixes = ("accuracy_", "macro_f1_", "n_", "latency_")
    numeric = [c for c in summary.columns if c != "latency_stability" and (c in NUMERIC_COLUMNS or c.startswith(prefixes))]
    converted = {}
    for column in numeric:
        values = pd.to_numeric(summary[column], errors="coerce").astype(float)
        bad = values.notna() & ~np.isfinite(values) & (column not in INFINITE_METRICS)  # an unbounded field is a value
        if bad.any():
            notes.append(f"{path.name}: {column} is not a finite number in {int(bad.sum())} row(s); read as unknown")
        converted[column] = values.mask(bad)
    # Joined once: replacing a wide summary's columns one by one fragments it (pandas' PerformanceWarning).
    summary = pd.concat([summary.drop(columns=numeric), pd.DataFrame(converted, index=summary.index)], axis=1)[summary.columns]
    unknown = summary["budget"].isna()
    if unknown.any():  # the budget is part of what models are matched on
        raise SuiteError(f"{path}: line {int(unknown.to_numpy().argmax()) + 2} has no valid budget (a number)")
    summary["budget"] = summary["budget"].round().astype("int64")  # matched with a results folder's integer budgets
    return summary, notes


def _cross_validated_rows(summary: pd.DataFrame, path: Path, notes: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """A cross-validated row as its seeds: ``n_ok`` counts seeds, and its spread (across folds) is not seed noise.

    A summary's ``_std`` of a cross-validation is the spread across folds, which says
    nothing about how the fold mean moves between seeds: it is left out, so a change is
    judged by the min-points bar alone (a results folder gives the paired test).
    """
    if "folds" not in summary or summary["folds"].isna().all():
        return summary, notes
    crossed = summary["folds"].notna()
    seeds = summary["seeds"].fillna("").astype(str).str.split().str.len() if "seeds" in summary else 1
    summary.loc[crossed, "n_ok"] = seeds[crossed] if isinstance(seeds, pd.Series) else seeds
    for metric in SCORED:
        if f"{metric}_std" in summary:
            summary.loc[crossed, f"{metric}_std"] = np.nan
    notes.append(f"{path.name}: cross-validated rows are judged by the min-points bar alone (no per-seed fold means)")
    return summary, notes


def _shared_run_rows(summary: pd.DataFrame, path: Path, notes: list[str]) -> pd.DataFrame:
    """One row per model of each budget that several machines shared: its pooled quality, the main machine's costs.

    The summary of such a budget (:func:`suite.reporting.summary.pooled_trials`) holds
    ``pooled: ...`` rows, over every trial but without times or memory, and each
    machine's rows over the trials it ran. Quality is judged from the pooled rows; times
    and memory come from the machine that ran the most of that budget's trials (never an
    average of two CPUs), and a note names it. Budgets that one machine ran keep their rows.
    """
    pooled = summary["machine"].map(is_pooled)
    if not pooled.any():
        return summary
    kept, shared = [summary[~pooled]], []
    for key, rows in summary[pooled].groupby(BUDGET, sort=False, dropna=False):
        own = summary[~pooled & (summary[BUDGET] == pd.Series(key, index=BUDGET)).all(axis=1)]
        own = own[own["machine"].isin(pooled_machines(str(rows["machine"].iloc[0])))]
        main = str(own.groupby("machine", sort=False)["n_trials"].sum().idxmax())
        costs = own[own["machine"] == main]
        measured = machine_columns(costs.columns)
        joined = rows.drop(columns=measured, errors="ignore").merge(costs[[*KEYS, *measured]], on=KEYS, how="left")
        kept[0] = kept[0].drop(own.index)
        shared.append(joined.assign(machine=main))
        ran, total = int(costs["n_trials"].sum()), int(own["n_trials"].sum())
        notes.append(
            f"{path.name}: {key[0]} {key[3]} {key[2]} was shared by {own['machine'].nunique()} machines: quality over "
            f"all its trials (its pooled rows), times and memory of {main}, which ran {ran} of its {total} trials"
        )
    return pd.concat([*kept, *shared], ignore_index=True)


def _from_summary(path: Path) -> Side:
    try:
        summary = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SuiteError(f"cannot read {path} as a summary.csv: {error}") from None
    missing = [c for c in [*KEYS, "machine", "accuracy_mean", "n_ok", PARAMS, MACS] if c not in summary]
    if missing:
        raise SuiteError(f"{path} is not a report's summary.csv: no column {', '.join(missing)}")
    summary, notes = _summary_numbers(summary, path)
    summary = _shared_run_rows(summary, path, notes)
    summary, notes = _cross_validated_rows(summary, path, notes)
    n_ok = summary["n_ok"].fillna(0).astype(int)
    n_failed = summary["n_failed"].fillna(0).astype(int) if "n_failed" in summary else pd.Series(0, index=summary.index)
    accuracy = summary["accuracy_mean"]
    health = [SeedHealth.of_counts(k, f, bool(np.isnan(a))) for k, f, a in zip(n_ok, n_failed, accuracy, strict=True)]
    models = summary.assign(
        n_seeds=[len(h.ok) for h in health],
        health=health,
        infeasible=(n_ok == 0) & (summary.get("n_infeasible", 0) > 0),
        **{c: summary.get(c, np.nan) for c in ("accuracy_std", "macro_f1_mean", "macro_f1_std", BUDGET_ERROR)},
        **{c: summary.get(c, np.nan) for c in (PEAK_MEM_INFER_MB, PEAK_MEM_TRAIN_MB)},
    )
    rows = []
    settings = {}
    for column in summary.columns:
        match = _SETTING_COLUMN.match(column)
        if match:
            scope, device, backend, dtype, batch, threads = match.groups()
            settings[column] = {
                "scope": scope,
                "device": device,
                "backend": backend,
                "dtype": dtype or FLOAT32,
                "batch_size": int(batch),
                "threads": int(threads),
            }
    fewest = min((s["threads"] for s in settings.values()), default=1)
    for column, setting in settings.items():
        headline = is_headline(setting, fewest)  # latency_rel in a summary is the headline setting's
        for _, row in summary[summary[column].notna()].iterrows():
            rel = row.get(LATENCY_REL, np.nan) if headline else np.nan
            machines = (row["machine"],) if isinstance(row["machine"], str) else ()
            rows.append(
                {**{k: row[k] for k in KEYS}, **setting, "median_ms": row[column], "median_rel": rel, "machines": machines}
            )
    latency = pd.DataFrame(rows, columns=[*KEYS, *SETTING, "median_ms", "median_rel", "machines"])
    latency = latency.assign(sessions_ms=None, sessions_rel=None, n_unstable=0)
    return Side(
        source=str(path),
        machines=sorted(set(summary["machine"].dropna())),
        models=models[[*KEYS, *(c for c in models.columns if c not in KEYS and c != "machine")]].copy(),  # defragmented
        latency=latency,
        raw_times=False,
        notes=[f"{path.name}: a summary, so latency is judged by its threshold only (no raw times)", *notes],
        unchecked=[path.name],
    )
