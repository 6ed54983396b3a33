"""Speech Commands, ESC-10, ESC-50 and UrbanSound8K adapters on tiny fixtures in the official layouts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from suite.data import get_dataset, list_datasets
from suite.data.speech_commands import CORE_WORDS
from suite.errors import SuiteError
from tests.esc10_fixture import make_esc10


def write_wav(path: Path, seconds: float, rate: int, channels: int = 1, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).standard_normal((round(seconds * rate), channels)) * 0.01
    soundfile.write(path, noise, rate)


def test_all_adapters_are_registered() -> None:
    assert {"fsdd", "synthetic", "speech_commands", "esc50", "urbansound8k", "manifest"} <= set(list_datasets())


# --- Speech Commands -------------------------------------------------------------------------------------------------

UNKNOWN_WORDS = ("bed", "cat")


def make_speech_commands(root: Path) -> Path:
    """Ten core words x 4 speakers and two other words x 6 speakers; per word one test, one validation file."""
    base = root / "speech_commands"
    validation, testing = [], []
    for word in (*CORE_WORDS, *UNKNOWN_WORDS):
        takes = 6 if word in UNKNOWN_WORDS else 4
        for take in range(takes):
            write_wav(base / word / f"spk{take:05x}_nohash_0.wav", 0.05, 16000, seed=take)
        validation.append(f"{word}/spk00000_nohash_0.wav")
        testing.append(f"{word}/spk00001_nohash_0.wav")
        if word in UNKNOWN_WORDS:  # 2 validation, 2 test, 2 train files
            validation.append(f"{word}/spk00002_nohash_0.wav")
            testing.append(f"{word}/spk00003_nohash_0.wav")
    (base / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (base / "testing_list.txt").write_text("\n".join(testing) + "\n")
    for name, seconds in (("a_noise.wav", 3.0), ("b_noise.wav", 2.0), ("c_noise.wav", 1.5), ("d_noise.wav", 1.25)):
        write_wav(base / "_background_noise_" / name, seconds, 16000)
    (base / "_background_noise_" / "README.md").write_text("noise\n")
    (base / "LICENSE").write_text("CC BY 4.0\n")
    (base / "yes" / "notes.txt").write_text("not audio\n")
    return base


@pytest.fixture
def speech_commands(tmp_path: Path) -> Path:
    return make_speech_commands(tmp_path)


def counts(frame: pd.DataFrame) -> dict[str, int]:
    return {split: int((frame["split"] == split).sum()) for split in ("train", "validation", "test")}


def test_speech_commands_35(speech_commands: Path) -> None:
    dataset = get_dataset("speech_commands", root=speech_commands.parent, protocol="35")
    frame = dataset.metadata()
    assert dataset.class_names == sorted((*CORE_WORDS, *UNKNOWN_WORDS))
    assert counts(frame) == {"train": 10 * 2 + 2 * 2, "validation": 12 + 2, "test": 12 + 2}
    assert frame.set_index("path").loc[str(speech_commands.absolute() / "right" / "spk00001_nohash_0.wav"), "split"] == "test"
    assert set(frame["speaker"]) == {f"spk{take:05x}" for take in range(6)}
    assert (frame["offset"] == 0).all() and frame["duration"].isna().all()
    assert all(Path(path).is_absolute() and path.endswith(".wav") for path in frame["path"])


def test_speech_commands_12_balances_unknown_and_silence(speech_commands: Path) -> None:
    dataset = get_dataset("speech_commands", root=speech_commands.parent)
    assert dataset.protocol == "12"
    frame = dataset.metadata()
    assert dataset.class_names == sorted((*CORE_WORDS, "_silence_", "_unknown_"))
    per_class = frame.groupby(["split", "label"]).size()
    # The ten words have 2 train, 1 validation and 1 test example each; so do _unknown_ and _silence_.
    assert (per_class.loc["train"] == 2).all() and (per_class.loc["validation"] == 1).all() and (per_class.loc["test"] == 1).all()
    assert set(frame.loc[frame["label"] == "_unknown_", "word"]) <= set(UNKNOWN_WORDS)
    silence = frame[frame["label"] == "_silence_"]
    noise = {
        split: {Path(p).name for p in silence.loc[silence["split"] == split, "path"]} for split in ("train", "validation", "test")
    }
    assert noise["test"] == {"d_noise.wav"} and noise["validation"] == {"c_noise.wav"}
    assert noise["train"] <= {"a_noise.wav", "b_noise.wav"}
    assert (silence["duration"] == 1.0).all()
    for row in silence.itertuples():
        assert 0 <= row.offset <= soundfile.info(row.path).duration - 1.0
    pd.testing.assert_frame_equal(frame, get_dataset("speech_commands", root=speech_commands.parent).metadata())


def test_speech_commands_split_and_load(speech_commands: Path) -> None:
    dataset = get_dataset("speech_commands", root=speech_commands.parent)
    train = dataset.split("train")
    assert len(train) == 24 and (train["split"] == "train").all()
    word = dataset.load(train[train["label"] == "yes"].iloc[0])
    assert word[0].shape == (1, 800) and word[0].dtype == np.float32 and word[1] == 16000
    waveform, rate = dataset.load(train[train["label"] == "_silence_"].iloc[-1])
    assert waveform.shape == (1, 16000) and waveform.dtype == np.float32 and rate == 16000


def test_speech_commands_empty_word_folder(speech_commands: Path) -> None:
    (speech_commands / "wow").mkdir()
    with pytest.raises(SuiteError, match=r"class folder .*wow has no \.wav files"):
        get_dataset("speech_commands", root=speech_commands.parent).metadata()


@pytest.mark.parametrize("list_name", ["validation_list.txt", "testing_list.txt"])
def test_speech_commands_missing_list(speech_commands: Path, list_name: str) -> None:
    (speech_commands / list_name).unlink()
    with pytest.raises(SuiteError, match=rf"{list_name} is missing"):
        get_dataset("speech_commands", root=speech_commands.parent, protocol="35").metadata()


def test_speech_commands_list_names_missing_file(speech_commands: Path) -> None:
    (speech_commands / "up" / "spk00000_nohash_0.wav").unlink()
    with pytest.raises(
        SuiteError, match=r"validation_list\.txt names 1 missing file\(s\), the first .*up/spk00000_nohash_0\.wav"
    ):
        get_dataset("speech_commands", root=speech_commands.parent, protocol="35").metadata()


def test_speech_commands_12_needs_core_words_and_noise(speech_commands: Path, tmp_path: Path) -> None:
    for noise in sorted((speech_commands / "_background_noise_").glob("*.wav"))[1:]:
        noise.unlink()
    with pytest.raises(SuiteError, match=r"_background_noise_ holds 1 \.wav file\(s\); task 12 needs at least 3"):
        get_dataset("speech_commands", root=tmp_path).metadata()
    assert len(get_dataset("speech_commands", root=tmp_path, protocol="35").metadata()) == 52
    other = make_speech_commands(tmp_path / "other")
    for path in (other / "stop").iterdir():
        path.unlink()
    (other / "stop").rmdir()
    for name in ("validation_list.txt", "testing_list.txt"):
        lines = (other / name).read_text().splitlines()
        (other / name).write_text("\n".join(line for line in lines if not line.startswith("stop/")))
    with pytest.raises(SuiteError, match=r"class folder .*stop is missing \(task 12 needs"):
        get_dataset("speech_commands", root=other.parent).metadata()


def test_speech_commands_not_downloadable(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"speech_commands was not found in .*speech_commands_v0\.02\.tar\.gz"):
        get_dataset("speech_commands", root=tmp_path).metadata()


# --- ESC-50 and UrbanSound8K: folds from a metadata table ------------------------------------------------------------

ESC_CATEGORIES = ("dog", "rain")
URBAN_CLASSES = ("dog_bark", "siren")
#: One clip: where it goes, its ``write_wav`` settings (rate, channels, seed) and its row of the metadata table.
Clip = tuple[Path, dict[str, int], list[object]]


def write_fold_set(base: Path, table: str, columns: list[str], clips: list[Clip]) -> Path:
    """Write each clip (0.05 s of noise) and the metadata table ``base/table`` listing them; returns ``base``."""
    for path, wav, _ in clips:
        write_wav(path, 0.05, **wav)
    (base / table).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([row for _, _, row in clips], columns=columns).to_csv(base / table, index=False)
    return base


def make_esc50(root: Path) -> Path:
    """Five folds x two categories, one clip each, in ESC-50's layout (``audio/``, ``meta/esc50.csv``)."""
    base = root / "esc50"
    clips: list[Clip] = [
        (
            base / "audio" / f"{fold}-{100 + target}-A-{target}.wav",
            {"rate": 44100, "seed": fold},
            [f"{fold}-{100 + target}-A-{target}.wav", fold, target, category, category == "dog", f"{100 + target}.ogg", "A"],
        )
        for fold in range(1, 6)
        for target, category in enumerate(ESC_CATEGORIES)
    ]
    columns = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
    return write_fold_set(base, "meta/esc50.csv", columns, clips)


def make_urbansound8k(root: Path) -> Path:
    """Ten folds x two classes in UrbanSound8K's layout; rates and channel counts vary, as in the real data."""
    base = root / "urbansound8k"
    clips: list[Clip] = [
        (
            base / "audio" / f"fold{fold}" / f"{1000 + fold}-{class_id}-0-0.wav",
            {"rate": 22050 if class_id else 44100, "channels": 1 + class_id},
            [f"{1000 + fold}-{class_id}-0-0.wav", 1000 + fold, 0.0, 0.05, 1, fold, class_id, name],
        )
        for fold in range(1, 11)
        for class_id, name in enumerate(URBAN_CLASSES)
    ]
    columns = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
    return write_fold_set(base, "metadata/UrbanSound8K.csv", columns, clips)


@dataclass(frozen=True)
class FoldSet:
    """A fold adapter's fixture: its builder (which returns the adapter's options for the copy), folds, classes, clips."""

    make: Callable[[Path], dict[str, str]]
    n_folds: int
    classes: list[str]
    clips: int


def without_options(make: Callable[[Path], Path]) -> Callable[[Path], dict[str, str]]:
    """A builder for a copy the adapter reads with its default options."""

    def build(root: Path) -> dict[str, str]:
        make(root)
        return {}

    return build


FOLD_SETS = {
    # ESC-10's own layout (class folders "NNN - Name", Ogg): the label is the folder's name after "NNN - "; the copy's
    # SHA256SUMS is not the pinned release's, so its digest is passed; one extra take in fold 1.
    "esc10": FoldSet(lambda root: {"sha256": make_esc10(root)}, 5, ["Dog bark", "Fire crackling"], 2 * 5 * 2 + 1),
    "esc50": FoldSet(without_options(make_esc50), 5, list(ESC_CATEGORIES), 2 * 5),
    "urbansound8k": FoldSet(without_options(make_urbansound8k), 10, list(URBAN_CLASSES), 2 * 10),
}
FOLD_CASES = [(name, fold) for name, spec in FOLD_SETS.items() for fold in sorted({1, 2, spec.n_folds})]


@pytest.mark.parametrize("name, fold", FOLD_CASES)
def test_fold_k_tests_the_next_fold_validates_and_the_rest_train(tmp_path: Path, name: str, fold: int) -> None:
    spec = FOLD_SETS[name]
    dataset = get_dataset(name, root=tmp_path, protocol=f"fold{fold}", **spec.make(tmp_path))
    frame = dataset.metadata()
    assert len(frame) == spec.clips  # every clip, once
    tested, validated = frame["fold"] == fold, frame["fold"] == fold % spec.n_folds + 1
    assert tested.any() and validated.any() and (~(tested | validated)).any()
    assert (frame.loc[tested, "split"] == "test").all() and (frame.loc[validated, "split"] == "validation").all()
    assert (frame.loc[~(tested | validated), "split"] == "train").all()
    assert dataset.class_names == spec.classes and sorted(dataset.split("test")["label"].unique()) == spec.classes
    assert dataset.protocols == tuple(f"fold{k}" for k in range(1, spec.n_folds + 1))


def test_esc50_default_protocol_and_load(tmp_path: Path) -> None:
    make_esc50(tmp_path)
    dataset = get_dataset("esc50", root=tmp_path)
    assert dataset.protocol == "fold1" and dataset.protocols == tuple(f"fold{k}" for k in range(1, 6))
    waveform, rate = dataset.load(dataset.split("validation").iloc[0])
    assert waveform.shape == (1, round(0.05 * 44100)) and waveform.dtype == np.float32 and rate == 44100
    with pytest.raises(SuiteError, match="unknown protocol 'fold6'"):
        get_dataset("esc50", root=tmp_path, protocol="fold6")


def test_esc50_errors(tmp_path: Path) -> None:
    base = make_esc50(tmp_path)
    (base / "audio" / "3-101-A-1.wav").unlink()
    with pytest.raises(
        SuiteError, match=r"1 audio file\(s\) in column 'filename' of .*esc50\.csv are missing, the first .*3-101-A-1\.wav"
    ):
        get_dataset("esc50", root=tmp_path).metadata()
    table = pd.read_csv(base / "meta" / "esc50.csv")
    table.drop(columns="category").to_csv(base / "meta" / "esc50.csv", index=False)
    with pytest.raises(SuiteError, match=r"esc50\.csv has no column 'category'"):
        get_dataset("esc50", root=tmp_path).metadata()
    table.assign(fold=7).to_csv(base / "meta" / "esc50.csv", index=False)
    with pytest.raises(SuiteError, match=r"esc50\.csv column 'fold' has fold 7; expected 1 to 5"):
        get_dataset("esc50", root=tmp_path).metadata()
    (base / "meta" / "esc50.csv").unlink()
    with pytest.raises(SuiteError, match=r"meta/esc50\.csv is missing"):
        get_dataset("esc50", root=tmp_path).metadata()


def test_urbansound8k_default_protocol_and_load(tmp_path: Path) -> None:
    make_urbansound8k(tmp_path)
    dataset = get_dataset("urbansound8k", root=tmp_path)
    assert dataset.protocol == "fold1" and len(dataset.protocols) == 10
    test = dataset.split("test")
    waveform, rate = dataset.load(test[test["label"] == "siren"].iloc[0])
    assert waveform.shape == (2, round(0.05 * 22050)) and waveform.dtype == np.float32 and rate == 22050
    frame = dataset.metadata()
    assert all(f"/fold{f}/" in p for f, p in zip(frame["fold"], frame["path"], strict=True))  # audio/foldK/ per fold


def test_urbansound8k_errors(tmp_path: Path) -> None:
    base = make_urbansound8k(tmp_path)
    (base / "audio" / "fold4" / "1004-0-0-0.wav").unlink()
    (base / "audio" / "fold9" / "1009-1-0-0.wav").unlink()
    with pytest.raises(
        SuiteError,
        match=r"2 audio file\(s\) in column 'slice_file_name' of .*UrbanSound8K\.csv are missing, the first .*fold4/1004-0-0-0",
    ):
        get_dataset("urbansound8k", root=tmp_path).metadata()
    (base / "metadata" / "UrbanSound8K.csv").unlink()
    with pytest.raises(SuiteError, match=r"metadata/UrbanSound8K\.csv is missing"):
        get_dataset("urbansound8k", root=tmp_path).metadata()
    with pytest.raises(SuiteError, match=r"urbansound8k was not found in .*urbansounddataset"):
        get_dataset("urbansound8k", root=tmp_path / "empty").metadata()
