"""``suite history RESULTS_ROOT``: one metric of every model across every run under a folder.

Runs are ordered by their start time (their git commit is shown where recorded). Each
run is compared with the one before it by the same rules as ``suite compare``, and the
runs where a model's metric changed significantly are marked: ``▲`` regressed, ``▼``
improved (in the direction that is worse or better for the metric).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from suite.compare.compare import compare_sides
from suite.compare.sides import KEYS, Side, load_side
from suite.compare.thresholds import FailOn
from suite.errors import SuiteError
from suite.report.load import expand_run_dirs

#: Metrics ``--metric`` accepts, and the comparison row each one is judged by.
HISTORY_METRICS = {
    "latency_ms": "latency cpu b1 t1",
    "latency_rel": "latency cpu b1 t1",
    "accuracy": "accuracy",
    "macro_f1": "macro_f1",
    "params": "params",
    "macs": "macs",
    "peak_mem_infer_mb": "peak_mem_infer_mb",
    "peak_mem_train_mb": "peak_mem_train_mb",
}
MARKS = {"regressed": "▲", "improved": "▼"}


@dataclass
class History:
    """The trend of one metric.

    Attributes:
        metric (str): The metric followed.
        runs (pd.DataFrame): One row per run, oldest first: ``run``, ``started``, ``commit``.
        values (pd.DataFrame): One row per run and model: the key columns, ``run``,
            ``value`` (mean over seeds) and ``verdict`` against the previous run
            (``regressed``, ``improved``, ``unchanged``, or empty for a model's first run).
    """

    metric: str
    runs: pd.DataFrame
    values: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """Runs as rows, models as columns, each cell the value with its mark."""
        marked = [
            f"{v:.4g}{' ' + MARKS[d] if d in MARKS else ''}"
            for v, d in zip(self.values["value"], self.values["verdict"], strict=True)
        ]
        cells = self.values.assign(label=series_labels(self.values), cell=marked)
        wide = cells.pivot_table(index="run", columns="label", values="cell", aggfunc="first", sort=False)
        head = self.runs.set_index("run")[["started", "commit"]]
        return head.join(wide).reset_index().fillna("")


def series_labels(values: pd.DataFrame) -> pd.Series:
    """``cnn1d params=100000``: one trend line per model and budget."""
    return values["model"] + " " + values["budget_kind"] + "=" + values["budget"].astype(int).astype(str)


def _read_run(folder: Path) -> dict[str, object]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        manifest = {}  # an unreadable manifest: order the run by its folder name
    commit = ((manifest.get("environment") or {}).get("git") or {}).get("commit") or ""
    return {"run": folder.name, "started": str(manifest.get("started") or ""), "commit": commit[:10], "path": folder}


def _verdicts(previous: Side, side: Side, metric: str, fail_on: FailOn) -> dict[tuple, str]:
    """Verdict of each model's ``metric`` in ``side`` against ``previous`` (empty with no model in common)."""
    try:
        judged = compare_sides(previous, side, fail_on, basis="rel" if metric == "latency_rel" else "ms")
    except SuiteError:
        return {}
    return {tuple(r[k] for k in KEYS): r["verdict"] for r in judged.rows if r["metric"] == HISTORY_METRICS[metric]}


def _metric_values(side: Side, metric: str) -> pd.DataFrame:
    if metric.startswith("latency"):
        basis = "median_ms" if metric == "latency_ms" else "median_rel"
        latency = side.latency
        headline = latency[
            (latency["scope"] == "model") & (latency["device"] == "cpu") & (latency["backend"] == "eager")
            & (latency["batch_size"] == 1) & (latency["threads"] == 1)
        ]  # fmt: skip
        return headline[[*KEYS, basis]].rename(columns={basis: "value"})
    column = f"{metric}_mean" if metric in ("accuracy", "macro_f1") else metric
    return side.models[[*KEYS, column]].rename(columns={column: "value"})


def build_history(root: str | Path, metric: str = "latency_ms", fail_on: FailOn | None = None) -> History:
    """Read every run under ``root`` and follow ``metric``.

    Raises:
        SuiteError: for an unknown metric or a folder without runs.
    """
    if metric not in HISTORY_METRICS:
        raise SuiteError(f"--metric {metric!r} is not one of {', '.join(HISTORY_METRICS)}")
    runs = pd.DataFrame([_read_run(folder) for folder in expand_run_dirs([root])])
    runs = runs.sort_values(["started", "run"], kind="stable").reset_index(drop=True)
    fail_on = fail_on or FailOn()
    frames, previous = [], None
    for run in runs.itertuples():
        try:
            side = load_side(run.path)
        except SuiteError:
            continue  # a run with nothing finished yet has no point on the trend
        values = _metric_values(side, metric).assign(run=run.run, verdict="")
        if previous is not None:
            verdicts = _verdicts(previous, side, metric, fail_on)
            values["verdict"] = [verdicts.get(tuple(row), "") for row in values[KEYS].itertuples(index=False)]
        frames.append(values)
        previous = side
    if not frames:
        raise SuiteError(f"no run under {root} has a finished trial")
    values = pd.concat(frames, ignore_index=True).dropna(subset=["value"])
    return History(metric, runs.drop(columns=["path"]), values)
