"""Does the CI gate trust what it should? A/A false alarms and A/B detections of `suite compare`.

One BASE run of ``configs/ci.yaml`` (training shortened to ``--epochs``: the gate's
latency judgement is what is checked here, and training is deterministic on CPU), then
``--repeats`` A runs (the same config again) and ``--repeats`` B runs, alternating A, B,
A, B so that machine noise hits both alike. In the B runs one model is made slower by a
test-only wrapper that busy-waits for ``--slowdown`` (default 20 %) of that model's
BASE median latency after every forward pass. Each run is compared with BASE exactly
as ``suite compare BASE NEW`` does, with the default thresholds.

Wanted: no A run reports any regression (false-alarm rate 0), and every B run reports
the slowed model's model-scope latency as ``regressed``.

Run: ``python benchmarks/bench_compare_gate.py --data-root ../shared/data``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import yaml
from torch import nn

import suite.profile
from suite.compare import DEFAULT_FAIL_ON, compare_paths
from suite.config import parse_config
from suite.run import run_config


class BusyWait(nn.Module):
    """``model`` followed by ``seconds`` of busy-waiting: extra work of a known duration per call."""

    def __init__(self, model: nn.Module, seconds: float) -> None:
        super().__init__()
        self.model, self.seconds = model, seconds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        end = time.perf_counter() + self.seconds
        while time.perf_counter() < end:
            pass
        return out


@contextmanager
def slowed(name: str, seconds: float) -> Iterator[None]:
    """Build family ``name`` wrapped in :class:`BusyWait` while the block runs."""
    original = suite.profile.create_model

    def create(family: str, *args: object, **kwargs: object) -> nn.Module:
        model = original(family, *args, **kwargs)  # type: ignore[arg-type]
        return BusyWait(model, seconds) if family == name else model

    suite.profile.create_model = create  # type: ignore[assignment]
    try:
        yield
    finally:
        suite.profile.create_model = original


def headline_ms(run_dir: Path, model: str) -> float:
    for line in (run_dir / "trials.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["model"] == model:
            return float(record["latency_ms"])
    raise LookupError(f"{model} is not in {run_dir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/ci.yaml")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="cnn1d", help="the family made slower in the B runs")
    parser.add_argument("--slowdown", type=float, default=0.20)
    parser.add_argument("--base-runs", type=int, default=1, help="runs pooled into BASE (a baseline folder of several runs)")
    parser.add_argument("--out", default=None, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    data = yaml.safe_load(Path(args.config).read_text())
    data["training"]["epochs"] = args.epochs
    config = parse_config(data, args.config)
    out = Path(args.out or tempfile.mkdtemp(prefix="gate-"))

    def one_run(folder: Path) -> Path:
        return run_config(config, source=args.config, data_root=args.data_root, out=folder, progress=False)

    bases = [one_run(out / "base") for _ in range(args.base_runs)]
    base = out / "base"
    extra = args.slowdown * sorted(headline_ms(b, args.model) for b in bases)[len(bases) // 2] / 1000
    print(f"BASE: {len(bases)} run(s) pooled; B runs add {extra * 1e6:.0f} us busy-wait to every {args.model} forward")
    print(f"thresholds: {DEFAULT_FAIL_ON.describe()}")
    print(f"{'run':4s} {'regressed':>9s} {'improved':>8s} {'unchanged':>9s}  {args.model} latency (model scope, b1)")
    false_alarms, detections = 0, 0
    for repeat in range(args.repeats):
        for kind in ("A", "B"):
            if kind == "A":
                new = one_run(out / "new")
            else:
                with slowed(args.model, extra):
                    new = one_run(out / "new")
            comparison = compare_paths(base, new, DEFAULT_FAIL_ON)
            target = next(r for r in comparison.rows if r["model"] == args.model and r["metric"].startswith("latency cpu b1"))
            counts = " ".join(f"{comparison.count(v):>{w}d}" for v, w in (("regressed", 9), ("improved", 8), ("unchanged", 9)))
            print(f"{kind}{repeat + 1:<3d} {counts}  {target['verdict']}: {target['detail']}", flush=True)
            for row in comparison.rows:
                if row["verdict"] in ("regressed", "improved") and row is not target:
                    print(f"       also {row['verdict']}: {row['model']} {row['metric']} ({row['detail']})")
            if kind == "A":
                false_alarms += comparison.exit_code
            else:
                detections += target["verdict"] == "regressed"
    print(f"A/A: {false_alarms} of {args.repeats} comparisons reported a regression (false alarms)")
    print(f"A/B: {detections} of {args.repeats} comparisons reported {args.model} regressed")


if __name__ == "__main__":
    main()
