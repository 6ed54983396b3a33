"""Aggregate trials over seeds and folds: one row per data set, protocol, machine, budget and model.

This is ``summary.csv`` (full precision) and the source of every leaderboard. Accuracy
and macro-F1 are the mean and the sample standard deviation (``ddof=1``) over the seeds
that finished; latency and memory are the mean over seeds of each trial's median.

A cross-validation (protocol ``cv``, :mod:`suite.crossval`) is reported as its data
sets' literature reports it: the mean over test folds, each fold first averaged over
its seeds; ``_std``, ``_min`` and ``_max`` are then the spread *across folds*, and
``<metric>_<fold>`` columns keep each fold's figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from suite.crossval import FOLD
from suite.metrics import (
    FLOAT32,
    MACS,
    METRICS,
    PARAMS,
    QUANTIZE_METHODS,
    TIMED_SETTING,
    int8_dtype,
    is_headline,
    seed_aggregations,
)
from suite.results.load import Results

#: One leaderboard row per group; a leaderboard is one (data set, protocol, machine, budget).
GROUP = ["dataset", "protocol", "machine", "budget_kind", "budget", "model"]
BOARD = GROUP[:-1]
#: One budget of one data set: a board without its machine (what machines may share).
BUDGET = [key for key in BOARD if key != "machine"]
#: The start of a pooled row's ``machine`` (:func:`pooled_trials`): ``pooled: A + B``.
POOLED = "pooled: "
_PER_MACHINE = {str(metric) for metric in METRICS if metric.per_machine}
#: Decimals of the mean accuracy that decide a rank (far below any difference a test set can show).
_RANK_DECIMALS = 9
#: Per-model figures that do not vary with the seed (the first trial's are taken): the metrics that say so.
FIRST_COLUMNS = (
    "feature",
    "width",
    *seed_aggregations(METRICS, kinds=("first",)),
    # What deployment left in float32 and what failed: the same for every seed of a model.
    *(f"float_ops_{int8_dtype(method)}" for method in QUANTIZE_METHODS),
    "deploy_error",
)


@dataclass(frozen=True)
class Setting:
    """One timed setting (:data:`suite.metrics.TIMED_SETTING`): scope, device, backend, precision, batch size, threads."""

    scope: str
    device: str
    backend: str
    dtype: str
    batch_size: int
    threads: int

    @classmethod
    def of(cls, row: Any) -> Setting:
        """The setting of a timing row (anything with the setting's keys as items)."""
        return cls(str(row["scope"]), str(row["device"]), str(row["backend"]), str(row["dtype"]), int(row["batch_size"]),
                   int(row["threads"]))  # fmt: skip

    @property
    def column(self) -> str:
        """Its column in ``summary.csv``: ``latency_model_cpu_eager_b32_t1_ms``; an int8 model's names its precision,
        ``latency_model_cpu_onnxruntime_int8_static_b1_t1_ms``."""
        precision = "" if self.dtype == FLOAT32 else f"_{self.dtype}"
        return f"latency_{self.scope}_{self.device}_{self.backend}{precision}_b{self.batch_size}_t{self.threads}_ms"

    def label(self, show_threads: bool) -> str:
        """Its heading: ``CPU b32``, ``e2e CPU b1``, ``stream CPU b1``, ``CUDA b1 compile``, ``CPU b1 onnxruntime int8``."""
        parts = [] if self.scope == "model" else [self.scope]  # e2e, stream (one hop), frontend (one hop)
        parts += [self.device.upper(), f"b{self.batch_size}"]
        if show_threads:
            parts.append(f"{self.threads}t")
        if self.backend != "eager":
            parts.append(self.backend)
        if self.dtype != FLOAT32:
            parts.append(self.dtype.replace("_", " "))
        return " ".join(parts)


def families(results: Results) -> list[str]:
    """Model names in order of first appearance (the registry's order, as runs write them)."""
    return list(dict.fromkeys(results.trials["model"].dropna().astype(str)))


def timed_settings(results: Results) -> list[Setting]:
    """Every setting with at least one ``ok`` timing, in the order they were timed."""
    timings = results.timings
    if timings.empty:
        return []
    ok = timings[timings["status"] == "ok"]
    keys = ok[list(TIMED_SETTING)].drop_duplicates()
    return [Setting.of(row) for _, row in keys.iterrows()]


def headline_setting(settings: list[Setting]) -> Setting | None:
    """The setting behind ``latency_ms`` (:data:`suite.metrics.HEADLINE`: model scope, CPU, eager, batch 1, fewest threads)."""
    fewest = min((s.threads for s in settings), default=1)
    return next((s for s in settings if is_headline(dataclasses.asdict(s), fewest)), None)


def _setting_columns(results: Results) -> pd.DataFrame:
    """Mean over seeds of each setting's median, one column per setting."""
    settings = timed_settings(results)
    if not settings:
        return pd.DataFrame(columns=GROUP)
    ok = results.timings[results.timings["status"] == "ok"].copy()
    ok["setting"] = [Setting.of(row).column for _, row in ok[list(TIMED_SETTING)].iterrows()]
    ok["median_ms"] = pd.to_numeric(ok["median_ms"], errors="coerce")
    wide = ok.pivot_table(index=GROUP, columns="setting", values="median_ms", aggfunc="mean", dropna=False, observed=True)
    return wide[[s.column for s in settings]].reset_index()


def _over_folds(ok: pd.DataFrame, quality: pd.DataFrame) -> pd.DataFrame:
    """``quality`` with each cross-validated group's spread metrics taken over its folds (see the module docstring).

    Adds ``folds`` (the folds averaged, in order) and ``<metric>_<fold>`` for every
    spread metric and fold; groups without folds keep their figures over seeds.
    """
    crossed = ok[ok[FOLD].notna()] if FOLD in ok else ok.iloc[0:0]
    if crossed.empty:
        return quality
    quality = quality.copy()
    spread = [str(metric) for metric in METRICS if metric.over_seeds == "spread"]
    per_fold = crossed.groupby([*GROUP, FOLD], sort=False, dropna=False)[spread].mean()
    by_group = per_fold.groupby(level=GROUP, sort=False, dropna=False)
    for metric in spread:
        for stat in ("mean", "std", "min", "max"):
            quality.loc[by_group.size().index, f"{metric}_{stat}"] = by_group[metric].agg(stat)
        wide = per_fold[metric].unstack(FOLD)
        for fold in dict.fromkeys(crossed[FOLD]):  # the run's order (fold2 before fold10), not unstack's
            quality.loc[wide.index, f"{metric}_{fold}"] = wide[fold]
    folds = per_fold.reset_index().groupby(GROUP, sort=False, dropna=False)[FOLD].agg(" ".join)
    quality.loc[folds.index, "folds"] = folds
    return quality


def _aggregate(trials: pd.DataFrame) -> pd.DataFrame:
    """Counts, per-model figures and the spread over seeds (or folds) of every group of ``trials`` (see :func:`summarise`)."""
    trials = trials.assign(_ok=trials["status"] == "ok")
    if "latency_stability" not in trials:  # results written before stability was recorded
        trials = trials.assign(latency_stability=None)
    groups = trials.groupby(GROUP, sort=False, dropna=False)
    counts = groups.agg(
        n_trials=("status", "size"),
        n_ok=("_ok", "sum"),
        n_failed=("status", lambda s: int((s == "failed").sum())),
        n_infeasible=("status", lambda s: int((s == "infeasible").sum())),
    )
    ok = trials[trials["_ok"]]
    ok_groups = ok.groupby(GROUP, sort=False, dropna=False)
    quality = ok_groups.agg(
        seeds=("seed", lambda s: " ".join(str(int(v)) for v in sorted(set(s.dropna())))),
        **seed_aggregations(METRICS),  # as each metric declares: mean, std, min and max, or the mean
        # Seeds whose latency was measured while the machine was visibly disturbed.
        n_unstable=("latency_stability", lambda s: int((s == "unstable").sum())),
    )
    # Counts come from ok trials when there are any; an infeasible-only group still has its nearest width.
    firsts = pd.concat([ok, trials[~trials["_ok"]]]).groupby(GROUP, sort=False, dropna=False)
    fixed = firsts.agg(**{column: (column, "first") for column in FIRST_COLUMNS})
    quality = _over_folds(ok, quality)
    summary = counts.join(fixed).join(quality).reset_index()
    summary["n_ok"] = summary["n_ok"].astype(int)
    return summary


def pooled_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials of every budget that several machines shared, each relabelled with one pooled machine.

    A run resumed on another machine (or a Ray run over several node types, or runs of
    different seeds on different machines) splits a budget's trials between machines:
    each machine's rows then average only the seeds and folds it ran. Their quality does
    not depend on the machine, so it is also summarised over all of them, under the
    machine ``pooled: A + B``. Only when no finished trial (model, seed, fold) is on two
    machines: the same trials run on two machines are a comparison of the machines,
    shown side by side and never pooled. Of a trial that failed and was retried in the
    same run, only its last record counts.
    """
    identity = ["model", "seed", *([FOLD] if FOLD in trials else [])]
    parts = []
    for _, board in trials.groupby(BUDGET, sort=False, dropna=False):
        if {"run", "trial_id"} <= set(board.columns):  # a trial failed on one machine and retried on another: the retry
            board = board.drop_duplicates(["run", "trial_id"], keep="last")
        machines = list(dict.fromkeys(board["machine"].dropna().astype(str)))
        finished = board[board["status"] == "ok"]
        if len(machines) > 1 and not finished.duplicated(identity).any():
            parts.append(board.assign(machine=POOLED + " + ".join(machines)))
    return pd.concat(parts, ignore_index=True) if parts else trials.iloc[0:0]


def is_pooled(machine: Any) -> bool:
    """Whether a summary row's ``machine`` is a pooled one (:func:`pooled_trials`)."""
    return isinstance(machine, str) and machine.startswith(POOLED)


def pooled_machines(machine: str) -> list[str]:
    """The machines a pooled row's ``machine`` names, in the order they first ran a trial."""
    return machine.removeprefix(POOLED).split(" + ") if is_pooled(machine) else [machine]


def machine_columns(columns: Iterable[str]) -> list[str]:
    """The summary columns that measure the machine: each :attr:`~suite.metrics.Metric.per_machine` metric's, each
    timed setting's (:attr:`Setting.column`) and ``n_unstable``."""
    return [c for c in columns if c in _PER_MACHINE or c == "n_unstable" or (c.startswith("latency_") and c.endswith("_ms"))]


def without_pooled(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows of each machine itself: what latency, memory and anything else per machine is read from."""
    return summary[~summary["machine"].map(is_pooled)] if "machine" in summary else summary


def quality_view(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per model and budget for what does not depend on the machine: the pooled rows where a budget has
    them, else each machine's (which are then several only when they compare machines)."""
    if "machine" not in summary:
        return summary
    pooled = summary["machine"].map(is_pooled)
    covered = summary.loc[pooled, BUDGET].drop_duplicates()
    shared = summary[BUDGET].merge(covered.assign(_covered=1), on=BUDGET, how="left")["_covered"].notna().to_numpy()
    return summary[pooled | ~shared]


def summarise(results: Results) -> pd.DataFrame:
    """One row per (data set, protocol, machine, budget kind, budget, model), ranked within each leaderboard.

    Columns: the group keys; ``n_trials``, ``n_ok`` (the seeds averaged), ``n_failed``,
    ``n_infeasible``, ``seeds``; the per-model counts (width, params, MACs...); for
    accuracy and macro-F1 ``_mean``, ``_std`` (sample, NaN for one seed), ``_min`` and
    ``_max``; the means over seeds of training time, latency and memory; one
    ``latency_<scope>_<device>_<backend>_b<batch>_t<threads>_ms`` column per timed
    setting; ``n_unstable`` (seeds whose latency was recorded ``unstable``); and
    ``rank`` (1 = best mean accuracy, ties share a rank; NaN when no seed finished).

    A budget whose trials several machines shared (:func:`pooled_trials`) has, first, a
    board of ``pooled: ...`` rows over all its trials, without the figures that measure
    the machine (:attr:`suite.metrics.Metric.per_machine`: times, rates, memory), and
    then one board per machine as usual.
    """
    trials = results.trials
    if trials.empty:
        return pd.DataFrame(columns=[*GROUP, "n_trials", "n_ok", "rank"])
    summary = _aggregate(trials)
    settings = _setting_columns(results)
    if len(settings.columns) > len(GROUP):
        summary = summary.merge(settings, on=GROUP, how="left")
    pooled = pooled_trials(trials)
    if not pooled.empty:
        pooled_rows = _aggregate(pooled)
        pooled_rows = pooled_rows.drop(columns=machine_columns(pooled_rows.columns))
        summary = pd.concat([summary, pooled_rows], ignore_index=True)
        if "n_unstable" in summary:  # NaN in the pooled rows made it float; each machine's count stays a count
            summary["n_unstable"] = summary["n_unstable"].astype("Int64")
    # Rounded first: two models with the same right answers over folds (337 of 400) differ in the
    # last bits of a mean of per-fold fractions, and must share their rank.
    rounded = summary.assign(_accuracy=summary["accuracy_mean"].round(_RANK_DECIMALS))
    summary["rank"] = rounded.groupby(BOARD, sort=False, dropna=False)["_accuracy"].rank(method="min", ascending=False)
    order = {name: i for i, name in enumerate(families(results))}
    machines = {name: -1 if is_pooled(name) else i for i, name in enumerate(dict.fromkeys(summary["machine"]))}
    summary = summary.assign(
        _rank=summary["rank"].fillna(np.inf),
        _family=summary["model"].map(order),
        _machine=summary["machine"].map(machines),
        _kind=summary["budget_kind"].map({PARAMS: 0, MACS: 1}).fillna(2),
        _section=summary.groupby(["dataset", "protocol"], sort=False, dropna=False).ngroup(),
    )
    # Data set, then budget (parameters before MACs, small to large), then machine (a pooled board first): one
    # budget's boards together.
    summary = summary.sort_values(["_section", "_kind", "budget", "_machine", "_rank", "_family"], kind="stable")
    return summary.drop(columns=["_rank", "_family", "_machine", "_kind", "_section"]).reset_index(drop=True)
