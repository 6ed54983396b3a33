"""The results folder: ``manifest.json``, ``trials.jsonl`` and ``results.csv``.

``trials.jsonl`` is append-only: one line per finished trial, flushed and synced to
disk before the next trial starts. Files that are rewritten (``manifest.json``,
``results.csv``) go to a temporary file first and are renamed over the old one, so a
crash leaves either the old or the new version, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from suite.errors import SuiteError
from suite.fileio import atomic_write

#: Flat columns of results.csv, in order; keys a record lacks are left empty.
RESULT_COLUMNS = (
    "trial_id",
    "model",
    "dataset",
    "protocol",
    "feature",
    "budget_kind",
    "budget",
    "seed",
    "width",
    "params",
    "macs",
    "model_bytes",
    "budget_error",
    "accuracy",
    "macro_f1",
    "epochs",
    "best_epoch",
    "train_seconds",
    "samples_per_second",
    "latency_ms",
    "latency_e2e_ms",
    "latency_iqr_ms",
    "latency_rel",
    "throughput",
    "gflops_achieved",
    "peak_gflops",
    "peak_mem_infer_mb",
    "peak_mem_train_mb",
    "device",
    "status",
    "error",
)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (see :func:`suite.fileio.atomic_write`)."""
    with atomic_write(path) as out:
        out.write(text)


def new_run_dir(out: Path, name: str, stamp: str) -> Path:
    """A fresh folder ``out/<name>-<stamp>`` (``-2``, ``-3``... if taken): saved runs are never overwritten."""
    if out.exists() and not out.is_dir():
        raise SuiteError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SuiteError(f"cannot create the results folder {out}: {error.strerror or error}") from None
    for attempt in range(1, 1000):
        candidate = out / (f"{name}-{stamp}" if attempt == 1 else f"{name}-{stamp}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise FileExistsError(f"no free run folder for {name}-{stamp} in {out}")


class RunWriter:
    """Writes one run's folder as trials finish."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.records: list[dict[str, Any]] = []

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_atomically(self.run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")

    def add_trial(self, record: Mapping[str, Any]) -> None:
        """Append the trial to ``trials.jsonl`` (synced) and rewrite ``results.csv``."""
        line = json.dumps(record, default=str) + "\n"  # serialise first: a failure here writes nothing
        self.records.append(dict(record))
        with (self.run_dir / "trials.jsonl").open("a") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        write_atomically(self.run_dir / "results.csv", results_csv(self.records))


def results_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """The flat ``results.csv`` text of ``records``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
