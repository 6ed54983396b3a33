"""The deployment stage of a trial, after training: export, check parity, quantize, test the int8 models.

It runs where the trial's data are (the training phase), because static calibration
needs training batches and the int8 accuracy needs the test split; the ONNX files it
makes travel on to the measurement phase (:func:`suite.measure.costs.measure_costs`),
which times them in ONNX Runtime with the latency settings of the float32 model.

A step that fails (export, one quantization method) is recorded in ``deploy_error`` and
the others go on; the float32 result of the trial stands either way.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from suite.deploy import require_onnx
from suite.deploy.onnx_export import export_onnx
from suite.deploy.quantize import CALIBRATION_BATCHES, calibration_batches, quantize
from suite.deploy.runtime import logits, max_abs_difference, session
from suite.metrics import INT8, MODEL_BYTES_ONNX, ONNX_MAX_ABS_DIFF, SCORES, int8_dtype
from suite.train import TrialData, classification_metrics

#: Test examples the parity check compares eager and ONNX Runtime on.
PARITY_EXAMPLES = 16


@dataclass
class Deployment:
    """What the stage made.

    Attributes:
        fields (dict): Record fields: ``onnx_exporter``, ``onnx_opset``, the parity and
            size metrics, and per int8 method its accuracy, macro-F1, drop, size,
            ``float_ops_int8_<method>`` (what stayed float32), ``test_predictions_int8_<method>``;
            ``deploy_error`` names every step that failed.
        files (dict[str, bytes]): The int8 ONNX files by precision (``int8_static``...), to time.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def _error(step: str, error: Exception) -> str:
    return f"{step}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]


def deploy_trained(
    model: nn.Module,
    data: TrialData,
    methods: Sequence[str],
    batch_size: int,
    float_accuracy: float,
    calibration: int = CALIBRATION_BATCHES,
) -> Deployment:
    """Export ``model`` to ONNX, check it against eager, and quantize and test it with every method.

    Args:
        model (nn.Module): The trained model (its best epoch), float32.
        data (TrialData): The trial's standardised splits: static calibration reads only
            ``data.inputs["train"]``; the int8 models are tested on ``data.inputs["test"]``.
        methods (Sequence[str]): Quantization methods (:data:`suite.metrics.QUANTIZE_METHODS`).
        batch_size (int): Examples per calibration batch (the training batch size).
        float_accuracy (float): The float32 model's test accuracy, for the drop.
        calibration (int): Training batches static calibration reads. (Default: ``8``)
    """
    require_onnx()
    deployment = Deployment()
    errors: list[str] = []
    threads = torch.get_num_threads()
    test_x, test_y = data.inputs["test"], data.targets["test"].numpy()
    with tempfile.TemporaryDirectory(prefix="suite-deploy-") as scratch:
        float_path = Path(scratch) / "float32.onnx"
        try:
            exported = export_onnx(model, test_x[:PARITY_EXAMPLES], float_path)
        except Exception as error:
            deployment.fields["deploy_error"] = _error("export", error)
            return deployment
        deployment.fields |= {
            "onnx_exporter": exported.exporter,
            "onnx_opset": exported.opset,
            MODEL_BYTES_ONNX: exported.bytes,
            ONNX_MAX_ABS_DIFF: max_abs_difference(model, float_path, test_x[:PARITY_EXAMPLES]),
        }
        scores = {score.accuracy: score for score in SCORES}
        for method in methods:
            metrics = INT8[method]
            out = Path(scratch) / f"{int8_dtype(method)}.onnx"
            try:
                batches = calibration_batches(data.inputs["train"], batch_size, calibration) if method == "static" else []
                quantized = quantize(float_path, method, out, batches)
                predictions = logits(session(out, threads), test_x).argmax(axis=1)
            except Exception as error:
                errors.append(_error(f"int8 {method}", error))
                continue
            accuracy, macro_f1, _ = classification_metrics(test_y, predictions, data.n_classes)
            deployment.fields |= {
                metrics.accuracy: accuracy,
                metrics.macro_f1: macro_f1,
                metrics.drop: float_accuracy - accuracy,
                metrics.size: quantized.bytes,
                f"float_ops_{int8_dtype(method)}": quantized.float_text(),
                scores[metrics.accuracy].predictions: predictions.tolist(),
            }
            deployment.files[int8_dtype(method)] = out.read_bytes()
    if errors:
        deployment.fields["deploy_error"] = "; ".join(errors)
    return deployment
