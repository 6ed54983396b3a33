"""``suite profile``: match families to a budget and count what each costs.

No training happens here: each family is matched to the budget on the meta device
(:mod:`suite.budget`), then built once for real and counted with fvcore
(:func:`suite.measure.count_macs`), so the reported MACs come from the traced graph of
the exact model that would be trained.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from suite.budget import DEFAULT_TOLERANCE, Budget, build_matched
from suite.input_spec import InputSpec
from suite.measure import MAC_CONVENTION
from suite.measure.costs import LatencySettings, measure_costs
from suite.progress import progress as show_progress


@dataclass
class ProfileRecord:
    """One family at one budget. ``status`` is ``ok`` or ``infeasible`` (then ``reason`` says why).

    For an infeasible budget the counts are those of the nearest width tried, so the
    gap to the target is visible; they come from the meta device and ``uncounted_ops``
    is ``None`` (nothing was traced).
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
    uncounted_ops: list[str] | None = field(default_factory=list)
    mac_convention: str = MAC_CONVENTION
    costs: dict[str, Any] = field(default_factory=dict)
    timings: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, object]:
        """A flat record: the time and memory columns sit beside the counts."""
        record = asdict(self)
        costs = record.pop("costs")
        if record["timings"] is None:
            del record["timings"]
        return record | costs


def profile_model(
    name: str,
    budget: Budget,
    input_spec: InputSpec,
    input_name: str = "custom",
    n_classes: int = 10,
    tolerance: float = DEFAULT_TOLERANCE,
    latency: LatencySettings | None = None,
    memory: bool = False,
    train_batch_size: int = 64,
    streaming: bool = False,
) -> ProfileRecord:
    """Match family ``name`` to ``budget`` and count the matched model (batch 1, CPU).

    With ``latency`` and/or ``memory``, also time it and measure its peak memory (an
    untrained model: time and memory do not depend on the weights' values). With
    ``streaming``, also its cost per hop when it listens to a stream (:mod:`suite.streaming`).
    """
    built = build_matched(name, input_spec, budget, n_classes, seed=0, tolerance=tolerance)
    costs, timings = {}, None
    if built.model is not None and (latency is not None or memory):
        costs, timings = measure_costs(built.model, built.spec, built.macs, latency, memory, train_batch_size, n_classes)
    if built.model is not None and streaming:
        from suite.streaming.measure import measure_streaming

        figures, stream_timings = measure_streaming(built.model, built.spec)
        costs |= figures
        timings = [*(timings or []), *(t.to_dict() for t in stream_timings)]
    return ProfileRecord(
        model=name,
        input=input_name,
        input_shape=list(built.spec.shape),
        n_classes=n_classes,
        budget_kind=budget.kind,
        budget=budget.value,
        width=built.match.width,
        params=built.params,
        macs=built.macs,
        flops=2 * built.macs,
        model_bytes=built.model_bytes,
        budget_error=built.budget_error,
        status=built.match.status,
        reason=built.match.reason,
        uncounted_ops=built.uncounted_ops,
        costs=costs,
        timings=timings,
    )


def profile_models(
    names: Iterable[str],
    budget: Budget,
    input_spec: InputSpec,
    input_name: str = "custom",
    n_classes: int = 10,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = True,
    latency: LatencySettings | None = None,
    memory: bool = False,
    streaming: bool = False,
) -> list[ProfileRecord]:
    """:func:`profile_model` for each family, with a progress bar on a terminal and lines in a log (:mod:`suite.progress`)."""
    names = list(names)
    records = []
    with show_progress(total=len(names), desc=f"profile {budget}", unit="model", leave=False, enabled=progress) as bar:
        for name in names:
            bar.note(name)
            records.append(
                profile_model(name, budget, input_spec, input_name, n_classes, tolerance, latency, memory, streaming=streaming)
            )
            bar.update()
    return records
