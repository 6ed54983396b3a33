"""Time and memory: bookkeeping, and relations that must hold whatever the machine (no absolute times)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from suite.cli import main
from suite.config import parse_config
from suite.input_spec import InputSpec
from suite.measure.latency import measure_latency
from suite.measure.memory import inference_peak_bytes, training_peak_bytes
from suite.measure.reference import reference_kernel
from suite.models import create_model, get_family
from suite.runner import run_config
from tests.helpers import ALL_MODELS, spec_for

QUICK = 0.05  # seconds of timed runs per figure: relations need no more
SPEC = InputSpec(sample_rate=8000)


def only(timings: list, **wanted: object) -> object:
    (match,) = [t for t in timings if all(getattr(t, k) == v for k, v in wanted.items())]
    return match


def test_timings_keep_settings_statistics_and_raw_times() -> None:
    model = create_model("cnn1d", 10, SPEC, 16)
    timings = measure_latency(model, SPEC, macs=1000, batch_sizes=(1, 4), threads=(1,), min_run_time=QUICK)
    assert len(timings) == 4  # 2 scopes x 2 batch sizes
    for timing in timings:
        assert timing.status == "ok" and timing.device == "cpu" and timing.backend == "eager" and timing.dtype == "float32"
        assert timing.threads == 1 and timing.runs == len(timing.times_ms) == len(timing.block_rounds) >= 1
        assert timing.min_ms <= timing.median_ms <= max(timing.times_ms)
        assert timing.iqr_ms >= 0 and timing.reference_ms > 0 and timing.latency_rel > 0
        assert timing.reference_kind == ("overhead" if timing.batch_size == 1 else "compute")
        assert timing.throughput == pytest.approx(timing.batch_size / (timing.median_ms / 1000))
        if timing.scope == "model":
            assert timing.gflops_achieved == pytest.approx(2 * 1000 * timing.batch_size / (timing.median_ms / 1000) / 1e9)
        else:  # the model's MACs say nothing of the front end's work
            assert timing.gflops_achieved is None


class _Busy(nn.Module):
    """Busy-waits ``per_item`` seconds per batch item and frame count: work of a known least duration.

    Noise only adds time, so a timer that measures the call cannot report less than this;
    the relations of real models (batch size, sequence length, front end) are printed by
    ``benchmarks/bench_timer_relations.py``, not asserted here, since a busy machine
    stretches them unevenly.
    """

    def __init__(self, per_item: float, per_frame: bool = False) -> None:
        super().__init__()
        self.per_item, self.per_frame = per_item, per_frame

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        units = x.shape[0] * (x.shape[-1] if self.per_frame else 1)
        end = time.perf_counter() + self.per_item * units
        while time.perf_counter() < end:
            pass
        return x.flatten(1)[:, :10]


def test_a_figure_is_never_below_the_work_of_one_call_at_any_batch_size() -> None:
    timings = measure_latency(_Busy(0.0002), SPEC, batch_sizes=(1, 32), scopes=("model",), min_run_time=QUICK)
    assert only(timings, batch_size=1).min_ms >= 0.2 and only(timings, batch_size=32).min_ms >= 32 * 0.2


def test_a_figure_is_never_below_the_work_of_a_longer_input() -> None:
    for frames in (100, 400):
        spec = InputSpec(sample_rate=8000, clip_seconds=frames / 100)  # 10 ms hop: 100 frames per second
        (timing,) = measure_latency(_Busy(2e-6, per_frame=True), spec, scopes=("model",), batch_sizes=(1,), min_run_time=QUICK)
        assert timing.min_ms >= spec.shape[-1] * 2e-3


def test_end_to_end_includes_the_model() -> None:
    timings = measure_latency(_Busy(0.0005), SPEC, batch_sizes=(1,), min_run_time=QUICK)
    assert only(timings, scope="e2e").min_ms >= 0.5 and only(timings, scope="model").min_ms >= 0.5


def test_identity_takes_microseconds() -> None:
    (timing,) = measure_latency(nn.Identity(), SPEC, batch_sizes=(1,), scopes=("model",), min_run_time=QUICK)
    assert timing.min_ms < 0.1  # a Python call: microseconds, not milliseconds (the fastest block: noise only adds)


def test_reference_kernels_run() -> None:
    assert reference_kernel("compute", torch.device("cpu"))().shape == (256, 256)
    assert reference_kernel("overhead", torch.device("cpu"))().shape == (1, 64)
    with pytest.raises(ValueError, match="unknown reference kernel"):
        reference_kernel("nonsense", torch.device("cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the skip path is for machines without it")
def test_cuda_without_a_gpu_is_skipped_with_a_reason_never_faked() -> None:
    timings = measure_latency(nn.Linear(4, 4), SPEC, devices=("cuda",), batch_sizes=(1,), min_run_time=QUICK)
    assert {t.status for t in timings} == {"skipped"}
    assert all(t.error == "no CUDA device" and t.median_ms is None and not t.times_ms for t in timings)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_timing_is_synchronised() -> None:
    timings = measure_latency(
        create_model("cnn2d", 10, SPEC, 32), SPEC, devices=("cuda",), batch_sizes=(1, 32), min_run_time=QUICK
    )
    assert all(t.status == "ok" and t.median_ms > 0 for t in timings)


def test_a_failing_backend_is_recorded_and_the_others_go_on() -> None:
    timings = measure_latency(
        nn.Linear(SPEC.n_frames, 4), SPEC, backends=("eager", "nonsense"), batch_sizes=(1,), scopes=("model",)
    )
    assert only(timings, backend="eager").status == "ok"
    failed = only(timings, backend="nonsense")
    assert failed.status == "failed" and "unknown backend" in failed.error


@pytest.mark.skipif(not shutil.which("g++") and not shutil.which("c++"), reason="torch.compile on CPU needs a C++ compiler")
def test_compile_backend_times_the_compiled_model_next_to_eager() -> None:
    # A real torch.compile (Inductor, CPU) of a tiny model: about 10 s, most of it compiling.
    model = nn.Sequential(nn.Flatten(), nn.Linear(SPEC.n_mels * SPEC.n_frames, 4))
    timings = measure_latency(model, SPEC, backends=("eager", "compile"), batch_sizes=(1,), scopes=("model",), min_run_time=QUICK)
    compiled = only(timings, backend="compile")
    assert compiled.status == "ok", compiled.error
    assert compiled.median_ms > 0 and compiled.runs > 0
    assert only(timings, backend="eager").status == "ok"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_memory_is_positive_and_grows_with_batch_and_width(name: str) -> None:
    spec = spec_for(name, SPEC)
    width = get_family(name).default_width // 4 or 1
    narrow, wide = create_model(name, 10, spec, width), create_model(name, 10, spec, 2 * width)
    infer = [inference_peak_bytes(narrow, spec.example(batch)) for batch in (1, 8)]
    assert 0 < infer[0] < infer[1]
    # At batch 1 a width-independent stage can hold the peak (attention's fixed 10-channel
    # convolution does), so inference only may not shrink; training must grow.
    assert inference_peak_bytes(wide, spec.example(1)) >= infer[0]
    models = [create_model(name, 10, spec, width) for _ in range(2)]
    gradients = sum(p.numel() * p.element_size() for p in models[0].parameters())
    train = [training_peak_bytes(model, spec.example(b), torch.arange(b) % 10) for model, b in zip(models, (2, 32), strict=True)]
    # Every gradient is alive when AdamW steps. The step's weight-sized temporaries can
    # hold the peak of a small model at a small batch (mlp: the same bytes at 2 and 32),
    # so the training peak need not grow from batch 2 to 32, but it never shrinks.
    assert gradients <= train[0] <= train[1]
    assert training_peak_bytes(wide, spec.example(2), torch.arange(2) % 10) > train[0]


def test_profile_with_latency(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["profile", "--models", "gru,dscnn", "--params", "25k", "--latency", "--min-run-time", "0.05", "--format", "json"]
    assert main(argv) == 0
    records = json.loads(capsys.readouterr().out)
    for record in records:
        assert record["latency_ms"] > 0 and record["latency_e2e_ms"] > 0 and record["latency_rel"] > 0
        assert record["throughput"] > 0 and record["gflops_achieved"] > 0 and record["matmul_gflops"] > 0
        assert record["peak_mem_infer_mb"] > 0 and record["peak_mem_train_mb"] > 0
        assert {(t["scope"], t["batch_size"]) for t in record["timings"]} == {
            ("model", 1),
            ("model", 32),
            ("e2e", 1),
            ("e2e", 32),
        }


@pytest.mark.parametrize(
    ("option", "value"), [("--batch-sizes", "0"), ("--devices", "tpu"), ("--backends", "jit"), ("--threads", "x")]
)
def test_profile_latency_bad_options(capsys: pytest.CaptureFixture[str], option: str, value: str) -> None:
    assert main(["profile", "--models", "mlp", "--params", "25k", "--latency", option, value]) == 2
    err = capsys.readouterr().err
    assert option in err and len(err.strip().splitlines()) == 1


def test_run_measures_when_the_config_asks(tmp_path: Path) -> None:
    config = parse_config(
        {
            "name": "timed",
            "dataset": {"name": "synthetic", "options": {"n_classes": 3, "examples_per_class": 10}},
            "models": ["cnn1d"],
            "budgets": {"params": ["10k"]},
            "training": {"epochs": 1, "batch_size": 8},
            "measure": {"latency": {"batch_sizes": [1, 4], "min_run_time": QUICK}, "memory": True},
        }
    )
    run_dir = run_config(config, out=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    (trial,) = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    assert trial["latency_ms"] > 0 and trial["peak_mem_train_mb"] > 0 and len(trial["timings"]) == 4
    assert all(t["times_ms"] for t in trial["timings"])
    header = (run_dir / "results.csv").read_text().splitlines()[0].split(",")
    for column in ("latency_ms", "latency_e2e_ms", "latency_iqr_ms", "latency_rel", "throughput", "peak_mem_infer_mb"):
        assert column in header
    assert "peak_mem_train_mb" in header and "gflops_achieved" in header
