"""`suite run` with ONNX Runtime and int8: a trial stage after training, flat columns, a report section, errors in one line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from suite.api import report, run
from suite.config import parse_config
from suite.errors import SuiteError
from suite.metrics import DEPLOYED, INT8, LATENCY_MS_ONNXRUNTIME, LATENCY_MS_OPENVINO, QUANTIZE_METHODS
from suite.results.folder import read_trial_lines
from tests.helpers import TINY

DEPLOY = TINY | {
    "models": ["cnn1d"],
    "measure": {
        "latency": {"batch_sizes": [1], "backends": ["eager", "onnxruntime", "openvino"], "min_run_time": 0.02},
        "quantize": ["dynamic", "static"],
        "calibration_batches": 2,
    },
}


@pytest.fixture(scope="module")
def deployed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run(DEPLOY, out=tmp_path_factory.mktemp("results"), progress=False).run_dir


def test_a_run_records_every_deployment_figure_as_flat_columns(deployed_run: Path) -> None:
    with (deployed_run / "results.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["status"] == "ok" and row["onnx_exporter"] == "dynamo" and row["deploy_error"] == ""
    for metric in DEPLOYED:
        assert row[metric] != "", f"{metric} is empty"
    for method in QUANTIZE_METHODS:
        assert float(row[INT8[method].latency]) > 0 and row[f"float_ops_int8_{method}"] == ""  # a CNN: all int8
    assert float(row[LATENCY_MS_ONNXRUNTIME]) > 0 and float(row[LATENCY_MS_OPENVINO]) > 0


def test_every_runtime_times_every_precision_and_a_failure_keeps_its_reason(deployed_run: Path) -> None:
    (record,) = read_trial_lines(deployed_run / "trials.jsonl").records
    timed = {(t["scope"], t["backend"], t["dtype"]): t for t in record["timings"]}
    for backend in ("onnxruntime", "openvino"):
        for dtype in ("float32", "int8_dynamic", "int8_static"):
            assert timed[("model", backend, dtype)]["status"] == "ok", (backend, dtype)
    # OpenVINO cannot convert the front end's STFT with a dynamic batch: recorded, not hidden.
    e2e = timed[("e2e", "openvino", "float32")]
    assert e2e["status"] == "failed" and e2e["error"] == "RuntimeError: OpenVINO: cannot convert STFT-18"
    assert timed[("e2e", "onnxruntime", "float32")]["status"] == "ok"


def test_the_report_has_a_deployed_table_and_plot(deployed_run: Path, tmp_path: Path) -> None:
    files = report(deployed_run, out=tmp_path / "report", formats="md")
    text = (files.folder / "README.md").read_text()
    assert "### Deployed: 20 k params" in text and "latency ORT int8 static" in text
    assert "### Deployed: float32 and int8 in ONNX Runtime" in text
    assert any((files.folder / "plots").glob("*-deployed.png"))


@pytest.mark.parametrize(
    "measure, message",
    [
        ({"latency": {"backends": ["eager"]}, "quantize": ["static"]}, "add onnxruntime to measure.latency.backends"),
        ({"quantize": ["static", "static"]}, "names a method twice"),
        ({"quantize": ["float16"]}, "quantize"),
        ({"quantize": ["static"], "calibration_batches": 0}, "calibration_batches"),
    ],
)
def test_a_bad_deployment_section_is_one_clear_error(measure: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_config(TINY | {"measure": measure})
