"""The results folder: ``manifest.json``, ``trials.jsonl`` and ``results.csv``.

``trials.jsonl`` is an append-only log: one line per finished trial, flushed and synced
to disk before the next trial's result is taken. A trial retried later (``--resume
--retry-failed``) gets a new line; the later line of a ``trial_id`` supersedes the
earlier. Files that are rewritten (``manifest.json``, ``results.csv``: the latest record
of each trial, in the planned order) go to a temporary file first and are renamed over
the old one, so a crash leaves either the old or the new version, never half of one.
A crash in the middle of an append can leave a partial last line; readers skip it with
a warning, and resuming the run drops it (by writing the file anew and renaming).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from suite.errors import SuiteError
from suite.fileio import atomic_write

#: Version of the folder's layout, in the manifest as ``results_format``. 2: trial ids
#: cover tolerance and error policy, the manifest records the executor (folders
#: without the key are format 1: readable by report and compare, not resumable).
RESULTS_FORMAT = 2

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
    "latency_min_ms",
    "latency_e2e_ms",
    "latency_iqr_ms",
    "latency_rel",
    "throughput",
    "gflops_achieved",
    "matmul_gflops",
    "peak_mem_infer_mb",
    "peak_mem_train_mb",
    "latency_stability",
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


def read_trial_log(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Every record of a ``trials.jsonl`` and the numbers of the lines that are not one.

    Only a crash in the middle of an append leaves such a line (the writer syncs whole
    lines), so it is skipped with a warning naming the file and the line.
    """
    records: list[dict[str, Any]] = []
    damaged: list[int] = []
    if not path.is_file():
        return records, damaged
    for number, line in enumerate(path.read_bytes().decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            damaged.append(number)
    if damaged:
        warnings.warn(
            f"{path}: line {', '.join(map(str, damaged))} is incomplete (a crash mid-write?) and was ignored", stacklevel=2
        )
    return records, damaged


def latest_records(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each ``trial_id`` (a retried trial's new record supersedes its old one)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        key = str(record.get("trial_id"))
        latest.pop(key, None)  # re-insert: the order is that of the latest records
        latest[key] = dict(record)
    return latest


class RunWriter:
    """Writes one run's folder as trials finish.

    Args:
        run_dir (Path): The run folder (it exists).
        order (Sequence[str], optional): Trial ids in the planned order; ``results.csv``
            lists trials in this order, whatever order they finish in (any executor).
    """

    def __init__(self, run_dir: Path, order: Sequence[str] = ()) -> None:
        self.run_dir = run_dir
        self.order = {trial_id: index for index, trial_id in enumerate(order)}
        self.latest: dict[str, dict[str, Any]] = {}
        self._lock: int | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        """The latest record of every trial written so far, in the planned order."""
        return sorted(self.latest.values(), key=lambda r: self.order.get(str(r.get("trial_id")), len(self.order)))

    def lock(self) -> None:
        """Hold an exclusive lock on the folder until :meth:`close` (or the process ends, even by SIGKILL).

        Raises:
            SuiteError: if another ``suite run`` holds it: two drivers would run trials twice.
        """
        handle = os.open(self.run_dir, os.O_RDONLY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise SuiteError(f"{self.run_dir} is in use by another `suite run`; wait for it to end or stop it") from None
        self._lock = handle

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def reopen(self) -> list[int]:
        """Take up an existing folder: read its trials, drop a partial last line, tidy up.

        Returns:
            list[int]: Numbers of the damaged lines that were dropped (a warning names them).
        """
        log = self.run_dir / "trials.jsonl"
        records, damaged = read_trial_log(log)
        if damaged:  # appending after a partial line would glue the next record onto it
            write_atomically(log, "".join(json.dumps(record, default=str) + "\n" for record in records))
        for leftover in self.run_dir.glob(".*.part"):  # temporary files of a writer killed mid-rename
            with contextlib.suppress(OSError):
                leftover.unlink()
        self.latest = latest_records(records)
        write_atomically(self.run_dir / "results.csv", results_csv(self.records))  # it may lag the log by one trial
        return damaged

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_atomically(self.run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")

    def add_trial(self, record: Mapping[str, Any]) -> None:
        """Append the trial to ``trials.jsonl`` (synced) and rewrite ``results.csv``."""
        line = json.dumps(record, default=str) + "\n"  # serialise first: a failure here writes nothing
        log = self.run_dir / "trials.jsonl"
        new = not log.exists()
        with log.open("a") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        if new:
            _sync_folder(self.run_dir)  # the new file's name must survive a power cut too
        self.latest.pop(str(record.get("trial_id")), None)
        self.latest[str(record.get("trial_id"))] = dict(record)
        write_atomically(self.run_dir / "results.csv", results_csv(self.records))


def _sync_folder(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def results_csv(records: Iterable[Mapping[str, Any]]) -> str:
    """The flat ``results.csv`` text of ``records``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()
