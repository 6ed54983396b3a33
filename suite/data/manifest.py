"""Any data set described by CSV files: how users benchmark their own recordings.

Also holds the CSV helpers the public adapters share (:func:`read_table`,
:func:`fold_splits`, :func:`require_files`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from suite.data.base import SPLITS, AudioDataset, DataNotFoundError, register_dataset
from suite.errors import SuiteError, short_repr, short_text


def read_table(csv: Path, columns: Iterable[str], who: str, **read_options: Any) -> pd.DataFrame:
    """Read ``csv`` with pandas and check that it has ``columns``.

    Raises:
        DataNotFoundError: if the file is missing.
        SuiteError: if it cannot be parsed or lacks a column; the message names both.
    """
    columns = list(columns)
    if not csv.is_file():
        raise DataNotFoundError(f"{who}: {csv} is missing (expected a CSV file with columns {', '.join(columns)})")
    try:
        table = pd.read_csv(csv, **read_options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise SuiteError(f"{who}: cannot read {csv} as CSV: {str(error).splitlines()[0]}") from None
    for column in columns:
        if column not in table.columns:
            raise SuiteError(f"{who}: {csv} has no column {short_repr(column)} (columns: {_listed(table.columns)})")
    return table


def fold_splits(folds: pd.Series, protocol: str, n_folds: int, csv: Path, column: str, who: str) -> np.ndarray:
    """Splits for cross-validation protocol ``foldK``: fold K tests, fold (K mod n) + 1 validates, the rest train."""
    test = int(protocol.removeprefix("fold"))
    validation = test % n_folds + 1
    values = pd.to_numeric(folds, errors="coerce")
    bad = ~values.isin(range(1, n_folds + 1))
    if bad.any():
        first = short_repr(folds[bad].iloc[0])
        raise SuiteError(f"{who}: {csv} column {short_repr(column)} has fold {first}; expected 1 to {n_folds}")
    return np.where(values == test, "test", np.where(values == validation, "validation", "train"))


class FoldedDataset(AudioDataset):
    """A data set with ``n_folds`` predefined folds, listed in a CSV: protocols ``fold1`` ... ``fold<n>``.

    Protocol ``foldK`` tests on fold K and validates on fold (K mod n) + 1 (see
    :func:`fold_splits`); subclasses set ``n_folds`` and get ``protocols`` and the
    default protocol (``fold1``) from it, and every fold is in ``folds`` (protocol ``cv``).
    """

    n_folds: ClassVar[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "n_folds" in cls.__dict__:
            cls.protocols = tuple(f"fold{k}" for k in range(1, cls.n_folds + 1))
            cls.folds = cls.protocols  # protocol cv: every fold (suite.crossval)
            cls.default_protocol = cls.protocols[0]

    def fold_frame(
        self, csv: Path, table: pd.DataFrame, paths: Callable[[pd.DataFrame], list[str]], files: str, label: str
    ) -> pd.DataFrame:
        """Rows ``path, label, split`` from the CSV ``table`` (column ``fold``), every other column kept.

        Args:
            csv: The CSV, for messages.
            table: Its rows.
            paths: The audio file of each row, from the table (called once its folds are checked).
            files: The column naming the files, for messages.
            label: The column holding the class name.

        Raises:
            SuiteError: for a fold out of range, or naming the first missing file.
        """
        splits = fold_splits(table["fold"], self.protocol, self.n_folds, csv, "fold", self.name)
        frame = pd.DataFrame({"path": paths(table), "label": table[label].astype(str), "split": splits})
        frame = pd.concat([frame, table.drop(columns=[files, label])], axis=1)
        require_files(frame["path"], csv, files, self.name)
        return frame


def require_files(paths: Iterable[str], csv: Path, column: str, who: str) -> None:
    """Raise a :class:`SuiteError` naming the first missing audio file listed in ``csv`` and how many are missing."""
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise SuiteError(
            f"{who}: {len(missing)} audio file(s) in column {short_repr(column)} of {csv} are missing, the first {missing[0]}"
        )


def _listed(items: Iterable[Any]) -> str:
    """``a, b, c``, cut with an ellipsis past :data:`~suite.data.base.ECHO_LIMIT` characters."""
    return short_text(", ".join(map(str, items)))


def _parse_files(value: Any) -> dict[str, str]:
    # A mapping from a config file, or "train=a.csv,validation=b.csv,test=c.csv" from a command line.
    if isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise SuiteError(f"manifest: cannot read files={short_repr(value)}; expected train=PATH,validation=PATH,test=PATH")
        value = {key.strip(): path.strip() for key, path in pairs}
    if not isinstance(value, Mapping):
        raise SuiteError(f"manifest: the files option must map each split to a CSV, got {short_repr(value)}")
    unknown = sorted(set(value) - set(SPLITS))
    missing = [split for split in SPLITS if split not in value]
    if unknown or missing:
        problem = f"unknown split(s) {_listed(unknown)}" if unknown else f"no CSV for {', '.join(missing)}"
        raise SuiteError(f"manifest: the files option has {problem}; expected one CSV each for {', '.join(SPLITS)}")
    return {split: str(value[split]) for split in SPLITS}


@register_dataset
class Manifest(AudioDataset):
    """A user's data set, listed in CSV files: one per split, or one with a split column.

    Audio and CSV paths are relative to the ``folder`` option (absolute paths are kept).
    Columns besides path, label and split are kept as information; ``offset`` and
    ``duration`` columns (seconds) select a window of each file.

    Options:
        folder (str): Folder the paths are relative to, itself relative to the data root
            (or absolute). Not called ``root``, which is the data root's keyword in
            :func:`~suite.data.get_dataset`. (Default: the data root)
        files (mapping or str): Split -> CSV, e.g. ``{"train": "train.csv", "validation":
            "val.csv", "test": "test.csv"}`` or ``"train=train.csv,validation=val.csv,test=test.csv"``.
        file (str): One CSV with a split column (values ``train``, ``validation``, ``test``).
            Give exactly one of ``files`` and ``file``.
        path_column, label_column, split_column (str): (Default: ``path``, ``label``, ``split``)
        sample_rate (int): The recordings' native rate, for information. (Default: ``16000``)
        display_name (str): The data set's name in reports (``name`` is taken by
            :func:`~suite.data.get_dataset`). (Default: ``manifest``)
    """

    name = "manifest"
    version = "user"
    folder = ""
    sample_rate = 16000
    protocols = ("default",)
    default_protocol = "default"
    citation = "user-provided data set described by CSV files"
    license = "as given by the data set's owner"
    homepage = ""

    def __init__(self, root: Any = None, protocol: str | None = None, **options: Any) -> None:
        super().__init__(root, protocol, **options)
        self.display_name = str(options.get("display_name") or self.name)
        self.folder = str(options.get("folder") or "")
        self.path_column = str(options.get("path_column", "path"))
        self.label_column = str(options.get("label_column", "label"))
        self.split_column = str(options.get("split_column", "split"))
        self.sample_rate = self.number_option("sample_rate", type(self).sample_rate)
        if self.sample_rate <= 0:
            raise SuiteError(f"manifest: sample_rate must be a positive integer, got {short_repr(options.get('sample_rate'))}")
        if ("files" in options) == ("file" in options):
            raise SuiteError(
                "manifest: give exactly one of the options files (a CSV per split) and file (one CSV with a split column)"
            )
        self.sources: dict[str | None, str] = (
            _parse_files(options["files"]) if "files" in options else {None: str(options["file"])}
        )

    @property
    def who(self) -> str:
        """The data set's name as messages give it (a long ``display_name`` cut short)."""
        return short_text(self.display_name)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("folder", "files", "file", "path_column", "label_column", "split_column", "sample_rate", "display_name")

    def ensure(self) -> None:
        """Nothing to download: the folder must exist."""
        if not self.path.is_dir():
            raise DataNotFoundError(
                f"{self.who}: the folder {self.path} does not exist "
                "(the folder option names the folder that CSV and audio paths are relative to)"
            )

    def _metadata(self) -> pd.DataFrame:
        return pd.concat([self._read(split, csv) for split, csv in self.sources.items()], ignore_index=True)

    def _read(self, split: str | None, name: str) -> pd.DataFrame:
        base = self.path.absolute()
        csv = base / name
        columns = [self.path_column, self.label_column] + ([self.split_column] if split is None else [])
        # Strings throughout, so labels such as "01" or "NA" stay as written.
        table = read_table(csv, columns, self.who, dtype=str, keep_default_na=False)
        chosen = {self.path_column: "path", self.label_column: "label", self.split_column: "split"}
        for column in (self.path_column, self.label_column):
            empty = table[column].str.strip() == ""
            if empty.any():
                raise SuiteError(f"{self.who}: {csv} column {short_repr(column)} is empty in row {int(empty.idxmax()) + 2}")
        frame = pd.DataFrame({"path": [str(base / path) for path in table[self.path_column]], "label": table[self.label_column]})
        if split is None:
            frame["split"] = table[self.split_column].str.strip()
            unknown = sorted(set(frame["split"]) - set(SPLITS))
            if unknown:
                raise SuiteError(
                    f"{self.who}: {csv} column {short_repr(self.split_column)} has unknown split value(s) "
                    f"{_listed(map(repr, unknown))}; expected {', '.join(SPLITS)}"
                )
        else:
            frame["split"] = split
        for column in table.columns:
            if column in chosen or column in ("path", "label", "split"):
                continue
            frame[column] = table[column]
            if column in ("offset", "duration"):
                values = pd.to_numeric(table[column].replace("", np.nan), errors="coerce")
                if values.isna().sum() > (table[column] == "").sum():
                    raise SuiteError(f"{self.who}: {csv} column {short_repr(column)} must hold seconds (numbers)")
                frame[column] = values.fillna(0.0) if column == "offset" else values
        require_files(frame["path"], csv, self.path_column, self.who)
        return frame

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "display_name": self.display_name, "sample_rate": self.sample_rate}
