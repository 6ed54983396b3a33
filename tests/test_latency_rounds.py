"""Timing in rounds with an interleaved reference, and the stability verdict (no absolute times asserted)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from suite.api import profile, run
from suite.errors import SuiteError
from suite.measure import latency as latency_module
from suite.measure import stability
from suite.measure.latency import ROUNDS, measure_figure, time_rounds
from suite.measure.reference import matmul_gflops, reference_kernel, reference_kind
from suite.measure.stability import MAX_ATTEMPTS, Assessment, CpuSnapshot, assess, neighbour_cpus
from tests.helpers import TINY

CPU = torch.device("cpu")
BASE = {"scope": "model", "device": "cpu", "backend": "eager", "dtype": "float32", "batch_size": 1, "threads": 1}


def test_rounds_interleave_the_reference_and_keep_every_block() -> None:
    x = torch.randn(64, 64)
    rounds = time_rounds(lambda: x @ x, reference_kernel("overhead", CPU), threads=1, min_run_time=0.05)
    assert len(rounds.reference_rounds_ms) == ROUNDS and all(r > 0 for r in rounds.reference_rounds_ms)
    assert len(rounds.times_ms) == len(rounds.block_rounds) and set(rounds.block_rounds) == set(range(ROUNDS))
    assert all(rounds.block_rounds.count(r) >= latency_module.MIN_BLOCKS_PER_ROUND for r in range(ROUNDS))
    expected = [t / rounds.reference_rounds_ms[r] for t, r in zip(rounds.times_ms, rounds.block_rounds, strict=True)]
    assert rounds.relative() == pytest.approx(expected)


def test_a_figure_keeps_median_minimum_reference_and_its_ratio() -> None:
    x = torch.randn(32, 32)
    timing = measure_figure(lambda: x @ x, BASE, CPU, macs=32**3, min_run_time=0.05)
    assert timing.status == "ok" and timing.reference_kind == "overhead" and 1 <= timing.attempts <= MAX_ATTEMPTS
    assert timing.min_ms <= timing.median_ms <= max(timing.times_ms)
    relative = np.asarray(timing.times_ms) / np.asarray(timing.reference_rounds_ms)[timing.block_rounds]
    assert timing.latency_rel == pytest.approx(float(np.median(relative)))
    assert timing.stability in ("stable", "unstable") and (timing.stability == "stable") == (timing.unstable_reason == "")
    assert timing.matmul_gflops is None  # a batch-1 figure is referenced to the overhead kernel


def test_large_batches_use_the_compute_kernel_and_report_its_rate() -> None:
    assert reference_kind(1) == "overhead" and reference_kind(32) == "compute"
    x = torch.randn(32, 64)
    timing = measure_figure(lambda: x @ x.T, BASE | {"batch_size": 32}, CPU, min_run_time=0.05)
    assert timing.reference_kind == "compute"
    assert timing.matmul_gflops == pytest.approx(matmul_gflops(timing.reference_ms))
    assert matmul_gflops(1.0) == pytest.approx(2 * 256**3 / 1e-3 / 1e9)


def test_steady_rounds_are_stable_and_each_sign_of_disturbance_is_named() -> None:
    rounds = [r for r in range(5) for _ in range(10)]
    steady = assess([1.0 + 0.01 * (i % 3) for i in range(50)], rounds, [0.1] * 5)
    assert steady == Assessment(True, "", steady.badness) and steady.badness < 1
    drifting = assess([1.0] * 50, rounds, [0.1, 0.1, 0.25, 0.1, 0.1])
    assert not drifting.stable and "reference drift 150%" in drifting.reason
    disagreeing = assess([1.0 if r < 4 else 2.0 for r in rounds], rounds, [0.1] * 5)
    assert not disagreeing.stable and "rounds disagree 100%" in disagreeing.reason
    spread = assess([1.0 if i % 2 else 3.0 for i in range(50)], rounds, [0.1] * 5)
    assert not spread.stable and "block spread" in spread.reason


def test_a_call_that_loses_time_slices_is_flagged_unstable() -> None:
    # Runs of 20 calls alternate between 0.2 ms and 2 ms, as when a neighbour takes the core for a while.
    # Timer blocks group calls (10 or 100 here), so most blocks fall within one phase: the blocks are bimodal.
    calls = itertools.count()

    def disturbed() -> None:
        time.sleep(0.002 if (next(calls) // 20) % 2 else 0.0002)

    timing = measure_figure(disturbed, BASE, CPU, min_run_time=0.05)
    assert timing.stability == "unstable" and timing.unstable_reason
    assert timing.attempts == MAX_ATTEMPTS


def test_an_unstable_attempt_is_measured_again_and_the_steadiest_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    verdicts = iter([Assessment(False, "reference drift 40% > 15%", 2.7), Assessment(True, "", 0.3)])
    monkeypatch.setattr(latency_module, "assess", lambda *args: next(verdicts))
    timing = measure_figure(lambda: None, BASE, CPU, min_run_time=0.01)
    assert timing.attempts == 2 and timing.stability == "stable" and timing.unstable_reason == ""

    always = iter([Assessment(False, "a", 3.0), Assessment(False, "b", 1.5), Assessment(False, "c", 2.0)])
    monkeypatch.setattr(latency_module, "assess", lambda *args: next(always))
    timing = measure_figure(lambda: None, BASE, CPU, min_run_time=0.01)
    assert timing.attempts == MAX_ATTEMPTS and timing.stability == "unstable" and timing.unstable_reason == "b"


def test_a_busy_neighbour_is_seen_in_proc_stat_and_named() -> None:
    if CpuSnapshot.now() is None:
        pytest.skip("no /proc/stat on this system")
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start
        before = CpuSnapshot.now()
        own_end = time.perf_counter() + 0.5
        while time.perf_counter() < own_end:  # this process's own work is not a neighbour's
            pass
        time.sleep(0.5)
        busy = neighbour_cpus(before, CpuSnapshot.now())
    finally:
        burner.kill()
        burner.wait()
    assert busy is not None and busy >= 0.5  # the burner kept most of a CPU busy
    verdict = assess([1.0] * 50, [r for r in range(5) for _ in range(10)], [0.1] * 5, neighbour=busy)
    assert not verdict.stable and "other processes busy (CPUs)" in verdict.reason


def test_the_wait_for_a_quiet_machine_is_set_by_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stability, "_persistent_until", 0.0)
    monkeypatch.delenv(stability.QUIET_WAIT_ENV, raising=False)
    assert stability.quiet_wait_budget() == stability.QUIET_WAIT_SECONDS
    monkeypatch.setenv(stability.QUIET_WAIT_ENV, "2.5")
    assert stability.quiet_wait_budget() == 2.5
    monkeypatch.setenv(stability.QUIET_WAIT_ENV, "0")
    assert stability.wait_for_quiet() < 0.5  # not one sleep step, however busy the machine
    for bad in ("soon", "-1", "inf", "nan"):
        monkeypatch.setenv(stability.QUIET_WAIT_ENV, bad)
        with pytest.raises(SuiteError, match=f"SUITE_QUIET_WAIT_SECONDS must be a number of seconds >= 0, not '{bad}'"):
            stability.quiet_wait_budget()


def test_a_bad_quiet_wait_fails_profile_and_run_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(stability.QUIET_WAIT_ENV, "soon")
    with pytest.raises(SuiteError, match="SUITE_QUIET_WAIT_SECONDS"):
        profile("mlp", budget="20k", latency=True)
    with pytest.raises(SuiteError, match="SUITE_QUIET_WAIT_SECONDS"):
        run(TINY | {"measure": {"latency": {"batch_sizes": [1]}}}, out="/nonexistent/never-written", progress=False)
