"""Edge cases found in review: each must stay fixed."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from suite.data import DataNotFoundError, get_dataset
from suite.data.download import safe_extract
from suite.errors import SuiteError
from suite.feature_cache import file_features
from suite.input_spec import InputSpec
from suite.models import create_model
from suite.train import TrainingConfig, TrialData, _batch_indices, classification_metrics, train_model
from tests.helpers_audio import write_wav

SPEC = InputSpec(sample_rate=8000, clip_seconds=0.5)


def test_a_last_batch_of_one_joins_the_previous_batch() -> None:
    batches = _batch_indices(65, 8, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [8] * 7 + [9]
    assert sorted(torch.cat(batches).tolist()) == list(range(65))


def _data(n_train: int, n_classes: int, test_labels: list[int]) -> TrialData:
    generator = torch.Generator().manual_seed(0)
    inputs = {split: torch.randn(n, *SPEC.shape, generator=generator) for split, n in (("train", n_train), ("validation", 6))}
    inputs["test"] = torch.randn(len(test_labels), *SPEC.shape, generator=generator)
    targets = {
        "train": torch.arange(n_train) % n_classes,
        "validation": torch.arange(6) % n_classes,
        "test": torch.tensor(test_labels),
    }
    return TrialData(inputs, targets, n_classes, 100.0, True)


def test_mlp_trains_when_the_last_batch_would_hold_one_example() -> None:
    result = train_model(
        create_model("mlp", 3, SPEC, 8),
        _data(17, 3, [0, 1, 2]),
        TrainingConfig(epochs=1, batch_size=8),
        0,
        torch.device("cpu"),
        False,
    )
    assert result.epochs == 1


def test_macro_f1_ignores_a_class_absent_from_test_and_predictions() -> None:
    truth = np.array([0, 0, 1, 1])
    accuracy, macro_f1, confusion = classification_metrics(truth, truth.copy(), n_classes=3)
    assert (accuracy, macro_f1) == (1.0, 1.0)  # class 2 never occurs: it must not count as F1 = 0
    assert confusion == [[2, 0, 0], [0, 2, 0], [0, 0, 0]]
    _, half, _ = classification_metrics(truth, np.array([0, 0, 0, 0]), n_classes=3)
    assert half == pytest.approx((2 / 3 + 0) / 2)  # class 0: P=0.5, R=1 -> F1 2/3; class 1: 0


def test_the_same_file_in_two_splits_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    write_wav(root / "a.wav")
    write_wav(root / "b.wav")
    rows = [("a.wav", "x", "train"), ("a.wav", "x", "test"), ("b.wav", "y", "validation"), ("b.wav", "y", "train")]
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(root / "all.csv", index=False)
    with pytest.raises(SuiteError, match=r"appear in more than one split, the first .*a\.wav"):
        get_dataset("manifest", root=tmp_path, folder=str(root), file="all.csv").metadata()


def test_a_truncated_archive_is_a_clear_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = 100_000
        tar.addfile(
            info,
            io.BytesIO(torch.randint(0, 256, (100_000,), generator=torch.Generator().manual_seed(0)).byte().numpy().tobytes()),
        )
    archive = tmp_path / "cut.tar.gz"
    compressed = gzip.compress(buffer.getvalue())
    archive.write_bytes(compressed[: len(compressed) // 2])  # random bytes do not compress: half of the member is missing
    with pytest.raises(DataNotFoundError, match="not a readable archive"):
        safe_extract(archive, tmp_path / "out")


def test_an_unreadable_feature_cache_is_rebuilt(tmp_path: Path) -> None:
    dataset = get_dataset("synthetic", n_classes=2, examples_per_class=5)
    first = file_features(dataset, SPEC, tmp_path, progress=False).select(dataset)
    (cached,) = tmp_path.glob("*.pt")
    cached.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="unreadable"):
        again_set = get_dataset("synthetic", n_classes=2, examples_per_class=5)
        again = file_features(again_set, SPEC, tmp_path, progress=False).select(again_set)
    assert not again.cache_hit and torch.equal(again.inputs["train"], first.inputs["train"])
