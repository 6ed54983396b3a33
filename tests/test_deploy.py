"""suite.deploy: export failures, int8 quantization, what stayed float, and calibration on training data only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from suite.deploy.onnx_export import export_onnx
from suite.deploy.quantize import calibration_batches, float_operations, quantize
from suite.deploy.runtime import PARITY_TOLERANCE
from suite.deploy.stage import Deployment, deploy_trained
from suite.input_spec import InputSpec
from suite.measure.latency import measure_latency
from suite.metrics import INT8, MODEL_BYTES_ONNX, ONNX_MAX_ABS_DIFF, SCORES
from suite.train import TrialData

N_CLASSES = 3


class ConvGru(nn.Module):
    """A convolution, a GRU and a linear head: ONNX Runtime quantizes the first and last, never the GRU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 3, padding=1)
        self.gru = nn.GRU(16, 16, batch_first=True)
        self.head = nn.Linear(16, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 8, T) -> (B, N_CLASSES)
        hidden, _ = self.gru(torch.relu(self.conv(x)).transpose(1, 2))
        return self.head(hidden.mean(dim=1))


class ConvLinear(nn.Module):
    """A convolution and a linear head: every weight of it ONNX Runtime quantizes, and it exports in a second."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 3, padding=1)
        self.head = nn.Linear(16, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 8, T) -> (B, N_CLASSES)
        return self.head(torch.relu(self.conv(x)).mean(dim=2))


class Unexportable(nn.Module):
    """A model with an operation neither ONNX exporter knows (``torch.cummax``)."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8 * 10, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cummax(x, dim=2).values.flatten(1))


#: An input of 8 mel bins and 10 frames, the shape the models above take.
SPEC = InputSpec(sample_rate=8000, clip_seconds=0.09, n_mels=8)


def _data(scale_held_out: float = 1.0, n: int = 24) -> TrialData:
    """Inputs ``(n, 8, 10)`` per split; validation and test scaled by ``scale_held_out`` (the training split never is)."""
    generator = torch.Generator().manual_seed(0)
    inputs = {split: torch.randn(n, 8, 10, generator=generator) for split in ("train", "validation", "test")}
    for split in ("validation", "test"):
        inputs[split] *= scale_held_out
    targets = {split: torch.arange(n) % N_CLASSES for split in inputs}
    return TrialData(inputs, targets, N_CLASSES, steps_per_second=100.0, is_spectrogram=True)


@pytest.fixture(scope="module")
def conv_gru_deployed() -> tuple[ConvGru, TrialData, float, Deployment]:
    """ConvGru deployed once with both methods: its GRU export is the slowest step of these tests."""
    data = _data()
    model = ConvGru().eval()
    with torch.inference_mode():
        float_accuracy = float((model(data.inputs["test"]).argmax(1) == data.targets["test"]).float().mean())
    return model, data, float_accuracy, deploy_trained(model, data, ["dynamic", "static"], 8, float_accuracy)


def test_what_stays_float_is_listed_by_operation(tmp_path: Path) -> None:
    model = ConvGru().eval()
    exported = export_onnx(model, torch.randn(2, 8, 10), tmp_path / "float.onnx")
    left, int8 = float_operations(exported.path)
    assert left == {"Conv": 1, "GRU": 1, "Gemm": 1} and int8 == 0
    calibration = calibration_batches(_data().inputs["train"], batch_size=8, batches=2)
    for method in ("dynamic", "static"):
        quantized = quantize(exported.path, method, tmp_path / f"{method}.onnx", calibration)
        # ONNX Runtime has no int8 GRU (microsoft/onnxruntime#9796): it must be reported, and only it.
        assert quantized.float_ops == {"GRU": 1}, method
        assert quantized.int8_ops == 2 and quantized.float_text() == "GRU ×1"


def test_static_calibration_never_reads_validation_or_test_data(tmp_path: Path) -> None:
    model = ConvLinear().eval()
    plain, scaled = _data(), _data(scale_held_out=50.0)
    # Held-out splits 50x larger would move every activation range, were they calibrated on.
    first = deploy_trained(model, plain, ["static"], batch_size=8, float_accuracy=0.5, calibration=2)
    second = deploy_trained(model, scaled, ["static"], batch_size=8, float_accuracy=0.5, calibration=2)
    assert "deploy_error" not in first.fields and "deploy_error" not in second.fields
    assert first.files["int8_static"] == second.files["int8_static"]
    # The control: calibrating on the scaled validation split does change the int8 model.
    exported = export_onnx(model, plain.inputs["train"][:2], tmp_path / "float.onnx")
    on_train = quantize(exported.path, "static", tmp_path / "train.onnx", calibration_batches(scaled.inputs["train"], 8, 2))
    on_validation = quantize(
        exported.path, "static", tmp_path / "validation.onnx", calibration_batches(scaled.inputs["validation"], 8, 2)
    )
    assert on_train.path.read_bytes() == first.files["int8_static"]
    assert on_validation.path.read_bytes() != on_train.path.read_bytes()


def test_the_stage_records_each_methods_accuracy_drop_size_and_predictions(
    conv_gru_deployed: tuple[ConvGru, TrialData, float, Deployment],
) -> None:
    _, data, float_accuracy, deployment = conv_gru_deployed
    fields = deployment.fields
    assert fields["onnx_exporter"] == "dynamo" and fields[ONNX_MAX_ABS_DIFF] < PARITY_TOLERANCE
    assert fields[MODEL_BYTES_ONNX] > 0 and set(deployment.files) == {"int8_dynamic", "int8_static"}
    for score, method in zip(SCORES[1:], ("dynamic", "static"), strict=True):
        metrics = INT8[method]
        predictions = torch.tensor(fields[score.predictions])
        assert len(predictions) == len(data.targets["test"])
        assert fields[metrics.accuracy] == pytest.approx(float((predictions == data.targets["test"]).float().mean()))
        assert fields[metrics.drop] == pytest.approx(float_accuracy - fields[metrics.accuracy])
        assert fields[metrics.size] == len(deployment.files[f"int8_{method}"])
        assert fields[f"float_ops_int8_{method}"] == "GRU ×1"


def test_a_model_that_cannot_be_exported_is_recorded_and_the_rest_goes_on() -> None:
    deployment = deploy_trained(Unexportable(), _data(), ["dynamic"], batch_size=8, float_accuracy=0.5)
    error = deployment.fields["deploy_error"]
    assert error.startswith("export: RuntimeError: ONNX export failed: dynamo:") and "cummax" in error
    assert "torchscript:" in error and not deployment.files
    timings = measure_latency(Unexportable(), SPEC, batch_sizes=[1, 2], backends=["eager", "onnxruntime"], scopes=["model"],
                              min_run_time=0.01)  # fmt: skip
    assert [(t.backend, t.status) for t in timings] == [("eager", "ok")] * 2 + [("onnxruntime", "failed")] * 2
    assert all("cummax" in t.error for t in timings[2:])


def test_int8_models_are_timed_in_onnxruntime_beside_float32() -> None:
    model = ConvLinear().eval()
    deployment = deploy_trained(model, _data(), ["dynamic", "static"], batch_size=8, float_accuracy=0.5)
    timings = measure_latency(model, SPEC, batch_sizes=[1], backends=["eager", "onnxruntime"], scopes=["model"],
                              min_run_time=0.01, deployed=deployment.files)  # fmt: skip
    settings = [(t.backend, t.dtype, t.status) for t in timings]
    assert settings == [
        ("eager", "float32", "ok"),
        ("onnxruntime", "float32", "ok"),
        ("onnxruntime", "int8_dynamic", "ok"),
        ("onnxruntime", "int8_static", "ok"),
    ]
    assert all(t.median_ms and t.median_ms > 0 and t.reference_rounds_ms for t in timings)
