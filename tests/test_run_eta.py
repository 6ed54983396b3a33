"""The run's ETA (:mod:`suite.run_eta`): trials weighed by their model's mean time, checked on recorded runs.

The replay test takes the committed reference runs' own ``wall_seconds`` as the truth:
it pretends a sitting began at many points of each run and, after every trial of it,
compares both ETAs (counting trials as equal, and weighed) with the seconds that the
rest of the run really took. No clock is read; every figure comes from the records.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

from suite import runner as runner_module
from suite.config import parse_config
from suite.progress import ENV_SECONDS, progress
from suite.results.folder import latest_records, read_trial_log
from suite.run_eta import RELATIVE_TRIAL_COST, model_weights, relative_costs, weigh_work
from suite.runner import run_config
from tests.faulty_models import faulty_models
from tests.helpers import ALL_MODELS, TINY
from tests.test_progress import FakeClock, lines

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_RUNS = sorted((ROOT / "results" / "reference").glob("*/*/trials.jsonl"))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    monkeypatch.delenv(ENV_SECONDS, raising=False)
    return FakeClock()


def record(model: str, seconds: float) -> dict[str, Any]:
    return {"model": model, "wall_seconds": seconds}


def test_each_model_weighs_its_mean_time_and_one_outside_the_table_the_mean_of_all() -> None:
    records = [record("samplecnn", 1300), record("samplecnn", 1100), record("mlp", 20), record("mlp", 30), {"model": "x"}]
    by_model, fallback = model_weights(records)
    assert by_model == {"samplecnn": 1200, "mlp": 25} and fallback == pytest.approx(612.5)
    done, left = weigh_work(records, ["samplecnn"], ["mlp", "mlp", "plugin:Model"])
    assert (done, left) == pytest.approx((1200, 25 + 25 + 612.5))


def test_an_untimed_family_weighs_its_relative_cost_in_the_seconds_of_those_timed() -> None:
    records = [record("mlp", 20), record("cnn1d", 30), record("plugin:Model", 500)]
    prior = {"mlp": 1.0, "cnn1d": 1.0, "samplecnn": 10.0}
    done, left = weigh_work(records, ["mlp", "cnn1d"], ["samplecnn", "tcn"], prior=prior)
    per_unit = math.sqrt(20 * 30)  # the geometric mean of 20 / 1 and 30 / 1; the plugin is not in the table
    assert (done, left) == pytest.approx((50, 10 * per_unit + (20 + 30 + 500) / 3))  # tcn: not in this table


def test_a_zero_second_record_or_a_zero_relative_cost_does_not_set_the_scale() -> None:
    prior = {"mlp": 1.0, "cnn1d": 1.0, "samplecnn": 10.0}
    records = [record("mlp", 0.0), record("cnn1d", 30), {"model": "gru", "wall_seconds": True}]
    assert weigh_work(records, ["mlp", "cnn1d"], ["samplecnn"], prior=prior) == pytest.approx((30, 300))
    zero_cost = {"mlp": 0.0, "cnn1d": 1.0, "samplecnn": 10.0}
    assert weigh_work([record("mlp", 20), record("cnn1d", 30)], ["cnn1d"], ["samplecnn"], prior=zero_cost) == pytest.approx(
        (30, 300)
    )
    assert model_weights([{"model": "gru", "wall_seconds": True}]) == ({}, 1.0)  # a bool is not a time


def test_with_only_models_outside_the_table_timed_an_untimed_family_weighs_the_mean_of_all() -> None:
    done, left = weigh_work([record("plugin:Model", 40)], ["plugin:Model"], ["samplecnn", "mlp"])
    assert (done, left) == (40, 80)


def test_without_timed_records_families_weigh_their_relative_cost_and_others_one() -> None:
    assert model_weights([{"model": "mlp"}, {"wall_seconds": 3.0}]) == ({}, 1.0)
    assert weigh_work([], ["mlp"], ["gru", "gru", "tcn"], prior={}) == (1.0, 3.0)  # the plain count
    cost = RELATIVE_TRIAL_COST
    done, left = weigh_work([], ["mlp"], ["gru", "plugin:Model"])
    assert (done, left) == pytest.approx((cost["mlp"], cost["gru"] + 1.0))


def test_the_relative_cost_table_is_what_the_fsdd_100k_reference_run_measured_for_every_family() -> None:
    (path,) = (ROOT / "results" / "reference" / "fsdd-100k").glob("*/trials.jsonl")
    records, _ = read_trial_log(path)
    measured = {model: round(cost, 2) for model, cost in relative_costs(latest_records(records).values()).items()}
    assert measured == RELATIVE_TRIAL_COST
    assert sorted(RELATIVE_TRIAL_COST) == sorted(ALL_MODELS)  # a new family: re-measure, or it weighs the mean


def test_the_weighed_eta_replaces_the_count_and_follows_this_sittings_pace(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SECONDS, "0")
    earlier = [record("samplecnn", 1200)] * 4 + [record("tcn", 50)] * 5 + [record("mlp", 20)] * 5
    bar = progress(total=20, initial=14, desc="run esc", unit="trial", clock=clock)
    clock.now += 1200  # this sitting's first trial: a samplecnn fold
    bar.weigh(*weigh_work([*earlier, record("samplecnn", 1200)], ["samplecnn"], ["tcn"] * 5))
    bar.update()
    # Counting trials: 1,200 s a trial x 5 = 1 h 40 min; weighed: 1,200 s x 250 / 1,200 = 250 s.
    assert lines(capsys) == ["run esc: 15/20 trials, 20 min, ETA 4 min 10 s"]
    clock.now += 100  # a tcn fold at twice the earlier sittings' time: a busier machine
    bar.weigh(*weigh_work([*earlier, record("samplecnn", 1200), record("tcn", 100)], ["samplecnn", "tcn"], ["tcn"] * 4))
    bar.update()
    # tcn's mean is now 350 / 6 = 58.3 s: 1,300 s x (4 x 58.3) / (1,200 + 58.3) = 241 s.
    assert lines(capsys) == ["run esc: 16/20 trials, 21 min 40 s, ETA 4 min 1 s"]


def test_on_a_terminal_the_bar_shows_the_weighed_eta(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress(total=3, desc="run esc", unit="trial", clock=clock) as bar:
        clock.now += 10
        bar.weigh(10.0, 360.0)  # 10 s x 36
        bar.update()
    assert "<06:00," in capsys.readouterr().err


def test_a_run_weighs_every_trial_as_it_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], list[str], int]] = []

    def spy(records: Any, done: list[str], left: list[str]) -> tuple[float, float]:
        calls.append((list(done), list(left), len(list(records))))
        return weigh_work([], done, left)

    monkeypatch.setattr(runner_module, "weigh_work", spy)
    config = parse_config(TINY | {"models": ["mlp", "cnn1d"], "seeds": [0, 1]})
    run_config(config, out=tmp_path, cache_dir=tmp_path / "c", progress=False)
    assert calls == [
        (["mlp"], ["cnn1d", "mlp", "cnn1d"], 1),
        (["mlp", "cnn1d"], ["mlp", "cnn1d"], 2),
        (["mlp", "cnn1d", "mlp"], ["cnn1d"], 3),
        (["mlp", "cnn1d", "mlp", "cnn1d"], [], 4),
    ]
    with faulty_models():  # a resumed sitting: the earlier sittings' records count too
        config = parse_config(TINY | {"models": ["mlp", "raises"]})
        run_dir = run_config(config, out=tmp_path / "retry", cache_dir=tmp_path / "c", progress=False)
        calls.clear()
        run_config(config, out=run_dir, cache_dir=tmp_path / "c", progress=False, retry_failed=True)
    assert calls == [(["raises"], [], 2)]


def weighed_error(records: list[dict[str, Any]], start: int, last: int, prior: dict[str, float] = RELATIVE_TRIAL_COST) -> float:
    """|log(ETA / truth)| of the runner's weighed ETA after trial ``last`` of a sitting begun at trial ``start``."""
    walls, models = [float(r["wall_seconds"]) for r in records], [r["model"] for r in records]
    done, left = weigh_work(records[: last + 1], models[start : last + 1], models[last + 1 :], prior=prior)
    return abs(math.log(sum(walls[start : last + 1]) * left / done / sum(walls[last + 1 :])))


def replay(records: list[dict[str, Any]], step: int = 3) -> tuple[list[float], list[float]]:
    """|log(ETA / truth)| after every trial of a sitting begun at every ``step``-th trial: (counted, weighed)."""
    walls = [float(r["wall_seconds"]) for r in records]
    counted, weighed = [], []
    for start in range(0, len(records) - 1, step):
        for last in range(start, len(records) - 1):
            elapsed, truth = sum(walls[start : last + 1]), sum(walls[last + 1 :])
            counted.append(abs(math.log(elapsed / (last + 1 - start) * (len(records) - last - 1) / truth)))
            weighed.append(weighed_error(records, start, last))
    return counted, weighed


def first_pass(records: list[dict[str, Any]], prior: dict[str, float]) -> list[float]:
    """|log(ETA / truth)| of a fresh run after each trial, until every model has a timed trial."""
    models = [r["model"] for r in records]
    untimed = [last for last in range(len(records) - 1) if set(models[: last + 1]) != set(models)]
    return [weighed_error(records, 0, last, prior) for last in untimed]


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[round(q * (len(values) - 1))]


@pytest.mark.parametrize("path", REFERENCE_RUNS, ids=lambda p: p.parent.name)
def test_on_the_recorded_reference_runs_the_weighed_eta_is_closer(path: Path) -> None:
    records, _ = read_trial_log(path)
    counted, weighed = replay(list(latest_records(records).values()))  # a retried trial: its last record
    assert quantile(weighed, 0.9) < quantile(counted, 0.9)
    if path.parent.name.startswith("esc10"):  # folds cost 23-1,153 s by model: counting trials is far off
        assert quantile(weighed, 0.5) < quantile(counted, 0.5)
        assert quantile(weighed, 0.9) < math.log(1.5)  # within 1.5 times the truth for 9 ETAs in 10


@pytest.mark.parametrize("path", REFERENCE_RUNS, ids=lambda p: p.parent.name)
def test_before_every_model_is_timed_the_relative_cost_table_brings_the_eta_closer(path: Path) -> None:
    """The first pass of a fresh run, replayed; fsdd-100k made the table, the other three are out of sample."""
    records = list(latest_records(read_trial_log(path)[0]).values())
    without, with_table = first_pass(records, {}), first_pass(records, RELATIVE_TRIAL_COST)
    assert len(without) >= 13  # 14 models, one trial of each at least
    assert quantile(with_table, 0.9) < quantile(without, 0.9)
    assert quantile(with_table, 0.9) < math.log(2.0)  # 1.26-1.79 times the truth (without: 2.88-7.19)
