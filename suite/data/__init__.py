"""Data sets: a registry of adapters, each with splits by protocol.

>>> from suite.data import get_dataset
>>> fsdd = get_dataset("fsdd", root="../shared/data", protocol="official")
>>> train = fsdd.split("train")          # path, label, split, offset, duration
"""

from suite.data import esc10, esc50, fsdd, manifest, speech_commands, synthetic, urbansound8k  # noqa: F401  (registers the adapters)
from suite.data.base import (
    SPLITS,
    AudioDataset,
    DataNotFoundError,
    get_dataset,
    list_datasets,
    register_dataset,
    resolve_data_root,
)

__all__ = [
    "SPLITS",
    "AudioDataset",
    "DataNotFoundError",
    "get_dataset",
    "list_datasets",
    "register_dataset",
    "resolve_data_root",
]
