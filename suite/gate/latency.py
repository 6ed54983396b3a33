"""The latency judge: is NEW slower than BASE, beyond noise and beyond the threshold?

A latency on a shared machine varies at two levels: block to block inside one timing
session (a trial's measurement), and session to session (the machine's state drifts by
a few per cent between minutes, runs and days). Blocks of one session are therefore
not independent evidence about another session, and pooling blocks across sessions
(as a plain Mann-Whitney test over every block would) makes the session drift look
significant. So the unit depends on what each side has:

- **Runs as the unit** (either side has several sessions): each session is reduced to
  its median, and the sides' mean log medians are compared with a t-test. A session
  is one trial's measurement; sessions of one ``suite run`` share that run's machine
  state, so the spread has two parts, both pooled over every model and setting of the
  comparison (the drift is the machine's, shared by all models; pooling gives the
  estimates enough degrees of freedom): sessions within a run (``sigma``) and runs
  (``tau``). With ``S`` sessions in ``R`` runs a side's level varies by
  ``tau^2 / R + sigma^2 / S``. ``tau`` comes from sides of two or more runs; with one
  run a side it cannot be seen, and the judge assumes ``tau = sigma`` (measured on
  this machine: a between-run spread of the ratios below the within-run one), since
  taking the sessions of one run as independent runs made unchanged code fail the
  gate (+18 % to +22 % for crnn between two runs of three sessions each). Where every
  run has one session the two parts cannot be told apart and their sum is estimated
  from the spread of the runs.
- **Blocks as the unit** (one session a side): a two-sided Mann-Whitney U test on the
  blocks, used only when the block counts can reach the significance level at all
  (the exact test's smallest p-value is ``2 / C(n1 + n2, n1)``); otherwise only the
  threshold is applied, and the detail says so. Session drift cannot be seen with one
  session a side: a baseline of several runs is what protects against it.

Either way a regression needs both: significance at ``alpha`` **and** a change of the
levels of at least the ``--fail-on`` threshold. A comparison judges many settings at
once (the CI gate ten, a whole zoo fifty or more), and the gate fails when any one
regresses; :func:`suite.gate.family.control_false_alarms` therefore bounds the chance
that unchanged code gets any ``regressed`` (or any ``improved``) among the tested
settings by ``alpha``, whatever their number. Figures recorded ``unstable`` (the machine
was visibly disturbed while they were taken; see :mod:`suite.measure.stability`) are left
out of a side's level while stable ones remain; a side with only unstable figures gets
the verdict ``unstable``, never ``regressed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.special import comb
from scipy.stats import mannwhitneyu
from scipy.stats import t as student_t

from suite.gate.stats import ALPHA, Judgement, Verdict


@dataclass(frozen=True)
class Sessions:
    """One side's timings of one setting: the blocks of each session, in the basis's unit (ms or ratio).

    Attributes:
        blocks: The blocks of each session.
        unstable: Whether each session was recorded ``unstable``.
        runs: The run each session belongs to (sessions of one ``suite run`` share its machine state).
    """

    blocks: tuple[np.ndarray, ...]
    unstable: tuple[bool, ...]
    runs: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, blocks: Sequence[Sequence[float]], unstable: Sequence[bool] | None = None, runs: Sequence[object] | None = None
    ) -> Sessions:
        """Sessions from lists of blocks; without ``runs`` every session is a run of its own. Empty sessions are dropped."""
        keep = [i for i, b in enumerate(blocks) if len(b)]
        arrays = tuple(np.asarray(blocks[i], dtype=float) for i in keep)
        flags = tuple(bool(unstable[i]) for i in keep) if unstable is not None else (False,) * len(arrays)
        labels = tuple(str(runs[i]) for i in keep) if runs is not None else tuple(f"session {i}" for i in keep)
        return cls(arrays, flags, labels)

    def __post_init__(self) -> None:
        if not self.runs:  # built directly: every session its own run
            object.__setattr__(self, "runs", tuple(f"session {i}" for i in range(len(self.blocks))))

    def usable(self) -> Sessions:
        """The stable sessions, or all of them when none is stable."""
        keep = [i for i, u in enumerate(self.unstable) if not u]
        if not keep or len(keep) == len(self.unstable):
            return self
        return Sessions(tuple(self.blocks[i] for i in keep), (False,) * len(keep), tuple(self.runs[i] for i in keep))

    @property
    def all_unstable(self) -> bool:
        return bool(self.unstable) and all(self.unstable)

    @cached_property
    def _log_medians(self) -> np.ndarray:
        # Cached: a comparison asks for the medians of one side several times (level, runs,
        # pooled spread), and the median dominates the judge's cost in the error-rate simulations.
        logs = np.log([float(np.median(b)) for b in self.blocks])
        logs.flags.writeable = False
        return logs

    def log_medians(self) -> np.ndarray:
        """The log of each session's median block (read-only)."""
        return self._log_medians

    def by_run(self) -> list[np.ndarray]:
        """The log medians of each run's sessions, run by run."""
        logs = self.log_medians()
        return [logs[[i for i, r in enumerate(self.runs) if r == run]] for run in dict.fromkeys(self.runs)]

    def level(self) -> float:
        """The side's latency: the geometric mean of its session medians."""
        return float(np.exp(self.log_medians().mean()))


def _pooled_variance(groups: Sequence[np.ndarray]) -> tuple[float, int]:
    """The pooled within-group variance of ``groups`` (those of two or more values) and its degrees of freedom."""
    squares, df = 0.0, 0
    for values in groups:
        if len(values) >= 2:
            squares += float(((values - values.mean()) ** 2).sum())
            df += len(values) - 1
    return (squares / df if df else math.nan), df


@dataclass(frozen=True)
class RunSpread:
    """The spread of log session medians, pooled over settings: within a run and between runs.

    Attributes:
        within: Variance of sessions around their run's mean (``sigma^2``); NaN when no run has two sessions.
        within_df: Its degrees of freedom.
        between: Variance of run means around their side's mean; NaN when no side has two runs.
        between_df: Its degrees of freedom.
        inverse_sessions: Mean of ``1 / sessions per run`` over the runs behind ``between``
            (a run mean carries ``sigma^2`` divided by its sessions).
    """

    within: float
    within_df: int
    between: float
    between_df: int
    inverse_sessions: float = 1.0

    @classmethod
    def pooled(cls, sides: Sequence[Sessions]) -> RunSpread:
        """Pool the spreads of every side (of every setting)."""
        runs = [side.usable().by_run() for side in sides]
        within, within_df = _pooled_variance([logs for side in runs for logs in side])
        several = [side for side in runs if len(side) >= 2]
        between, between_df = _pooled_variance([np.array([logs.mean() for logs in side]) for side in several])
        counts = [len(logs) for side in several for logs in side]
        return cls(within, within_df, between, between_df, float(np.mean([1 / n for n in counts])) if counts else 1.0)

    @property
    def sd(self) -> float:
        """Spread of one run's mean log median (the unit's spread), as the judge uses it for a one-session run."""
        return math.sqrt(self.run_variance(1)) if self.df else math.nan

    @property
    def df(self) -> int:
        return self.between_df if self.between_df else self.within_df

    def run_variance(self, sessions: int) -> float:
        """Variance of the mean log median of one run of ``sessions`` sessions."""
        tau2, sigma2 = self.components()
        return tau2 + sigma2 / sessions

    def components(self) -> tuple[float, float]:
        """``(tau^2, sigma^2)``: between-run and within-run variance (see the module docstring)."""
        if not self.within_df:  # one session per run: only their sum is seen
            return self.between, 0.0
        if not self.between_df:  # one run a side: tau cannot be seen; assume it as large as sigma
            return self.within, self.within
        return max(self.between - self.within * self.inverse_sessions, 0.0), self.within

    def describe(self) -> str:
        tau2, sigma2 = self.components()
        if not self.within_df:
            return f"run spread {math.sqrt(tau2):.1%} pooled, df {self.df}"
        assumed = "; runs assumed as far apart, one run a side" if not self.between_df else ""
        return f"spread {math.sqrt(tau2):.1%} between runs, {math.sqrt(sigma2):.1%} within, df {self.df}{assumed}"


def smallest_p(n1: int, n2: int) -> float:
    """The smallest two-sided p-value an exact Mann-Whitney test of ``n1`` vs ``n2`` values can reach."""
    return 2.0 / float(comb(n1 + n2, n1, exact=True))


def _by_runs(base: Sessions, new: Sessions, spread: RunSpread) -> tuple[float, str]:
    difference = float(new.log_medians().mean() - base.log_medians().mean())
    tau2, sigma2 = spread.components()
    runs = [len(side.by_run()) for side in (base, new)]
    sessions = [len(side.blocks) for side in (base, new)]
    se = math.sqrt(sum(tau2 / r + sigma2 / s for r, s in zip(runs, sessions, strict=True)))
    p = 2 * float(student_t.sf(abs(difference) / se, spread.df)) if se > 0 else (0.0 if difference else 1.0)
    if runs == sessions:
        counts = f"{runs[0]} vs {runs[1]} runs"
    else:
        counts = " vs ".join(f"{r} run(s) of {s} sessions" for r, s in zip(runs, sessions, strict=True))
    return p, f"t over runs p={p:.2g} ({counts}; {spread.describe()})"


def _by_blocks(base: Sessions, new: Sessions, alpha: float) -> tuple[float | None, str]:
    b, n = np.concatenate(base.blocks), np.concatenate(new.blocks)
    if smallest_p(len(b), len(n)) >= alpha:
        return None, f"{len(b)} vs {len(n)} blocks cannot reach p<{alpha:g}: threshold only"
    test = mannwhitneyu(n, b, alternative="two-sided")  # U counts NEW's blocks above BASE's: high when NEW is slower
    p = float(test.pvalue)
    rule = f"Mann-Whitney on blocks p={p:.2g} ({len(b)} vs {len(n)} blocks, one run a side)"
    ranks_slower, levels_slower = float(test.statistic) > len(b) * len(n) / 2, new.level() > base.level()
    if p < alpha and ranks_slower != levels_slower:
        # Skewed or bimodal blocks: the ranks and the medians point opposite ways, so neither direction is shown.
        return 1.0, f"{rule}, but the ranks point the other way from the medians: not significant"
    return p, rule


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
    if several and spread is not None and spread.df > 0 and not math.isnan(spread.sd):
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
    return Judgement(verdict, change, f"{change:+.1%}; threshold {threshold:.0%}; {rule}{notes}", p)
