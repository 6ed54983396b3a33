"""ONNX Runtime sessions (and OpenVINO models) set up like the suite's other timings, and what they compute.

The session options follow ONNX Runtime's threading guide for a fair single-stream
measurement (onnxruntime.ai/docs/performance/tune-performance/threading.html):
``intra_op_num_threads`` = the thread count of the timed setting (PyTorch's
``torch.set_num_threads`` for eager), one inter-op thread, sequential execution, every
graph optimisation, and **no spinning**: by default ONNX Runtime's idle threads spin,
which burns the cores a neighbour or the interleaved reference kernel would use.

On a CUDA device the CUDA execution provider is asked for, and a session that silently
fell back to the CPU is refused (ONNX Runtime only warns).

OpenVINO (a further backend, CPU only) compiles the same ONNX files with the matching
settings: ``INFERENCE_NUM_THREADS`` = the setting's threads, one stream, the latency hint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from suite.deploy.onnx_export import INPUT_NAME
from suite.errors import SuiteError

#: Examples per ``run`` call when evaluating a test split.
EVAL_BATCH = 256
#: Largest absolute difference of logits between eager PyTorch and ONNX Runtime that counts as the same model
#: (float32 arithmetic in another order; measured over the zoo: at most 1e-6).
PARITY_TOLERANCE = 1e-4


def session(path: Path | str, threads: int = 1, device: str = "cpu"):  # -> onnxruntime.InferenceSession
    """An ``InferenceSession`` of ``path`` with the suite's options (see the module docstring).

    Raises:
        RuntimeError: when ``device`` is ``cuda`` and ONNX Runtime has no working CUDA provider.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: a quantized graph logs a warning per unfused node
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    created = ort.InferenceSession(str(path), options, providers=providers)
    if device == "cuda" and created.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(f"ONNX Runtime has no CUDA provider here (available: {', '.join(ort.get_available_providers())})")
    return created


def runner(path: Path | str, example: torch.Tensor, threads: int = 1, device: str = "cpu") -> Callable[[], object]:
    """One ONNX Runtime call of the ONNX model on ``example``, ready to time (session and input made outside the call)."""
    created = session(path, threads, device)
    feed = {INPUT_NAME: example.detach().cpu().numpy()}
    return lambda: created.run(None, feed)


def openvino_runner(path: Path | str, example: torch.Tensor, threads: int = 1, device: str = "cpu") -> Callable[[], object]:
    """One OpenVINO call of the ONNX model on ``example``, ready to time.

    Raises:
        SuiteError: when OpenVINO is not installed.
        RuntimeError: on a CUDA device (OpenVINO's GPU plugin is for Intel GPUs).
    """
    try:
        import openvino
    except ImportError:
        raise SuiteError("the openvino backend needs OpenVINO: pip install -c constraints.txt -e '.[openvino]'") from None
    if device != "cpu":
        raise RuntimeError("OpenVINO is timed on the CPU only (its GPU plugin is for Intel GPUs, not CUDA devices)")
    # float32, as the backend is labelled: on a CPU with bf16 instructions (AVX512_BF16, AMX) OpenVINO's default
    # is to infer in bf16, which gave logits 2e-4 off eager's on an AVX-512 EPYC (over PARITY_TOLERANCE), and times
    # another precision than the other backends'.
    settings = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": "f32",
    }
    try:
        compiled = openvino.Core().compile_model(str(path), "CPU", settings)
    except RuntimeError as error:  # OpenVINO's message is a C++ stack of locations; keep what failed
        text = str(error)
        failed = text.rsplit("Conversion is failed for:", 1)[-1].strip().splitlines() if "Conversion is failed" in text else []
        checks = [line.strip() for line in text.splitlines() if line.strip().startswith(("Check '", "--"))]
        detail = f"cannot convert {failed[0]}" if failed else (checks[-1] if checks else text.strip().splitlines()[-1])
        raise RuntimeError(f"OpenVINO: {detail}") from None
    feed = [example.detach().cpu().numpy()]
    return lambda: compiled(feed)


def logits(created, inputs: torch.Tensor, batch: int = EVAL_BATCH) -> np.ndarray:
    """Logits ``(N, n_classes)`` of every example of ``inputs`` ``(N, ...)``, in batches of ``batch``."""
    outputs = [created.run(None, {INPUT_NAME: chunk.numpy()})[0] for chunk in inputs.detach().cpu().split(batch)]
    return np.concatenate(outputs)


def max_abs_difference(model: nn.Module, path: Path | str, example: torch.Tensor) -> float:
    """The largest absolute difference between eager PyTorch's logits and ONNX Runtime's on ``example``."""
    model = model.cpu().eval()
    with torch.inference_mode():
        expected = model(example.cpu()).numpy()
    return float(np.abs(logits(session(path), example) - expected).max())
