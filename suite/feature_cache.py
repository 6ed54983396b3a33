"""Compute the features of a (data set, protocol, front end) once and keep them on disk.

The cache key is a hash of everything that determines the features: the data set's
name, version, protocol, options and content digest (paths, labels, splits, sizes),
the input spec, the front-end version, the versions of the libraries that decode,
resample and build the filterbank, and the error policy. The content digest covers
every file's size and modification time, so a re-recorded file of the same length
still invalidates the cache. A changed setting gives a new
key and a recomputation; the same settings reuse the file. Files are written to a
temporary name and renamed, so an interrupted run never leaves a half-written cache.
"""

from __future__ import annotations

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

import numpy as np
import torch
from tqdm.auto import tqdm

from suite.audio import AudioDecodeError, prepare_waveform
from suite.data.base import SPLITS, AudioDataset
from suite.errors import SuiteError
from suite.features import FEATURES_VERSION, build_frontend
from suite.fileio import atomic_write
from suite.input_spec import InputSpec

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
    if path.exists():
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
            path.unlink(missing_ok=True)
    features = _compute(dataset, spec, on_error, progress)
    payload = {
        "inputs": features.inputs,
        "targets": features.targets,
        "class_names": features.class_names,
        "skipped": features.skipped,
    }
    try:
        with atomic_write(path, binary=True) as out:
            torch.save(payload, out)
    except OSError as error:  # the cache is an optimisation: a read-only or full disk must not stop the run
        warnings.warn(
            f"could not write the feature cache {path} ({error.strerror or error}); features stay in memory", stacklevel=2
        )
    features.key, features.seconds = key, time.perf_counter() - start
    return features


def _compute(dataset: AudioDataset, spec: InputSpec, on_error: str, progress: bool) -> FeatureSet:
    frame = dataset.metadata()
    class_names = dataset.class_names
    index = {name: i for i, name in enumerate(class_names)}
    frontend = build_frontend(spec).eval()
    inputs: dict[str, torch.Tensor] = {}
    targets: dict[str, torch.Tensor] = {}
    skipped: list[list[str]] = []
    bar = tqdm(
        total=len(frame), desc=f"features {dataset.name}/{dataset.protocol}", unit="file", disable=None if progress else True
    )
    for split in SPLITS:
        rows = frame[frame["split"] == split]
        waves, labels = [], []
        for _, row in rows.iterrows():
            bar.update()
            try:
                waveform, rate = dataset.load(row)
            except AudioDecodeError as error:
                if on_error != "skip":
                    raise
                skipped.append([str(row["path"]), str(error)])
                continue
            waves.append(prepare_waveform(waveform, rate, spec.sample_rate, spec.n_samples))
            labels.append(index[row["label"]])
        if not waves:
            raise SuiteError(f"{dataset.name}: every file of the {split} split was skipped")
        signals = torch.from_numpy(np.stack(waves))
        with torch.no_grad():
            inputs[split] = torch.cat([frontend(chunk) for chunk in signals.split(FRONTEND_BATCH)]).contiguous()
        targets[split] = torch.tensor(labels, dtype=torch.int64)
    bar.close()
    return FeatureSet(inputs, targets, class_names, skipped)
