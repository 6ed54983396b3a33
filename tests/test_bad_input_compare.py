"""Damaged results given to `compare`, `history` and `report`'s loader: judged, or one line (exit 2), never a traceback.

Each case writes a results folder as `suite run` would (:mod:`tests.report_fixtures`) and
then damages it: NaN accuracy and ``inf`` params in ``results.csv`` (read when
``trials.jsonl`` is gone) or in ``trials.jsonl``, a 400-digit integer, a summary.csv
with NaN or text in its figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from suite.cli import main
from suite.gate.compare import compare_paths
from suite.gate.thresholds import DEFAULT_FAIL_ON
from suite.reporting.summary import summarise
from suite.results.load import load_results
from tests.compare_fixtures import set_field
from tests.report_fixtures import build_run

MODELS = ("mlp", "cnn1d")


def run(parent: Path, stamp: str = "20261129-003032") -> Path:
    return build_run(parent, models=MODELS, seeds=[0, 1, 2], measure=False, stamp=stamp)


def csv_only(run_dir: Path, column: str, model: str, value: str) -> Path:
    """Drop trials.jsonl and write ``value`` into ``column`` of ``model``'s rows of results.csv (as text)."""
    (run_dir / "trials.jsonl").unlink()
    table = pd.read_csv(run_dir / "results.csv", dtype=str)
    table.loc[table["model"] == model, column] = value
    table.to_csv(run_dir / "results.csv", index=False)
    return run_dir


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_results_csv_with_nan_accuracy_is_judged_a_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = run(tmp_path / "a")
    new = csv_only(run(tmp_path / "b"), "accuracy", "cnn1d", "nan")
    code, out, err = cli(capsys, "compare", str(base), str(new))
    assert code == 1 and not err, err
    assert "accuracy is NaN in NEW (seeds 0,1,2)" in next(line for line in out.splitlines() if line.startswith("cnn1d"))


@pytest.mark.parametrize("where", ["results.csv", "trials.jsonl"])
def test_inf_params_are_read_as_unknown_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    base = run(tmp_path / "a")
    if where == "results.csv":
        new = csv_only(run(tmp_path / "b"), "params", "mlp", "inf")
    else:
        new = set_field(run(tmp_path / "b"), "mlp", "params", lambda _: math.inf)  # written as Infinity
    loaded = load_results([new])
    assert loaded.trials.loc[loaded.trials["model"] == "mlp", "params"].isna().all()
    assert any("params is not a finite number in 3 trial(s)" in note for note in loaded.notes)
    code, out, err = cli(capsys, "compare", str(base), str(new))
    assert code == 0 and not err, err
    assert "params is not a finite number" in out
    code, out, err = cli(capsys, "history", str(new.parent), "--metric", "params")
    assert code == 0 and not err and "params is not a finite number in 3 trial(s)" in out


def test_a_400_digit_integer_is_read_as_unknown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = run(tmp_path / "a")
    new = run(tmp_path / "b")
    log = new / "trials.jsonl"
    lines = log.read_text().splitlines()
    lines[0] = lines[0].replace('"macs": ', '"macs": ' + "9" * 400 + ', "_was_macs": ', 1)
    log.write_text("\n".join(lines) + "\n")
    loaded = load_results([new])
    first = loaded.trials[(loaded.trials["model"] == "mlp") & (loaded.trials["seed"] == 0)]
    if len(first):  # read, with the figure as unknown
        assert math.isnan(first["macs"].iloc[0]) and any("macs is not a finite number in 1 trial(s)" in n for n in loaded.notes)
    else:  # or refused by the trial-log reader as a damaged line, which is noted
        assert any("line 1 of trials.jsonl" in note for note in loaded.notes), loaded.notes
    code, _, err = cli(capsys, "compare", str(base), str(new))
    assert code in (0, 1) and "Traceback" not in err
    summarise(loaded)  # the report's table of it does not fail either


def test_a_summary_csv_with_nan_accuracy_and_inf_params(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = run(tmp_path / "a")
    summary = summarise(load_results([run(tmp_path / "b")]))
    summary.loc[summary["model"] == "cnn1d", "accuracy_mean"] = math.nan
    summary["params"] = summary["params"].astype(float)
    summary.loc[summary["model"] == "mlp", "params"] = math.inf
    path = tmp_path / "summary.csv"
    summary.to_csv(path, index=False)
    comparison = compare_paths(base, path, DEFAULT_FAIL_ON)
    verdicts = {(r["model"], r["metric"]): (r["verdict"], r["detail"]) for r in comparison.rows}
    assert verdicts[("cnn1d", "seeds")] == ("regressed", "accuracy is NaN in NEW")
    assert ("mlp", "params") not in verdicts and any("params is not a finite number in 1 row(s)" in n for n in comparison.notes)
    summary["budget"] = summary["budget"].astype(object)
    summary.loc[0, "budget"] = "lots"
    summary.to_csv(path, index=False)
    code, _, err = cli(capsys, "compare", str(base), str(path))
    assert code == 2 and f"{path}: line 2 has no valid budget (a number)" in err and len(err.strip().splitlines()) == 1


def test_a_non_utf8_byte_in_trials_jsonl_is_no_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = run(tmp_path / "a")
    new = run(tmp_path / "b")
    log = new / "trials.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"model": "mlp"', b'"model": "ml\xff"', 1))
    for argv in (["compare", str(base), str(new)], ["history", str(new.parent), "--metric", "accuracy"]):
        code, _, err = cli(capsys, *argv)
        assert code in (0, 1, 2) and "Traceback" not in err and len(err.strip().splitlines()) <= 1, err


def test_an_unreadable_trial_log_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = run(tmp_path / "a")
    new = run(tmp_path / "b")
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:  # as chmod 000 would (which does not bind root, who runs some CI jobs)
        if path.name == "trials.jsonl" and path.parent == new:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    for argv in (["compare", str(base), str(new)], ["history", str(new.parent)]):
        code, _, err = cli(capsys, *argv)
        assert code == 2 and f"cannot read {new / 'trials.jsonl'}: Permission denied" in err, err
        assert len(err.strip().splitlines()) == 1
