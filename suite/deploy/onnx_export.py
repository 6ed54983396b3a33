"""The float32 model as one self-contained ONNX file.

PyTorch 2.13 recommends its ``torch.export``-based exporter (``dynamo=True``); it
exported every family of the zoo in our tests (``nn.LSTM``/``nn.GRU`` as ONNX ``LSTM``/``GRU``
nodes, ``nn.RNN`` unrolled over the frames). Where it fails (a user's model), the
TorchScript exporter is tried once more and the record says which one wrote the file.

The opset is fixed at :data:`OPSET` (18): the dynamo exporter's own, and below opset 23,
where attention can become the ONNX ``Attention`` op that ONNX Runtime's quantizer does
not know. The batch axis is dynamic; every other axis is the model's input shape.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import logging
import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

#: ONNX opset of every export.
OPSET = 18
INPUT_NAME = "x"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
OUTPUT_NAME = "logits"


@dataclass(frozen=True)
class Exported:
    """An ONNX file and how it was made.

    Attributes:
        path (Path): The file (weights inside it, no external data).
        exporter (str): ``dynamo`` or ``torchscript`` (the fallback), with the first
            exporter's error when it fell back.
        opset (int): The ONNX opset.
    """

    path: Path
    exporter: str
    opset: int = OPSET

    @property
    def bytes(self) -> int:
        return self.path.stat().st_size


@contextlib.contextmanager
def _no_native_output():
    """Send file descriptors 1 and 2 to nowhere: the TorchScript exporter prints the whole graph when it fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        for fd, copy_of in zip((1, 2), saved, strict=True):
            os.dup2(copy_of, fd)
            os.close(copy_of)


@contextlib.contextmanager
def _quiet():
    """The exporters print progress, warnings and log lines for every call: keep them out of the run's log."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        # The TorchScript exporter prints the graph to stderr when it fails: the error says enough.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _self_contained(path: Path) -> None:
    """Rewrite ``path`` with its weights inside and no stale shape annotations.

    The dynamo exporter may write weights to ``<file>.data``; one file is what a
    deployment ships and what the size counts. Its ``value_info`` shapes go stale when
    ONNX Runtime's quantizer rewrites Gemm as MatMul ("Inferred shape and existing shape
    differ"), so they are dropped: ONNX Runtime infers them again.
    """
    import onnx

    model = onnx.load(str(path))
    del model.graph.value_info[:]
    data = path.with_name(path.name + ".data")
    onnx.save(model, str(path))
    data.unlink(missing_ok=True)


def reason(error: BaseException, limit: int = 200) -> str:
    """The root cause of an exporter's error in one line: ``DispatchError: No ONNX function found for ...``.

    The dynamo exporter wraps the cause in a ``ConversionError`` whose own message is a
    generic "step 3/3" banner; its colour codes are dropped.
    """
    while error.__cause__ is not None:
        error = error.__cause__
    lines = [line.strip() for line in _ANSI.sub("", str(error)).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:limit]


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> Exported:
    """Export ``model`` (eval mode, on the CPU) with a dynamic batch axis.

    Args:
        model (nn.Module): Maps ``(B, *example.shape[1:])`` to logits ``(B, n_classes)``.
        example (torch.Tensor): An input batch of two or more examples (a batch of one
            would let the exporter specialise the batch axis).
        path (Path): Where to write the ``.onnx`` file.

    Raises:
        RuntimeError: when both exporters fail, with both errors.
    """
    if any(p.device.type != "cpu" for p in itertools.chain(model.parameters(), model.buffers())):
        model = copy.deepcopy(model).cpu()  # the caller's model stays where it is (a CUDA latency comes next)
    model = model.eval()
    example = example.cpu()
    names = {"input_names": [INPUT_NAME], "output_names": [OUTPUT_NAME]}
    try:
        with _quiet():
            torch.onnx.export(
                model, (example,), str(path), dynamo=True, opset_version=OPSET, dynamic_shapes=({0: "batch"},), **names
            )
        exporter = "dynamo"
    except Exception as error:  # any failure of the new exporter: try the old one before giving up
        first = reason(error)
        try:
            with _quiet(), _no_native_output():
                torch.onnx.export(
                    model, (example,), str(path), dynamo=False, opset_version=OPSET,
                    dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, **names,
                )  # fmt: skip
        except Exception as second:
            raise RuntimeError(f"ONNX export failed: dynamo: {first}; torchscript: {reason(second)}") from None
        exporter = f"torchscript (dynamo failed: {first})"
    _self_contained(path)
    return Exported(path, exporter)
