"""Progress (:mod:`suite.progress`): a tqdm bar on a terminal, plain lines at a bounded rate in a log.

The clock is a fake one moved by hand: no sleeping, and no assertion depends on how fast
the machine is.
"""

from __future__ import annotations

import re
import sys

import pytest
import torch
from torch import nn

from suite.cli import main
from suite.errors import SuiteError
from suite.progress import DEFAULT_SECONDS, ENV_SECONDS, duration, log_interval, progress
from suite.train import TrainingConfig, TrialData, train_model


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    monkeypatch.delenv(ENV_SECONDS, raising=False)
    return FakeClock()


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_durations_for_people() -> None:
    assert [duration(s) for s in (0, 41.4, 60, 110, 369, 3600, 7500)] == [
        "0 s", "41 s", "1 min", "1 min 50 s", "6 min 9 s", "1 h", "2 h 5 min"
    ]  # fmt: skip


def test_off_a_terminal_lines_come_at_a_bounded_rate(clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    bar = progress(total=12_000, desc="features fsdd/official", unit="file", clock=clock)
    clock.now += 10
    bar.update(1200)
    assert lines(capsys) == []  # 10 s: not yet
    clock.now += 31  # 41 s since the start
    bar.update(1200)
    assert lines(capsys) == ["features fsdd/official: 2400/12000 files, 41 s, ETA 2 min 44 s"]
    for _ in range(20):  # 20 more files within 20 s of that line: still one line
        clock.now += 1
        bar.update()
    assert lines(capsys) == []
    clock.now += 10  # 30 s since the last line
    bar.update()
    assert lines(capsys) == ["features fsdd/official: 2421/12000 files, 1 min 11 s, ETA 4 min 41 s"]
    clock.now += 5
    bar.update(9579)
    bar.close()
    bar.close()  # closing twice writes nothing more
    assert lines(capsys) == ["features fsdd/official: 12000/12000 files, 1 min 16 s"]  # the last state, always


def test_a_step_shorter_than_the_interval_writes_nothing(clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    with progress(range(3), desc="quick", unit="epoch", clock=clock) as bar:
        for _ in bar:
            clock.now += 5
    assert lines(capsys) == []


def test_every_step_and_its_note_with_an_interval_of_zero(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SECONDS, "0")
    with progress(total=30, desc="cnn1d params=20k seed 0", unit="epoch", clock=clock) as bar:
        for epoch in range(1, 4):
            clock.now += 12
            bar.note(f"loss {1 / epoch:.3f}, val acc {70 + epoch:.1f} %")
            bar.update()
    assert lines(capsys) == [
        "cnn1d params=20k seed 0: 1/30 epochs (loss 1.000, val acc 71.0 %), 12 s, ETA 5 min 48 s",
        "cnn1d params=20k seed 0: 2/30 epochs (loss 0.500, val acc 72.0 %), 24 s, ETA 5 min 36 s",
        "cnn1d params=20k seed 0: 3/30 epochs (loss 0.333, val acc 73.0 %), 36 s, ETA 5 min 24 s",
    ]  # the last state had its line already: close adds none


def test_iterating_counts_items_and_a_resumed_count_starts_from_initial(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SECONDS, "60")
    seen = []
    for name in progress(["mlp", "gru", "tcn"], desc="profile", unit="model", clock=clock):
        seen.append(name)
        clock.now += 40
    assert seen == ["mlp", "gru", "tcn"]
    assert lines(capsys) == ["profile: 2/3 models, 1 min 20 s, ETA 40 s", "profile: 3/3 models, 2 min"]
    bar = progress(total=10, initial=6, desc="run smoke", unit="trial", clock=clock)
    clock.now += 120
    bar.update()
    assert lines(capsys) == ["run smoke: 7/10 trials, 2 min, ETA 6 min"]  # the pace of this session's one trial


def test_bytes_and_an_unknown_total(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SECONDS, "0")
    with progress(total=3_000_000, desc="download fsdd.tar.gz", unit="B", unit_scale=True, clock=clock) as bar:
        clock.now += 2
        bar.update(1_500_000)
    with progress(desc="download x.zip", unit="B", unit_scale=True, clock=clock) as bar:
        clock.now += 3
        bar.update(512)
    assert lines(capsys) == ["download fsdd.tar.gz: 1.5 MB/3.0 MB, 2 s, ETA 2 s", "download x.zip: 512 B, 3 s"]


def test_disabled_shows_nothing_but_write_still_prints(clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    with progress(total=2, desc="run", unit="trial", enabled=False, clock=clock) as bar:
        clock.now += 1000
        bar.update()
        bar.write("[1/2] mlp params=100k seed 0: ok accuracy 95.0% (3.1 s)")
    assert lines(capsys) == ["[1/2] mlp params=100k seed 0: ok accuracy 95.0% (3.1 s)"]


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_interval_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(ENV_SECONDS, value)
    with pytest.raises(SuiteError, match=f"{ENV_SECONDS} must be a number of seconds >= 0"):
        progress(total=1)


def test_the_interval_defaults_to_30_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SECONDS, raising=False)
    assert log_interval() == DEFAULT_SECONDS == 30
    monkeypatch.setenv(ENV_SECONDS, " 2.5 ")
    assert log_interval() == 2.5


def test_on_a_terminal_a_tqdm_bar_is_drawn(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SECONDS, "0")  # would log every step off a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress(total=3, desc="features synthetic/default", unit="file", clock=clock) as bar:
        bar.note("gru")
        for _ in range(3):
            bar.update()
    err = capsys.readouterr().err
    assert "\r" in err and re.search(r"features synthetic/default: 100%\|[^|]*\| 3/3 \[", err), err
    assert "gru" in err and "3/3 files" not in err  # tqdm's bar, not the log line


def test_training_logs_each_epoch_off_a_terminal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SECONDS, "0")
    generator = torch.Generator().manual_seed(0)
    splits = {"train": 24, "validation": 6, "test": 6}
    inputs = {split: torch.randn(n, 16, generator=generator) for split, n in splits.items()}
    targets = {split: torch.arange(n) % 3 for split, n in splits.items()}
    data = TrialData(inputs, targets, n_classes=3, steps_per_second=8000.0, is_spectrogram=False)
    config = TrainingConfig(epochs=3, batch_size=8, time_shift_ms=0, patience=5)
    train_model(nn.Linear(16, 3), data, config, seed=0, device=torch.device("cpu"), label="linear params=51 seed 0")
    logged = lines(capsys)
    assert len(logged) == 3, logged
    for epoch, line in enumerate(logged, 1):
        assert re.fullmatch(rf"linear params=51 seed 0: {epoch}/3 epochs \(loss \d+\.\d{{3}}, val acc \d+\.\d %\), \d+ s.*", line)


def test_profile_logs_each_model_off_a_terminal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SECONDS, "0")
    assert main(["profile", "--models", "mlp,cnn1d", "--params", "25k", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("model,") and "models (" not in out  # the records alone on stdout
    logged = err.splitlines()
    assert [re.sub(r", \d+ (s|min|h)\b.*", "", line) for line in logged] == [
        "profile params=25k: 1/2 models (mlp)",
        "profile params=25k: 2/2 models (cnn1d)",
    ], logged
