"""Resuming a run folder: which folder, whether it may be resumed, which trials are done.

A run is resumed by naming its folder (``--resume RUN_DIR``), by ``--resume`` alone (the
latest run of the same config under ``--out``; a new run when there is none, so the
same command can be repeated until a run is complete) or by giving the run folder
itself as ``--out``. The folder must hold trials of the same config (the description
and ``trial_timeout`` may change), over the same data (the same files, labels and
splits, and the same bytes in each file: modification times may differ, as in a fresh
clone), written in the current results format; anything else is refused in one line
rather than mixed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.config import RunConfig
from suite.errors import SuiteError
from suite.results import RESULTS_FORMAT, read_manifest

#: Config keys a resumed run may change: they alter no trial's result.
MUTABLE_KEYS = ("description", "trial_timeout")
DONE = ("ok", "infeasible")


@dataclass
class ResumePlan:
    """Where the run goes and what counts as done.

    Attributes:
        run_dir: The folder to resume, or ``None`` for a new run.
        manifest: Its manifest, or ``None`` for a new run.
        retry_failed: Whether ``failed`` trials are run again.
        rejected: ``(line number, what was wrong)`` of the lines of ``trials.jsonl`` that
            reopening the folder moved to ``trials.jsonl.rejected`` (set by the run).
    """

    run_dir: Path | None = None
    manifest: dict[str, Any] | None = None
    retry_failed: bool = False
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def is_done(self, record: dict[str, Any]) -> bool:
        """``ok`` and ``infeasible`` trials are done; ``failed`` ones too unless retried."""
        status = record.get("status")
        return status in DONE or (status == "failed" and not self.retry_failed)


def _is_run(folder: Path) -> bool:
    return (folder / "manifest.json").is_file()


def _latest_run(out: Path, name: str) -> Path | None:
    """The run folder of config ``name`` under ``out`` started last, if any."""
    if not out.is_dir():
        return None
    candidates = []
    for folder in out.glob(f"{name}-*"):
        if folder.is_dir() and _is_run(folder):
            manifest = read_manifest(folder, notes=[])
            if manifest.get("name") == name:
                candidates.append((str(manifest.get("started") or ""), folder.name, folder))
    return max(candidates)[2] if candidates else None


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _config_difference(stored: dict[str, Any], current: dict[str, Any]) -> str | None:
    """The first key whose value differs (``training.epochs: 2 there, 3 now``), or ``None``."""
    for key in sorted(set(stored) | set(current)):
        if key in MUTABLE_KEYS or stored.get(key) == current.get(key):
            continue
        old, new = stored.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            inner = _config_difference(old, new)
            if inner:
                return f"{key}.{inner}"
        return f"{key}: {_short(old)} there, {_short(new)} now"
    return None


def check_resumable(folder: Path, manifest: dict[str, Any], config: RunConfig, description: dict[str, Any]) -> None:
    """Refuse, in one line, a folder of another format, config or data set.

    Raises:
        SuiteError: naming the folder and what differs.
    """
    found = manifest.get("results_format", 1)
    if found != RESULTS_FORMAT:
        age = "an older" if isinstance(found, int) and found < RESULTS_FORMAT else "another"
        raise SuiteError(
            f"cannot resume {folder}: it was written by {age} version of the suite (results format {found}, "
            f"this version writes {RESULTS_FORMAT}); start a new run (leave out --resume), reports still read it"
        )
    stored = manifest.get("config")
    current = json.loads(json.dumps(config.model_dump(mode="json"), default=str))
    difference = _config_difference(stored if isinstance(stored, dict) else {}, current)
    if difference:
        raise SuiteError(
            f"cannot resume {folder}: it holds trials of a different config ({difference}); "
            "resume it with its own config, or start a new run (leave out --resume)"
        )
    stored_data = manifest.get("dataset") or {}
    old_digest = stored_data.get("digest")
    if old_digest and old_digest != description.get("digest"):
        raise SuiteError(
            f"cannot resume {folder}: the data set changed since it started (content digest {old_digest[:12]} there, "
            f"{str(description.get('digest'))[:12]} now); start a new run"
        )
    # The files' bytes, not their times: a fresh clone resumes, a file rewritten at the same size does not.
    old_files = stored_data.get("files_sha256")
    if old_files and old_files != description.get("files_sha256"):
        raise SuiteError(
            f"cannot resume {folder}: the bytes of the data files differ from those it started on (sha256 {old_files[:12]} "
            f"there, {str(description.get('files_sha256'))[:12]} now); point --data-root at the same data, or start a new run"
        )


def plan_resume(
    out: Path,
    config: RunConfig,
    description: dict[str, Any],
    trial_ids: list[str],
    resume: str | Path | bool | None,
    retry_failed: bool,
) -> ResumePlan:
    """Decide where the run goes (see the module docstring) and check that it may go there."""
    if isinstance(resume, str | Path) and not isinstance(resume, bool):
        folder = Path(resume)
        if not folder.is_dir():
            raise SuiteError(f"cannot resume {folder}: no such folder")
        if not _is_run(folder):
            raise SuiteError(f"cannot resume {folder}: it holds no manifest.json, so it is not a run folder of `suite run`")
    elif resume:
        folder = _latest_run(out, config.name)  # type: ignore[assignment]
        if folder is None:
            return ResumePlan(retry_failed=retry_failed)  # nothing to resume: a new run
    elif _is_run(out):
        folder = out  # `--out RUN_DIR`: re-running into the same folder resumes it
    else:
        if retry_failed:
            raise SuiteError("--retry-failed only applies when resuming a run (add --resume)")
        return ResumePlan()
    manifest = dict(read_manifest(folder, purpose="resume"))
    check_resumable(folder, manifest, config, description)
    return ResumePlan(folder, manifest, retry_failed)
