"""Tables of a report as plain data (:class:`Table`), rendered to HTML and Markdown alike.

Leaderboards (one per data set, machine and budget), machines side by side, and the
trials that failed, were infeasible or have not run yet.
"""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from suite import numbers
from suite.metrics import (
    ACCURACY,
    LATENCY_MS,
    LATENCY_REL,
    MACRO_F1,
    MACS,
    PARAMS,
    PEAK_MEM_INFER_MB,
    PEAK_MEM_TRAIN_MB,
    TRAIN_SECONDS,
    Metric,
    budget_text,
)
from suite.reporting.summary import Setting, headline_setting
from suite.results.load import RunInfo

MAX_SETTING_COLUMNS = 5


@dataclass
class Cell:
    """One table cell: its text, whether it is the column's best, whether it is a number (right-aligned)."""

    text: str
    best: bool = False
    numeric: bool = False


@dataclass
class Table:
    """Columns, rows of cells, a caption and notes printed under it."""

    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class Column:
    """A leaderboard column: what it shows and which way is better (``max``, ``min`` or None)."""

    title: str
    value: str
    fmt: Callable[[pd.Series], str]
    best: str | None = None
    numeric: bool = True

    @classmethod
    def of(cls, metric: Metric) -> Column:
        """A metric's column as it declares itself: its label, its format, its better direction; a spread metric with ±."""
        best = {"higher": "max", "lower": "min", None: None}[metric.direction]
        if metric.over_seeds == "spread":
            mean, std = f"{metric}_mean", f"{metric}_std"
            return cls(metric.label, mean, lambda r: numbers.percent(r[mean], r[std]), best)
        return cls(metric.label, metric, lambda r: metric.show(r[metric]), best)


def _mark_best(frame: pd.DataFrame, column: Column) -> pd.Series:
    """True where the column holds its best value among finished models (ties all marked); never for one value."""
    values = pd.to_numeric(frame[column.value], errors="coerce").where(frame["n_ok"] > 0)
    if column.best is None or values.notna().sum() < 2 or values.nunique() < 2:
        return pd.Series(False, index=frame.index)
    target = values.max() if column.best == "max" else values.min()
    # Ties within rounding (two means of the same right answers) are both best.
    return pd.Series(np.isclose(values, target, rtol=1e-9, atol=0.0), index=frame.index)


def _seeds(row: pd.Series) -> str:
    text = str(int(row["n_ok"]))
    problems = [f"{int(row[n])} {word}" for n, word in (("n_failed", "failed"), ("n_infeasible", "infeasible")) if row[n]]
    return f"{text} ({', '.join(problems)})" if problems else text


def _folds(board: pd.DataFrame) -> list[str]:
    """The folds a cross-validated board averages (``fold1``...), in order; none for a board of one protocol."""
    if "folds" not in board:
        return []
    named = board["folds"].dropna()
    return list(dict.fromkeys(fold for text in named for fold in str(text).split()))


def _folds_and_seeds(row: pd.Series) -> str:
    """``5 x 2`` (folds x seeds) for a cross-validated row, with its failures as :func:`_seeds` gives them."""
    folds = len(str(row["folds"]).split()) if isinstance(row.get("folds"), str) else 0
    seeds = len(str(row["seeds"]).split()) if isinstance(row.get("seeds"), str) else 0
    text = _seeds(row)
    return f"{folds} × {seeds}" + text[len(str(int(row["n_ok"]))) :] if folds else text


def _unstable(row: pd.Series) -> bool:
    count = row.get("n_unstable")  # missing on a pooled row (no timing of its own) and in old summaries
    return not numbers.missing(count) and count > 0


def _latency_cell(row: pd.Series) -> str:
    """The headline latency, marked when a seed's figures were measured on a disturbed machine."""
    return LATENCY_MS.show(row[LATENCY_MS]) + (" (unstable)" if _unstable(row) else "")


def leaderboard_columns(board: pd.DataFrame, settings: list[Setting]) -> list[Column]:
    """The columns a leaderboard shows: only the measurements that some row of it has."""
    columns = [
        Column("rank", "rank", lambda r: numbers.plain(r["rank"]), numeric=True),
        Column("model", "model", lambda r: str(r["model"]), numeric=False),
        # Quality first: on a narrow screen the columns that decide the ranking stay in view.
        Column.of(ACCURACY),
        Column.of(MACRO_F1),
        Column("folds × seeds", "n_ok", _folds_and_seeds) if _folds(board) else Column("seeds", "n_ok", _seeds),
        Column("width", "width", lambda r: numbers.plain(r["width"])),
        Column.of(PARAMS),
        Column.of(MACS),
    ]
    if board[LATENCY_MS].notna().any():
        columns.append(dataclasses.replace(Column.of(LATENCY_MS), fmt=_latency_cell))
    headline = headline_setting(settings)
    show_threads = len({s.threads for s in settings}) > 1
    others = [s for s in settings if s != headline and s.column in board and board[s.column].notna().any()]
    for setting in others[:MAX_SETTING_COLUMNS]:
        columns.append(
            Column(
                f"latency {setting.label(show_threads)}",
                setting.column,
                lambda r, c=setting.column: numbers.milliseconds(r[c]),
                "min",
            )
        )
    optional = [Column.of(LATENCY_REL), Column.of(PEAK_MEM_INFER_MB), Column.of(PEAK_MEM_TRAIN_MB)]
    columns += [c for c in optional if board[c.value].notna().any()]
    columns.append(Column.of(TRAIN_SECONDS))
    for fold in _folds(board):  # each fold's accuracy (mean over its seeds): the detail behind the fold mean
        value = f"{ACCURACY}_{fold}"
        columns.append(Column(f"{ACCURACY.label} {fold}", value, lambda r, v=value: ACCURACY.show(r.get(v)), "max"))
    return columns


def table_rows(board: pd.DataFrame, columns: list[Column]) -> list[list[Cell]]:
    """One row of cells per model of ``board``, each column's best value marked (:func:`_mark_best`)."""
    best = {c.value: _mark_best(board, c) for c in columns}
    return [[Cell(c.fmt(row), bool(best[c.value][index]), c.numeric) for c in columns] for index, row in board.iterrows()]


def leaderboard(board: pd.DataFrame, settings: list[Setting], caption: str) -> Table:
    """A leaderboard: one row per model, ranked by mean accuracy, the best value of each column in bold."""
    columns = leaderboard_columns(board, settings)
    rows = table_rows(board, columns)
    notes = []
    if (board["n_ok"] == 0).any():
        notes.append("Models without a rank have no finished seed; the reasons are under “Failed, infeasible and missing”.")
    folds = _folds(board)
    if folds:
        notes.append(
            f"Cross-validation over {len(folds)} folds: {ACCURACY.label} and {MACRO_F1.label} are the mean over the test "
            "folds ± the standard deviation across folds (each fold first averaged over its seeds), as the data set's "
            f"literature reports them; the {ACCURACY.label} {folds[0]}… columns give each fold's figure."
        )
    elif (board["n_ok"] == 1).any():
        notes.append("A model with one seed has no spread (no ±).")
    if "n_unstable" in board and board["n_unstable"].fillna(0).gt(0).any():
        notes.append(
            "“(unstable)”: the machine was visibly disturbed while this latency was timed (the reference kernel drifted "
            "between rounds, or the rounds or blocks disagreed) and three attempts did not give a steady figure: "
            "treat it as an upper bound."
        )
    return Table([c.title for c in columns], rows, caption, notes, [c.numeric for c in columns])


def machine_letters(machines: list[str]) -> dict[str, str]:
    """Short names ``A``, ``B``... for table headings; the caption spells each out."""
    return {m: string.ascii_uppercase[i % 26] * (1 + i // 26) for i, m in enumerate(machines)}


def side_by_side(board: pd.DataFrame, machines: list[str], caption: str) -> Table:
    """One budget's models on several machines: each metric with a column per machine."""
    letters = machine_letters(machines)
    metrics = [
        (ACCURACY, "accuracy_mean", lambda r: numbers.percent(r["accuracy_mean"], r["accuracy_std"])),
        ("latency CPU b1", LATENCY_MS, lambda r: numbers.milliseconds(r[LATENCY_MS])),
        ("latency ÷ reference", LATENCY_REL, lambda r: numbers.ratio(r[LATENCY_REL])),
        ("train time", TRAIN_SECONDS, lambda r: numbers.seconds(r[TRAIN_SECONDS])),
    ]
    metrics = [m for m in metrics if board[m[1]].notna().any()]
    columns = ["model"] + [f"{title} ({letters[m]})" for title, _, _ in metrics for m in machines]
    rows = []
    for model, part in board.groupby("model", sort=False):
        by_machine = {row["machine"]: row for _, row in part.iterrows()}
        cells = [Cell(str(model))]
        for _, _, fmt in metrics:
            cells += [Cell(fmt(by_machine[m]) if m in by_machine else numbers.MISSING, numeric=True) for m in machines]
        rows.append(cells)
    notes = [f"{letters[m]}: {m}" for m in machines]
    return Table(columns, rows, caption, notes, [False] + [True] * (len(columns) - 1))


def _planned(run: RunInfo) -> list[tuple[str, str, int, int]]:
    """(model, budget kind, budget, seed) of every trial the run's config asked for."""
    from suite.budget import parse_budget  # only when a run is unfinished: it pulls in the model code

    config = run.manifest.get("config") or {}
    budgets = []
    for section in config.get("budgets") or []:
        for kind in (PARAMS, MACS):
            if isinstance(section, dict) and section.get(kind) is not None:
                budgets.append((kind, parse_budget(section[kind])))
    return [(m, k, b, s) for k, b in budgets for m in config.get("models") or [] for s in config.get("seeds") or []]


def problems(trials: pd.DataFrame, runs: list[RunInfo]) -> Table:
    """Every trial that did not finish ``ok``, and every planned trial of an unfinished run that is not there."""
    rows: list[list[Cell]] = []
    bad = trials[trials["status"] != "ok"]
    for _, row in bad.iterrows():
        reason = row["error"] or "no reason recorded"
        rows.append(_problem_row(row["run"], row["model"], row["budget_kind"], row["budget"], row["seed"], row["status"], reason))
    for run in runs:
        if run.status == "complete" or run.planned is None or run.n_trials >= run.planned:
            continue
        done = trials[trials["run"] == run.name]
        recorded = set(zip(done["model"], done["budget_kind"], done["budget"], done["seed"], strict=True))
        why = {
            "running": "run still in progress",
            "interrupted": "run interrupted (Ctrl-C) before this trial",
            "failed": f"run stopped: {run.manifest.get('error') or 'error'}",
        }.get(run.status, f"run status {run.status}")
        for model, kind, value, seed in _planned(run):
            if (model, kind, value, seed) not in recorded:
                rows.append(_problem_row(run.name, model, kind, value, seed, "not run", why))
    caption = "Trials that did not finish, with their reasons. None is left out of the record."
    return Table(
        ["run", "model", "budget", "seed", "status", "reason"], rows, caption, numeric=[False, False, True, True, False, False]
    )


def _problem_row(run: str, model: Any, kind: Any, value: Any, seed: Any, status: str, reason: str) -> list[Cell]:
    return [
        Cell(str(run)),
        Cell(str(model)),
        Cell(budget_text(str(kind), value), numeric=True),
        Cell(numbers.plain(seed), numeric=True),
        Cell(status),
        Cell(" ".join(str(reason).split())),  # one line: tracebacks and newlines would break a Markdown row
    ]
