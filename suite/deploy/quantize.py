"""int8 post-training quantization with ONNX Runtime's tools, and which layers stayed float.

Why ONNX Runtime and not torchao's PT2E flow: PT2E's converted model is a reference
graph of quantize/dequantize steps that is *slower* than float32 in eager PyTorch; its
speed comes only from ``torch.compile`` (minutes per model on a small CPU), and its
x86 recipe covers convolutions and linear layers, not recurrent ones. ONNX Runtime
quantizes the exported graph, runs it with int8 kernels, and its float32 run of the same
file is the like-for-like baseline. Its own guidance
(onnxruntime.ai/docs/performance/model-optimizations/quantization.html) is followed:

- **dynamic** (:func:`quantize_dynamic`): weights int8 (signed, per output channel),
  activations quantized on the fly per tensor; covers MatMul/Gemm, Conv (as
  ``ConvInteger``), LSTM (when its weights are plain initializers) and attention.
  Recommended there for recurrent and transformer models.
- **static** (:func:`quantize_static`, QDQ format): weights int8 per channel,
  activations uint8 with ranges calibrated (min/max) on :data:`CALIBRATION_BATCHES`
  batches of the **training** split; ONNX Runtime fuses the QDQ groups into
  ``QLinearConv``/``QLinearMatMul``. Recommended there for CNNs.

Neither quantizes GRU or RNN cells (microsoft/onnxruntime#9796), nor an operation
whose weight reaches it through another node (an unrolled RNN's ``MatMul`` after a
``Transpose``); :func:`float_operations` lists what stayed float.
"""

from __future__ import annotations

import collections
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from suite.deploy.onnx_export import INPUT_NAME

#: Training batches the static method calibrates on (of the training batch size).
CALIBRATION_BATCHES = 8
#: Operations that carry weights or do the bulk of the arithmetic: each is either int8 or reported float.
COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "LSTM", "GRU", "RNN", "Attention", "Einsum"})
#: Operations that are int8 themselves (the dynamic format, and fused static ones).
INTEGER_OPS = frozenset(
    {"ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul", "QGemm", "DynamicQuantizeLSTM", "QAttention",
     "DynamicQuantizeMatMul", "MatMulIntegerToFloat"}
)  # fmt: skip


@dataclass(frozen=True)
class Quantized:
    """An int8 ONNX file and what it holds.

    Attributes:
        path (Path): The file.
        method (str): ``dynamic`` or ``static``.
        float_ops (dict[str, int]): Compute operations left in float32, by type.
        int8_ops (int): Compute operations that run in int8.
    """

    path: Path
    method: str
    float_ops: dict[str, int]
    int8_ops: int

    @property
    def bytes(self) -> int:
        return self.path.stat().st_size

    def float_text(self) -> str:
        """``LSTM ×2, MatMul ×2``; empty when every compute operation is int8."""
        return ", ".join(f"{op} ×{n}" for op, n in sorted(self.float_ops.items()))


def calibration_batches(train: torch.Tensor, batch_size: int, batches: int = CALIBRATION_BATCHES) -> list[np.ndarray]:
    """``batches`` batches of the training split, the same every time (a fixed permutation, seed 0).

    Args:
        train (torch.Tensor): The standardised training inputs ``(N, ...)``, and nothing
            else: calibration must not see validation or test data.
        batch_size (int): Examples per batch.
        batches (int): How many. (Default: ``8``)
    """
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[: batch_size * batches]
    return [chunk.numpy() for chunk in train[order].split(batch_size)]


def float_operations(path: Path) -> tuple[dict[str, int], int]:
    """Compute operations of the ONNX file that stayed float32, by type, and how many run in int8.

    A compute operation is int8 when it is an integer operation, or (QDQ format) when its
    data and weight inputs both come from ``DequantizeLinear``.
    """
    import onnx

    graph = onnx.load(str(path)).graph
    producer = {output: node.op_type for node in graph.node for output in node.output}
    left: collections.Counter[str] = collections.Counter()
    int8 = 0
    for node in graph.node:
        if node.op_type in INTEGER_OPS:
            int8 += 1
        elif node.op_type in COMPUTE_OPS:
            if all(producer.get(name) == "DequantizeLinear" for name in node.input[:2]):
                int8 += 1
            else:
                left[node.op_type] += 1
    return dict(left), int8


class _Reader:
    """The calibration batches, as ONNX Runtime's ``CalibrationDataReader`` protocol asks."""

    def __init__(self, batches: Sequence[np.ndarray]) -> None:
        self._batches: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def quantize(float_path: Path, method: str, out_path: Path, calibration: Sequence[np.ndarray] = ()) -> Quantized:
    """Quantize the float32 ONNX file ``float_path`` to int8 with ``method`` into ``out_path``.

    Args:
        float_path (Path): From :func:`suite.deploy.onnx_export.export_onnx`.
        method (str): ``dynamic`` or ``static``.
        out_path (Path): Where the int8 file goes.
        calibration (Sequence[np.ndarray]): Input batches for ``static`` (from
            :func:`calibration_batches`); ignored by ``dynamic``.

    Raises:
        ValueError: for an unknown method, or ``static`` without calibration batches.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs every node it leaves alone
    try:
        if method == "dynamic":
            quantize_dynamic(str(float_path), str(out_path), weight_type=QuantType.QInt8, per_channel=True)
        elif method == "static":
            if not calibration:
                raise ValueError("static quantization needs calibration batches")
            with tempfile.TemporaryDirectory(prefix="suite-quant-") as scratch:
                prepared = Path(scratch) / "prepared.onnx"
                # Shape inference and graph clean-up first, as the quantization tutorial asks.
                quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
                quantize_static(
                    str(prepared), str(out_path), _Reader(calibration), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                )  # fmt: skip
        else:
            raise ValueError(f"unknown quantization method {method!r}; expected dynamic or static")
    finally:
        logging.getLogger().setLevel(quiet)
    left, int8 = float_operations(out_path)
    return Quantized(out_path, method, left, int8)
