"""Time `suite report` on 500 synthetic trials (the issue's bound: under 30 s).

Builds a results folder as `suite run` writes it (every family x 3 parameter budgets
x 4 MAC budgets x 5 seeds, with curves, confusion matrices and every timing, minus a
few to make 500), then times :func:`suite.reporting.write_report` end to end: loading,
aggregating, 7 plots written as PNG and SVG, HTML and Markdown.

    python benchmarks/bench_report.py [--trials 500] [--repeat 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.report_fixtures

from suite.reporting import write_report
from tests.report_fixtures import FAMILIES, build_run

BUDGETS = [("params", 25_000), ("params", 100_000), ("params", 400_000),
           ("macs", 2_000_000), ("macs", 10_000_000), ("macs", 50_000_000)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500, help="trials in the synthetic run (default 500)")
    parser.add_argument("--repeat", type=int, default=1, help="reports to time (default 1)")
    args = parser.parse_args()
    seeds = list(range(-(-args.trials // (len(FAMILIES) * len(BUDGETS)))))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run = build_run(Path(folder) / "results", models=list(FAMILIES), budgets=BUDGETS, seeds=seeds, n_done=args.trials,
                        status="running" if args.trials < len(FAMILIES) * len(BUDGETS) * len(seeds) else "complete",
                        failed=[("rnn", 0)], infeasible=[("samplecnn", 2_000_000)])  # fmt: skip
        print(f"built {args.trials} trials in {time.perf_counter() - start:.1f} s")
        for attempt in range(args.repeat):
            start = time.perf_counter()
            report = write_report([run], out=Path(folder) / f"report-{attempt}")
            seconds = time.perf_counter() - start
            plots = sum(p.suffix == ".png" for p in report.files)
            print(f"report of {len(report.results.trials)} trials: {seconds:.1f} s ({plots} plots, PNG and SVG)")


if __name__ == "__main__":
    main()
