"""Compute the features of a data set's files for a front end once and keep them on disk.

The cache holds every file of the data set once, whatever the protocol: the folds of a
cross-validation (and FSDD's two protocols) assign the same files to different splits,
so they share one cache file, and each protocol's splits are selected from it. The
cache key is a hash of everything that determines the features: the data set's name,
version, options and files (paths relative to the data root, labels, windows, sizes
and modification times, not their splits), the input spec, the front-end version, the
versions of the libraries that decode, resample and build the filterbank, and the error
policy. A re-recorded file of the same length still invalidates the cache. A changed
setting gives a new key and a recomputation; the same settings reuse the file. Files
are written to a temporary name and renamed, so an interrupted run never leaves a
half-written cache. The cache is an optimisation: a cache folder that cannot be read or
written (read-only, disk full, a file-size limit) gives one warning and the features
stay in memory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import pickle
import time
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import torch

from suite.audio import AudioDecodeError, prepare_waveform
from suite.data.base import SPLITS, AudioDataset
from suite.errors import SuiteError
from suite.features import FEATURES_VERSION, build_frontend
from suite.fileio import atomic_write
from suite.input_spec import InputSpec
from suite.progress import progress as show_progress

CACHE_ENV = "SUITE_CACHE_DIR"
FRONTEND_BATCH = 256
#: The cache file's layout: 2 = every file once, with its row key (1 held one protocol's splits).
CACHE_LAYOUT = 2


def default_cache_dir() -> Path:
    """``$SUITE_CACHE_DIR``, else ``$XDG_CACHE_HOME/audio-arch-suite/features``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "audio-arch-suite" / "features"


@dataclass
class FeatureSet:
    """Features of every split, in memory.

    Attributes:
        inputs: split -> ``(N, *spec.shape)`` float32 tensor.
        targets: split -> ``(N,)`` int64 class indices into ``class_names``.
        class_names: Sorted class names.
        skipped: ``[path, error]`` of files skipped under ``on_error: skip``.
        key: The cache key.
        cache_hit: Whether the features were read from the cache.
        seconds: Time to compute or load them.
    """

    inputs: dict[str, torch.Tensor]
    targets: dict[str, torch.Tensor]
    class_names: list[str]
    skipped: list[list[str]] = field(default_factory=list)
    key: str = ""
    cache_hit: bool = False
    seconds: float = 0.0


def cache_key(dataset: AudioDataset, spec: InputSpec, on_error: str) -> str:
    """sha256 of everything that determines the features (see the module docstring)."""
    identity = {
        "layout": CACHE_LAYOUT,
        "dataset": dataset.name,
        "version": dataset.version,
        "options": {k: str(v) for k, v in sorted(dataset.options.items())},
        "content": dataset.content_digest(include_mtime=True, splits=False),
        "spec": dataclasses.asdict(spec),
        "features_version": FEATURES_VERSION,
        "libraries": {name: version(name) for name in ("librosa", "soxr", "soundfile", "torch")},
        "on_error": on_error,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def file_features(
    dataset: AudioDataset,
    spec: InputSpec,
    cache_dir: Path | None = None,
    on_error: str = "raise",
    progress: bool = True,
) -> FileFeatures:
    """Features of every file of ``dataset`` for ``spec`` once, whatever its protocol, from the cache when possible.

    :meth:`FileFeatures.select` then gives any protocol's splits of the same files.

    Args:
        dataset (AudioDataset): The data set (any of its protocols: the files are the same).
        spec (InputSpec): Sample rate, clip length and front end.
        cache_dir (Path, optional): Where cache files live. (Default: :func:`default_cache_dir`)
        on_error (str): ``raise`` stops at the first unreadable file with an error naming
            it; ``skip`` leaves it out and lists it in ``skipped``. (Default: ``raise``)
        progress (bool): Show a progress bar while decoding. (Default: ``True``)
    """
    start = time.perf_counter()
    cache_dir = cache_dir or default_cache_dir()
    key = cache_key(dataset, spec, on_error)
    path = cache_dir / f"{dataset.name}-{spec.feature}-{key[:20]}.pt"
    try:
        cached = path.is_file()
    except OSError:  # a folder this process may not enter: recompute, and the write below warns
        cached = False
    if cached:
        try:
            stored = torch.load(path, weights_only=True)
            files = FileFeatures(stored["rows"], stored["inputs"], stored["targets"], stored["class_names"], stored["skipped"])
            files.check(dataset)
            files.key, files.cache_hit, files.seconds = key, True, time.perf_counter() - start
            return files
        except (OSError, RuntimeError, KeyError, EOFError, ValueError, pickle.UnpicklingError) as error:  # damaged: rebuild
            warnings.warn(f"feature cache {path} is unreadable ({error}); recomputing", stacklevel=2)
            with contextlib.suppress(OSError):  # a read-only cache folder: the rewrite below warns
                path.unlink(missing_ok=True)
    files = _compute(dataset, spec, on_error, progress)
    try:
        _save(files.payload(), path)
    except OSError as error:  # the cache is an optimisation: a read-only or full disk must not stop the run
        warnings.warn(
            f"could not write the feature cache {path} ({error.strerror or error}); features stay in memory", stacklevel=2
        )
    files.key, files.seconds = key, time.perf_counter() - start
    return files


def _row_keys(frame: pd.DataFrame, root: Path) -> list[str]:
    """A key per metadata row that does not depend on its split or on where the data root is: ``relpath|offset|duration``.

    A row that names no file (``synthetic://tone_low/0``: a scheme, not a path) keeps its
    name: made relative, it would depend on the working folder.
    """
    base = root.absolute()
    keys = []
    for path, offset, duration in zip(frame["path"], frame["offset"], frame["duration"], strict=True):
        window = -1.0 if pd.isna(duration) else float(duration)
        name = str(path) if "://" in str(path) else os.path.relpath(os.path.abspath(path), base)
        keys.append(f"{name}|{float(offset or 0.0)!r}|{window!r}")
    return keys


@dataclass
class FileFeatures:
    """Features of every file of a data set once: ``inputs[i]`` is the file (or window) ``rows[i]``.

    Attributes:
        rows: Each row's key (:func:`_row_keys`: relative path, offset, duration).
        inputs: ``(N, *spec.shape)`` float32 features.
        targets: ``(N,)`` int64 class indices into ``class_names``.
        class_names: Sorted class names.
        skipped: ``[path, error]`` of files skipped under ``on_error: skip``.
        key, cache_hit, seconds: As in :class:`FeatureSet`.
    """

    rows: list[str]
    inputs: torch.Tensor
    targets: torch.Tensor
    class_names: list[str]
    skipped: list[list[str]]
    key: str = ""
    cache_hit: bool = False
    seconds: float = 0.0

    def payload(self) -> dict[str, Any]:
        """What the cache file stores."""
        return {name: getattr(self, name) for name in ("rows", "inputs", "targets", "class_names", "skipped")}

    def _positions(self, dataset: AudioDataset) -> list[tuple[str, int | None]]:
        """``(split, position)`` of each row of ``dataset``'s protocol; ``None`` for a file skipped when computing.

        Raises:
            ValueError: when a row is neither here nor skipped (a damaged cache file).
        """
        frame = dataset.metadata()
        position = {row: i for i, row in enumerate(self.rows)}
        skipped = {path for path, _ in self.skipped}
        found = []
        for key, path, split in zip(_row_keys(frame, dataset.root), frame["path"], frame["split"], strict=True):
            if key not in position and str(path) not in skipped:
                raise ValueError(f"row {key} is not in the cache")
            found.append((split, position.get(key)))
        return found

    def check(self, dataset: AudioDataset) -> None:
        """Raise :class:`ValueError` unless every row of ``dataset`` is here or was skipped."""
        self._positions(dataset)

    def select(self, dataset: AudioDataset) -> FeatureSet:
        """The splits of ``dataset``'s protocol; files skipped when computing are left out of every split."""
        positions = self._positions(dataset)
        inputs, targets = {}, {}
        for split in SPLITS:
            chosen = [at for s, at in positions if s == split and at is not None]
            if not chosen:
                raise SuiteError(f"{dataset.name}: every file of the {split} split was skipped")
            index = torch.tensor(chosen, dtype=torch.int64)
            inputs[split], targets[split] = self.inputs.index_select(0, index), self.targets.index_select(0, index)
        skipped = [list(item) for item in self.skipped]
        return FeatureSet(inputs, targets, list(self.class_names), skipped, self.key, self.cache_hit, self.seconds)


class _WriteWatch:
    """A file that remembers the first ``OSError`` of a write.

    ``torch.save`` writes through C++, which turns a failed write (``ENOSPC``,
    ``EFBIG``) into ``RuntimeError: [enforce fail at inline_container.cc] unexpected
    pos`` on its next write; this keeps the cause.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.out.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def __getattr__(self, name: str) -> Any:  # flush, seek, tell... as the file has them
        return getattr(self.out, name)


def _save(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` to ``path`` atomically; nothing is left of a write that fails.

    Raises:
        OSError: the cause of a failed write, whether the file or ``torch.save`` reported it.
    """
    with atomic_write(path, binary=True) as out:
        watched = _WriteWatch(out)
        try:
            torch.save(payload, watched)
        except RuntimeError:
            if watched.error is None:  # not a write that failed: a bug, with its traceback
                raise
            raise watched.error from None


def _compute(dataset: AudioDataset, spec: InputSpec, on_error: str, progress: bool) -> FileFeatures:
    """Features of every file, computed split by split (so an error names the split of the protocol in use)."""
    frame = dataset.metadata()
    class_names = dataset.class_names
    index = {name: i for i, name in enumerate(class_names)}
    frontend = build_frontend(spec).eval()
    keys = _row_keys(frame, dataset.root)
    parts: list[tuple[list[str], torch.Tensor, list[int]]] = []
    skipped: list[list[str]] = []
    bar = show_progress(total=len(frame), desc=f"features {dataset.name}", unit="file", enabled=progress)
    for split in SPLITS:
        waves, labels, paths, rows = [], [], [], []
        for position in np.flatnonzero(frame["split"].to_numpy() == split):
            row = frame.iloc[position]
            bar.update()
            try:
                waveform, rate = dataset.load(row)
            except AudioDecodeError as error:
                if on_error != "skip":
                    raise AudioDecodeError(f"{error} (in the {split} split)") from None
                skipped.append([str(row["path"]), str(error)])
                continue
            waves.append(prepare_waveform(waveform, rate, spec.sample_rate, spec.n_samples))
            labels.append(index[row["label"]])
            paths.append(str(row["path"]))
            rows.append(keys[position])
        if not waves:
            raise SuiteError(f"{dataset.name}: every file of the {split} split was skipped")
        signals = torch.from_numpy(np.stack(waves))
        with torch.no_grad():
            features = torch.cat([frontend(chunk) for chunk in signals.split(FRONTEND_BATCH)]).contiguous()
        keep = _finite_rows(features, paths, f"{spec.feature} features", split, on_error, skipped)
        kept = keep.tolist()
        parts.append(
            (
                [row for row, k in zip(rows, kept, strict=True) if k],
                features[keep],
                [label for label, k in zip(labels, kept, strict=True) if k],
            )
        )
    bar.close()
    return FileFeatures(
        [row for rows, _, _ in parts for row in rows],
        torch.cat([features for _, features, _ in parts]),
        torch.tensor([t for _, _, labels in parts for t in labels], dtype=torch.int64),
        class_names,
        skipped,
    )


def _finite_rows(
    features: torch.Tensor, paths: list[str], what: str, split: str, on_error: str, skipped: list[list[str]]
) -> torch.Tensor:
    """Which examples' features are all finite; the others are refused or skipped like undecodable files.

    Decoded samples are finite (:func:`~suite.audio.read_audio` checks), but samples
    near float32's largest value overflow the power spectrum to infinity.

    Args:
        features (torch.Tensor): ``(N, ...)`` features of one split.
        paths (list[str]): The ``N`` files they come from.
        what (str): How to name the features in a message (``logmel features``).
        split (str): The split, for the message.
        on_error (str): ``raise`` or ``skip``.
        skipped (list[list[str]]): ``[path, reason]`` of skipped files; extended in place.

    Returns:
        torch.Tensor: ``(N,)`` bool, ``True`` for the examples to keep.

    Raises:
        AudioDecodeError: under ``raise``, naming the first file and its split.
    """
    keep = torch.isfinite(features.flatten(1)).all(dim=1)
    bad = [paths[i] for i in (~keep).nonzero().flatten().tolist()]
    problem = f"gives NaN or infinite {what} (samples too large?)"
    if bad and on_error != "skip":
        raise AudioDecodeError(f"{bad[0]} {problem} (in the {split} split)")
    skipped.extend([path, f"{path} {problem}"] for path in bad)
    return keep
