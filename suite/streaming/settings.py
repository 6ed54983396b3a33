"""The ``measure.streaming`` section of a run config (no torch import: configs are read before any model)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

#: Individually timed steps behind the p99 (the 99th percentile then rests on the slowest 10).
P99_STEPS = 1000


class StreamingSettings(BaseModel):
    """Measure each trained model listening to a stream, one hop at a time (:mod:`suite.streaming`).

    A model steps one feature frame per hop, so the hop is the input's (``input.hop_ms``);
    ``hop_ms`` may repeat it, as a check, and is refused when it differs.
    """

    model_config = ConfigDict(extra="forbid")

    hop_ms: float | None = Field(None, gt=0, description="the hop; must equal input.hop_ms")
    p99_steps: PositiveInt = Field(P99_STEPS, description="individually timed steps behind the p99")
    min_run_time: float = Field(0.3, gt=0, description="seconds of timed blocks for each median")
