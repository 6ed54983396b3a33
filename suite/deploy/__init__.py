"""What a model costs when deployed: exported to ONNX, run by ONNX Runtime, quantized to int8.

- :mod:`suite.deploy.onnx_export`: the float32 model as an ONNX file (PyTorch's
  ``torch.export``-based exporter, the TorchScript one as a fallback; the exporter and
  opset are recorded).
- :mod:`suite.deploy.runtime`: ONNX Runtime sessions with the suite's timing settings
  (threads, sequential execution, no spinning) and the parity check against eager.
- :mod:`suite.deploy.quantize`: int8 post-training quantization with ONNX Runtime's
  tools, dynamic and static (calibrated on training batches only), and which layers
  stayed in float.
- :mod:`suite.deploy.stage`: the trial stage after training that puts these together.

The dependencies are an extra: ``pip install -c constraints.txt -e '.[deploy]'``.
"""

from __future__ import annotations

from suite.errors import SuiteError


def require_onnx() -> None:
    """Raise a :class:`SuiteError` naming the extra to install when ONNX or ONNX Runtime is missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise SuiteError(
            f"the onnxruntime backend and int8 quantization need {error.name}: pip install -c constraints.txt -e '.[deploy]'"
        ) from None
