"""Which data a run used, read back from its manifest, so that results of different data are never pooled or judged.

Trials are matched across runs by data-set *name* and protocol (``fsdd/official``); that
name says nothing about the files behind it (a ``manifest`` data set is whatever CSV it
was pointed at, a ``synthetic`` one depends on its options). ``suite run`` writes what
does identify them into ``manifest.json`` (:func:`suite.runner.run_config`):

- ``dataset.digest``: the data set's content digest (:meth:`suite.data.base.AudioDataset.content_digest`:
  name, version, protocol and resolved options, then every file's relative path, label,
  split, window and size);
- ``dataset.version`` and ``dataset.protocol`` (the resolved protocol);
- ``class_names``: the class list, in label-index order;
- ``config.dataset.options``: the options as the config gave them.

Two runs used the same data when their class lists agree and, where both have one, their
digests agree. Runs without these fields (results folders written before manifests kept
them; a report's ``summary.csv``) cannot be checked; the callers say so in their notes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from suite.errors import SuiteError, short_text

#: Longest text of one side of a difference (a class list of ESC-50 is 50 names).
_SIDE_CHARS = 120


@dataclass(frozen=True)
class DataIdentity:
    """What identifies the data of one run.

    Attributes:
        dataset (str): The data set's registered name.
        protocol (str): Its resolved protocol (split scheme).
        version (str | None): Its version; ``None`` where unrecorded.
        digest (str | None): Its content digest (hex); ``None`` where unrecorded.
        options (str | None): The config's data-set options as canonical JSON; ``None`` where unrecorded.
        classes (tuple[str, ...] | None): The class names in label-index order; ``None`` where unrecorded.
    """

    dataset: str
    protocol: str
    version: str | None = None
    digest: str | None = None
    options: str | None = None
    classes: tuple[str, ...] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """``(dataset, protocol)``: what trials are matched on."""
        return self.dataset, self.protocol

    @property
    def label(self) -> str:
        """``fsdd/official``."""
        return f"{self.dataset}/{self.protocol}"

    @property
    def checkable(self) -> bool:
        """Whether anything beyond the name is recorded (a digest or a class list)."""
        return self.digest is not None or self.classes is not None


def data_identity(manifest: Mapping[str, Any]) -> DataIdentity | None:
    """The identity recorded in a run's ``manifest.json``; ``None`` when it names no data set."""
    described = manifest.get("dataset")
    if not isinstance(described, Mapping) or not isinstance(described.get("name"), str):
        return None
    config = (manifest.get("config") or {}).get("dataset") if isinstance(manifest.get("config"), Mapping) else None
    config = config if isinstance(config, Mapping) else {}
    options = config.get("options")
    classes = manifest.get("class_names")
    digest = described.get("digest")
    version = described.get("version")
    return DataIdentity(
        dataset=described["name"],
        protocol=str(described.get("protocol") or config.get("protocol") or ""),
        version=None if version is None else str(version),
        digest=digest if isinstance(digest, str) and digest else None,
        options=json.dumps(options, sort_keys=True, default=str) if isinstance(options, Mapping) else None,
        classes=tuple(str(c) for c in classes) if isinstance(classes, list) else None,
    )


def _capped(text: str) -> str:
    return short_text(text, _SIDE_CHARS)


def _classes(a: tuple[str, ...], b: tuple[str, ...], names: tuple[str, str]) -> str:
    both = f"{list(a)} vs {list(b)}"
    if len(both) <= 2 * _SIDE_CHARS:
        return f"classes {both}"
    only = [[c for c in x if c not in set(y)] for x, y in ((a, b), (b, a))]
    if not any(only):
        return f"the same {len(a)} classes in another order"
    parts = [f"only in {name}: {_capped(repr(o))}" for name, o in zip(names, only, strict=True) if o]
    return f"{len(a)} vs {len(b)} classes ({'; '.join(parts)})"


def data_difference(a: DataIdentity, b: DataIdentity, names: tuple[str, str] = ("BASE", "NEW")) -> str | None:
    """How ``a`` and ``b`` differ, as one phrase (``classes ['a', 'b'] vs ['a', 'b', 'c']``).

    Args:
        a (DataIdentity): One run's data.
        b (DataIdentity): The other's (the same data set and protocol).
        names (tuple[str, str]): What to call them where a difference is listed by side.
            Default ``("BASE", "NEW")``.

    Returns:
        str | None: The first difference found (class list, then, when the digests differ,
        version or options with the digests); ``None`` when nothing recorded differs.
    """
    if a.classes is not None and b.classes is not None and a.classes != b.classes:
        return _classes(a.classes, b.classes, names)
    if a.digest is None or b.digest is None or a.digest == b.digest:
        return None  # the digest covers version, protocol and options: equal digests are the same data
    digests = f"digest {a.digest[:12]}… vs {b.digest[:12]}…"
    for field in ("version", "options"):
        x, y = getattr(a, field), getattr(b, field)
        if x is not None and y is not None and x != y:
            return f"{field} {_capped(x)} vs {_capped(y)} ({digests})"
    return digests


def pooled_identities(runs: Iterable[tuple[str, DataIdentity | None]], where: str = "") -> dict[tuple[str, str], DataIdentity]:
    """The one identity of each data set and protocol among ``runs``, refusing runs of different data.

    Args:
        runs (Iterable[tuple[str, DataIdentity | None]]): ``(run name, identity)`` of each run
            pooled; runs without a checkable identity are passed over.
        where (str): Prefix of the error (``"BASE: "``, ``"under results/: "``). Default ``""``.

    Returns:
        dict: ``(dataset, protocol)`` -> identity (the first run's, or the first that has a digest).

    Raises:
        SuiteError: naming both runs and the difference, when two runs used different data under one name.
    """
    found: dict[tuple[str, str], tuple[str, DataIdentity]] = {}
    for name, identity in runs:
        if identity is None or not identity.checkable:
            continue
        if identity.key not in found:
            found[identity.key] = (name, identity)
            continue
        first_name, first = found[identity.key]
        difference = data_difference(first, identity, (first_name, name))
        if difference:
            raise SuiteError(f"{where}runs {first_name} and {name} used different data for {identity.label}: {difference}")
        if first.digest is None and identity.digest is not None:
            found[identity.key] = (name, identity)
    return {key: identity for key, (_, identity) in found.items()}


def unchecked_note(names: list[str], what: str) -> str:
    """The note for runs whose data cannot be checked (``names``: run folders or files)."""
    listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (
        f"{what}{listed}: no data identity recorded (no digest or class list in manifest.json, or a summary.csv), "
        "so data sets are matched by name and protocol only"
    )
