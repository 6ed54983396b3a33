"""Step detection over a whole series: where did a metric's level move, and how far from where it started?

``suite history`` follows one value per run (a run's median latency, a mean over seeds).
Comparing each run with the one before misses a slow drift (four +6 % steps are each
"unchanged"), so the whole series is fitted at once, as asv does (``asv.step_detect``,
airspeed velocity 0.6): a piecewise-constant function, one level per segment (the
segment's median), that minimises

    sum_i |y_i - level of its segment|  +  gamma x (number of segments)

(the L1 Potts problem, solved exactly by dynamic programming: Friedrich et al.,
*Complexity penalized M-estimation: fast computation*, JCGS 17(1), 2008). The L1 cost
and medians keep one disturbed run from dragging a level; segments last at least two
runs (asv's ``detect_regressions`` likewise ignores a one-commit blip, ``min_size=2``),
so one run that departs and comes back is absorbed.

The penalty is asv's Schwarz-type price of a segment, ``PENALTY x ln(n)`` log-likelihood
units with asv's default ``PENALTY = 4`` (``beta = 4 ln(n) / n``; Yao, *Estimating the
number of change-points via Schwarz' criterion*, Stat. Prob. Lett. 6, 1988), measured
against the series' own noise: ``gamma = 4 ln(n) x b`` where ``b = sigma sqrt(2/pi)`` is
the mean absolute noise of a run. asv takes the noise from the fit's residual; here
``sigma`` comes from the differences of consecutive runs (``MAD / 0.6745 / sqrt(2)``,
the difference-based estimator of the changepoint literature, e.g. Fryzlewicz, *Wild
binary segmentation*, AoS 2014), which a few steps barely move and which a slow drift
(not piecewise constant) does not inflate, so a drift of short steps is still resolved.
Nothing here is tuned to a test: the constant is asv's, the scale is the data's.

Why not asv itself: asv ships its step detection as an internal module of the benchmark
runner (bringing virtualenv, build and asv-runner along); the exact solver is a few
dozen lines and a history is short (one point per run).

The newest runs cannot be confirmed yet: the last one or two runs start a level of their
own, before such a short segment could pay its penalty, only when each lies far beyond
the level before them on the same side: a prediction test with Student's t (the noise is
estimated) at the chance a normal run has of landing :data:`NEWEST_Z` sigma out (3e-5),
shared between the two runs. Otherwise they wait for the next run to confirm them.

Relative metrics (latency, memory) are fitted in log space, so a relative threshold is a
fixed distance and lognormal noise is additive; accuracy is fitted in its own units.

Marks: the first segment is the reference level. A later segment whose level differs
from the reference by at least the threshold is marked at its first run, where the
cumulative change first crosses the threshold: ``regressed`` in the bad direction,
``improved`` in the good one. From a level already beyond the threshold, a further step
of at least the threshold is marked again (a second regression on top, or its fix).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

StepVerdict = Literal["", "unchanged", "regressed", "improved"]
#: Penalty per segment, in units of ln(n) log-likelihood (asv's default ``beta = 4 ln(n) / n``, times n).
PENALTY = 4.0
#: Shortest segment, in runs (asv's ``min_size``); only the newest runs may form a shorter one.
MIN_SIZE = 2
#: The newest runs start a level of their own only at the chance of a normal run this many sigma out (3e-5, one side).
NEWEST_Z = 4.0
#: Runs needed before the newest ones to judge them against.
NEWEST_MIN_HISTORY = 4
#: MAD of a standard normal variable.
_MAD_NORMAL = 0.6745

Segment = tuple[int, int, float]  # first run, end (exclusive), level


@dataclass(frozen=True)
class StepFit:
    """A piecewise-constant fit of one series and its marks.

    Attributes:
        starts (list[int]): Index of the first run of each segment, ascending (``[0, ...]``; empty for no runs).
        level (np.ndarray): Shape ``(n,)``: each run's segment level, in the series' units.
        change (np.ndarray): Shape ``(n,)``: each run's level against the reference (first) level:
            relative (0.12 = +12 %) for relative series, a difference in the series' units otherwise.
        verdict (list[StepVerdict]): Per run: ``regressed``/``improved`` where a mark falls, ``""``
            for the first run, ``unchanged`` otherwise.
        noise (float): Estimated standard deviation of the run-to-run noise (log units for relative series).
    """

    starts: list[int]
    level: np.ndarray
    change: np.ndarray
    verdict: list[StepVerdict]
    noise: float


def noise_sigma(y: np.ndarray) -> float:
    """Robust standard deviation of the run-to-run noise of ``y`` (shape ``(n,)``), from consecutive differences."""
    return float(np.median(np.abs(np.diff(y)))) / _MAD_NORMAL / math.sqrt(2) if len(y) > 1 else 0.0


def segment_costs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L1 cost about the median, and the median, of every segment ``y[l : r + 1]``.

    Args:
        y (np.ndarray): Shape ``(n,)``, finite.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(cost, median)``, each ``(n, n)`` indexed ``[l, r]``
        (``inf`` and NaN where ``l > r``).
    """
    n = len(y)
    cost, median = np.full((n, n), np.inf), np.full((n, n), np.nan)
    for left in range(n):
        # Running median with two heaps (as asv's rolling_median_dev): `low` (negated) holds the
        # smaller half, `high` the larger half plus the median for an odd count, so the L1 cost
        # about the median is sum(high) - sum(low), less the median itself for an odd count.
        low: list[float] = []
        high: list[float] = []
        sum_low = sum_high = 0.0
        for right in range(left, n):
            value = float(y[right])
            if len(low) == len(high):
                moved = -heapq.heappushpop(low, -value)
                sum_low += value - moved
                heapq.heappush(high, moved)
                sum_high += moved
                mid = high[0]
                cost[left, right] = max(0.0, sum_high - sum_low - mid)
            else:
                moved = heapq.heappushpop(high, value)
                sum_high += value - moved
                heapq.heappush(low, -moved)
                sum_low += moved
                mid = (high[0] - low[0]) / 2
                cost[left, right] = max(0.0, sum_high - sum_low)
            median[left, right] = mid
    return cost, median


def fit_segments(cost: np.ndarray, median: np.ndarray, gamma: float, min_size: int = MIN_SIZE) -> list[Segment]:
    """Exact solution of the L1 Potts problem: the segments minimising total cost + ``gamma`` per segment.

    Args:
        cost (np.ndarray): Shape ``(n, n)``, from :func:`segment_costs` (``n >= 1``).
        median (np.ndarray): Shape ``(n, n)``, from :func:`segment_costs`.
        gamma (float): Penalty per segment, in cost units.
        min_size (int): Shortest segment. Default :data:`MIN_SIZE` (a shorter series is one segment).

    Returns:
        list[Segment]: ``(first, end, level)`` per segment, in order, covering every run.
    """
    n = len(cost)
    if n < 2 * min_size:
        return [(0, n, float(median[0, n - 1]))]
    best = np.full(n + 1, np.inf)  # best[e]: least penalised cost of y[:e]; inf where no segmentation is allowed
    best[0] = -gamma  # so that k segments pay gamma (k - 1): only the steps are priced
    origin = np.zeros(n + 1, dtype=int)
    for end in range(min_size, n + 1):
        last = end - min_size  # the last segment y[l:end] needs l <= end - min_size
        candidates = best[: last + 1] + cost[: last + 1, end - 1] + gamma
        origin[end] = int(np.argmin(candidates))
        best[end] = candidates[origin[end]]
    segments, end = [], n
    while end > 0:
        first = int(origin[end])
        segments.append((first, end, float(median[first, end - 1])))
        end = first
    return segments[::-1]


def _with_newest(
    y: np.ndarray, cost: np.ndarray, median: np.ndarray, segments: list[Segment], gamma: float, sigma: float
) -> list[Segment]:
    """Let the newest one or two runs start a level when each lies far outside the noise of the level before them.

    A prediction test of each new run against the last level of the runs before it: the noise is
    the larger of ``sigma`` and the standard deviation those runs' own fit leaves, and the bar is
    Student's t (the noise is estimated) at the chance of one normal run beyond ``NEWEST_Z``, shared
    between the runs of the tail.
    """
    n = len(y)
    if segments[-1][0] >= n - MIN_SIZE:
        return segments  # the fit already starts a level among the newest runs
    for tail in range(MIN_SIZE, 0, -1):  # the longest tail first: its first run is where the level moved
        size = n - tail
        if size < NEWEST_MIN_HISTORY:
            continue
        earlier = fit_segments(cost[:size, :size], median[:size, :size], gamma)
        if segments[-1][0] > earlier[-1][0]:
            return segments  # the whole fit found a level that the runs before the tail had not: it has moved already
        freedom = size - len(earlier)
        residual = sum(float(cost[a, b - 1]) for a, b, _ in earlier) / max(freedom, 1) * math.sqrt(math.pi / 2)
        last = earlier[-1][1] - earlier[-1][0]
        spread = max(sigma, residual) * math.sqrt(1 + math.pi / (2 * last))  # a new run against a median of `last` runs
        bar = float(student_t.isf(norm.sf(NEWEST_Z) ** (1 / tail), max(freedom, 1))) * spread
        distance = y[size:] - earlier[-1][2]
        if (distance > bar).all() or (distance < -bar).all():
            return [*earlier, (size, n, float(median[size, n - 1]))]
    return segments


def detect_steps(
    values: np.ndarray,
    threshold: float | None,
    relative: bool = True,
    higher_is_worse: bool = True,
    penalty: float = PENALTY,
) -> StepFit:
    """Fit steps to one series and mark where its level crossed ``threshold`` from the first level.

    Args:
        values (np.ndarray): Shape ``(n,)``: one finite value per run, oldest first.
        threshold (float | None): Smallest change that counts: relative (0.10 = 10 %) when
            ``relative``, else in the units of ``values``; ``None``: fit, but mark nothing.
        relative (bool): Judge relative changes (fitted in log space when every value is
            positive). Default True.
        higher_is_worse (bool): Direction of a regression. Default True (latency, memory).
        penalty (float): Penalty per segment in units of ``ln(n)``. Default :data:`PENALTY` (asv's).

    Returns:
        StepFit: Segments, levels, changes against the first level and a verdict per run.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return StepFit([], np.empty(0), np.empty(0), [], 0.0)
    log_space = relative and bool((values > 0).all())
    y = np.log(values) if log_space else values

    def delta(level: float, reference: float) -> float:
        if log_space:
            return math.expm1(level - reference)
        if relative:
            return level / reference - 1 if reference else math.copysign(math.inf, level - reference)
        return level - reference

    # A series without noise (memory, a constant) still needs a positive scale: far below any real change.
    sigma = max(noise_sigma(y), 1e-12 * max(float(np.median(np.abs(y))), 1.0))
    gamma = penalty * math.log(max(n, 2)) * sigma * math.sqrt(2 / math.pi)
    cost, median = segment_costs(y)
    segments = _with_newest(y, cost, median, fit_segments(cost, median, gamma), gamma, sigma)
    level = np.empty(n)
    for first, end, mid in segments:
        level[first:end] = mid
    reference = segments[0][2]
    change = np.array([delta(v, reference) for v in level])
    verdict: list[StepVerdict] = ["", *["unchanged"] * (n - 1)]
    if threshold is not None:
        sign = 1 if higher_is_worse else -1

        def side(amount: float) -> int:
            """+1 worse by the threshold or more, -1 better by it, 0 within (a hair of slack for rounding)."""
            worse = sign * amount
            return 1 if worse >= threshold * (1 - 1e-9) else -1 if worse <= -threshold * (1 - 1e-9) else 0

        previous = reference
        for first, _, mid in segments[1:]:
            was, now, step = side(delta(previous, reference)), side(delta(mid, reference)), side(delta(mid, previous))
            mark = now if now and now != was else step if was else 0
            if mark:
                verdict[first] = "regressed" if mark > 0 else "improved"
            previous = mid
    return StepFit([s[0] for s in segments], np.exp(level) if log_space else level, change, verdict, sigma)


def detect_exact_changes(values: np.ndarray) -> list[Literal["", "unchanged", "changed"]]:
    """Exact series (params, MACs): every run whose value differs from the run before is a step.

    Args:
        values (np.ndarray): Shape ``(n,)``, oldest first.

    Returns:
        list: ``""`` for the first run, then ``changed`` or ``unchanged`` per run.
    """
    values = np.asarray(values, dtype=float)
    return ["" if i == 0 else "changed" if values[i] != values[i - 1] else "unchanged" for i in range(len(values))]
