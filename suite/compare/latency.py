"""The latency judge: is NEW slower than BASE, beyond noise and beyond the threshold?

A latency on a shared machine varies at two levels: block to block inside one timing
session (a trial's measurement), and session to session (the machine's state drifts by
a few per cent between minutes, runs and days). Blocks of one session are therefore
not independent evidence about another session, and pooling blocks across sessions
(as a plain Mann-Whitney test over every block would) makes the session drift look
significant. So the unit depends on what each side has:

- **Runs as the unit** (either side has several sessions): each session is reduced to
  its median, and the log medians are compared with a two-sample t-test whose spread
  is the session-to-session standard deviation *pooled over every model and setting of
  the comparison* (the drift is the machine's, shared by all models; pooling gives the
  estimate enough degrees of freedom to be useful with a three-run baseline). With one
  session on a side, that side's level carries the full session spread.
- **Blocks as the unit** (one session a side): a two-sided Mann-Whitney U test on the
  blocks, used only when the block counts can reach the significance level at all
  (the exact test's smallest p-value is ``2 / C(n1 + n2, n1)``); otherwise only the
  threshold is applied, and the detail says so. Session drift cannot be seen with one
  session a side: a baseline of several runs is what protects against it.

Either way a regression needs both: significance at ``alpha`` **and** a change of the
levels of at least the ``--fail-on`` threshold. Figures recorded ``unstable`` (the
machine was visibly disturbed while they were taken; see
:mod:`suite.measure.stability`) are left out of a side's level while stable ones
remain; a side with only unstable figures gets the verdict ``unstable``, never
``regressed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import comb
from scipy.stats import mannwhitneyu
from scipy.stats import t as student_t

from suite.compare.stats import ALPHA, Judgement, Verdict


@dataclass(frozen=True)
class Sessions:
    """One side's timings of one setting: the blocks of each session, in the basis's unit (ms or ratio)."""

    blocks: tuple[np.ndarray, ...]
    unstable: tuple[bool, ...]

    @classmethod
    def of(cls, blocks: Sequence[Sequence[float]], unstable: Sequence[bool] | None = None) -> Sessions:
        arrays = tuple(np.asarray(b, dtype=float) for b in blocks if len(b))
        flags = tuple(bool(u) for u in unstable) if unstable is not None else (False,) * len(arrays)
        return cls(arrays, flags)

    def usable(self) -> Sessions:
        """The stable sessions, or all of them when none is stable."""
        stable = [b for b, u in zip(self.blocks, self.unstable, strict=True) if not u]
        return Sessions(tuple(stable), (False,) * len(stable)) if stable else self

    @property
    def all_unstable(self) -> bool:
        return bool(self.unstable) and all(self.unstable)

    def log_medians(self) -> np.ndarray:
        return np.log([float(np.median(b)) for b in self.blocks])

    def level(self) -> float:
        """The side's latency: the geometric mean of its session medians."""
        return float(np.exp(self.log_medians().mean()))


@dataclass(frozen=True)
class RunSpread:
    """Session-to-session standard deviation of log medians, pooled over settings, with its degrees of freedom."""

    sd: float
    df: int

    @classmethod
    def pooled(cls, sides: Sequence[Sessions]) -> RunSpread:
        """Pool the within-side spread of every side (of every setting) that has two or more sessions."""
        squares, df = 0.0, 0
        for side in sides:
            logs = side.usable().log_medians()
            if len(logs) >= 2:
                squares += float(((logs - logs.mean()) ** 2).sum())
                df += len(logs) - 1
        return cls(math.sqrt(squares / df) if df else math.nan, df)


def smallest_p(n1: int, n2: int) -> float:
    """The smallest two-sided p-value an exact Mann-Whitney test of ``n1`` vs ``n2`` values can reach."""
    return 2.0 / float(comb(n1 + n2, n1, exact=True))


def _by_runs(base: Sessions, new: Sessions, spread: RunSpread) -> tuple[float, str]:
    nb, nn = len(base.blocks), len(new.blocks)
    difference = float(new.log_medians().mean() - base.log_medians().mean())
    se = spread.sd * math.sqrt(1 / nb + 1 / nn)
    p = 2 * float(student_t.sf(abs(difference) / se, spread.df)) if se > 0 else (0.0 if difference else 1.0)
    return p, f"t over runs p={p:.2g} ({nb} vs {nn} runs; run spread {spread.sd:.1%} pooled, df {spread.df})"


def _by_blocks(base: Sessions, new: Sessions, alpha: float) -> tuple[float | None, str]:
    b, n = np.concatenate(base.blocks), np.concatenate(new.blocks)
    if smallest_p(len(b), len(n)) >= alpha:
        return None, f"{len(b)} vs {len(n)} blocks cannot reach p<{alpha:g}: threshold only"
    p = float(mannwhitneyu(b, n, alternative="two-sided").pvalue)
    return p, f"Mann-Whitney on blocks p={p:.2g} ({len(b)} vs {len(n)} blocks, one run a side)"


def judge_latency(
    base: Sessions | None,
    new: Sessions | None,
    base_level: float,
    new_level: float,
    threshold: float,
    spread: RunSpread | None = None,
    alpha: float = ALPHA,
) -> Judgement:
    """Latency (lower is better) of one setting.

    Args:
        base, new: Each side's sessions, or ``None`` when only a level is known (a summary).
        base_level, new_level: The levels to use without sessions.
        threshold (float): Smallest relative change that counts (0.10 = 10 %).
        spread (RunSpread, optional): The pooled run spread of the comparison; without
            it (or with no degrees of freedom) one-session sides are judged by blocks.
        alpha (float): Significance level. (Default: ``0.01``)
    """
    if base is None or new is None or not base.blocks or not new.blocks:
        change = new_level / base_level - 1 if base_level else math.inf
        beyond = abs(change) >= threshold
        detail = f"{change:+.1%}; threshold {threshold:.0%}; no raw times on both sides: threshold only"
        return Judgement(("regressed" if change > 0 else "improved") if beyond else "unchanged", change, detail)
    b, n = base.usable(), new.usable()
    change = n.level() / b.level() - 1
    several = max(len(b.blocks), len(n.blocks)) >= 2
    if several and spread is not None and spread.df > 0:
        p, rule = _by_runs(b, n, spread)
    else:
        p, rule = _by_blocks(b, n, alpha)
    significant = p is None or p < alpha
    verdict: Verdict = ("regressed" if change > 0 else "improved") if abs(change) >= threshold and significant else "unchanged"
    dropped = sum(base.unstable) + sum(new.unstable) - sum(b.unstable) - sum(n.unstable)
    notes = f"; {dropped} unstable run(s) left out" if dropped else ""
    disturbed = [name for name, side in (("BASE", base), ("NEW", new)) if side.all_unstable]
    if disturbed and verdict != "unchanged":
        verdict = "unstable"
        notes += f"; {' and '.join(disturbed)} measured only on a disturbed machine: not judged, re-run"
    return Judgement(verdict, change, f"{change:+.1%}; threshold {threshold:.0%}; {rule}{notes}")
