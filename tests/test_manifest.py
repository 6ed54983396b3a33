"""The manifest adapter: a user's data set described by CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile

from suite.data import get_dataset
from suite.errors import SuiteError

SPLIT_SIZES = {"train": 4, "validation": 2, "test": 2}
FILES = {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"}


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    """tmp_path/mine: eight 0.05 s clips in clips/, all.csv (path, label, split, speaker) and one CSV per split."""
    folder = tmp_path / "mine"
    (folder / "clips").mkdir(parents=True)
    rows = []
    for split, size in SPLIT_SIZES.items():
        for index in range(size):
            relative = f"clips/{split}_{index}.wav"
            soundfile.write(folder / relative, np.random.default_rng(index).standard_normal(400) * 0.01, 8000)
            rows.append({"path": relative, "label": f"0{index % 2 + 1}", "split": split, "speaker": f"s{index}"})
    table = pd.DataFrame(rows)
    table.to_csv(folder / "all.csv", index=False)
    for split, name in FILES.items():
        table[table["split"] == split].drop(columns="split").to_csv(folder / name, index=False)
    return folder


def manifest(root: Path, **options: Any) -> pd.DataFrame:
    return get_dataset("manifest", root=root, **options).metadata()


@pytest.mark.parametrize(
    "source", [{"file": "all.csv"}, {"files": FILES}, {"files": "train=train.csv, validation=validation.csv,test=test.csv"}]
)
def test_splits_labels_and_load(mine: Path, source: dict[str, Any]) -> None:
    dataset = get_dataset("manifest", root=mine.parent, folder="mine", **source)
    frame = dataset.metadata()
    assert {split: len(dataset.split(split)) for split in SPLIT_SIZES} == SPLIT_SIZES
    assert dataset.class_names == ["01", "02"]  # read as text: leading zeros kept
    assert list(frame["speaker"]) == [f"s{i}" for i in range(4)] + ["s0", "s1"] * 2
    assert all(Path(path).is_absolute() and Path(path).is_file() for path in frame["path"])
    waveform, rate = dataset.load(dataset.split("test").iloc[0])
    assert waveform.shape == (1, 400) and waveform.dtype == np.float32 and rate == 8000
    assert (dataset.protocol, dataset.protocols, dataset.version) == ("default", ("default",), "user")


def test_defaults_custom_columns_windows_and_describe(mine: Path) -> None:
    table = pd.read_csv(mine / "all.csv")
    custom = pd.DataFrame(
        {
            "file": [str(mine / path) for path in table["path"]],  # absolute paths are kept
            "genre": table["label"].map({1: "jazz", 2: "rock"}),
            "subset": table["split"],
            "offset": 0.01,
            "duration": [0.02] + [""] * 7,
        }
    )
    custom.to_csv(mine / "custom.csv", index=False)
    # Without the folder option, CSV paths are relative to the data root.
    dataset = get_dataset(
        "manifest",
        root=mine,
        file="custom.csv",
        path_column="file",
        label_column="genre",
        split_column="subset",
        sample_rate=8000,
        display_name="my clips",
    )
    frame = dataset.metadata()
    assert dataset.path == mine and dataset.class_names == ["jazz", "rock"]
    assert list(frame["split"]) == list(table["split"]) and "subset" not in frame
    assert (
        frame["offset"].tolist() == [0.01] * 8 and frame["duration"].iloc[0] == 0.02 and frame["duration"].iloc[1:].isna().all()
    )
    assert dataset.load(frame.iloc[0])[0].shape == (1, 160)
    assert dataset.load(frame.iloc[1])[0].shape == (1, 320)
    description = dataset.describe()
    assert description["name"] == "manifest" and description["display_name"] == "my clips" and description["sample_rate"] == 8000
    assert description["examples"] == SPLIT_SIZES


def test_missing_csv(mine: Path) -> None:
    with pytest.raises(SuiteError, match=r"mine/nope\.csv is missing \(expected a CSV file with columns path, label, split\)"):
        manifest(mine.parent, folder="mine", file="nope.csv")
    (mine / "validation.csv").unlink()
    with pytest.raises(SuiteError, match=r"mine/validation\.csv is missing"):
        manifest(mine.parent, folder="mine", files=FILES)
    with pytest.raises(SuiteError, match=r"the folder .*elsewhere does not exist"):
        manifest(mine.parent, folder="elsewhere", files=FILES)


@pytest.mark.parametrize("column", ["path", "label", "split"])
def test_missing_column(mine: Path, column: str) -> None:
    pd.read_csv(mine / "all.csv").drop(columns=column).to_csv(mine / "all.csv", index=False)
    with pytest.raises(SuiteError, match=rf"all\.csv has no column '{column}' \(columns: "):
        manifest(mine.parent, folder="mine", file="all.csv")


def test_missing_named_column(mine: Path) -> None:
    with pytest.raises(SuiteError, match=r"train\.csv has no column 'wav'"):
        manifest(mine.parent, folder="mine", files=FILES, path_column="wav")


def test_unknown_split_value(mine: Path) -> None:
    table = pd.read_csv(mine / "all.csv")
    table.loc[[0, 5], "split"] = ["dev", "val"]
    table.to_csv(mine / "all.csv", index=False)
    with pytest.raises(SuiteError, match=r"all\.csv column 'split' has unknown split value\(s\) 'dev', 'val'; expected train"):
        manifest(mine.parent, folder="mine", file="all.csv")


def test_missing_audio_files(mine: Path) -> None:
    (mine / "clips" / "train_1.wav").unlink()
    (mine / "clips" / "train_3.wav").unlink()
    with pytest.raises(
        SuiteError, match=r"2 audio file\(s\) in column 'path' of .*all\.csv are missing, the first .*clips/train_1\.wav"
    ):
        manifest(mine.parent, folder="mine", file="all.csv")
    with pytest.raises(SuiteError, match=r"2 audio file\(s\) in column 'path' of .*train\.csv are missing"):
        manifest(mine.parent, folder="mine", files=FILES)


def test_empty_label(mine: Path) -> None:
    table = pd.read_csv(mine / "all.csv", dtype=str)
    table.loc[2, "label"] = ""
    table.to_csv(mine / "all.csv", index=False)
    with pytest.raises(SuiteError, match=r"all\.csv column 'label' is empty in row 4"):
        manifest(mine.parent, folder="mine", file="all.csv")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give exactly one of the options files"),
        ({"file": "all.csv", "files": FILES}, "give exactly one of the options files"),
        ({"files": {"train": "train.csv", "test": "test.csv"}}, "no CSV for validation"),
        ({"files": {**FILES, "dev": "dev.csv"}}, "unknown split"),
        ({"files": "train:train.csv"}, "cannot read files="),
        ({"file": "all.csv", "sample_rate": "fast"}, "option sample_rate must be a whole number, got .fast."),
        ({"file": "all.csv", "sample_rate": -8000}, "sample_rate must be a positive integer"),
        ({"file": "all.csv", "url": "x"}, r"unknown option\(s\) url"),
    ],
)
def test_bad_options(mine: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        manifest(mine.parent, folder="mine", **options)
