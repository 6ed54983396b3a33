"""Compute the features of a (data set, protocol, front end) once and keep them on disk.

The cache key is a hash of everything that determines the features: the data set's
name, version, protocol, options and content digest (paths, labels, splits, sizes),
the input spec, the front-end version, the versions of the libraries that decode,
resample and build the filterbank, and the error policy. The content digest covers
every file's size and modification time, so a re-recorded file of the same length
still invalidates the cache. A changed setting gives a new
key and a recomputation; the same settings reuse the file. Files are written to a
temporary name and renamed, so an interrupted run never leaves a half-written cache.
The cache is an optimisation: a cache folder that cannot be read or written (read-only,
disk full, a file-size limit) gives one warning and the features stay in memory.
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
        "dataset": dataset.name,
        "version": dataset.version,
        "protocol": dataset.protocol,
        "options": {k: str(v) for k, v in sorted(dataset.options.items())},
        "content": dataset.content_digest(include_mtime=True),
        "spec": dataclasses.asdict(spec),
        "features_version": FEATURES_VERSION,
        "libraries": {name: version(name) for name in ("librosa", "soxr", "soundfile", "torch")},
        "on_error": on_error,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def prepare_features(
    dataset: AudioDataset,
    spec: InputSpec,
    cache_dir: Path | None = None,
    on_error: str = "raise",
    progress: bool = True,
) -> FeatureSet:
    """Features of every split of ``dataset`` for ``spec``, from the cache when possible.

    Args:
        dataset (AudioDataset): The data set and protocol.
        spec (InputSpec): Sample rate, clip length and front end.
        cache_dir (Path, optional): Where cache files live. (Default: :func:`default_cache_dir`)
        on_error (str): ``raise`` stops at the first unreadable file with an error naming
            it; ``skip`` leaves it out and lists it in ``skipped``. (Default: ``raise``)
        progress (bool): Show a progress bar while decoding. (Default: ``True``)
    """
    start = time.perf_counter()
    cache_dir = cache_dir or default_cache_dir()
    key = cache_key(dataset, spec, on_error)
    path = cache_dir / f"{dataset.name}-{dataset.protocol}-{spec.feature}-{key[:20]}.pt"
    try:
        cached = path.is_file()
    except OSError:  # a folder this process may not enter: recompute, and the write below warns
        cached = False
    if cached:
        try:
            stored = torch.load(path, weights_only=True)
            return FeatureSet(
                stored["inputs"],
                stored["targets"],
                stored["class_names"],
                stored["skipped"],
                key,
                True,
                time.perf_counter() - start,
            )
        except (OSError, RuntimeError, KeyError, EOFError, ValueError, pickle.UnpicklingError) as error:  # damaged: rebuild
            warnings.warn(f"feature cache {path} is unreadable ({error}); recomputing", stacklevel=2)
            with contextlib.suppress(OSError):  # a read-only cache folder: the rewrite below warns
                path.unlink(missing_ok=True)
    features = _compute(dataset, spec, on_error, progress)
    payload = {
        "inputs": features.inputs,
        "targets": features.targets,
        "class_names": features.class_names,
        "skipped": features.skipped,
    }
    try:
        _save(payload, path)
    except OSError as error:  # the cache is an optimisation: a read-only or full disk must not stop the run
        warnings.warn(
            f"could not write the feature cache {path} ({error.strerror or error}); features stay in memory", stacklevel=2
        )
    features.key, features.seconds = key, time.perf_counter() - start
    return features


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


def _compute(dataset: AudioDataset, spec: InputSpec, on_error: str, progress: bool) -> FeatureSet:
    frame = dataset.metadata()
    class_names = dataset.class_names
    index = {name: i for i, name in enumerate(class_names)}
    frontend = build_frontend(spec).eval()
    inputs: dict[str, torch.Tensor] = {}
    targets: dict[str, torch.Tensor] = {}
    skipped: list[list[str]] = []
    bar = show_progress(total=len(frame), desc=f"features {dataset.name}/{dataset.protocol}", unit="file", enabled=progress)
    for split in SPLITS:
        rows = frame[frame["split"] == split]
        waves, labels, paths = [], [], []
        for _, row in rows.iterrows():
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
        if not waves:
            raise SuiteError(f"{dataset.name}: every file of the {split} split was skipped")
        signals = torch.from_numpy(np.stack(waves))
        with torch.no_grad():
            features = torch.cat([frontend(chunk) for chunk in signals.split(FRONTEND_BATCH)]).contiguous()
        keep = _finite_rows(features, paths, f"{spec.feature} features", split, on_error, skipped)
        if not keep.all():
            features, labels = features[keep], [label for label, kept in zip(labels, keep.tolist(), strict=True) if kept]
            if not labels:
                raise SuiteError(f"{dataset.name}: every file of the {split} split was skipped")
        inputs[split] = features
        targets[split] = torch.tensor(labels, dtype=torch.int64)
    bar.close()
    return FeatureSet(inputs, targets, class_names, skipped)


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
