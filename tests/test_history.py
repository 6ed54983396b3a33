"""`suite history`: step detection on generated series (seeded), then end to end over folders of runs the tests build.

The rates asserted here are measured on fixed seeds (the tests are deterministic); the
comments give the counts these seeds produce, the assertions the bar the design claims.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from suite.cli import main
from suite.errors import SuiteError
from suite.gate import FailOn, build_history, write_history
from suite.gate.history_output import render_history
from suite.gate.steps import detect_exact_changes, detect_steps
from tests.compare_fixtures import jitter_times, set_field, slow_down
from tests.report_fixtures import build_run

SEEDS = range(50)


def noisy(levels: np.ndarray, noise: float, seed: int, kind: str = "lognormal") -> np.ndarray:
    """``levels`` times per-run noise: lognormal (``exp N(0, noise)``) or normal (``1 + N(0, noise)``)."""
    rng = np.random.default_rng(seed)
    factor = np.exp(rng.normal(0, noise, len(levels))) if kind == "lognormal" else 1 + rng.normal(0, noise, len(levels))
    return np.asarray(levels, dtype=float) * factor


def marks(values: np.ndarray, threshold: float = 0.10, **kwargs: bool) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(detect_steps(values, threshold, **kwargs).verdict) if v in ("regressed", "improved")]


# -- detection on arrays ---------------------------------------------------------------------------------------


PER_LEVEL = 5
DRIFT = np.repeat(1.06 ** np.arange(5), PER_LEVEL)  # four +6 % steps, +26 % in all, five runs per level
CROSSING = 2 * PER_LEVEL  # 1.06**2 = +12.4 %: the first run past the 10 % threshold


def test_a_slow_drift_is_caught_where_its_cumulative_change_crosses_the_threshold() -> None:
    # Per-run noise 1 % (a quiet machine's run-to-run spread): 48 of these 50 seeds mark exactly
    # the crossing run, the other 2 one step (5 runs) either side; 500 other seeds: 93.8 % exact, 99.8 % within a step.
    first = []
    for seed in SEEDS:
        found = marks(noisy(DRIFT, 0.01, seed))
        assert found and all(kind == "regressed" for _, kind in found), (seed, found)
        first.append(found[0][0])
    assert sum(run == CROSSING for run in first) >= 0.9 * len(SEEDS)
    assert all(abs(run - CROSSING) <= PER_LEVEL for run in first)
    # Compared run by run, none of these steps is 10 %: the old rule marked nothing.
    assert all(abs(b / a - 1) < 0.10 for a, b in itertools.pairwise(DRIFT))


def test_a_slow_drift_under_more_noise_is_still_caught_within_a_step() -> None:
    # At 2 % noise a 6 % step is 3 sigma: the fit may merge two levels, so the mark can land a step
    # early or late (these seeds: 20 exact, 48 of 50 within one step); it is never missed nor reversed.
    first = []
    for seed in SEEDS:
        found = marks(noisy(DRIFT, 0.02, seed))
        assert found and found[0][1] == "regressed" and all(kind == "regressed" for _, kind in found), (seed, found)
        first.append(found[0][0])
    assert sum(abs(run - CROSSING) <= PER_LEVEL for run in first) >= 0.9 * len(SEEDS)


@pytest.mark.parametrize("kind", ["lognormal", "normal"])
def test_an_abrupt_30_percent_is_caught_at_its_run(kind: str) -> None:
    # 20 runs at 5 % noise, +30 % from run 12 on: these seeds mark exactly run 12 in 50 (lognormal)
    # and 50 (normal) of 50, and nothing else; 500 other seeds: 98.6 %.
    levels = np.where(np.arange(20) >= 12, 1.3, 1.0)
    exact = sum(marks(noisy(levels, 0.05, seed, kind)) == [(12, "regressed")] for seed in SEEDS)
    assert exact >= 0.95 * len(SEEDS)


def test_the_newest_runs_are_marked_when_far_outside_the_noise() -> None:
    # The newest run alone must pass a prediction test (Student's t at the chance of a 4-sigma normal
    # run): +30 % at 2 % noise is marked in 50 of 50 seeds; at 5 % noise (5.2 sigma) only 16 of 50,
    # the rest wait for the next run. Two runs at +30 % and 5 % noise: 43 of 50 at the first of them.
    last = np.where(np.arange(20) >= 19, 1.3, 1.0)
    two = np.where(np.arange(20) >= 18, 1.3, 1.0)
    assert all(marks(noisy(last, 0.02, seed)) == [(19, "regressed")] for seed in SEEDS)
    assert sum(marks(noisy(two, 0.05, seed)) == [(18, "regressed")] for seed in SEEDS) >= 0.85 * len(SEEDS)
    # ...and on a quiet series a newest run beyond the threshold but within the noise is not.
    assert marks(np.array([1.0, 1.2, 0.9, 1.1, 0.95, 1.05, 1.0, 1.15, 0.92, 1.13])) == []


@pytest.mark.parametrize("kind", ["lognormal", "normal"])
def test_no_false_alarm_over_20_run_aa_series_at_5_percent_noise(kind: str) -> None:
    # 0 of these 50 series of 20 runs is marked (each kind); over 2,000 other seeded series: 2 (0.1 %).
    alarms = [seed for seed in SEEDS if marks(noisy(np.ones(20), 0.05, seed, kind))]
    assert alarms == []


def test_one_disturbed_run_is_absorbed_and_a_fix_is_marked_improved() -> None:
    levels = np.ones(24)
    levels[7] = 1.6  # one run on a disturbed machine
    levels[12:18] = 1.3  # a regression, fixed six runs later
    found = marks(noisy(levels, 0.01, seed=3))
    assert found == [(12, "regressed"), (18, "improved")]


def test_accuracy_is_judged_in_points_and_a_drop_is_a_regression() -> None:
    points = noisy(np.r_[np.full(8, 95.0), np.full(8, 93.0), np.full(8, 96.0)], 0.002, seed=1, kind="normal")
    fit = detect_steps(points, 0.5, relative=False, higher_is_worse=False)
    assert [(i, v) for i, v in enumerate(fit.verdict) if v not in ("", "unchanged")] == [(8, "regressed"), (16, "improved")]
    assert fit.change[10] == pytest.approx(-2.0, abs=0.5)
    assert fit.change[20] == pytest.approx(1.0, abs=0.5)


def test_exact_and_constant_series() -> None:
    # Memory that never varies: a +25 % step is marked against a 20 % threshold, a +5 % one is not.
    memory = np.r_[np.full(6, 10.0), np.full(6, 12.5), np.full(6, 13.1)]
    assert marks(memory, 0.20) == [(6, "regressed")]
    assert marks(np.r_[np.full(6, 10.0), np.full(6, 10.5)], 0.20) == []
    assert marks(np.full(5, 3.0)) == [] and marks(np.array([2.0])) == []
    assert detect_exact_changes(np.array([100, 100, 101, 101, 100])) == ["", "unchanged", "changed", "unchanged", "changed"]
    assert marks(memory, 0.30) == [(12, "regressed")]  # +25 % stays under 30 %; the drift on to +31 % crosses it


# -- end to end over results folders -----------------------------------------------------------------------------

MODELS = ("mlp", "cnn1d")
N_RUNS = 10
SLOW_RUN = 6  # from this run on, cnn1d is 30 % slower


def stamp(night: int) -> str:
    return f"2026{11 + night // 28:02d}{1 + night % 28:02d}-020000"


def name(night: int) -> str:
    """The folder of the run of ``night`` (config ``ci``)."""
    return f"ci-{stamp(night)}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten nightly runs (written out of order), cnn1d slowed down from the seventh on."""
    folder = tmp_path_factory.mktemp("history") / "results"
    for night in reversed(range(N_RUNS)):
        run = build_run(folder, name="ci", models=MODELS, seeds=[0], stamp=f"202611{10 + night:02d}-020000")
        jitter_times(run, seed=night)
        if night >= SLOW_RUN:
            slow_down(run, 1.3, models={"cnn1d"})
    return folder


def test_runs_are_ordered_by_start_time_and_the_step_is_marked_once(root: Path) -> None:
    history = build_history(root, "latency_ms")
    assert list(history.runs["run"]) == [f"ci-202611{10 + n:02d}-020000" for n in range(N_RUNS)]
    cnn1d = history.values[history.values["model"] == "cnn1d"].reset_index(drop=True)
    assert list(cnn1d["verdict"]) == ["", *["unchanged"] * (SLOW_RUN - 1), "regressed", *["unchanged"] * (N_RUNS - SLOW_RUN - 1)]
    assert cnn1d["change"].iloc[-1] == pytest.approx(0.3, abs=0.03)
    assert set(history.values[history.values["model"] == "mlp"]["verdict"]) == {"", "unchanged"}
    table = history.table()
    assert len(table) == N_RUNS and "▲" in table.iloc[SLOW_RUN]["cnn1d params=100000"]
    assert history.followed == "latency_ms" and "one machine" in render_history(history)


@pytest.fixture(scope="module")
def drift_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cnn1d 6 % slower every fourth night (four steps); the night before the crossing ran mlp only."""
    folder = tmp_path_factory.mktemp("drift") / "results"
    for night in range(20):
        models = ("mlp",) if night == 7 else MODELS
        run = build_run(folder, name="ci", models=models, seeds=[0], stamp=stamp(night))
        jitter_times(run, seed=night, amount=0.02)  # about 0.7 % run-to-run noise on the median
        slow_down(run, 1.06 ** (night // 4), models={"cnn1d"})
    return folder


def test_a_drift_is_caught_through_results_folders_and_a_missing_model_does_not_break_it(drift_root: Path) -> None:
    history = build_history(drift_root, "latency_ms")
    cnn1d = history.values[history.values["model"] == "cnn1d"]
    assert len(cnn1d) == 19 and name(7) not in set(cnn1d["run"])  # the series skips the run without it
    marked = cnn1d[cnn1d["verdict"].isin(["regressed", "improved"])]
    assert list(marked["run"]) == [name(8)] and list(marked["verdict"]) == ["regressed"]  # 1.06**2: +12 %
    assert cnn1d["change"].iloc[-1] == pytest.approx(1.06**4 - 1, abs=0.02)
    assert name(7) in set(history.values["run"]) and "▲" not in "".join(history.table()["mlp params=100000"])


def test_a_threshold_under_the_step_size_marks_every_step(drift_root: Path) -> None:
    # At 5 % the first 6 % step crosses the threshold, and each later one is a further step of it.
    history = build_history(drift_root, "latency_ms", FailOn(latency=0.05))
    cnn1d = history.values[history.values["model"] == "cnn1d"]
    assert list(cnn1d.loc[cnn1d["verdict"] == "regressed", "run"]) == [name(4), name(8), name(12), name(16)]
    off = build_history(drift_root, "latency_ms", FailOn(latency=None))
    assert set(off.values["verdict"]) == {"", "unchanged"} and "nothing is marked" in render_history(off)


@pytest.fixture(scope="module")
def mixed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve nights: the last six on a machine twice as slow (the reference kernel too); cnn1d 30 % slower from night 9."""
    folder = tmp_path_factory.mktemp("mixed") / "results"
    for night in range(12):
        slow = night >= 6
        run = build_run(
            folder, name="ci", models=MODELS, seeds=[0], stamp=stamp(night), cpu="Intel Xeon" if slow else "AMD EPYC",
            speed=2.0 if slow else 1.0,
        )  # fmt: skip
        jitter_times(run, seed=night)
        if night >= 9:
            slow_down(run, 1.3, models={"cnn1d"})
    return folder


def test_runs_from_several_machines_are_followed_relative_to_the_calibration_kernel(mixed_root: Path) -> None:
    history = build_history(mixed_root, "latency_ms")
    assert history.followed == "latency_rel"
    text = render_history(history)
    assert "followed as latency_rel" in text and "2 machines" in text
    marked = history.values[history.values["verdict"].isin(["regressed", "improved"])]
    # The change of machine (every ms doubled) is no step; the real regression is.
    assert list(zip(marked["model"], marked["run"], marked["verdict"], strict=True)) == [("cnn1d", name(9), "regressed")]


def test_history_writes_markdown_csv_and_plots(root: Path, tmp_path: Path) -> None:
    history = build_history(root, "accuracy")
    written = write_history(history, tmp_path / "trend.md")
    assert [p.name for p in written] == ["trend.md", "trend.png", "trend.svg"]
    assert all(p.stat().st_size > 0 for p in written)
    text = written[0].read_text()
    assert "![accuracy by run](trend.png)" in text and "first level" in text and "0.5 pt" in text
    csv = write_history(history, tmp_path / "trend.csv")[0].read_text().splitlines()
    assert len(csv) == 1 + N_RUNS * len(MODELS) and {"level", "change", "verdict"} <= set(csv[0].split(","))
    params = render_history(build_history(root, "params"))
    assert "99970" in params and "every change is a step" in params


def test_params_are_exact_every_change_is_a_step(tmp_path: Path) -> None:
    for night in range(3):
        run = build_run(tmp_path, name="ci", models=MODELS, seeds=[0], stamp=stamp(night))
        if night == 1:  # one more parameter: still inside the budget tolerance
            set_field(run, "cnn1d", "params", lambda params: params + 1)
    within = build_history(tmp_path, "params")
    cnn1d = within.values[within.values["model"] == "cnn1d"]
    assert list(cnn1d["verdict"]) == ["", "changed", "changed"]  # up by one, then back
    assert "99971 ◆" in render_history(within)
    strict = build_history(tmp_path, "params", FailOn(params="any")).values
    assert list(strict.loc[strict["model"] == "cnn1d", "verdict"]) == ["", "regressed", "regressed"]
    assert set(strict.loc[strict["model"] == "mlp", "verdict"]) == {"", "unchanged"}


def test_history_cli_and_bad_input(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(root), "--metric", "latency_rel"]) == 0
    assert "History of latency_rel" in capsys.readouterr().out
    assert main(["history", str(root), "--metric", "speed"]) == 2
    assert "is not one of" in capsys.readouterr().err
    assert main(["history", str(tmp_path / "none")]) == 2
    assert main(["history", str(root), "--out", str(tmp_path / "trend.txt")]) == 2
    assert "expected a .md or .csv file" in capsys.readouterr().err
    with pytest.raises(SuiteError, match="holds no results"):
        build_history(tmp_path)
    unmeasured = tmp_path / "unmeasured"
    build_run(unmeasured, name="ci", models=("mlp",), seeds=[0], measure=False)
    with pytest.raises(SuiteError, match=r"has a latency_ms figure .*`measure:`"):
        build_history(unmeasured, "latency_ms")
