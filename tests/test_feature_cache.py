"""The feature cache: computed once, reused, and recomputed when anything that determines it changes."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from suite.data import get_dataset
from suite.feature_cache import FeatureSet, cache_key, file_features
from suite.input_spec import InputSpec
from tests.helpers_audio import write_wav

SPEC = InputSpec(sample_rate=8000, clip_seconds=0.5)


@pytest.fixture
def dataset_root(tmp_path: Path) -> Path:
    root = tmp_path / "data" / "mine"
    rows = []
    for split, count in (("train", 4), ("validation", 2), ("test", 2)):
        for index in range(count):
            write_wav(root / f"{split}{index}.wav", 0.4, 8000, seed=index)
            rows.append({"path": f"{split}{index}.wav", "label": "ab"[index % 2], "split": split})
    pd.DataFrame(rows).to_csv(root / "all.csv", index=False)
    return root


def features_of(root: Path, spec: InputSpec, cache: Path, **options: object) -> FeatureSet:
    """The features of the fixture's protocol, as a trial sees them."""
    dataset = load(root)
    return file_features(dataset, spec, cache, **options).select(dataset)  # type: ignore[arg-type]


def load(root: Path) -> object:
    return get_dataset("manifest", root=root.parent, folder=str(root), file="all.csv")


def test_second_call_reads_the_cache(dataset_root: Path, tmp_path: Path) -> None:
    first = features_of(dataset_root, SPEC, tmp_path / "cache", progress=False)
    second = features_of(dataset_root, SPEC, tmp_path / "cache", progress=False)
    assert not first.cache_hit and second.cache_hit and first.key == second.key
    for split in ("train", "validation", "test"):
        assert torch.equal(first.inputs[split], second.inputs[split])
        assert torch.equal(first.targets[split], second.targets[split])
    assert first.inputs["train"].shape == (4, *SPEC.shape)
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".pt"]  # no temporary file left


@pytest.mark.parametrize(
    "change",
    [{"n_mels": 32}, {"hop_ms": 20.0}, {"clip_seconds": 0.3}, {"feature": "mfcc"}, {"feature": "raw"}, {"sample_rate": 16000}],
)
def test_a_changed_setting_recomputes(dataset_root: Path, tmp_path: Path, change: dict[str, object]) -> None:
    features_of(dataset_root, SPEC, tmp_path / "cache", progress=False)
    changed = features_of(dataset_root, SPEC.replace(**change), tmp_path / "cache", progress=False)
    assert not changed.cache_hit
    assert changed.inputs["train"].shape == (4, *SPEC.replace(**change).shape)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_changed_data_recomputes(dataset_root: Path, tmp_path: Path) -> None:
    before = cache_key(load(dataset_root), SPEC, "raise")
    write_wav(dataset_root / "train0.wav", 0.45, 8000, seed=99)  # a re-recorded file of another length
    assert cache_key(load(dataset_root), SPEC, "raise") != before
    assert cache_key(load(dataset_root), SPEC, "skip") != cache_key(load(dataset_root), SPEC, "raise")


def test_labels_follow_the_sorted_class_names(dataset_root: Path, tmp_path: Path) -> None:
    features = features_of(dataset_root, SPEC, tmp_path / "cache", progress=False)
    assert features.class_names == ["a", "b"]
    assert features.targets["train"].tolist() == [0, 1, 0, 1]


def test_a_data_set_without_files_reads_its_cache_from_any_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated rows (``synthetic://tone_low/0``) are not paths: their key must not depend on where the run starts.

    Their keys once went through ``relpath(abspath(...))``, so two checkouts sharing the
    default cache read each other's file as damaged, warned, and rewrote it in turn.
    """
    spec = SPEC.replace(clip_seconds=0.25)
    options = {"n_classes": 2, "examples_per_class": 5, "clip_seconds": 0.25}
    hits = []
    for folder in ("a", "b/c"):
        (tmp_path / folder).mkdir(parents=True)
        monkeypatch.chdir(tmp_path / folder)
        dataset = get_dataset("synthetic", root=tmp_path / "data", **options)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            hits.append(file_features(dataset, spec, tmp_path / "cache", progress=False).cache_hit)
    assert hits == [False, True]
