"""A run's ``manifest.json``: what was run, how, on what and how it ended; the one reader of it.

Written by the run driver (:mod:`suite.runner`) and rewritten atomically as the run
goes; read by ``--resume`` (strictly: a manifest it cannot read stops the resume), and by
the report, ``suite compare`` and ``suite history`` (tolerantly: an unreadable manifest
becomes a note and an empty manifest, and the trials are still read).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from suite.errors import SuiteError

MANIFEST = "manifest.json"


class Manifest(TypedDict, total=False):
    """The keys of ``manifest.json`` (format 2; older folders lack some, and readers use ``.get``).

    Attributes:
        name: The config's name.
        results_format: The folder's layout version (:data:`suite.results.RESULTS_FORMAT`).
        config_source, config: Where the config came from, and the config itself.
        status: ``running``, ``complete``, ``interrupted`` or ``failed``; ``error`` says why it failed.
        started, ended: ISO times (UTC).
        trials_planned: How many trials the config expands to.
        device: The device asked for (resolved on the driver for the local executor).
        executor: The executor and its settings.
        environment: Versions, machine, git commit and state (:func:`suite.environment.environment`).
        dataset: Name, version, protocol, sizes and digest of the data.
        class_names: The classes, in the order of the model's outputs.
        input_spec: The front end's settings.
        mac_convention: How MACs are counted.
        features: Feature sets computed or read (the feature cache).
        resumed: One entry per resumption: when, which executor, what was left, and the
            environment it resumed in (versions, machine, git commit).
        machines: Every machine that wrote trials (:func:`contributors`).
    """

    name: str
    results_format: int
    config_source: str
    config: dict[str, Any]
    status: str
    error: str
    started: str
    ended: str | None
    trials_planned: int
    device: str
    executor: dict[str, Any]
    environment: dict[str, Any]
    dataset: dict[str, Any]
    class_names: list[str]
    input_spec: dict[str, Any]
    mac_convention: str
    features: dict[str, Any]
    resumed: list[dict[str, Any]]
    machines: list[dict[str, Any]]


def contributors(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every machine that wrote trials of a run, in order of first appearance.

    Each is ``{"host", "machine", "trials", "first", "last"}``: the host name and the
    machine's label as the trials recorded them, how many trials, and when the first and
    last of them ended (ISO, UTC). A run resumed on another machine lists both.
    """
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (str(record.get("host") or "unknown host"), str(record.get("machine") or "unknown machine"))
        ended = record.get("train_ended")
        when = datetime.fromtimestamp(ended, UTC).isoformat() if isinstance(ended, int | float) else None
        entry = seen.setdefault(key, {"host": key[0], "machine": key[1], "trials": 0, "first": when, "last": when})
        entry["trials"] += 1
        if when is not None:
            entry["first"] = min(filter(None, (entry["first"], when)))
            entry["last"] = max(filter(None, (entry["last"], when)))
    return list(seen.values())


def read_manifest(folder: Path, notes: list[str] | None = None, purpose: str | None = None) -> Manifest:
    """The manifest of the run folder ``folder``.

    Args:
        folder (Path): A run folder.
        notes (list[str], optional): Where a tolerant reader's notes go (a missing or
            unreadable manifest is then an empty one, noted).
        purpose (str, optional): For a strict reader, what needs the manifest (``"resume"``):
            a missing, unreadable or malformed manifest raises.

    Raises:
        SuiteError: with ``purpose``, when the manifest is missing, unreadable or not a mapping.
    """
    path = folder / MANIFEST
    problem = None
    manifest: Any = {}
    if not path.is_file():
        problem = "no manifest.json; what was run is unknown beyond the trials themselves"
    else:
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            problem = f"its manifest.json is unreadable ({error})"
        else:
            if not isinstance(manifest, dict):
                problem, manifest = "its manifest.json is not a mapping", {}
    if problem is not None:
        if purpose is not None:
            raise SuiteError(f"cannot {purpose} {folder}: {problem}")
        if notes is not None:
            notes.append(f"{folder.name}: {problem}; ignored" if path.is_file() else f"{folder.name}: {problem}")
        return Manifest()
    return manifest  # type: ignore[no-any-return]
