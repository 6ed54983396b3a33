"""The results folder, and its one owner: ``manifest.json``, ``trials.jsonl`` and ``results.csv``.

- :mod:`suite.results.folder`: writing a run's folder as trials finish (:class:`RunWriter`)
  and the one tolerant reader of ``trials.jsonl`` (:func:`read_trial_lines`);
- :mod:`suite.results.manifest`: the typed manifest and its one reader (:func:`read_manifest`);
- :mod:`suite.results.load`: results folders as tables (trials, curves, timings), what
  the report, ``suite compare`` and ``suite history`` read.

Resume, report, compare and history read a results folder only through this package.
"""

from suite.results.folder import (
    MAX_INT_DIGITS,
    REJECTED_SUFFIX,
    RESULT_COLUMNS,
    RESULTS_FORMAT,
    ResultsWriteError,
    RunWriter,
    TrialLog,
    describe_rejected,
    latest_records,
    new_run_dir,
    read_trial_lines,
    read_trial_log,
    rejected_path,
    results_csv,
    write_atomically,
)
from suite.results.manifest import MANIFEST, Manifest, read_manifest

__all__ = [
    "MANIFEST",
    "MAX_INT_DIGITS",
    "REJECTED_SUFFIX",
    "RESULTS_FORMAT",
    "RESULT_COLUMNS",
    "Manifest",
    "ResultsWriteError",
    "RunWriter",
    "TrialLog",
    "describe_rejected",
    "latest_records",
    "new_run_dir",
    "read_manifest",
    "read_trial_lines",
    "read_trial_log",
    "rejected_path",
    "results_csv",
    "write_atomically",
]
