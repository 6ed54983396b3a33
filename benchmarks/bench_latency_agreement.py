"""Does the suite's latency agree with a direct ``torch.utils.benchmark`` measurement? And how stable is it?

For every family (at ``--params``, default input, CPU, batch 1, 1 thread), the suite's
median (:func:`suite.measure.latency.measure_latency`, model scope) is taken, then a
direct ``Timer.blocked_autorange`` of the same module and input right after it, in the
same process. On a shared machine one pair can differ by 20-30 % from noise alone, so
``--pairs`` such pairs are taken in ABBA order and the medians of each side are compared;
the ratio should be within 5 % of 1. Each pair's own ratio is summarised beside it (its
range, and in how many pairs the suite was slower), so that a gap from the host (a few
pairs, a wide range) can be told from one of the timer (every pair on one side of 1).
Then one model is measured ``--repeats`` times and the coefficient of variation of its
medians is printed.

Run: ``python benchmarks/bench_latency_agreement.py``
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch.utils.benchmark import Timer

from suite.budget import Budget, build_matched
from suite.input_spec import InputSpec
from suite.measure.latency import measure_latency
from suite.models import list_models


def suite_median(model: torch.nn.Module, spec: InputSpec, min_run_time: float) -> float:
    (timing,) = measure_latency(model, spec, batch_sizes=(1,), threads=(1,), scopes=("model",), min_run_time=min_run_time)
    return timing.median_ms


def direct_median(model: torch.nn.Module, example: torch.Tensor, min_run_time: float) -> float:
    with torch.inference_mode():
        timer = Timer(stmt="model(x)", globals={"model": model, "x": example}, num_threads=1)
        return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="100k")
    parser.add_argument("--min-run-time", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cv-model", default="cnn2d")
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--models", default=",".join(list_models()), help="comma-separated families")
    args = parser.parse_args()
    print(f"torch {torch.__version__}; CPU, batch 1, 1 thread, min_run_time {args.min_run_time} s, params={args.params}")
    print(f"medians of {args.pairs} (suite, direct) pairs per family, in ABBA order")
    print(f"{'model':12s} {'suite ms':>10s} {'direct ms':>10s} {'ratio':>7s}  {'pair ratios':>13s} {'suite slower':>12s}")
    ratios = []
    for name in args.models.split(","):
        built = build_matched(name, InputSpec(), Budget.parse("params", args.params), n_classes=10)
        model = built.model.eval()
        measure = {
            "suite": lambda m=model, b=built: suite_median(m, b.spec, args.min_run_time),
            "direct": lambda m=model, b=built: direct_median(m, b.spec.example(1), args.min_run_time),
        }
        medians: dict[str, list[float]] = {"suite": [], "direct": []}
        for pair in range(args.pairs):
            # ABBA order: whichever goes first in a pair (warmer caches, a turbo burst) alternates.
            for side in ("suite", "direct") if pair % 2 == 0 else ("direct", "suite"):
                medians[side].append(measure[side]())
        ours, theirs = statistics.median(medians["suite"]), statistics.median(medians["direct"])
        ratios.append(ours / theirs)
        # Each pair's own ratio: a gap that a burst of the host made shows in a few pairs and
        # a wide range; one the timer makes shows in every pair, on one side of 1.
        pairs = [a / b for a, b in zip(medians["suite"], medians["direct"], strict=True)]
        spread = f"{min(pairs):.2f}-{max(pairs):.2f}"
        slower = f"{sum(r > 1 for r in pairs)}/{len(pairs)}"
        print(f"{name:12s} {ours:10.4f} {theirs:10.4f} {ours / theirs:7.3f}  {spread:>13s} {slower:>12s}")
    worst = max(ratios, key=lambda r: abs(r - 1))
    print(f"largest deviation from 1: {worst:.3f} ({abs(worst - 1):.1%}); within 5 %: {all(abs(r - 1) <= 0.05 for r in ratios)}")
    built = build_matched(args.cv_model, InputSpec(), Budget.parse("params", args.params), n_classes=10)
    medians = [suite_median(built.model.eval(), built.spec, args.min_run_time) for _ in range(args.repeats)]
    cv = statistics.stdev(medians) / statistics.mean(medians)
    print(f"{args.cv_model}: {args.repeats} repeated medians, mean {statistics.mean(medians):.4f} ms, CV {cv:.2%}")


if __name__ == "__main__":
    main()
