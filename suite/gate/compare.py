"""``suite compare BASE NEW``: match two sides model by model and judge every metric.

Models are matched by (data set, protocol, budget kind, budget, model), aggregated over
seeds; latencies additionally by timed setting. Results NEW lost are judged too
(:mod:`suite.gate.health`): a model BASE had with an ``ok`` seed that NEW has
failed, not at all, with seeds that never ran or with a NaN accuracy is a regression
unless ``--fail-on missing=ignore``. Only the same data are compared: where both sides
recorded the data of a data set (:mod:`suite.results.identity`) and they differ, the
comparison is refused (:class:`~suite.errors.SuiteError`) unless asked to go on
(``allow_different_data``), which marks every row of that data set. The latency of sides
that ran on different machines is shown but not judged (:func:`timed_elsewhere`).

Exit status (:attr:`Comparison.exit_code`): 0 when nothing regressed, 1 when something
did; the CLI adds 2 for bad input and 3 for an internal error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from suite.errors import SuiteError
from suite.gate.accuracy import SeedResults, judge_accuracy, judge_moments
from suite.gate.family import control_false_alarms
from suite.gate.health import SeedHealth, judge_absent, judge_seeds
from suite.gate.latency import RunSpread, judge_latency
from suite.gate.macro_f1 import judge_macro_f1
from suite.gate.sides import KEYS, SETTING, Side, load_side
from suite.gate.stats import Judgement, judge_exact, judge_relative
from suite.gate.thresholds import FailOn
from suite.metrics import BUDGET_ERROR, FLOAT32, SCORES, judged_by
from suite.results.identity import data_difference, unchecked_note

Basis = Literal["auto", "ms", "rel"]


@dataclass
class Comparison:
    """Every judged metric of every matched model, and how latency was compared."""

    base: str
    new: str
    rows: list[dict[str, Any]]
    basis: str
    basis_reason: str
    fail_on: FailOn
    notes: list[str] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(row["verdict"] == verdict for row in self.rows)

    @property
    def exit_code(self) -> int:
        """1 when anything regressed, else 0."""
        return 1 if self.count("regressed") else 0


def _setting_label(setting: dict[str, Any]) -> str:
    scope = "" if setting["scope"] == "model" else f"{setting['scope']} "
    backend = "" if setting["backend"] == "eager" else f" {setting['backend']}"
    precision = "" if setting.get("dtype", FLOAT32) == FLOAT32 else f" {setting['dtype'].replace('_', ' ')}"
    return f"latency {scope}{setting['device']} b{setting['batch_size']} t{setting['threads']}{backend}{precision}"


def _row(key: dict[str, Any], metric: str, base: Any, new: Any, judgement: Judgement) -> dict[str, Any]:
    return {**key, "metric": metric, "base": base, "new": new, **vars(judgement)}


def _missing(key: dict[str, Any], metric: str, where: str) -> dict[str, Any]:
    return _row(key, metric, None, None, Judgement("missing", None, f"only in {where}"))


def _seed_count(side: pd.Series) -> int | None:
    """Seeds with a finite accuracy, from the side's :class:`SeedHealth` (``None`` where unknown)."""
    health = side.get("health")
    return len(health.ok) if isinstance(health, SeedHealth) else None


def timed_elsewhere(base: tuple[str, ...], new: tuple[str, ...]) -> bool:
    """Whether the two sides timed a figure on different machines: both name theirs, and the sets differ.

    Measured: batch-1 ratios to the reference kernel of six models moved by 1.00x to 1.57x
    between an AVX2 and an AVX-512 EPYC, and a baseline from another machine failed the
    gate on 10 of 10 unchanged runs (README, "CI regression gate"); so with the ``auto``
    basis such a figure is shown but not judged. Labels are compared as written: one
    recorded with less detail (before labels named the CPU generation) cannot be matched
    and counts as another machine. A side that names no machine (a summary without its
    ``machine`` column) cannot be told apart and is judged.
    """
    return bool(base) and bool(new) and set(base) != set(new)


def _choose_basis(base: Side, new: Side, basis: Basis) -> tuple[str, str]:
    """``auto``: ratios to the interleaved reference when both sides have one, else ms on one machine, rel across."""
    same = base.machines == new.machines
    machines = f"{'; '.join(base.machines) or 'unknown'} vs {'; '.join(new.machines) or 'unknown'}"
    # Across CPU generations the ratio is a rough guide (timed_elsewhere), and says so.
    differ = "" if same else f"; the sides ran on different machines ({machines}): ratios carry over only roughly"
    if basis == "ms":
        return "ms", "milliseconds (--latency-basis ms)" + ("" if same else "; the runs come from different machines")
    if basis == "rel":
        return "rel", "ratio to the reference kernel (--latency-basis rel)" + differ
    if base.interleaved and new.interleaved:
        # Measured here: a model's milliseconds moved by up to 2x between runs on one idle
        # machine while its ratio to the reference timed between its rounds moved by 5-15 %.
        return "rel", "ratio to the reference kernel timed between the rounds of each figure (both sides have it)" + differ
    if same:
        return "ms", f"milliseconds: both sides ran on the same machine ({', '.join(base.machines) or 'unknown'})"
    return "rel", f"ratio to the reference kernel: the sides ran on different machines ({machines})"


def _judge_quality(metric: str, b: pd.Series, n: pd.Series, min_points: float) -> Judgement:
    """An accuracy or macro-F1 (float32 or int8): from the seeds and their predictions (results folders), else from
    the moments (summaries)."""
    score = next(score for score in SCORES if metric in (score.accuracy, score.macro_f1))
    seeds_b, seeds_n = b.get(f"{score.accuracy}_seeds"), n.get(f"{score.accuracy}_seeds")
    if isinstance(seeds_b, SeedResults) and isinstance(seeds_n, SeedResults):
        if metric == score.accuracy:
            return judge_accuracy(seeds_b, seeds_n, min_points)
        f1_b, f1_n = b[f"{score.macro_f1}_seeds"], n[f"{score.macro_f1}_seeds"]
        if len(f1_b) == len(seeds_b.values) and len(f1_n) == len(seeds_n.values):
            return judge_macro_f1(seeds_b, seeds_n, f1_b, f1_n, min_points)
        # Some seeds have no macro-F1 (their seeds row says so): the predictions no longer line up with them.
        return judge_moments(*(_moments(f1) for f1 in (f1_b, f1_n)), min_points)
    moments = [(side[f"{metric}_mean"], side[f"{metric}_std"], int(side["n_seeds"])) for side in (b, n)]
    return judge_moments(moments[0], moments[1], min_points)


def _moments(values: tuple[float, ...]) -> tuple[float, float, int]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std, len(values)


def _model_rows(key: dict[str, Any], b: pd.Series, n: pd.Series, base: Side, new: Side, fail_on: FailOn) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    health_b, health_n = b.get("health"), n.get("health")
    if _seed_count(b) is not None and _seed_count(n) is not None:
        has_f1 = not math.isnan(b["macro_f1_mean"])
        seeds = judge_seeds(health_b, health_n, has_f1, fail_on.missing)
        if seeds is not None:
            rows.append(_row(key, "seeds", _seed_count(b), _seed_count(n), seeds))
    if fail_on.accuracy is not None and n["n_seeds"] > 0 and b["n_seeds"] > 0:
        for metric in judged_by("quality"):
            if pd.isna(b.get(f"{metric}_mean")) or pd.isna(n.get(f"{metric}_mean")):
                continue  # a side without this figure (no int8 model) has nothing to judge
            judged = _judge_quality(metric, b, n, fail_on.accuracy)
            rows.append(_row(key, metric, b[f"{metric}_mean"], n[f"{metric}_mean"], judged))
    out_of_tolerance = bool(n["infeasible"]) or abs(n.get(BUDGET_ERROR, 0) or 0) > new.tolerance
    for metric in judged_by("count"):
        rule = getattr(fail_on, metric)
        if rule != "off" and not (math.isnan(b[metric]) or math.isnan(n[metric])):
            rows.append(_row(key, metric, b[metric], n[metric], judge_exact(b[metric], n[metric], rule, out_of_tolerance)))
    for metric in judged_by("memory"):
        if fail_on.memory is not None and pd.notna(b.get(metric)) and pd.notna(n.get(metric)):
            rows.append(_row(key, metric, b[metric], n[metric], judge_relative(b[metric], n[metric], fail_on.memory)))
    return rows


def _hold_quality(rows: list[dict[str, Any]]) -> None:
    """Hold every accuracy and macro-F1 verdict of the comparison to alpha together (:mod:`suite.gate.family`), in place.

    One family for both metrics (and their int8 figures): the gate fails on any of them,
    and they move together where a model really changed.
    """
    quality = judged_by("quality")
    (better,) = {metric.direction for metric in quality}  # one family needs one direction
    at = [i for i, row in enumerate(rows) if row["metric"] in quality]
    fields = ("verdict", "change", "detail", "p")
    held = control_false_alarms([Judgement(*(rows[i][f] for f in fields)) for i in at], better, "quality rows")
    for i, judged in zip(at, held, strict=True):
        rows[i] |= vars(judged)


def _latency_rows(
    base: Side, new: Side, basis: str, threshold: float, notes: list[str], judge_elsewhere: bool
) -> list[dict[str, Any]]:
    merged = base.latency.merge(new.latency, on=[*KEYS, *SETTING], how="outer", suffixes=("_base", "_new"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    sessions = [s for column in (f"sessions_{basis}_base", f"sessions_{basis}_new") for s in both[column] if s is not None]
    spread = RunSpread.pooled(sessions)
    # Judged in two passes: every setting's test, then the family's adjustment; rows keep the merge's order.
    judged_rows: list[tuple[int, dict[str, Any], str, Any, Any, Judgement, bool]] = []
    rows: list[dict[str, Any]] = []
    unjudged, withheld = 0, 0
    for _, r in merged.iterrows():
        key = {k: r[k] for k in KEYS}
        metric = _setting_label({k: r[k] for k in SETTING})
        if r["_merge"] != "both":
            rows.append(_missing(key, metric, "BASE" if r["_merge"] == "left_only" else "NEW"))
            continue
        b_level, n_level = r[f"median_{basis}_base"], r[f"median_{basis}_new"]
        if pd.isna(b_level) or pd.isna(n_level):
            unjudged += 1
            continue
        judged = judge_latency(r[f"sessions_{basis}_base"], r[f"sessions_{basis}_new"], b_level, n_level, threshold, spread)
        elsewhere = not judge_elsewhere and timed_elsewhere(r["machines_base"], r["machines_new"])
        levels = judged_level(r, basis, "base", b_level), judged_level(r, basis, "new", n_level)
        judged_rows.append((len(rows), key, metric, *levels, judged, elsewhere))
        rows.append({})
    # Settings timed elsewhere are shown, not judged: they are not part of the family that can fail the gate.
    family = control_false_alarms([j for *_, j, elsewhere in judged_rows if not elsewhere])
    adjusted = iter(family)
    for at, key, metric, b_level, n_level, judged, elsewhere in judged_rows:
        if elsewhere:
            withheld += 1
            detail = f"not judged (timed on different machines); would be {judged.verdict}: {judged.detail}"
            judged = Judgement("not judged", judged.change, detail, judged.p)
        else:
            judged = next(adjusted)
        rows[at] = _row(key, metric, b_level, n_level, judged)
    if unjudged:
        notes.append(f"{unjudged} latency setting(s) have no {basis} figure on both sides and were not compared")
    if withheld:
        notes.append(
            f"{withheld} latency figure(s) timed on different machines by BASE and NEW are shown, not judged: across CPU "
            "generations the ratio to the reference kernel moved by up to 1.57x (measured); make the baseline on the "
            "kind of machine the gate runs on, or judge the ratios anyway with --latency-basis rel"
        )
    for name, side in (("BASE", base), ("NEW", new)):
        unstable = int(side.latency["n_unstable"].fillna(0).sum()) if "n_unstable" in side.latency else 0
        if unstable:
            notes.append(
                f"{name}: {unstable} latency figure(s) were measured while the machine was disturbed (unstable); "
                "they are left out where the same setting has stable figures, and never judged a regression alone"
            )
    return rows


def judged_level(row: pd.Series, basis: str, side: str, fallback: float) -> float:
    """The level a side's latency was judged at (its stable sessions' geometric mean), for the table."""
    sessions = row[f"sessions_{basis}_{side}"]
    return sessions.usable().level() if sessions is not None else fallback


def _check_data(base: Side, new: Side, allow: bool, notes: list[str]) -> dict[tuple[str, str], str]:
    """The data sets whose data differ between the sides (empty unless ``allow``); notes what could not be checked.

    Raises:
        SuiteError: naming the first difference, unless ``allow``.
    """
    differing = {}
    for key in [k for k in base.data if k in new.data]:
        difference = data_difference(base.data[key], new.data[key])
        if difference is None:
            continue
        label = base.data[key].label
        if not allow:
            raise SuiteError(
                f"BASE and NEW used different data for {label}: {difference} (--allow-different-data compares them anyway)"
            )
        differing[key] = difference
        notes.append(f"BASE and NEW used different data for {label}: {difference}; judged anyway (--allow-different-data)")
    for name, side in (("BASE", base), ("NEW", new)):
        if side.unchecked:
            notes.append(unchecked_note(side.unchecked, f"{name}: "))
    return differing


def compare_sides(
    base: Side, new: Side, fail_on: FailOn, basis: Basis = "auto", allow_different_data: bool = False
) -> Comparison:
    """Judge NEW against BASE.

    Args:
        base (Side): The baseline.
        new (Side): The candidate.
        fail_on (FailOn): Thresholds and the rule for lost results.
        basis (Basis): Latency in ``ms``, ``rel`` or ``auto``. Default ``auto``.
        allow_different_data (bool): Judge a data set whose data differ between the sides
            anyway, marking its rows ``[different data]``. Default False: refuse.

    Raises:
        SuiteError: when the two sides have no model in common, or used different data.
    """
    merged = base.models.merge(new.models, on=KEYS, how="outer", suffixes=("_base", "_new"), indicator=True)
    if not (merged["_merge"] == "both").any():
        raise SuiteError(
            f"{base.source} and {new.source} have no trial in common (matched by data set, protocol, budget and model)"
        )
    notes = [*base.notes, *new.notes]
    differing = _check_data(base, new, allow_different_data, notes)
    chosen, reason = _choose_basis(base, new, basis)
    rows: list[dict[str, Any]] = []
    for _, r in merged.iterrows():
        key = {k: r[k] for k in KEYS}
        if r["_merge"] != "both":
            where = "BASE" if r["_merge"] == "left_only" else "NEW"
            health = r.get("health_base") if where == "BASE" else None
            judged = judge_absent(health if isinstance(health, SeedHealth) else None, where, fail_on.missing)
            rows.append(_row(key, "model", None, None, judged))
            continue
        b = pd.Series({c.removesuffix("_base"): r[c] for c in merged.columns if c.endswith("_base")})
        n = pd.Series({c.removesuffix("_new"): r[c] for c in merged.columns if c.endswith("_new")})
        rows += _model_rows(key, b, n, base, new, fail_on)
    _hold_quality(rows)
    if fail_on.latency is not None:
        rows += _latency_rows(base, new, chosen, fail_on.latency, notes, judge_elsewhere=basis != "auto")
        if any(row["verdict"] == "not judged" for row in rows):
            reason += "; figures timed on different machines are shown, not judged (--latency-basis rel judges them)"
    for row in rows:
        if (row["dataset"], row["protocol"]) in differing:
            row["detail"] = f"[different data] {row['detail']}"
    return Comparison(str(base.source), str(new.source), rows, chosen, reason, fail_on, notes)


def compare_paths(
    base: str | Path, new: str | Path, fail_on: FailOn, basis: Basis = "auto", allow_different_data: bool = False
) -> Comparison:
    """:func:`compare_sides` of two results folders or ``summary.csv`` files."""
    return compare_sides(load_side(base), load_side(new), fail_on, basis, allow_different_data)
