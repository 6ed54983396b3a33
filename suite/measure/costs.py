"""Time and memory of one model, as the flat columns and raw records a result carries.

The one function the CLI (``suite profile --latency``) and ``suite run`` (``measure:`` in
a config) both call, so that both report the same figures the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from suite.input_spec import InputSpec
from suite.measure.latency import DEFAULT_MIN_RUN_TIME, Timing, measure_latency
from suite.measure.memory import inference_peak_bytes, training_peak_bytes
from suite.metrics import (
    GFLOPS_ACHIEVED,
    HEADLINE,
    INT8,
    LATENCY_E2E_MS,
    LATENCY_IQR_MS,
    LATENCY_MIN_MS,
    LATENCY_MS,
    LATENCY_MS_ONNXRUNTIME,
    LATENCY_MS_OPENVINO,
    LATENCY_REL,
    MATMUL_GFLOPS,
    PEAK_MEM_INFER_MB,
    PEAK_MEM_TRAIN_MB,
    QUANTIZE_METHODS,
    THROUGHPUT,
)

MB = 2**20
#: What runs the model: PyTorch eager, ``torch.compile``, or the exported ONNX file in ONNX Runtime or OpenVINO.
Backend = Literal["eager", "compile", "onnxruntime", "openvino"]


class LatencySettings(BaseModel):
    """What to time (the ``measure.latency`` section of a config)."""

    model_config = ConfigDict(extra="forbid")

    devices: list[Literal["cpu", "cuda"]] = Field(default_factory=lambda: ["cpu"], min_length=1)
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 32], min_length=1)
    threads: list[PositiveInt] = Field(default_factory=lambda: [1], min_length=1)
    backends: list[Literal["eager", "compile", "onnxruntime", "openvino"]] = Field(
        default_factory=lambda: ["eager"], min_length=1
    )
    min_run_time: float = Field(DEFAULT_MIN_RUN_TIME, gt=0, description="seconds of timed runs per figure")


def _headline(timings: list[Timing], scope: str, batch: int, setting: Mapping[str, Any] = HEADLINE) -> Timing | None:
    """The ``ok`` timing of ``scope`` at ``batch`` in ``setting`` (default :data:`suite.metrics.HEADLINE`), fewest threads."""
    fewest = min((t.threads for t in timings), default=1)
    wanted = {**setting, "scope": scope, "batch_size": batch}
    for timing in timings:
        matches = all(getattr(timing, key) == value for key, value in wanted.items())
        if timing.status == "ok" and matches and timing.threads == fewest:
            return timing
    return None


def _stability(timings: list[Timing]) -> str | None:
    """``unstable`` when any timed figure was, else ``stable`` (``None`` when nothing was timed)."""
    states = {t.stability for t in timings if t.status == "ok"}
    return None if not states else "unstable" if "unstable" in states else "stable"


def measure_costs(
    model: nn.Module,
    spec: InputSpec,
    macs: int | None,
    latency: LatencySettings | None,
    memory: bool,
    train_batch_size: int,
    n_classes: int,
    deployed: Mapping[str, bytes] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Flat columns for ``results.csv`` and every :class:`Timing` for ``trials.jsonl``.

    Columns: ``latency_ms`` (CPU, batch 1, model scope, median), ``latency_min_ms``
    (its fastest block), ``latency_e2e_ms`` (the same, waveform in), ``latency_iqr_ms``,
    ``latency_rel`` (to the interleaved reference kernel), ``latency_stability``
    (``stable``, or ``unstable`` when any CPU figure was: see
    :mod:`suite.measure.stability`), ``throughput`` (examples/s at the largest batch
    size), ``gflops_achieved`` and ``matmul_gflops`` (at the largest batch size),
    ``peak_mem_infer_mb`` (batch 1) and ``peak_mem_train_mb`` (one step at
    ``train_batch_size``); with the ``onnxruntime`` backend ``latency_ms_onnxruntime``
    and, for each int8 file of ``deployed`` (by precision, from :mod:`suite.deploy.stage`),
    ``latency_ms_int8_<method>``: the headline setting in ONNX Runtime.
    """
    columns: dict[str, Any] = {}
    timings: list[Timing] = []
    if latency is not None:
        timings = measure_latency(
            model,
            spec,
            macs,
            latency.devices,
            latency.batch_sizes,
            latency.threads,
            latency.backends,
            min_run_time=latency.min_run_time,
            deployed=deployed,
        )
        single, single_e2e = _headline(timings, "model", 1), _headline(timings, "e2e", 1)
        largest = _headline(timings, "model", max(latency.batch_sizes))
        columns |= {
            LATENCY_MS: single.median_ms if single else None,
            LATENCY_MIN_MS: single.min_ms if single else None,
            LATENCY_E2E_MS: single_e2e.median_ms if single_e2e else None,
            LATENCY_IQR_MS: single.iqr_ms if single else None,
            LATENCY_REL: single.latency_rel if single else None,
            "latency_stability": _stability(timings),
            THROUGHPUT: largest.throughput if largest else None,
            GFLOPS_ACHIEVED: largest.gflops_achieved if largest else None,
            MATMUL_GFLOPS: largest.matmul_gflops if largest else None,
        }
        for metric in (LATENCY_MS_ONNXRUNTIME, LATENCY_MS_OPENVINO, *(INT8[method].latency for method in QUANTIZE_METHODS)):
            timing = _headline(timings, "model", 1, metric.setting or HEADLINE)
            if timing is not None:
                columns[metric] = timing.median_ms
    if memory:
        model = model.cpu()
        columns[PEAK_MEM_INFER_MB] = inference_peak_bytes(model, spec.example(1)) / MB
        targets = torch.arange(train_batch_size) % n_classes
        state = {k: v.clone() for k, v in model.state_dict().items()}  # the step updates the weights; put them back
        columns[PEAK_MEM_TRAIN_MB] = training_peak_bytes(model, spec.example(train_batch_size), targets) / MB
        model.load_state_dict(state)
        model.eval()
    return columns, [t.to_dict() for t in timings]
