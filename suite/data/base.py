"""The data-set interface: splits by protocol, class names, cheap metadata, decoding.

An adapter describes one public data set on disk. :meth:`AudioDataset.metadata` lists
every example as a row (``path``, ``label``, ``split`` and optional ``offset`` and
``duration`` in seconds) without decoding audio; :meth:`AudioDataset.load` decodes one
row. Splits are chosen by protocol (``official``, ``fold3``, ...), and read with a
``subset`` argument as torchaudio does.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from suite.errors import SuiteError, UnknownNameError, short_repr, short_text
from suite.registry import Registry

SPLITS: tuple[str, ...] = ("train", "validation", "test")
METADATA_COLUMNS: tuple[str, ...] = ("path", "label", "split", "offset", "duration")
DATA_ROOT_ENV = "SUITE_DATA_ROOT"


class DataNotFoundError(SuiteError):
    """A data set is not where it was looked for (and could not be downloaded)."""


def _denied(name: str, error: OSError, folder: Path) -> SuiteError:
    """One line for a data file or folder the system refuses (permissions): which one, and the data root."""
    where = error.filename or folder
    return SuiteError(f"{name}: cannot access {where}: {error.strerror or 'permission denied'} (data root {folder})")


def default_data_root() -> Path:
    """``$SUITE_DATA_ROOT``, else ``$XDG_CACHE_HOME/audio-arch-suite/data`` (``~/.cache/...``)."""
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "audio-arch-suite" / "data"


def resolve_data_root(value: str | os.PathLike[str] | None) -> Path:
    """The data root from ``--data-root``, else the environment, else the default cache.

    Raises:
        SuiteError: if the path exists and is not a folder.
    """
    root = Path(value).expanduser() if value else default_data_root()
    # os.path hides permission errors: a root this user may not enter is named when it is read (see metadata).
    if os.path.exists(root) and not os.path.isdir(root):
        raise SuiteError(f"data root {root} is a file, not a folder")
    return root


#: sha256 of a file's bytes by (path, size, modification time): a process describes a data set once per fold.
_FILE_SHA256: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of ``path``'s bytes, read in 1 MiB chunks and remembered while the file's size and time stay."""
    stat = path.stat()
    key = (str(path.absolute()), stat.st_size, stat.st_mtime_ns)
    if key not in _FILE_SHA256:
        with open(path, "rb") as file:
            _FILE_SHA256[key] = hashlib.file_digest(file, "sha256").hexdigest()
    return _FILE_SHA256[key]


def tree_digest(folder: Path, pattern: str = "*.wav") -> str:
    """sha256 of ``sha256sum``'s output for the sorted files matching ``pattern``.

    For a folder of recordings this equals the sha256 of a ``SHA256SUMS`` file listing
    them, so one pinned digest verifies a whole release.
    """
    lines = []
    for path in sorted(folder.glob(pattern), key=lambda p: p.name):
        lines.append(f"{file_sha256(path)}  {path.name}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


class AudioDataset(ABC):
    """A public audio data set laid out on disk under a data root.

    Subclasses set the class attributes and implement :meth:`_metadata` (and
    :meth:`download` where the data set can be fetched).

    Args:
        root (str or Path, optional): The data root; the data set lives in
            ``root / folder``. (Default: :func:`resolve_data_root`)
        protocol (str, optional): How examples are split. (Default: ``default_protocol``)
        **options: Adapter-specific settings.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    folder: ClassVar[str]
    sample_rate: ClassVar[int]
    protocols: ClassVar[tuple[str, ...]]
    default_protocol: ClassVar[str]
    citation: ClassVar[str]
    license: ClassVar[str]
    homepage: ClassVar[str] = ""
    #: The protocols whose test sets partition the data (k-fold cross-validation), in order;
    #: ``protocol: cv`` in a config runs them all. Empty for data sets without folds.
    folds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, root: str | os.PathLike[str] | None = None, protocol: str | None = None, **options: Any) -> None:
        self.root = resolve_data_root(root)
        self.protocol = protocol or self.default_protocol
        if self.protocol not in self.protocols:
            raise SuiteError(f"{self.name}: unknown protocol {short_repr(self.protocol)}; available: {', '.join(self.protocols)}")
        unknown = set(options) - set(self.option_names())
        if unknown:
            allowed = ", ".join(self.option_names()) or "none"
            listed = short_text(", ".join(sorted(map(str, unknown))))
            raise SuiteError(f"{self.name}: unknown option(s) {listed}; allowed: {allowed}")
        self.options = options
        self._cached_metadata: pd.DataFrame | None = None

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Keyword options this adapter accepts."""
        return ()

    def number_option(self, key: str, default: float, kind: type[int] | type[float] = int) -> Any:
        """Option ``key`` as ``kind`` (``default`` when absent); a value that is not such a number is the user's error.

        Raises:
            SuiteError: naming the option and the value given (a list, a word, ``inf``).
        """
        value = self.options.get(key, default)
        try:
            number = kind(value)
            if isinstance(value, bool) or (kind is int and float(value) != number):
                raise ValueError
            if not np.isfinite(number):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            noun = "a whole number" if kind is int else "a number"
            raise SuiteError(f"{self.name}: option {key} must be {noun}, got {short_repr(value)}") from None
        return number

    @property
    def path(self) -> Path:
        """Where this data set lives: ``root / folder``."""
        return self.root / self.folder

    def download(self) -> None:
        """Fetch the data set into :attr:`path`. Adapters without a public archive refuse."""
        raise DataNotFoundError(
            f"{self.name} was not found in {self.path} and the suite cannot download it; "
            f"get it from {self.homepage or 'its publisher'} and place it there, or point --data-root elsewhere"
        )

    def ensure(self) -> None:
        """Make sure the data set is on disk: download it when it is missing."""
        if not self.path.is_dir():
            self.download()

    @abstractmethod
    def _metadata(self) -> pd.DataFrame:
        """Rows ``path, label, split`` (+ optional ``offset, duration``) for this protocol."""

    def metadata(self) -> pd.DataFrame:
        """Every example of the protocol with its split, without decoding audio.

        Returns:
            pandas.DataFrame: columns ``path`` (str), ``label`` (str), ``split`` (one of
            ``train``, ``validation``, ``test``), ``offset`` and ``duration`` (seconds;
            ``duration`` NaN means the whole file).
        """
        if self._cached_metadata is None:
            try:
                self.ensure()
                frame = self._metadata().copy()
            except PermissionError as error:  # a data root or file this user may not read: one line, not a traceback
                raise _denied(self.name, error, self.root) from None
            for column, default in (("offset", 0.0), ("duration", np.nan)):
                if column not in frame:
                    frame[column] = default
            self._cached_metadata = self._validate(frame.reset_index(drop=True))
        return self._cached_metadata

    def _validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            raise DataNotFoundError(f"{self.name}: no audio files found in {self.path}")
        bad_splits = set(frame["split"]) - set(SPLITS)
        if bad_splits:
            raise SuiteError(f"{self.name}: unknown split(s) {', '.join(sorted(map(str, bad_splits)))}")
        for split in SPLITS:
            if not (frame["split"] == split).any():
                raise SuiteError(f"{self.name} ({self.protocol}): the {split} split is empty")
        # The same recording (or window of one) in two splits would leak test data into training.
        # (NaN keys would be dropped by groupby, hence the explicit fill and dropna=False.)
        keys = frame.assign(window=frame["duration"].fillna(-1.0))
        splits_per_example = keys.groupby(["path", "offset", "window"], dropna=False)["split"].nunique()
        leaked = splits_per_example[splits_per_example > 1]
        if not leaked.empty:
            first = leaked.index[0][0]
            raise SuiteError(
                f"{self.name} ({self.protocol}): {len(leaked)} example(s) appear in more than one split, the first {first}"
            )
        return frame[list(METADATA_COLUMNS) + [c for c in frame.columns if c not in METADATA_COLUMNS]]

    @property
    def class_names(self) -> list[str]:
        """Sorted class names; a label's index in this list is its target."""
        return sorted(self.metadata()["label"].unique())

    def split(self, subset: str) -> pd.DataFrame:
        """The rows of one split: ``subset`` is ``train``, ``validation`` or ``test``."""
        if subset not in SPLITS:
            raise SuiteError(f"unknown subset {short_repr(subset)}; expected one of {', '.join(SPLITS)}")
        frame = self.metadata()
        return frame[frame["split"] == subset].reset_index(drop=True)

    def load(self, row: pd.Series | dict[str, Any]) -> tuple[np.ndarray, int]:
        """Decode one example: ``(waveform (channels, samples) float32, sample_rate)``."""
        from suite.audio import read_audio

        duration = row.get("duration")
        return read_audio(row["path"], offset=float(row.get("offset") or 0.0), duration=None if pd.isna(duration) else duration)

    def content_digest(self, include_mtime: bool = False, splits: bool = True) -> str:
        """A digest of the metadata: paths relative to the data root, labels, splits, windows and file sizes.

        It does not depend on how the root was written (relative or absolute). With
        ``include_mtime`` it also covers each file's modification time, so that a file
        rewritten at the same length changes it (the feature cache uses that form).
        Without ``splits`` it leaves out the protocol and each row's split: the digest of
        the files alone, the same for every fold of a cross-validation.
        """
        frame = self.metadata()
        root = self.root.absolute()
        protocol = self.protocol if splits else ""
        digest = hashlib.sha256(f"{self.name}|{self.version}|{protocol}|{sorted(self.options.items())}".encode())
        rows = frame.sort_values(["path", "offset"], kind="stable") if not splits else frame
        for row in rows.itertuples(index=False):
            path = Path(row.path)
            try:
                stat = path.stat() if path.exists() else None
            except PermissionError as error:
                raise _denied(self.name, error, self.root) from None
            signature = f"{stat.st_size if stat else -1}" + (f"|{stat.st_mtime_ns if stat else -1}" if include_mtime else "")
            relative = os.path.relpath(path.absolute(), root) if stat else str(path)
            split = row.split if splits else ""
            digest.update(f"{relative}|{row.label}|{split}|{row.offset}|{row.duration}|{signature}\n".encode())
        return digest.hexdigest()

    def files_digest(self) -> str:
        """sha256 over the bytes of every file the metadata names, by path relative to the root.

        Unlike :meth:`content_digest` it reads the audio, so a file rewritten with other
        bytes at the same size changes it, while a fresh checkout or copy (new
        modification times) does not: ``--resume`` compares it before adding trials to a
        run begun elsewhere. Files that are missing count as such.
        """
        root = self.root.absolute()
        digest = hashlib.sha256()
        for path in sorted({Path(p) for p in self.metadata()["path"]}, key=lambda p: os.path.relpath(p.absolute(), root)):
            content = file_sha256(path) if path.is_file() else "missing"
            digest.update(f"{os.path.relpath(path.absolute(), root)}|{content}\n".encode())
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        """Name, version, protocol, sizes and digest, for manifests and reports."""
        frame = self.metadata()
        return {
            "name": self.name,
            "version": self.version,
            "protocol": self.protocol,
            "path": str(self.path),
            "classes": len(self.class_names),
            "examples": {split: int((frame["split"] == split).sum()) for split in SPLITS},
            "digest": self.content_digest(),
            "files_sha256": self.files_digest(),
            "citation": self.citation,
            "license": self.license,
        }


#: Entry-point group through which installed packages offer data-set adapters.
ENTRY_POINT_GROUP = "audio_arch_suite.datasets"


def _adopt_adapter(name: str, loaded: object) -> type[AudioDataset]:
    """A plugin's adapter: a subclass of :class:`AudioDataset` (registered with :func:`register_dataset` or not)."""
    if not (isinstance(loaded, type) and issubclass(loaded, AudioDataset)):
        raise SuiteError(f"it is a {type(loaded).__name__}, not a data-set adapter: give a subclass of suite.data.AudioDataset")
    return loaded


DATASETS: Registry[type[AudioDataset]] = Registry("data set", group=ENTRY_POINT_GROUP, adopt=_adopt_adapter)


def register_dataset(cls: type[AudioDataset]) -> type[AudioDataset]:
    """Class decorator: register an adapter under its ``name``."""
    DATASETS.add(cls.name, cls)
    return cls


def ensure_dataset(name: str, adapter: type[AudioDataset]) -> None:
    """Make ``adapter`` known as ``name`` in this process (a worker), unless the name already resolves here.

    Built-ins, installed plugins and ``module:attribute`` references resolve by themselves;
    an adapter registered only in the driver's process arrives with the trial.
    """
    try:
        DATASETS.get(name)
    except UnknownNameError:
        DATASETS.add(name, adapter)


def list_datasets(pattern: str = "*") -> list[str]:
    """Data-set names matching a shell-style ``pattern``: registered ones, then installed plugins."""
    return DATASETS.names(pattern)


def get_dataset(
    name: str, root: str | os.PathLike[str] | None = None, protocol: str | None = None, **options: Any
) -> AudioDataset:
    """Build the adapter ``name`` for ``root`` and ``protocol``."""
    return DATASETS.get(name)(root=root, protocol=protocol, **options)
