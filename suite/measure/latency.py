"""Latency and throughput, timed with ``torch.utils.benchmark`` in rounds interleaved with a reference kernel.

Every figure is a :class:`Timing` that keeps its settings (device, backend, dtype, batch
size, thread count), its statistics (median, inter-quartile range and minimum of the
timed blocks) and every block's time, so a comparison can test distributions rather
than two numbers.

How one figure is taken (:func:`time_rounds`): after warm-up, ``ROUNDS`` rounds of the
model's blocks (``Timer.blocked_autorange``, ``min_run_time / ROUNDS`` seconds each)
alternate with short runs of a reference kernel (see :mod:`suite.measure.reference`),
one before the first round and one after each (each the median of ``REFERENCE_BLOCKS``
blocks of about a millisecond), so every round has a reference taken under the same
conditions (the mean of the two around it). ``latency_rel`` is the
median over blocks of block time / its round's reference: a busy minute slows both and
the ratio stays comparable, where milliseconds do not.

A figure is **unstable** (:func:`suite.measure.stability.assess`) when the machine
visibly changed while it was taken: the reference's rate drifted between rounds, the
model's rounds disagree, or its blocks are widely spread. It is measured again, up to
``MAX_ATTEMPTS`` times in all; if no attempt is stable, the steadiest one is kept and
recorded with ``stability="unstable"`` and the reason. The minimum block time is kept
beside the median: on a shared host it is the most robust estimate of the model's own
cost (noise only ever adds time).

Two scopes: ``model`` (features in, logits out) and ``e2e`` (waveform in, logits out,
front end included), so that a raw-waveform model, which pays for all its own work, is
compared fairly with spectrogram models.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.benchmark import Timer

from suite.errors import SuiteError
from suite.features import build_frontend
from suite.input_spec import InputSpec
from suite.measure.reference import matmul_gflops, reference_kernel, reference_kind
from suite.measure.stability import MAX_ATTEMPTS, Assessment, CpuSnapshot, assess, neighbour_cpus, wait_for_quiet
from suite.metrics import FLOAT32, ONNX_BACKENDS, ONNXRUNTIME

DEFAULT_MIN_RUN_TIME = 0.3
WARMUP_CALLS = 3
#: Model rounds per figure, each followed by a reference run.
ROUNDS = 5
#: Model blocks per round at least (a slow model gets several blocks per round, so a
#: block-level test on one figure can reach its significance level).
MIN_BLOCKS_PER_ROUND = 3
#: Blocks per reference run, and the length of each: a run's figure is the median of
#: many short blocks, so that one interruption of the host does not move it.
REFERENCE_BLOCKS = 15
REFERENCE_BLOCK_SECONDS = 0.001


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
    min_ms: float | None = None
    runs: int = 0
    times_ms: list[float] = field(default_factory=list)
    block_rounds: list[int] = field(default_factory=list)
    reference_kind: str = ""
    reference_rounds_ms: list[float] = field(default_factory=list)
    reference_ms: float | None = None
    latency_rel: float | None = None
    stability: str = ""
    unstable_reason: str = ""
    attempts: int = 0
    throughput: float | None = None
    gflops_achieved: float | None = None
    matmul_gflops: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Rounds:
    """The raw material of one attempt: every model block and the reference of each round."""

    times_ms: list[float]
    block_rounds: list[int]
    reference_rounds_ms: list[float]

    def relative(self) -> np.ndarray:
        """Each block's time divided by the reference of its round."""
        return np.asarray(self.times_ms) / np.asarray(self.reference_rounds_ms)[np.asarray(self.block_rounds)]


def _blocks(fn: Callable[[], object], threads: int, seconds: float, at_least: int) -> list[float]:
    """Per-call times (s) of ``Timer.blocked_autorange`` blocks: ``seconds`` of them, and ``at_least`` blocks."""
    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    times: list[float] = []
    while not times or len(times) < at_least:
        times += timer.blocked_autorange(min_run_time=seconds).times
    return times


def time_rounds(
    fn: Callable[[], object],
    reference: Callable[[], object],
    threads: int,
    min_run_time: float = DEFAULT_MIN_RUN_TIME,
    rounds: int = ROUNDS,
) -> Rounds:
    """Time ``fn()`` in ``rounds`` rounds with ``reference()`` timed before the first and after each.

    Args:
        fn: The work to time (one model call).
        reference: The reference kernel (see :mod:`suite.measure.reference`).
        threads (int): Intra-op threads for both.
        min_run_time (float): Seconds of model blocks in all. (Default: ``0.3``)
        rounds (int): Model rounds. (Default: ``5``)
    """
    for _ in range(WARMUP_CALLS):  # lazy initialisation, allocator growth, oneDNN primitive caches
        fn()
        reference()
    timer = Timer(stmt="fn()", globals={"fn": reference}, num_threads=threads)
    number = max(1, round(REFERENCE_BLOCK_SECONDS / timer.blocked_autorange(min_run_time=0.01).median))

    def reference_run() -> float:
        return float(np.median([timer.timeit(number).median for _ in range(REFERENCE_BLOCKS)]))

    references = [reference_run()]
    times: list[float] = []
    block_rounds: list[int] = []
    for index in range(rounds):
        blocks = _blocks(fn, threads, min_run_time / rounds, MIN_BLOCKS_PER_ROUND)
        times += blocks
        block_rounds += [index] * len(blocks)
        references.append(reference_run())
    # The reference of a round: the mean of the runs just before and just after it.
    around = [(before + after) / 2 * 1e3 for before, after in itertools.pairwise(references)]
    return Rounds([t * 1e3 for t in times], block_rounds, around)


def _timing(rounds: Rounds, verdict: Assessment, attempts: int, base: dict[str, Any], kind: str, macs: int | None) -> Timing:
    times = np.asarray(rounds.times_ms)
    median = float(np.median(times))
    q1, q3 = np.percentile(times, [25, 75])
    batch = base["batch_size"]
    reference = float(np.median(rounds.reference_rounds_ms))
    return Timing(
        **base,
        median_ms=median,
        iqr_ms=float(q3 - q1),
        min_ms=float(times.min()),
        runs=len(times),
        times_ms=rounds.times_ms,
        block_rounds=rounds.block_rounds,
        reference_kind=kind,
        reference_rounds_ms=rounds.reference_rounds_ms,
        reference_ms=reference,
        latency_rel=float(np.median(rounds.relative())),
        stability="stable" if verdict.stable else "unstable",
        unstable_reason=verdict.reason,
        attempts=attempts,
        throughput=batch / (median * 1e-3),
        # 2 flops per MAC, for every example of the batch, per second; the model's MACs
        # say nothing of the front end's work, so e2e figures get none.
        gflops_achieved=2 * macs * batch / (median * 1e-3) / 1e9 if macs and base["scope"] == "model" else None,
        matmul_gflops=matmul_gflops(reference) if kind == "compute" else None,
    )


def measure_figure(
    fn: Callable[[], object],
    base: dict[str, Any],
    device: torch.device,
    macs: int | None = None,
    min_run_time: float = DEFAULT_MIN_RUN_TIME,
    max_attempts: int = MAX_ATTEMPTS,
) -> Timing:
    """One :class:`Timing` of ``fn()``: rounds with the matching reference, re-measured while unstable.

    Args:
        fn: One call of the model on its example batch.
        base (dict): The settings (scope, device, backend, dtype, batch_size, threads).
        device (torch.device): Where the reference kernel runs.
        macs (int, optional): MACs per example, for ``gflops_achieved``.
        min_run_time (float): Seconds of model blocks per attempt. (Default: ``0.3``)
        max_attempts (int): Attempts in all while the figure is unstable. (Default: ``3``)
    """
    kind = reference_kind(base["batch_size"])
    reference = reference_kernel(kind, device)
    best: tuple[Rounds, Assessment] | None = None
    attempts = 0
    for attempts in range(1, max_attempts + 1):  # noqa: B007 - the count is recorded
        if best is not None and "other processes busy" in best[1].reason:
            wait_for_quiet()  # a neighbour's burst: let it pass rather than time through it
        before = CpuSnapshot.now()
        rounds = time_rounds(fn, reference, base["threads"], min_run_time)
        neighbour = neighbour_cpus(before, CpuSnapshot.now())
        verdict = assess(rounds.times_ms, rounds.block_rounds, rounds.reference_rounds_ms, neighbour)
        if best is None or verdict.badness < best[1].badness:
            best = (rounds, verdict)
        if verdict.stable:
            break
    assert best is not None
    return _timing(best[0], best[1], attempts, base, kind, macs)


class _Calls:
    """Makes the timed call of each backend; exports each pipeline to ONNX once, on first use.

    Args:
        scratch (Path): A folder for the ONNX files.
        deployed (Mapping[str, bytes]): int8 ONNX files of the model scope by precision.
    """

    def __init__(self, scratch: Path, deployed: Mapping[str, bytes]) -> None:
        self.scratch = scratch
        self.exported: dict[str, Path | Exception] = {}
        self.deployed: dict[str, Path] = {}
        for dtype, data in deployed.items():
            path = scratch / f"model-{dtype}.onnx"
            path.write_bytes(data)
            self.deployed[dtype] = path

    def _onnx(self, scope: str, pipeline: nn.Module, example: torch.Tensor) -> Path:
        if scope not in self.exported:
            from suite.deploy import require_onnx
            from suite.deploy.onnx_export import export_onnx

            require_onnx()
            # Two examples at least, so the exporter keeps the batch axis dynamic.
            batch = example[:1].expand(2, *example.shape[1:]).contiguous() if len(example) < 2 else example
            try:
                self.exported[scope] = export_onnx(pipeline, batch, self.scratch / f"{scope}-float32.onnx").path
            except Exception as error:  # remembered: every batch size of this scope fails the same way
                self.exported[scope] = error
        found = self.exported[scope]
        if isinstance(found, Exception):
            raise found
        return found

    def make(self, backend: str, dtype: str, scope: str, pipeline: nn.Module, example: torch.Tensor, threads: int):
        """The call to time: ``pipeline(example)`` as ``backend`` runs it, at ``dtype``."""
        device = example.device.type
        if backend == "eager":
            return lambda: pipeline(example)
        if backend == "compile":
            compiled = torch.compile(pipeline)
            return lambda: compiled(example)
        if backend in ONNX_BACKENDS:
            from suite.deploy.runtime import openvino_runner, runner

            path = self._onnx(scope, pipeline, example) if dtype == FLOAT32 else self.deployed[dtype]
            return (runner if backend == ONNXRUNTIME else openvino_runner)(path, example, threads, device)
        raise ValueError(f"unknown backend {backend!r}; expected eager, compile, {' or '.join(ONNX_BACKENDS)}")


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
    deployed: Mapping[str, bytes] | None = None,
) -> list[Timing]:
    """Time ``model`` in eval mode under ``torch.inference_mode`` for every combination of settings.

    Args:
        model (nn.Module): Takes ``(B, *spec.shape)``.
        spec (InputSpec): Its input; the ``e2e`` scope feeds ``(B, spec.n_samples)``
            waveforms through the spec's front end first.
        macs (int, optional): MACs per example, for ``gflops_achieved``.
        devices, batch_sizes, threads, backends, scopes: What to measure. ``onnxruntime``
            (and ``openvino``) export each scope's pipeline to ONNX (:mod:`suite.deploy`)
            and time it in that runtime with as many threads as the setting.
        min_run_time (float): Seconds of timed model blocks per figure (per attempt). (Default: ``0.3``)
        deployed (Mapping[str, bytes], optional): int8 ONNX files of the model by precision
            (``int8_static``...): each is timed in ONNX Runtime (and OpenVINO, when asked
            for) in the model scope at every device, thread count and batch size, beside
            the float32 figures.

    Returns:
        list[Timing]: one per combination. A CUDA device that is absent gives
        ``status="skipped"`` with the reason; a backend that fails for this model gives
        ``status="failed"`` with its error, and the others go on.
    """
    timings: list[Timing] = []
    model.eval()
    variants = [(backend, FLOAT32, tuple(scopes)) for backend in backends]
    # The int8 files are timed by every ONNX backend asked for (ONNX Runtime at least: the config requires it).
    onnx_backends = [b for b in dict.fromkeys((ONNXRUNTIME, *backends)) if b in ONNX_BACKENDS]
    variants += [(b, dtype, ("model",)) for b in onnx_backends for dtype in (deployed or {}) if "model" in scopes]
    with tempfile.TemporaryDirectory(prefix="suite-latency-") as scratch:
        calls = _Calls(Path(scratch), deployed or {})
        for device_name in devices:
            for thread_count in threads:
                common = {"device": device_name, "threads": thread_count}
                if device_name == "cuda" and not torch.cuda.is_available():
                    timings += [
                        Timing(scope=scope, backend=backend, dtype=dtype, batch_size=batch, status="skipped",
                               error="no CUDA device", **common)
                        for backend, dtype, variant_scopes in variants
                        for scope in variant_scopes
                        for batch in batch_sizes
                    ]  # fmt: skip
                    continue
                device = torch.device(device_name)
                pipelines = {"model": model.to(device), "e2e": nn.Sequential(build_frontend(spec), model).to(device).eval()}
                for backend, dtype, variant_scopes in variants:
                    for scope in variant_scopes:
                        for batch in batch_sizes:
                            base = {"scope": scope, "backend": backend, "dtype": dtype, "batch_size": batch, **common}
                            shape = (batch, *spec.shape) if scope == "model" else (batch, spec.n_samples)
                            example = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)
                            try:
                                with torch.inference_mode():
                                    call = calls.make(backend, dtype, scope, pipelines[scope], example, thread_count)
                                    timings.append(measure_figure(call, base, device, macs, min_run_time))
                            except SuiteError:
                                raise
                            except Exception as error:  # one failing backend must not stop the others
                                message = f"{type(error).__name__}: {error}".splitlines()[0]
                                timings.append(Timing(**base, status="failed", error=message))
    return timings
