"""Writing a run's folder as trials finish, and the one tolerant reader of ``trials.jsonl``.

``trials.jsonl`` is an append-only log: one line per finished trial, flushed and synced
to disk before the next trial's result is taken. A trial retried later (``--resume
--retry-failed``) gets a new line; the later line of a ``trial_id`` supersedes the
earlier. Files that are rewritten (``manifest.json``, ``results.csv``: the latest record
of each trial, in the planned order) go to a temporary file first and are renamed over
the old one, so a crash leaves either the old or the new version, never half of one.
An append that fails (disk full, a file-size limit) is cut back, so the log holds whole
lines; a crash in the middle of one can still leave a partial last line. Readers skip any
line that is not a record (partial, not UTF-8, not JSON) with a note naming it; resuming
the run moves such lines to ``trials.jsonl.rejected`` (appended to, never overwritten)
and writes the log anew without them.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.errors import SuiteError
from suite.fileio import append_line, atomic_write
from suite.metrics import FLOPS, METRICS, QUANTIZE_METHODS, int8_dtype

#: Version of the folder's layout, in the manifest as ``results_format``. 2: trial ids
#: cover tolerance and error policy, the manifest records the executor (folders
#: without the key are format 1: readable by report and compare, not resumable).
RESULTS_FORMAT = 2

#: Flat columns of results.csv, in order: the trial's identity, every metric (flops aside: it is
#: 2 x MACs, in trials.jsonl only), then how it went; keys a record lacks are left empty.
RESULT_COLUMNS = (
    "trial_id",
    "model",
    "dataset",
    "protocol",
    "fold",  # the test fold of a cross-validation trial (suite.crossval); empty otherwise
    "feature",
    "budget_kind",
    "budget",
    "seed",
    "width",
    *(metric for metric in METRICS if metric is not FLOPS),
    "latency_stability",
    # What deployment made of it (suite.deploy): exporter, int8 operations left in float32, failed steps.
    "onnx_exporter",
    *(f"float_ops_{int8_dtype(method)}" for method in QUANTIZE_METHODS),
    "deploy_error",
    "device",
    "status",
    "error",
)


#: Digits of the largest float (about 1.8e308): a longer integer fits no float, and every reader turns figures into floats.
MAX_INT_DIGITS = 309
#: Where resuming moves the lines of ``trials.jsonl`` that are not records.
REJECTED_SUFFIX = ".rejected"


def rejected_path(run_dir: Path) -> Path:
    """Where resuming ``run_dir`` keeps the lines of its ``trials.jsonl`` that are not records."""
    return run_dir / f"trials.jsonl{REJECTED_SUFFIX}"


class ResultsWriteError(SuiteError):
    """A file of the results folder could not be written (disk full, a file-size limit, permissions).

    Attributes:
        path: The file.
        saved: Whether the trial record being written reached ``trials.jsonl``.
    """

    def __init__(self, path: Path, error: OSError, saved: bool = True) -> None:
        super().__init__(f"cannot write {path}: {error.strerror or error}")
        self.path, self.saved = path, saved


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (see :func:`suite.fileio.atomic_write`).

    Raises:
        ResultsWriteError: naming the file and the cause, when the system refuses the write.
    """
    try:
        with atomic_write(path) as out:
            out.write(text)
    except OSError as error:
        raise ResultsWriteError(path, error) from None


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
        except OSError as error:  # a read-only --out: one line, not a traceback
            raise SuiteError(f"cannot create the run folder {candidate}: {error.strerror or error}") from None
    raise FileExistsError(f"no free run folder for {name}-{stamp} in {out}")


@dataclass
class TrialLog:
    """What :func:`read_trial_lines` found in a ``trials.jsonl``.

    Attributes:
        records: Every record, in file order.
        rejected: ``(line number, what is wrong with it)`` of each line that is not a record.
        lines: The raw bytes of every line (newline included), in file order, for rewriting.
        good: Line numbers of the records, in the order of ``records``.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    good: list[int] = field(default_factory=list)

    def notes(self, name: str = "trials.jsonl") -> list[str]:
        """One line per rejected line: ``line 3 of trials.jsonl is incomplete (a crash mid-write?)``."""
        return [f"line {number} of {name} {problem}" for number, problem in self.rejected]

    def summary(self) -> str:
        """The rejected lines in a few words (see :func:`describe_rejected`)."""
        return describe_rejected(self.rejected)


def describe_rejected(rejected: Sequence[tuple[int, str]], shown: int = 3) -> str:
    """``line 3 is incomplete (a crash mid-write?); line 7 is not UTF-8 (...); and 4 more``."""
    parts = [f"line {number} {problem}" for number, problem in rejected[:shown]]
    more = len(rejected) - shown
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _int_or_infinity(text: str) -> int | float:
    """A JSON integer; one that fits no float (past about 1.8e308) is read as infinite.

    Readers turn figures into floats, where such an integer raises ``OverflowError`` (and
    one of more than 4,300 digits does not even parse); as infinity it is a figure that
    is not finite, which the report notes and ``compare`` treats as unknown.
    """
    if len(text.lstrip("-")) <= MAX_INT_DIGITS:
        value = int(text)
        with contextlib.suppress(OverflowError):
            float(value)
            return value
    return -math.inf if text.startswith("-") else math.inf


def _parse_line(raw: bytes, last: bool) -> tuple[dict[str, Any] | None, str]:
    """The record on one line, or ``None`` and what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"is not UTF-8 (byte {raw[error.start]:#04x} at column {error.start + 1})"
    try:
        record = json.loads(text, parse_int=_int_or_infinity)
    except ValueError:
        # The writer syncs whole lines and cuts back a failed append: only a crash mid-append leaves a partial last line.
        return None, "is incomplete (a crash mid-write?)" if last and not raw.endswith(b"\n") else "is not valid JSON"
    if not isinstance(record, dict):
        return None, f"is not a record (a JSON {type(record).__name__}, not an object)"
    return record, ""


def read_trial_lines(path: Path) -> TrialLog:
    """Read a ``trials.jsonl``: its records and the lines that are not one, with what is wrong with each.

    A missing file is an empty log. A line is rejected when it is not UTF-8, not JSON or
    not a JSON object; an integer that fits no float is read as infinite (see
    :func:`_int_or_infinity`).

    Raises:
        SuiteError: naming the file, when it exists but cannot be read (permissions, an I/O error).
    """
    log = TrialLog()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return log
    except OSError as error:
        raise SuiteError(f"cannot read {path}: {error.strerror or error}") from None
    log.lines = data.splitlines(keepends=True)
    for number, raw in enumerate(log.lines, start=1):
        if not raw.strip():
            continue
        record, problem = _parse_line(raw, last=number == len(log.lines))
        if record is None:
            log.rejected.append((number, problem))
        else:
            log.records.append(record)
            log.good.append(number)
    return log


def read_trial_log(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Every record of a ``trials.jsonl`` and the numbers of the lines that are not one.

    Each line that is not a record is skipped with one warning naming the file and the
    lines (see :func:`read_trial_lines`).

    Raises:
        SuiteError: when the file exists but cannot be read.
    """
    log = read_trial_lines(path)
    if log.rejected:
        warnings.warn(f"{path}: {log.summary()}; ignored", stacklevel=2)
    return log.records, [number for number, _ in log.rejected]


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

    def reopen(self) -> list[tuple[int, str]]:
        """Take up an existing folder: read its trials, move the lines that are not records aside, tidy up.

        Every line of ``trials.jsonl`` that is not a record (see :func:`read_trial_lines`)
        is appended, as it was, to ``trials.jsonl.rejected`` (synced) before the log is
        rewritten without it: appending after a partial line would glue the next record
        onto it, and no line is ever dropped without a copy.

        Returns:
            list[tuple[int, str]]: ``(line number, what was wrong)`` of each line moved to
            ``trials.jsonl.rejected`` (see :func:`rejected_path`).

        Raises:
            SuiteError: when ``trials.jsonl`` cannot be read; :class:`ResultsWriteError` when a file cannot be written.
        """
        path = self.run_dir / "trials.jsonl"
        log = read_trial_lines(path)
        self.latest = latest_records(log.records)
        if log.rejected:
            rejected = rejected_path(self.run_dir)
            moved = b"".join(log.lines[number - 1].rstrip(b"\n") + b"\n" for number, _ in log.rejected)
            try:
                append_line(rejected, moved)  # the copy is on disk before the lines leave the log
            except OSError as error:
                raise ResultsWriteError(rejected, error) from None
            kept = "".join(log.lines[number - 1].decode("utf-8").rstrip("\n") + "\n" for number in log.good)
            write_atomically(path, kept)
        for leftover in self.run_dir.glob(".*.part"):  # temporary files of a writer killed mid-rename
            with contextlib.suppress(OSError):
                leftover.unlink()
        write_atomically(self.run_dir / "results.csv", results_csv(self.records))  # it may lag the log by one trial
        return log.rejected

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        write_atomically(self.run_dir / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")

    def add_trial(self, record: Mapping[str, Any]) -> None:
        """Append the trial to ``trials.jsonl`` (synced) and rewrite ``results.csv``.

        Raises:
            ResultsWriteError: naming the file and the cause (``saved`` says whether the
                record reached ``trials.jsonl``; a failed append leaves no part of it).
        """
        line = json.dumps(record, default=str) + "\n"  # serialise first: a failure here writes nothing
        log = self.run_dir / "trials.jsonl"
        new = not log.exists()
        try:
            append_line(log, line.encode("utf-8"))
        except OSError as error:
            raise ResultsWriteError(log, error, saved=False) from None
        if new:
            try:
                _sync_folder(self.run_dir)  # the new file's name must survive a power cut too
            except OSError as error:
                raise ResultsWriteError(self.run_dir, error) from None
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
