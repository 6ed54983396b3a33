"""Match a family to a budget of parameters or MACs by choosing its width.

Counts grow with width (roughly quadratically), so the matcher binary-searches the
family's valid widths for the one whose count is nearest the target, counting on the
meta device (:mod:`suite.measure.meta`) so that no weights are allocated. A target that
the family cannot reach within the tolerance (its smallest width is already over it,
its largest plausible width is under it, or two neighbouring widths straddle it too
coarsely) is reported as ``infeasible`` with the reachable range, never returned as if
it matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from suite.errors import SuiteError, short_repr
from suite.input_spec import InputSpec
from suite.measure import count_macs, count_params, model_bytes
from suite.measure.meta import count_on_meta
from suite.metrics import MACS, PARAMS
from suite.models.registry import create_model, get_family
from suite.numbers import compact_count as format_count

BUDGET_KINDS = (PARAMS, MACS)
DEFAULT_TOLERANCE = 0.05
_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_BUDGET_PATTERN = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*([kmg]?)\s*$", re.IGNORECASE)


def parse_budget(text: str | int) -> int:
    """Parse ``25k``, ``100k``, ``1.5M``, ``5M``, ``2G`` or a plain integer into an int.

    Suffixes are decimal (k = 1e3, M = 1e6, G = 1e9) and case-insensitive.

    Raises:
        SuiteError: for anything else, or a value that is not a positive integer.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _BUDGET_PATTERN.match(str(text))
        if not match:
            expected = "expected a number with an optional k/M/G suffix, e.g. 25k, 1.5M"
            raise SuiteError(f"malformed budget {short_repr(text)}: {expected}")
        value = float(match.group(1)) * _SUFFIXES[match.group(2).lower()]
    if value < 1 or value != int(value):
        raise SuiteError(f"budget {short_repr(text)} must be a positive whole number, got {value:g}")
    return int(value)


@dataclass(frozen=True)
class Budget:
    """A target count: ``Budget("params", 100_000)`` or ``Budget("macs", 5_000_000)``."""

    kind: str
    value: int

    def __post_init__(self) -> None:
        if self.kind not in BUDGET_KINDS:
            raise SuiteError(f"budget kind must be one of {', '.join(BUDGET_KINDS)}, got {short_repr(self.kind)}")
        if not isinstance(self.value, int) or self.value < 1:
            raise SuiteError(f"budget must be a positive integer, got {short_repr(self.value)}")

    @classmethod
    def parse(cls, kind: str, text: str | int) -> Budget:
        return cls(kind, parse_budget(text))

    def __str__(self) -> str:
        return f"{self.kind}={format_count(self.value)}"


@dataclass(frozen=True)
class BudgetMatch:
    """The outcome of :func:`match_budget`.

    Attributes:
        model: Family name.
        budget: The target.
        width: The width nearest the target (also for ``infeasible``: the closest try).
        achieved: The count at ``width``.
        status: ``"ok"`` or ``"infeasible"``.
        reason: Why it is infeasible (empty when ``ok``).
        reachable: Counts at the family's smallest and largest width.
        evaluations: Widths counted during the search.
    """

    model: str
    budget: Budget
    width: int
    achieved: int
    status: str
    reason: str
    reachable: tuple[int, int]
    evaluations: int

    @property
    def rel_error(self) -> float:
        """``achieved / target - 1``."""
        return self.achieved / self.budget.value - 1


@lru_cache(maxsize=65536)
def _count(name: str, input_spec: InputSpec, width: int, kind: str, n_classes: int) -> int:
    return count_on_meta(name, input_spec, width, kind, n_classes)


def match_budget(
    name: str,
    input_spec: InputSpec,
    budget: Budget,
    n_classes: int = 10,
    tolerance: float = DEFAULT_TOLERANCE,
) -> BudgetMatch:
    """Find the width of family ``name`` whose count is nearest ``budget``.

    Args:
        name (str): Family name.
        input_spec (InputSpec): The comparison's input; adapted to the family's front
            end (``samplecnn`` is counted on the raw waveform of the same clip).
        budget (Budget): Target count.
        n_classes (int): Output logits. (Default: ``10``)
        tolerance (float): Largest accepted ``|achieved / target - 1|``. (Default: ``0.05``)
    """
    family = get_family(name)
    spec = family.adapt_input(input_spec)
    widths = family.valid_widths()
    target = budget.value
    seen: set[int] = set()

    def count(index: int) -> int:
        seen.add(index)
        return _count(family.name, spec, widths[index], budget.kind, n_classes)

    # Binary search for the first width whose count reaches the target (counts grow with width).
    low, high = 0, len(widths) - 1
    if count(high) < target:
        low = high
    while low < high:
        middle = (low + high) // 2
        if count(middle) >= target:
            high = middle
        else:
            low = middle + 1
    candidates = [i for i in (low - 1, low) if i >= 0]
    best = min(candidates, key=lambda i: (abs(count(i) - target), i))
    achieved = count(best)
    reachable = (count(0), count(len(widths) - 1))
    error = achieved / target - 1
    reason = ""
    if abs(error) > tolerance:
        span = f"reachable {format_count(reachable[0])}..{format_count(reachable[1])} {budget.kind}"
        if best == 0 and achieved > target:
            reason = f"smallest width {widths[0]} already gives {format_count(achieved)} ({span})"
        elif best == len(widths) - 1 and achieved < target:
            reason = f"largest width {widths[-1]} gives only {format_count(achieved)} ({span})"
        else:
            reason = (
                f"nearest width {widths[best]} gives {format_count(achieved)} ({error:+.1%}), "
                f"outside the {tolerance:.0%} tolerance"
            )
    return BudgetMatch(
        model=family.name,
        budget=budget,
        width=widths[best],
        achieved=achieved,
        status="infeasible" if reason else "ok",
        reason=reason,
        reachable=reachable,
        evaluations=len(seen),
    )


@dataclass
class MatchedModel:
    """A family matched to a budget, built and counted.

    Attributes:
        match: The matcher's outcome.
        spec: The input the family is measured on (adapted to its front end).
        model: The built model (initialised from ``seed``), or ``None`` when the
            budget is infeasible: then the counts are of the nearest width, taken on the
            meta device so that no weights are allocated for a model nobody will use.
        params, macs, model_bytes: The counts (``macs`` from fvcore for a built model).
        uncounted_ops: Ops fvcore left out; ``None`` when the model was not traced.
    """

    match: BudgetMatch
    spec: InputSpec
    model: nn.Module | None
    params: int
    macs: int
    model_bytes: int
    uncounted_ops: list[str] | None

    @property
    def budget_error(self) -> float:
        """``achieved / target - 1`` for the budget's kind."""
        budget = self.match.budget
        return (self.params if budget.kind == PARAMS else self.macs) / budget.value - 1


def build_matched(
    name: str, input_spec: InputSpec, budget: Budget, n_classes: int, seed: int = 0, tolerance: float = DEFAULT_TOLERANCE
) -> MatchedModel:
    """Match family ``name`` to ``budget``, build it with ``seed`` and count it (batch 1, CPU)."""
    match = match_budget(name, input_spec, budget, n_classes=n_classes, tolerance=tolerance)
    spec = get_family(name).adapt_input(input_spec)
    if match.status != "ok":
        with torch.device("meta"):
            shape_only = create_model(name, n_classes, spec, match.width)
        macs = count_on_meta(name, spec, match.width, MACS, n_classes)
        return MatchedModel(match, spec, None, count_params(shape_only), macs, model_bytes(shape_only), None)
    torch.manual_seed(seed)
    model = create_model(name, n_classes, spec, match.width)
    counted = count_macs(model, spec.example(batch_size=1))
    return MatchedModel(match, spec, model, count_params(model), counted.macs, model_bytes(model), sorted(counted.uncounted_ops))
