"""`suite run` with `measure: {streaming: ...}`: each trained model's per-hop figures in results.csv; bad settings in one line."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from suite.api import compare, report, run
from suite.config import parse_config
from suite.errors import SuiteError
from suite.metrics import STREAM_FRAME_MS, STREAM_MODE, STREAM_RECEPTIVE_FIELD_MS, STREAM_RTF, STREAMING
from tests.helpers import TINY

STREAMING_RUN = TINY | {
    "models": ["gru", "cnn1d"],
    "measure": {"streaming": {"hop_ms": 10, "p99_steps": 20, "min_run_time": 0.02}},
}


def test_a_run_records_the_streaming_figures_of_each_trained_model(tmp_path: Path) -> None:
    folder = run(STREAMING_RUN, out=tmp_path / "results", progress=False).run_dir
    with (folder / "results.csv").open() as handle:
        rows = {row["model"]: row for row in csv.DictReader(handle)}
    assert rows["gru"]["status"] == rows["cnn1d"]["status"] == "ok"
    assert all(rows["gru"][metric] != "" for metric in STREAMING)
    assert rows["gru"][STREAM_MODE] == "state" and math.isinf(float(rows["gru"][STREAM_RECEPTIVE_FIELD_MS]))
    assert rows["cnn1d"][STREAM_MODE] == "window"
    for row in rows.values():
        assert float(row[STREAM_FRAME_MS]) > 0 and float(row[STREAM_RTF]) > 0


@pytest.mark.parametrize(
    "streaming, message",
    [
        ({"hop_ms": 20}, r"measure.streaming.hop_ms \(20\) differs from input.hop_ms \(10\)"),
        ({"hop": 10}, "hop"),
        ({"p99_steps": 0}, "p99_steps"),
    ],
)
def test_a_bad_streaming_section_is_one_clear_error(streaming: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_config(TINY | {"measure": {"streaming": streaming}})


def test_the_report_has_a_streaming_table_and_plot(tmp_path: Path) -> None:
    folder = run(STREAMING_RUN | {"models": ["gru"]}, out=tmp_path / "results", progress=False).run_dir
    files = report(folder, out=tmp_path / "report", formats="md")
    text = (files.folder / "README.md").read_text()
    assert "### Streaming: 20 k params" in text
    row = next(line for line in text.splitlines() if line.startswith("| gru | state (exact) |"))
    assert "unbounded" in row  # read back as infinite, not as unknown
    assert "### Streaming: accuracy against the cost per hop" in text
    assert any((files.folder / "plots").glob("*-streaming.png"))


def test_compare_judges_the_per_hop_latency_like_any_other(tmp_path: Path) -> None:
    base = run(STREAMING_RUN | {"models": ["gru"]}, out=tmp_path / "base", progress=False).run_dir
    new = run(STREAMING_RUN | {"models": ["gru"]}, out=tmp_path / "new", progress=False).run_dir
    rows = {row["metric"]: row for row in compare(base, new).rows if row["model"] == "gru"}
    assert {"latency stream cpu b1 t1", "latency frontend cpu b1 t1"} <= set(rows)
    assert rows["latency stream cpu b1 t1"]["verdict"] in ("unchanged", "improved", "regressed", "unstable")
