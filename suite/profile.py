"""``suite profile``: match families to a budget and count what each costs.

No training happens here: each family is matched to the budget on the meta device
(:mod:`suite.budget`), then built once for real and counted with fvcore
(:func:`suite.measure.count_macs`), so the reported MACs come from the traced graph of
the exact model that would be trained.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import torch
from tqdm.auto import tqdm

from suite.budget import DEFAULT_TOLERANCE, Budget, match_budget
from suite.input_spec import InputSpec
from suite.measure import MAC_CONVENTION, count_macs, count_params, model_bytes
from suite.models.registry import create_model, get_family


@dataclass
class ProfileRecord:
    """One family at one budget. ``status`` is ``ok`` or ``infeasible`` (then ``reason`` says why).

    For an infeasible budget the counts are those of the nearest width tried, so the
    gap to the target is visible.
    """

    model: str
    input: str
    input_shape: list[int]
    n_classes: int
    budget_kind: str
    budget: int
    width: int
    params: int
    macs: int
    flops: int
    model_bytes: int
    budget_error: float
    status: str
    reason: str
    uncounted_ops: list[str] = field(default_factory=list)
    mac_convention: str = MAC_CONVENTION

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def profile_model(
    name: str,
    budget: Budget,
    input_spec: InputSpec,
    input_name: str = "custom",
    n_classes: int = 10,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ProfileRecord:
    """Match family ``name`` to ``budget`` and count the matched model (batch 1, CPU)."""
    match = match_budget(name, input_spec, budget, n_classes=n_classes, tolerance=tolerance)
    spec = get_family(name).adapt_input(input_spec)
    torch.manual_seed(0)
    model = create_model(name, n_classes, spec, match.width)
    counted = count_macs(model, spec.example(batch_size=1))
    params = count_params(model)
    achieved = params if budget.kind == "params" else counted.macs
    return ProfileRecord(
        model=name,
        input=input_name,
        input_shape=list(spec.shape),
        n_classes=n_classes,
        budget_kind=budget.kind,
        budget=budget.value,
        width=match.width,
        params=params,
        macs=counted.macs,
        flops=2 * counted.macs,
        model_bytes=model_bytes(model),
        budget_error=achieved / budget.value - 1,
        status=match.status,
        reason=match.reason,
        uncounted_ops=sorted(counted.uncounted_ops),
    )


def profile_models(
    names: Iterable[str],
    budget: Budget,
    input_spec: InputSpec,
    input_name: str = "custom",
    n_classes: int = 10,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = True,
) -> list[ProfileRecord]:
    """:func:`profile_model` for each family, with a progress bar on a terminal."""
    names = list(names)
    bar = tqdm(names, desc=f"profile {budget}", unit="model", disable=None if progress else True, leave=False)
    records = []
    for name in bar:
        bar.set_postfix_str(name)
        records.append(profile_model(name, budget, input_spec, input_name, n_classes, tolerance))
    return records
