"""Which reference kernel cancels a busy neighbour? Latency in ms and as ratios to both kernels, quiet and disturbed.

For each family (at ``--params``, default input, CPU, 1 thread) and batch size (1 and
32), the model is timed in rounds (:func:`suite.measure.latency.time_rounds`) once with
the ``overhead`` reference and once with the ``compute`` reference, first on a quiet
machine, then with ``--burners`` CPU-burning processes running (one per core by
default). For each figure it prints disturbed / quiet for the median in milliseconds and
for the ratio to each kernel: a reference fits a figure when its ratio moves less than
the milliseconds do (the closer to 1.00, the better the disturbance cancels).

Run (on an otherwise idle machine): ``python benchmarks/bench_reference_fit.py``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch

from suite.budget import Budget, build_matched
from suite.input_spec import InputSpec
from suite.measure.latency import time_rounds
from suite.measure.reference import reference_kernel

CPU = torch.device("cpu")


def figures(model: torch.nn.Module, example: torch.Tensor, min_run_time: float) -> dict[str, float]:
    """Median ms and the median ratio to each reference kernel (timed in rounds with that kernel)."""
    out: dict[str, float] = {}
    with torch.inference_mode():
        for kind in ("overhead", "compute"):
            rounds = time_rounds(lambda: model(example), reference_kernel(kind, CPU), threads=1, min_run_time=min_run_time)
            out[f"ms ({kind} rounds)"] = float(np.median(rounds.times_ms))
            out[f"÷ {kind}"] = float(np.median(rounds.relative()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn1d,cnn2d,tcn,lstm,transformer,dscnn")
    parser.add_argument("--params", default="100k")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--min-run-time", type=float, default=0.3)
    args = parser.parse_args()
    spec = InputSpec()
    cases = []
    for name in args.models.split(","):
        built = build_matched(name, spec, Budget.parse("params", args.params), 10)
        assert built.model is not None
        built.model.eval()
        for batch in (1, 32):
            cases.append((name, batch, built.model, torch.randn(batch, *built.spec.shape)))
    quiet = [figures(model, x, args.min_run_time) for _, _, model, x in cases]
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners)]
    try:
        time.sleep(1)
        busy = [figures(model, x, args.min_run_time) for _, _, model, x in cases]
    finally:
        for burner in burners:
            burner.kill()
    keys = ["ms (overhead rounds)", "÷ overhead", "÷ compute"]
    print(f"{args.burners} burner(s); disturbed / quiet (1.00 = the disturbance cancelled)")
    print(f"{'family':12s} {'batch':>5s} " + " ".join(f"{k:>20s}" for k in keys))
    for (name, batch, _, _), q, b in zip(cases, quiet, busy, strict=True):
        print(f"{name:12s} {batch:>5d} " + " ".join(f"{b[k] / q[k]:>20.2f}" for k in keys))


if __name__ == "__main__":
    main()
