"""``suite history RESULTS_ROOT``: one metric of every model across every run under a folder.

Runs are ordered by their start time (their git commit is shown where recorded). Each
model and budget is one series, one value per run that measured it (a run without the
model is skipped, not a break), and steps are detected over the whole series
(:mod:`suite.gate.steps`, asv's method): a run is marked ``▲`` regressed or ``▼``
improved where the series' level first differs from its first level by the ``--fail-on``
threshold, so a slow drift is caught where its cumulative change crosses the threshold.
Params and MACs are exact: every change is a step.

Latency across machines follows the ratio to the calibration kernel (``latency_rel``),
as ``suite compare --latency-basis rel`` judges it; the history says which basis it
followed, and that across CPU generations the ratio moves too, so a step where the
machine changed may be the machine's (``suite compare`` by default does not judge such
figures at all).

A series follows one data set: runs whose manifests record different data under the same
data-set name and protocol (another digest or class list, :mod:`suite.results.identity`)
are refused in one line, as ``suite compare`` refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from suite.errors import SuiteError
from suite.gate.sides import KEYS, SCORED, EmptySide, Side, load_side
from suite.gate.steps import detect_exact_changes, detect_steps
from suite.gate.thresholds import FailOn
from suite.metrics import (
    BUDGET_ERROR,
    BUDGET_KINDS,
    DEPLOYED,
    HEADLINE,
    LATENCY_MS,
    LATENCY_REL,
    MEMORY,
    by_name,
    is_headline,
)
from suite.results.identity import pooled_identities, unchecked_note
from suite.results.load import expand_run_dirs
from suite.results.manifest import read_manifest

#: Metrics ``--metric`` accepts, and the column of :class:`~suite.gate.sides.Side` each one follows.
HISTORY_METRICS = {
    LATENCY_MS: "median_ms",
    LATENCY_REL: "median_rel",
    # Latencies of the deployed models follow their own setting (the metric declares it).
    **{metric: "median_ms" for metric in DEPLOYED if metric.setting is not None},
    **{metric: f"{metric}_mean" for metric in SCORED},
    **{metric: str(metric) for metric in (*BUDGET_KINDS, *MEMORY)},
}
#: Metrics fitted and judged in points (every accuracy and macro-F1, float32 or int8).
_IN_POINTS = frozenset(SCORED)
MARKS = {"regressed": "▲", "improved": "▼", "changed": "◆"}


@dataclass
class History:
    """The trend of one metric.

    Attributes:
        metric (str): The metric asked for.
        runs (pd.DataFrame): One row per run, oldest first: ``run``, ``started``, ``commit``.
        values (pd.DataFrame): One row per run and model that measured it: the key columns,
            ``run``, ``value`` (the run's median latency, or mean over seeds), ``level`` (the
            fitted level of its segment), ``change`` (that level against the series' first
            level: relative, 0.12 = +12 %, except accuracy and macro-F1 in points; empty for
            params and MACs) and ``verdict`` (``regressed``/``improved`` where a mark falls,
            ``changed`` for params/MACs within their rule, ``unchanged``, or empty for a
            series' first run).
        followed (str): The metric actually followed: ``latency_rel`` when ``latency_ms`` was
            asked for runs from several machines; else ``metric``.
        notes (list[str]): What the reader should know: the latency basis and why, the
            threshold marks were judged against, runs left out.
    """

    metric: str
    runs: pd.DataFrame
    values: pd.DataFrame
    followed: str = ""
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """Runs as rows, models as columns, each cell the value with its mark."""
        marked = [
            f"{_number(v)}{' ' + MARKS[d] if d in MARKS else ''}"
            for v, d in zip(self.values["value"], self.values["verdict"], strict=True)
        ]
        cells = self.values.assign(label=series_labels(self.values), cell=marked)
        wide = cells.pivot_table(index="run", columns="label", values="cell", aggfunc="first", sort=False)
        head = self.runs.set_index("run")[["started", "commit"]]
        return head.join(wide).reset_index().fillna("")


def _number(value: float) -> str:
    """Whole numbers (params, MACs) in full, since a change of one parameter is a step; others to 4 digits."""
    return f"{int(value)}" if float(value).is_integer() and abs(value) >= 1e4 else f"{value:.4g}"


def series_labels(values: pd.DataFrame) -> pd.Series:
    """``cnn1d params=100000``: one trend line per model and budget."""
    return values["model"] + " " + values["budget_kind"] + "=" + values["budget"].astype(int).astype(str)


def _read_run(folder: Path) -> dict[str, object]:
    manifest = read_manifest(folder, notes=[])  # an unreadable manifest: the run is ordered by its folder name
    commit = ((manifest.get("environment") or {}).get("git") or {}).get("commit") or ""
    return {"run": folder.name, "started": str(manifest.get("started") or ""), "commit": commit[:10], "path": folder}


def _run_values(side: Side, metric: str) -> pd.DataFrame:
    """Every model's figure of ``metric`` in one run (latency: both bases, chosen later)."""
    if metric.startswith("latency"):
        latency = side.latency
        fewest = int(latency["threads"].min()) if len(latency) else 1
        wanted = by_name(metric).setting or HEADLINE  # latency_rel: the ratio of the headline setting
        followed = [is_headline(setting, fewest, wanted) for setting in latency[[*wanted, "threads"]].to_dict("records")]
        return latency.loc[followed, [*KEYS, "median_ms", "median_rel"]]
    column = HISTORY_METRICS[metric]
    extra = [c for c in (BUDGET_ERROR, "infeasible") if c in side.models]  # for the params/MACs tolerance rule
    frame = side.models[[*KEYS, column, *extra]].rename(columns={column: "value"})
    return frame.assign(tolerance=side.tolerance)


def _latency_basis(metric: str, machines: set[str]) -> tuple[str, str]:
    """The latency column to follow and the sentence that says why."""
    names = ", ".join(sorted(machines)) or "unknown"
    if metric == LATENCY_REL:
        return (
            "median_rel",
            "Latency followed as latency_rel: the ratio to the calibration kernel timed with it (--metric latency_rel).",
        )
    if len(machines) > 1:
        return "median_rel", (
            f"Latency followed as latency_rel (ratio to the calibration kernel), not milliseconds: the runs come from "
            f"{len(machines)} machines ({names}), as `suite compare --latency-basis rel` judges them; across CPU "
            "generations the ratio moves too (up to 1.57x measured), so a step where the machine changed may be the machine's."
        )
    return "median_ms", f"Latency followed in milliseconds: every run comes from one machine ({names})."


def _exact_verdicts(series: pd.DataFrame, rule: str) -> list[str]:
    """Params/MACs: each change is a step; ``regressed`` when the rule fails it (as ``suite compare``)."""
    verdicts = detect_exact_changes(series["value"].to_numpy())
    out: list[str] = []
    for verdict, (_, row) in zip(verdicts, series.iterrows(), strict=True):
        if verdict == "changed" and rule != "off":
            outside = bool(row.get("infeasible", False)) or abs(float(row.get(BUDGET_ERROR, 0) or 0)) > row["tolerance"]
            verdict = "regressed" if rule == "any" or outside else "changed"
        out.append(verdict if rule != "off" or verdict == "" else "unchanged")
    return out


def _judge_series(series: pd.DataFrame, metric: str, fail_on: FailOn) -> pd.DataFrame:
    """Level, change and verdict of one model's series (rows in run order)."""
    if metric in BUDGET_KINDS:
        return series.assign(level=series["value"], change=np.nan, verdict=_exact_verdicts(series, getattr(fail_on, metric)))
    values = series["value"].to_numpy(dtype=float)
    if metric in _IN_POINTS:  # fitted in points, judged by a drop in points
        fit = detect_steps(values * 100, fail_on.accuracy, relative=False, higher_is_worse=False)
        return series.assign(level=fit.level / 100, change=fit.change, verdict=fit.verdict)
    threshold = fail_on.latency if metric.startswith("latency") else fail_on.memory
    fit = detect_steps(values, threshold, relative=True, higher_is_worse=True)
    return series.assign(level=fit.level, change=fit.change, verdict=fit.verdict)


def _threshold_note(metric: str, fail_on: FailOn) -> str:
    if metric in BUDGET_KINDS:
        return f"Params and MACs are exact: every change is a step ({metric}={getattr(fail_on, metric)})."
    if metric in _IN_POINTS:
        threshold = None if fail_on.accuracy is None else f"{fail_on.accuracy:g} pt"
    else:
        value = fail_on.latency if metric.startswith("latency") else fail_on.memory
        threshold = None if value is None else f"{value:.0%}"
    if threshold is None:
        return "No threshold for this metric (--fail-on ... off): levels are fitted, nothing is marked."
    return f"Threshold: {threshold} from the first level."


def build_history(root: str | Path, metric: str = LATENCY_MS, fail_on: FailOn | None = None) -> History:
    """Read every run under ``root``, follow ``metric`` model by model, and mark the steps.

    Args:
        root (str | Path): A folder of results folders (or one results folder).
        metric (str): One of :data:`HISTORY_METRICS`. Default ``latency_ms``.
        fail_on (FailOn | None): Thresholds the marks use. Default: ``FailOn()``.

    Raises:
        SuiteError: for an unknown metric, a folder without runs, or runs of different data
            under one data-set name.
    """
    if metric not in HISTORY_METRICS:
        raise SuiteError(f"--metric {metric!r} is not one of {', '.join(HISTORY_METRICS)}")
    runs = pd.DataFrame([_read_run(folder) for folder in expand_run_dirs([root])])
    runs = runs.sort_values(["started", "run"], kind="stable").reset_index(drop=True)
    fail_on = fail_on or FailOn()
    frames, machines, skipped, identities, unchecked, read_notes = [], set(), 0, [], [], []
    for run in runs.itertuples():
        try:
            side = load_side(run.path)
        except EmptySide:
            skipped += 1  # a run with nothing finished yet has no point on the trend (an unreadable one is an error)
            continue
        if not ((side.models["n_seeds"] > 0) | side.models["infeasible"]).any():
            skipped += 1  # every trial failed: no figure to follow
            continue
        identities += [(run.run, identity) for identity in side.data.values()]
        unchecked += side.unchecked
        read_notes += side.notes  # what the loader skipped or read as unknown (a NaN accuracy, an inf count)
        machines |= set(side.machines)
        frames.append(_run_values(side, metric).assign(run=run.run))
    if not frames:
        raise SuiteError(f"no run under {root} has a finished trial")
    pooled_identities(identities, f"under {root}: ")
    values = pd.concat(frames, ignore_index=True)
    notes, followed = [], metric
    if metric.startswith("latency"):
        column, why = _latency_basis(metric, machines)
        values = values.rename(columns={column: "value"}).drop(columns=["median_ms", "median_rel"], errors="ignore")
        followed = LATENCY_REL if column == "median_rel" else LATENCY_MS
        notes.append(why)
    values = values.dropna(subset=["value"])  # a run without the model (or its figure) is skipped by that series
    if values.empty:
        hint = " (its runs did not measure it: `measure:` in the config)" if metric.startswith(("latency", "peak")) else ""
        raise SuiteError(f"no run under {root} has a {metric} figure{hint}")
    judged = [_judge_series(group, metric, fail_on) for _, group in values.groupby(KEYS, sort=False)]
    values = pd.concat(judged).sort_index()[[*KEYS, "run", "value", "level", "change", "verdict"]]
    notes.append(_threshold_note(metric, fail_on))
    if skipped:
        notes.append(f"{skipped} run(s) without a finished trial left out")
    if unchecked and len(frames) > 1:
        notes.append(unchecked_note(unchecked, ""))
    read_notes = list(dict.fromkeys(read_notes))
    notes += read_notes[:10] + ([f"and {len(read_notes) - 10} more notes on reading the runs"] if len(read_notes) > 10 else [])
    return History(metric, runs.drop(columns=["path"]), values.reset_index(drop=True), followed, notes)
