"""Every family exports to ONNX, and ONNX Runtime and OpenVINO compute the same logits as eager PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from suite.deploy.onnx_export import OPSET, export_onnx
from suite.deploy.runtime import PARITY_TOLERANCE, logits, max_abs_difference, openvino_runner, session
from suite.input_spec import InputSpec
from suite.models import create_model
from tests.helpers import ALL_MODELS, spec_for

#: A tenth of a second (11 frames): the export traces the recurrent families frame by frame, so a long clip only costs time.
SHORT = InputSpec(sample_rate=8000, clip_seconds=0.1)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_family_runs_in_onnxruntime_as_in_eager(name: str, tmp_path: Path) -> None:
    spec = spec_for(name, SHORT)
    model = create_model(name, 4, spec).eval()
    example = torch.randn(5, *spec.shape, generator=torch.Generator().manual_seed(0))
    exported = export_onnx(model, example[:2], tmp_path / "model.onnx")
    assert exported.exporter == "dynamo" and exported.opset == OPSET
    assert not (tmp_path / "model.onnx.data").exists(), "the weights must be inside the one file"
    # Another batch size than the export's: the batch axis is dynamic.
    difference = max_abs_difference(model, exported.path, example)
    assert difference < PARITY_TOLERANCE, f"{name}: max |eager - onnxruntime| = {difference:.2e}"
    assert logits(session(exported.path), example[:1]).shape == (1, 4)
    with torch.inference_mode():
        expected = model(example).numpy()
    from_openvino = openvino_runner(exported.path, example)()[0]
    assert np.abs(from_openvino - expected).max() < PARITY_TOLERANCE, f"{name}: OpenVINO differs from eager"
