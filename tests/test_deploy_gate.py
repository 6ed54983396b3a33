"""`suite compare` judges an int8 model's accuracy exactly as the float32 one: seed-aware, from its predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from suite.gate.compare import compare_paths
from suite.gate.history import build_history
from suite.gate.thresholds import DEFAULT_FAIL_ON
from suite.metrics import SCORES, Scores
from tests.compare_fixtures import edit_trials
from tests.report_fixtures import build_run

FLOAT, STATIC = SCORES[0], next(s for s in SCORES if s.accuracy.endswith("static"))


def _with_int8(run_dir: Path) -> Path:
    """Give every ok trial an int8 static model that predicts exactly as its float32 one."""

    def edit(record: dict) -> None:
        if record.get("status") == "ok":
            record |= {STATIC.accuracy: record[FLOAT.accuracy], STATIC.macro_f1: record[FLOAT.macro_f1]}
            record[STATIC.predictions] = list(record[FLOAT.predictions])

    return edit_trials(run_dir, edit)


def _worsen(run_dir: Path, model: str, score: Scores, flips: int) -> Path:
    """Make ``flips`` right predictions of every seed of ``model`` wrong, in ``score``'s fields."""

    def edit(record: dict) -> None:
        if record["model"] != model or record.get("status") != "ok":
            return
        predictions, targets = np.array(record[score.predictions]), np.array(record["test_targets"])
        right = np.flatnonzero(predictions == targets)[:flips]
        predictions[right] = (targets[right] + 1) % (targets.max() + 1)
        record[score.predictions] = predictions.tolist()
        record[score.accuracy] = float((predictions == targets).mean())
        record[score.macro_f1] = float(f1_score(targets, predictions, average="macro"))

    return edit_trials(run_dir, edit)


def _row(comparison: object, model: str, metric: str) -> dict:
    return next(r for r in comparison.rows if r["model"] == model and r["metric"] == metric)  # type: ignore[attr-defined]


def test_an_int8_drop_is_judged_as_the_same_drop_of_the_float_model(tmp_path: Path) -> None:
    base = _with_int8(build_run(tmp_path / "base"))
    for flips, verdict in ((1, "unchanged"), (15, "regressed")):
        int8_worse = _worsen(_with_int8(build_run(tmp_path / f"int8-{flips}")), "cnn1d", STATIC, flips)
        float_worse = _worsen(_with_int8(build_run(tmp_path / f"float-{flips}")), "cnn1d", FLOAT, flips)
        by_int8 = compare_paths(base, int8_worse, DEFAULT_FAIL_ON)
        by_float = compare_paths(base, float_worse, DEFAULT_FAIL_ON)
        for kind in ("accuracy", "macro_f1"):
            judged_int8 = _row(by_int8, "cnn1d", getattr(STATIC, kind))
            judged_float = _row(by_float, "cnn1d", getattr(FLOAT, kind))
            assert judged_int8["verdict"] == judged_float["verdict"], (flips, kind)
            assert judged_int8["detail"] == judged_float["detail"]  # the same test, seeds and p-value
        assert _row(by_int8, "cnn1d", STATIC.accuracy)["verdict"] == verdict
        assert _row(by_int8, "cnn1d", FLOAT.accuracy)["verdict"] == "unchanged"  # the float32 model did not change
        assert by_int8.exit_code == (1 if verdict == "regressed" else 0)


def test_history_follows_an_int8_accuracy(tmp_path: Path) -> None:
    for day in (26, 27, 28):
        _with_int8(build_run(tmp_path / "runs", stamp=f"202611{day}-003032"))
    for day in (29, 30):  # the int8 model lost 25 pt from here on
        _worsen(_with_int8(build_run(tmp_path / "runs", stamp=f"202611{day}-003032")), "cnn1d", STATIC, 15)
    trend = build_history(tmp_path / "runs", STATIC.accuracy)
    verdicts = list(trend.values[trend.values["model"] == "cnn1d"]["verdict"])
    assert verdicts == ["", "unchanged", "unchanged", "regressed", "unchanged"], verdicts
    assert set(trend.values[trend.values["model"] == "mlp"]["verdict"]) <= {"", "unchanged"}
