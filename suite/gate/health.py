"""Which seeds of a model gave a result, and the gate's verdict when NEW lost results BASE had.

The quality judges see only seeds with a number, so a seed that failed, never ran or
scored NaN would otherwise drop out unnoticed: a family whose every trial failed would be
"missing", four failed seeds of five would leave "unchanged (seeds 5 vs 1)". Here each
side's seeds of a model (data set, protocol, budget and model) are sorted into:

- **ok**: status ``ok`` with a finite accuracy (in at least one run of the side);
- **failed**: the latest record of every run that ran the seed is ``failed``;
- **NaN**: status ``ok`` but the accuracy is NaN (macro-F1 NaN is counted where BASE has a
  macro-F1 for the model: older results without one are not a loss);
- **never ran**: planned by a run's config (its ``seeds``) but without a record (a run
  that was interrupted or died).

Infeasible trials are not seeds (no width matches the budget; the params rule judges
them). A seed *number* NEW lost is a new loss unless BASE lost the same seed; a summary
names no seeds, so there only losses beyond BASE's count are new. When BASE had at least
one ``ok`` seed and NEW has a new loss, the model's ``seeds`` row is ``regressed`` (under
``--fail-on missing=ignore``: ``missing``, reported only); a model that BASE measured
and NEW does not have at all is judged the same way. NEW's seed *numbers* may differ from
BASE's (a CI job trains seeds the baseline never saw), so a BASE seed absent from NEW is
not a loss by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from suite.errors import short_line
from suite.gate.stats import Judgement
from suite.metrics import ACCURACY, MACRO_F1

#: Seed numbers listed in a row before the rest are elided.
_LISTED = 8
#: Longest failure reason quoted in a row.
_REASON_CHARS = 100
Seeds = tuple[int | None, ...]  # None: a seed whose number is unknown (from a summary.csv)
KINDS = ("failed", "missing", ACCURACY, MACRO_F1)


@dataclass(frozen=True)
class SeedHealth:
    """One side's seeds of one model, sorted by what became of them.

    Attributes:
        ok (Seeds): Seeds with a finite accuracy.
        failed (Seeds): Seeds whose every record is ``failed``.
        missing (Seeds): Seeds a run planned that have no record.
        accuracy (Seeds): ``ok`` seeds whose accuracy is NaN.
        macro_f1 (Seeds): ``ok`` seeds (finite accuracy) whose macro-F1 is NaN.
        reason (str): The error of the latest failed record, on one line and capped.
    """

    ok: Seeds = ()
    failed: Seeds = ()
    missing: Seeds = ()
    accuracy: Seeds = ()
    macro_f1: Seeds = ()
    reason: str = ""

    @property
    def tried(self) -> int:
        """Seeds planned or run (ok, failed, NaN or never ran)."""
        return len(self.ok) + len(self.failed) + len(self.missing) + len(self.accuracy)

    def lost(self, macro_f1: bool = True) -> dict[str, Seeds]:
        """The seeds lost, by kind (:data:`KINDS`); NaN macro-F1 only when ``macro_f1`` counts."""
        return {"failed": self.failed, "missing": self.missing, ACCURACY: self.accuracy,
                MACRO_F1: self.macro_f1 if macro_f1 else ()}  # fmt: skip

    @classmethod
    def of_records(cls, group: pd.DataFrame, planned: Iterable[int]) -> SeedHealth:
        """From every record of one model on one side (columns ``seed``, ``status``, ``accuracy``, ``macro_f1``, ``error``).

        Args:
            group (pd.DataFrame): The model's trial records (the latest of each trial of each run).
            planned (Iterable[int]): The seeds the side's runs of this model planned.
        """
        sorted_seeds: dict[str, list[int]] = {kind: [] for kind in ("ok", *KINDS)}
        reason = ""
        for seed, records in group.groupby("seed", sort=True):
            ok = records[records["status"] == "ok"]
            finite = ok[ok[ACCURACY].notna()]
            if len(finite):
                sorted_seeds["ok"].append(int(seed))
                if finite[MACRO_F1].isna().all():
                    sorted_seeds[MACRO_F1].append(int(seed))
            elif len(ok):
                sorted_seeds[ACCURACY].append(int(seed))
            elif (records["status"] == "failed").any():
                sorted_seeds["failed"].append(int(seed))
                reason = reason or short_line(str(records.loc[records["status"] == "failed", "error"].iloc[-1]), _REASON_CHARS)
        recorded = {int(s) for s in group["seed"].dropna()}
        sorted_seeds["missing"] = sorted({int(s) for s in planned} - recorded)
        return cls(**{kind: tuple(seeds) for kind, seeds in sorted_seeds.items()}, reason=reason)

    @classmethod
    def of_counts(cls, n_ok: int, n_failed: int, accuracy_nan: bool) -> SeedHealth:
        """From a summary.csv row: counts, no seed numbers (NaN mean accuracy: every ok seed's is NaN)."""
        ok = (None,) * n_ok
        return cls(ok=() if accuracy_nan else ok, failed=(None,) * n_failed, accuracy=ok if accuracy_nan else ())


def _listed(seeds: Seeds) -> str:
    if not seeds or any(s is None for s in seeds):
        return ""
    numbers = ",".join(str(s) for s in seeds[:_LISTED]) + (",…" if len(seeds) > _LISTED else "")
    return f" (seed {numbers})" if len(seeds) == 1 else f" (seeds {numbers})"


def describe(health: SeedHealth, lost: dict[str, Seeds], side: str) -> str:
    """What ``side`` lost, e.g. ``4 of 5 seeds failed in NEW (seeds 1,2,3,4): RuntimeError: ...``."""
    tried, parts = health.tried, []
    if lost["failed"]:
        failed = lost["failed"]
        head = f"all {tried} trials failed" if len(failed) == tried else f"{len(failed)} of {tried} seeds failed"
        parts.append(f"{head} in {side}{_listed(failed)}" + (f": {health.reason}" if health.reason else ""))
    if lost["missing"]:
        missing = lost["missing"]
        parts.append(f"{len(missing)} of {tried} planned seeds never ran in {side}{_listed(missing)} (an unfinished run)")
    for kind, label in ((ACCURACY, ACCURACY), (MACRO_F1, "macro-F1")):
        seeds = lost[kind]
        if seeds:
            share = "" if len(seeds) == tried else f" for {len(seeds)} of {tried} seeds"
            parts.append(f"{label} is NaN in {side}{share}{_listed(seeds)}")
    return "; ".join(parts)


def _new_losses(new: dict[str, Seeds], base: dict[str, Seeds]) -> dict[str, Seeds]:
    """NEW's losses that are not BASE's (by seed number; by count where a summary names no seeds)."""
    base_all = [s for seeds in base.values() for s in seeds]
    new_all = [s for seeds in new.values() for s in seeds]
    if None in base_all or None in new_all:
        return new if len(new_all) > len(base_all) else dict.fromkeys(new, ())
    known = set(base_all)
    return {kind: tuple(s for s in seeds if s not in known) for kind, seeds in new.items()}


def judge_seeds(base: SeedHealth, new: SeedHealth, base_has_macro_f1: bool, rule: str) -> Judgement | None:
    """The ``seeds`` row of a model both sides have; ``None`` when neither side lost a seed worth a row.

    Args:
        base (SeedHealth): BASE's seeds.
        new (SeedHealth): NEW's seeds.
        base_has_macro_f1 (bool): Whether BASE has a macro-F1 for the model (else NEW's NaN one is no loss).
        rule (str): ``fail`` (a new loss is a regression) or ``ignore`` (reported as ``missing``).
    """
    lost = new.lost(base_has_macro_f1)
    if not any(lost.values()):
        if not base.ok and base.tried and new.ok:
            return Judgement("improved", None, f"{describe(base, base.lost(), 'BASE')}; NEW has {len(new.ok)} ok seed(s)")
        return None
    if not base.ok:
        return Judgement("unchanged", None, f"{describe(new, lost, 'NEW')}; BASE had no ok seed either")
    fresh = _new_losses(lost, base.lost())
    if not any(fresh.values()):
        return Judgement("unchanged", None, f"{describe(new, lost, 'NEW')}, as in BASE")
    detail = describe(new, fresh, "NEW")
    stale = sum(map(len, lost.values())) - sum(map(len, fresh.values()))
    if stale:
        detail += f" (and {stale} seed(s) lost in BASE too)"
    return Judgement("regressed" if rule == "fail" else "missing", None, detail)


def judge_absent(base: SeedHealth | None, where: str, rule: str) -> Judgement:
    """A model on one side only: ``where`` it is (``BASE`` or ``NEW``); only in BASE with ok seeds it was lost."""
    if where == "BASE" and base is not None and base.ok and rule == "fail":
        return Judgement("regressed", None, f"not in NEW (BASE has {len(base.ok)} ok seed(s))")
    return Judgement("missing", None, f"only in {where}")
