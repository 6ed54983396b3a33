"""The results folder: ``manifest.json``, ``trials.jsonl`` and ``results.csv``.

``trials.jsonl`` is append-only: one line per finished trial, flushed and synced to
disk before the next trial starts. Files that are rewritten (``manifest.json``,
``results.csv``) go to a temporary file first and are renamed over the old one, so a
crash leaves either the old or the new version, never half of one.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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
    "device",
    "status",
    "error",
)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` through a temporary file and a rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def new_run_dir(out: Path, name: str, stamp: str) -> Path:
    """A fresh folder ``out/<name>-<stamp>`` (``-2``, ``-3``... if taken): saved runs are never overwritten."""
    out.mkdir(parents=True, exist_ok=True)
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
        with (self.run_dir / "trials.jsonl").open("a") as out:
            out.write(json.dumps(record, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.records.append(dict(record))
        write_atomically(self.run_dir / "results.csv", results_csv(self.records))


def results_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """The flat ``results.csv`` text of ``records``."""
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
