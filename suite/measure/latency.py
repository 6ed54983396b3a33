"""Latency and throughput, timed with ``torch.utils.benchmark`` so that they can be trusted.

Every figure is a :class:`Timing` that keeps its settings (device, backend, dtype, batch
size, thread count), the median and inter-quartile range of the timed runs, the number
of runs and every run's time. ``Timer.blocked_autorange`` warms up, sets the thread
pool to the requested size, synchronises CUDA around each block, and repeats blocks
until ``min_run_time`` has passed; the median of the blocks is the statistic.

Each session also times a fixed reference kernel (a float32 ``256 x 256 @ 256 x 256``
matrix product) with the same device and threads. ``latency_rel`` is a latency divided
by that reference: a ratio stays comparable across machines and across a noisy
machine's good and bad minutes, where milliseconds do not.

Two scopes: ``model`` (features in, logits out) and ``e2e`` (waveform in, logits out,
front end included), so that a raw-waveform model, which pays for all its own work, is
compared fairly with spectrogram models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.benchmark import Measurement, Timer

from suite.features import build_frontend
from suite.input_spec import InputSpec

REFERENCE_SIZE = 256
DEFAULT_MIN_RUN_TIME = 0.3
WARMUP_CALLS = 3


@dataclass
class Timing:
    """One latency figure and everything needed to trust and compare it."""

    scope: str
    device: str
    backend: str
    dtype: str
    batch_size: int
    threads: int
    status: str = "ok"
    error: str = ""
    median_ms: float | None = None
    iqr_ms: float | None = None
    runs: int = 0
    times_ms: list[float] = field(default_factory=list)
    reference_ms: float | None = None
    latency_rel: float | None = None
    throughput: float | None = None
    gflops_achieved: float | None = None
    peak_gflops: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def time_call(fn: Callable[[], object], threads: int, min_run_time: float = DEFAULT_MIN_RUN_TIME) -> Measurement:
    """Time ``fn()`` with :meth:`torch.utils.benchmark.Timer.blocked_autorange` on ``threads`` threads."""
    for _ in range(WARMUP_CALLS):  # lazy initialisation, allocator growth, oneDNN primitive caches
        fn()
    return Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads).blocked_autorange(min_run_time=min_run_time)


def reference_ms(device: torch.device, threads: int, min_run_time: float = DEFAULT_MIN_RUN_TIME) -> float:
    """Median time of the calibration kernel: a float32 ``256 x 256`` matrix product."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(REFERENCE_SIZE, REFERENCE_SIZE, generator=generator).to(device) for _ in range(2))
    return time_call(lambda: torch.mm(a, b), threads, min_run_time).median * 1e3


def reference_gflops(reference: float) -> float:
    """The machine's measured matrix-product rate: ``2 * 256^3`` flops per reference run."""
    return 2 * REFERENCE_SIZE**3 / (reference * 1e-3) / 1e9


def _timing(measurement: Measurement, base: dict[str, Any], reference: float, macs: int | None) -> Timing:
    median = measurement.median * 1e3
    batch = base["batch_size"]
    return Timing(
        **base,
        median_ms=median,
        iqr_ms=measurement.iqr * 1e3,
        runs=len(measurement.times),
        times_ms=[t * 1e3 for t in measurement.times],
        reference_ms=reference,
        latency_rel=median / reference,
        throughput=batch / (median * 1e-3),
        # 2 flops per MAC, for every example of the batch, per second.
        gflops_achieved=2 * macs * batch / (median * 1e-3) / 1e9 if macs else None,
        peak_gflops=reference_gflops(reference),
    )


def _runnable(model: nn.Module, backend: str) -> nn.Module:
    if backend == "eager":
        return model
    if backend == "compile":
        return torch.compile(model)  # type: ignore[return-value]
    raise ValueError(f"unknown backend {backend!r}; expected eager or compile")


def measure_latency(
    model: nn.Module,
    spec: InputSpec,
    macs: int | None = None,
    devices: Sequence[str] = ("cpu",),
    batch_sizes: Sequence[int] = (1, 32),
    threads: Sequence[int] = (1,),
    backends: Sequence[str] = ("eager",),
    scopes: Sequence[str] = ("model", "e2e"),
    min_run_time: float = DEFAULT_MIN_RUN_TIME,
) -> list[Timing]:
    """Time ``model`` in eval mode under ``torch.inference_mode`` for every combination of settings.

    Args:
        model (nn.Module): Takes ``(B, *spec.shape)``.
        spec (InputSpec): Its input; the ``e2e`` scope feeds ``(B, spec.n_samples)``
            waveforms through the spec's front end first.
        macs (int, optional): MACs per example, for ``gflops_achieved``.
        devices, batch_sizes, threads, backends, scopes: What to measure.
        min_run_time (float): Seconds of timed runs per figure. (Default: ``0.3``)

    Returns:
        list[Timing]: one per combination. A CUDA device that is absent gives
        ``status="skipped"`` with the reason; a backend that fails for this model gives
        ``status="failed"`` with its error, and the others go on.
    """
    timings: list[Timing] = []
    model.eval()
    for device_name in devices:
        for thread_count in threads:
            common = {"device": device_name, "threads": thread_count, "dtype": "float32"}
            if device_name == "cuda" and not torch.cuda.is_available():
                timings += [
                    Timing(scope=scope, backend=backend, batch_size=batch, status="skipped", error="no CUDA device", **common)
                    for scope in scopes
                    for backend in backends
                    for batch in batch_sizes
                ]
                continue
            device = torch.device(device_name)
            reference = reference_ms(device, thread_count, min_run_time)
            pipelines = {"model": model.to(device), "e2e": nn.Sequential(build_frontend(spec), model).to(device).eval()}
            for backend in backends:
                for scope in scopes:
                    for batch in batch_sizes:
                        base = {"scope": scope, "backend": backend, "batch_size": batch, **common}
                        shape = (batch, *spec.shape) if scope == "model" else (batch, spec.n_samples)
                        example = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)
                        try:
                            runnable = _runnable(pipelines[scope], backend)
                            with torch.inference_mode():
                                measurement = time_call(lambda r=runnable, x=example: r(x), thread_count, min_run_time)
                        except Exception as error:  # one failing backend must not stop the others
                            timings.append(Timing(**base, status="failed", error=f"{type(error).__name__}: {error}"))
                            continue
                        timings.append(_timing(measurement, base, reference, macs))
    return timings
