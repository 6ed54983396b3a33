"""Edit results folders built by :mod:`tests.report_fixtures`, to stage A/A and A/B comparisons.

Each helper rewrites ``trials.jsonl`` in place, record by record, as if the run had
measured something else: jittered times (an unchanged model on a noisy machine), slower
times (a regression), a slower machine (every time and the reference kernel scaled),
an accuracy drop or a parameter change.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

Record = dict[str, Any]


def edit_trials(run_dir: Path, edit: Callable[[Record], None]) -> Path:
    """Apply ``edit`` to every record of ``run_dir/trials.jsonl`` and write it back."""
    path = run_dir / "trials.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        edit(record)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return run_dir


def _rescale(timing: Record, time_factor: Callable[[], float], reference_factor: float) -> None:
    timing["times_ms"] = [t * time_factor() for t in timing["times_ms"]]
    ordered = sorted(timing["times_ms"])
    timing["median_ms"] = ordered[len(ordered) // 2]
    timing["reference_ms"] *= reference_factor
    if timing.get("reference_rounds_ms"):  # the reference of every round, as the timer records it
        timing["reference_rounds_ms"] = [r * reference_factor for r in timing["reference_rounds_ms"]]
        blocks = zip(timing["times_ms"], timing["block_rounds"], strict=True)
        relative = sorted(t / timing["reference_rounds_ms"][r] for t, r in blocks)
        timing["latency_rel"] = relative[len(relative) // 2]
    else:
        timing["latency_rel"] = timing["median_ms"] / timing["reference_ms"]


def jitter_times(run_dir: Path, seed: int, amount: float = 0.05) -> Path:
    """Multiply every raw time by an independent factor in ``1 +- amount``: the same model, measured again."""
    rng = random.Random(seed)

    def edit(record: Record) -> None:
        for timing in record.get("timings") or []:
            _rescale(timing, lambda: rng.uniform(1 - amount, 1 + amount), 1.0)

    return edit_trials(run_dir, edit)


def slow_down(run_dir: Path, factor: float, models: set[str] | None = None, reference_factor: float = 1.0) -> Path:
    """Scale the times of ``models`` (all when ``None``) by ``factor`` and the reference kernel by ``reference_factor``."""

    def edit(record: Record) -> None:
        if models is None or record["model"] in models:
            for timing in record.get("timings") or []:
                _rescale(timing, lambda: factor, reference_factor)
            if "latency_ms" in record:
                record["latency_ms"] *= factor

    return edit_trials(run_dir, edit)


def set_field(run_dir: Path, model: str, field: str, change: Callable[[Any], Any]) -> Path:
    """Replace ``field`` of every trial of ``model`` by ``change(old value)``."""

    def edit(record: Record) -> None:
        if record["model"] == model and field in record:
            record[field] = change(record[field])

    return edit_trials(run_dir, edit)


def relabel_machine(run_dir: Path, cpu: str, models: set[str] | None = None) -> Path:
    """Say the run came from another machine (the manifest's CPU model, and the machine each record names).

    With ``models``, only their records say so (trials a Ray run measured on another node); the manifest stays.
    """
    if models is None:
        path = run_dir / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest["environment"]["cpu"] = cpu
        path.write_text(json.dumps(manifest))

    def edit(record: Record) -> None:
        if "machine" in record and (models is None or record["model"] in models):
            record["machine"] = f"{cpu}, {record['machine'].split(', ', 1)[1]}"

    return edit_trials(run_dir, edit)
