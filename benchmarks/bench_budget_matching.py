"""Time the budget matcher: every family x three budgets, for params and for MACs.

Run: ``python benchmarks/bench_budget_matching.py``. The goal (issue 2) is under 30 s
for 14 families x 3 budgets on a 2-core CPU; the script prints the wall time of each
sweep with a cold cache, and how many widths were counted.
"""

from __future__ import annotations

import os
import time

import torch

from suite.budget import Budget, _count, match_budget
from suite.input_spec import InputSpec
from suite.models import list_models

SWEEPS = {"params": ["25k", "100k", "400k"], "macs": ["2M", "10M", "50M"]}


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    for kind, targets in SWEEPS.items():
        _count.cache_clear()  # cold: nothing counted before this sweep
        start = time.perf_counter()
        matches = [match_budget(name, InputSpec(), Budget.parse(kind, t)) for name in list_models() for t in targets]
        seconds = time.perf_counter() - start
        ok = sum(m.status == "ok" for m in matches)
        evaluations = sum(m.evaluations for m in matches)
        print(
            f"{kind:6s}: {len(matches)} matches ({len(list_models())} families x {len(targets)} budgets) "
            f"in {seconds:5.2f} s, {evaluations} widths counted, {ok} ok, {len(matches) - ok} infeasible"
        )


if __name__ == "__main__":
    main()
