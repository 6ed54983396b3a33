"""Eager PyTorch against ONNX Runtime, float32 and int8, batch 1, every family at one budget, side by side.

Run: ``python benchmarks/bench_deploy.py [--budget 100k] [--models all] [--min-run-time 0.3]``.
Each family is built at the budget on the FSDD input (40 mel bins x 101 frames, raw
8 kHz for samplecnn), exported to ONNX, quantized dynamic and static (static calibrated
on 8 batches of 64 standard-normal inputs: the inputs the suite feeds are standardised,
and only latency is measured here) and timed in one process, one thread, model scope, with the suite's
timer (:func:`suite.measure.latency.measure_latency`: rounds interleaved with the
reference kernel, re-measured while unstable). The ratio columns divide figures taken
minutes apart at most; the ``rel`` columns (latency / its reference) show whether the
machine changed speed between them. Pause anything else that runs on the machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from suite.budget import Budget, build_matched
from suite.deploy.onnx_export import export_onnx
from suite.deploy.quantize import quantize
from suite.input_spec import input_preset
from suite.measure.latency import measure_latency
from suite.metrics import QUANTIZE_METHODS, int8_dtype
from suite.models import get_family, resolve_model_names


def _int8_files(model: torch.nn.Module, shape: tuple[int, ...], scratch: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    generator = torch.Generator().manual_seed(0)
    calibration = [torch.randn(64, *shape, generator=generator).numpy() for _ in range(8)]
    exported = export_onnx(model, torch.randn(2, *shape, generator=generator), scratch / "float32.onnx")
    files, left = {}, {}
    for method in QUANTIZE_METHODS:
        quantized = quantize(exported.path, method, scratch / f"{method}.onnx", calibration)
        files[int8_dtype(method)] = quantized.path.read_bytes()
        left[method] = quantized.float_text() or "none"
    return files, left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="100k")
    parser.add_argument("--models", default="all")
    parser.add_argument("--min-run-time", type=float, default=0.3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {os.cpu_count()} CPUs; FSDD input, params={args.budget}, batch 1")
    head = (
        f"{'family':12s} {'eager':>9s} {'ORT fp32':>9s} {'ORT/eager':>9s} {'int8 dyn':>9s} {'dyn/fp32':>8s} "
        f"{'int8 st':>9s} {'st/fp32':>8s}  {'rel eager/ORT/dyn/st':>24s}  float32 left (dynamic | static)"
    )
    print(head)
    for name in resolve_model_names(args.models):
        spec = get_family(name).adapt_input(input_preset("fsdd"))
        built = build_matched(name, spec, Budget.parse("params", args.budget), 10, seed=0)
        if built.model is None:
            print(f"{name:12s} infeasible at {args.budget}")
            continue
        model = built.model.eval()
        with tempfile.TemporaryDirectory() as scratch:
            files, left = _int8_files(model, built.spec.shape, Path(scratch))
        timings = measure_latency(
            model, built.spec, batch_sizes=[1], backends=["eager", "onnxruntime"], scopes=["model"],
            min_run_time=args.min_run_time, deployed=files,
        )  # fmt: skip
        figures = {(t.backend, t.dtype): t for t in timings}
        ms = {key: t.median_ms if t.status == "ok" else np.nan for key, t in figures.items()}
        rel = {key: t.latency_rel if t.status == "ok" else np.nan for key, t in figures.items()}
        keys = [("eager", "float32"), ("onnxruntime", "float32"), ("onnxruntime", "int8_dynamic"), ("onnxruntime", "int8_static")]
        eager, fp32, dynamic, static = (ms.get(k, np.nan) for k in keys)
        unstable = " (unstable)" if any(t.stability == "unstable" for t in timings) else ""
        print(
            f"{name:12s} {eager:9.3f} {fp32:9.3f} {fp32 / eager:9.2f} {dynamic:9.3f} {dynamic / fp32:8.2f} "
            f"{static:9.3f} {static / fp32:8.2f}  {'/'.join(f'{rel.get(k, np.nan):.2f}' for k in keys):>24s}  "
            f"{left['dynamic']} | {left['static']}{unstable}",
            flush=True,
        )


if __name__ == "__main__":
    main()
