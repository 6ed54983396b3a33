"""Was the machine steady while a figure was timed? Three signs that it was not.

A latency taken while a neighbour competes for the cores is not the model's cost, and
on a shared machine nothing else says so. Each figure is timed in rounds with a
reference kernel between them (:func:`suite.measure.latency.time_rounds`), which gives
three independent signs of disturbance:

- **reference drift**: the reference kernel, fixed work, ran at different speeds in
  different rounds (``max / min - 1`` of its per-round medians);
- **round disagreement**: the model's per-round medians disagree (``max / min - 1``):
  the machine's speed changed between rounds;
- **spread**: the model's blocks are widely spread (inter-quartile range / median),
  as when a time slice is lost in some blocks and not in others;
- **a busy neighbour**: other processes kept more than ``MAX_NEIGHBOUR_CPUS`` CPUs busy
  while the figure was timed (from ``/proc/stat``, this process's own CPU time taken
  out; the host's steal time counts too). A neighbour slows a model and the reference
  kernel unequally, so the ratio does not cancel it, and a uniform slowdown leaves no
  trace in the spread: on this machine a CPU burner on one core moved a model's
  end-to-end ratio by +25 % with every other sign within bounds. Before an attempt is
  repeated for this reason, :func:`wait_for_quiet` waits (up to ``QUIET_WAIT_SECONDS``)
  for the neighbour to go quiet.

A figure beyond any bound is ``unstable``. The bounds were set from 28 figures (14
families, batch 1 and 32, one attempt each) on this project's 2-core virtual machine,
quiet and with a CPU burner on each core: quiet, the block spread was 0.02-0.37 and the
rounds disagreed by 0.02-1.34 (three figures above 0.8: the host itself is shared);
disturbed, 0.11-1.71 and 0.32-3.64, most far above the bounds. The reference kernel's
drift told the two apart least (quiet up to 0.86, since a microsecond-scale kernel is
sensitive to the host), so its bound only catches a reference that ran at half speed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suite.errors import SuiteError

#: Attempts in all for a figure that stays unstable.
MAX_ATTEMPTS = 3
#: Largest accepted ``max / min - 1`` of the reference's round medians.
MAX_REFERENCE_DRIFT = 1.0
#: Largest accepted ``max / min - 1`` of the model's round medians.
MAX_ROUND_DISAGREEMENT = 0.8
#: Largest accepted inter-quartile range of the blocks over their median.
MAX_SPREAD = 0.35


def _beyond(name: str, value: float, bound: float) -> str:
    if name.endswith("(CPUs)"):
        return f"{name} {value:.2f} > {bound:.2f}"
    return f"{name} {value:.0%} > {bound:.0%}"


@dataclass(frozen=True)
class Assessment:
    """Whether a figure is stable, why not, and how far it is from stable (for keeping the best attempt)."""

    stable: bool
    reason: str
    badness: float


def assess(
    times_ms: Sequence[float],
    block_rounds: Sequence[int],
    reference_rounds_ms: Sequence[float],
    neighbour: float | None = None,
) -> Assessment:
    """Judge one attempt from its blocks, the round of each block and each round's reference.

    Args:
        times_ms: Per-call time of every model block (ms).
        block_rounds: Round index of every block.
        reference_rounds_ms: The reference's time in each round (ms).
        neighbour (float, optional): CPUs other processes kept busy meanwhile
            (:func:`neighbour_cpus`); ``None`` where it cannot be read.
    """
    times, rounds, references = np.asarray(times_ms), np.asarray(block_rounds), np.asarray(reference_rounds_ms)
    round_medians = np.array([np.median(times[rounds == r]) for r in np.unique(rounds)])
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    signs = {
        "reference drift": (references.max() / references.min() - 1, MAX_REFERENCE_DRIFT),
        "rounds disagree": (round_medians.max() / round_medians.min() - 1, MAX_ROUND_DISAGREEMENT),
        "block spread (IQR/median)": ((q3 - q1) / median, MAX_SPREAD),
    }
    if neighbour is not None:
        signs["other processes busy (CPUs)"] = (neighbour, MAX_NEIGHBOUR_CPUS)
    beyond = [_beyond(name, value, bound) for name, (value, bound) in signs.items() if value > bound]
    badness = max(value / bound for value, bound in signs.values())
    return Assessment(not beyond, "; ".join(beyond), float(badness))


#: Other processes may use this many CPUs while a figure is timed (a neighbour's burst beyond it disturbs the figure).
MAX_NEIGHBOUR_CPUS = 0.3
#: Seconds a figure waits, at most, for a busy neighbour to go quiet before it is measured again.
QUIET_WAIT_SECONDS = 30.0
#: Overrides :data:`QUIET_WAIT_SECONDS`; ``0`` never waits (a CI job whose neighbour is known and permanent).
QUIET_WAIT_ENV = "SUITE_QUIET_WAIT_SECONDS"
#: After a wait that ran out (the neighbour stays), later figures do not wait again for this long.
PERSISTENT_NEIGHBOUR_SECONDS = 120.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_persistent_until = 0.0


@dataclass(frozen=True)
class CpuSnapshot:
    """The machine's busy CPU seconds (all processes, steal included) and this process's own, at one moment."""

    busy: float
    own: float
    wall: float

    @classmethod
    def now(cls) -> CpuSnapshot | None:
        """A snapshot from ``/proc/stat``; ``None`` where there is none (not Linux)."""
        try:
            with open("/proc/stat") as stat:
                fields = [int(v) for v in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        times = os.times()
        busy = (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS
        return cls(busy, times.user + times.system, time.monotonic())


def neighbour_cpus(before: CpuSnapshot | None, after: CpuSnapshot | None) -> float | None:
    """CPUs that other processes (and the host, as steal) kept busy on average between two snapshots."""
    if before is None or after is None or after.wall <= before.wall:
        return None
    return max(0.0, (after.busy - before.busy) - (after.own - before.own)) / (after.wall - before.wall)


def quiet_wait_budget() -> float:
    """Seconds :func:`wait_for_quiet` waits at most: ``$SUITE_QUIET_WAIT_SECONDS`` when set, else the default.

    Raises:
        SuiteError: if ``$SUITE_QUIET_WAIT_SECONDS`` is not a number of seconds ≥ 0.
    """
    value = os.environ.get(QUIET_WAIT_ENV, "")
    if not value:
        return QUIET_WAIT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SuiteError(f"{QUIET_WAIT_ENV} must be a number of seconds >= 0, not {value!r}")
    return seconds


def wait_for_quiet(budget: float | None = None, step: float = 0.5) -> float:
    """Wait, up to ``budget`` seconds, until other processes use under ``MAX_NEIGHBOUR_CPUS``; returns the seconds waited.

    A neighbour that is still busy when the budget runs out is taken to be persistent:
    figures in the next ``PERSISTENT_NEIGHBOUR_SECONDS`` do not wait (they are measured
    and, if disturbed, recorded unstable), so a permanently busy machine costs one wait.
    """
    global _persistent_until
    budget = quiet_wait_budget() if budget is None else budget
    start = time.monotonic()
    if start < _persistent_until:
        return 0.0
    while time.monotonic() - start < budget:
        before = CpuSnapshot.now()
        time.sleep(step)
        busy = neighbour_cpus(before, CpuSnapshot.now())
        if busy is None or busy < MAX_NEIGHBOUR_CPUS:
            return time.monotonic() - start
    _persistent_until = time.monotonic() + PERSISTENT_NEIGHBOUR_SECONDS
    return time.monotonic() - start
