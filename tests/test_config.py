"""Config validation: every shipped config is valid; typos and wrong types are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from suite.config import load_config, parse_config
from suite.errors import SuiteError

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
BASE = {"name": "t", "dataset": {"name": "synthetic"}, "budgets": {"params": ["25k"]}}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_are_valid(path: Path) -> None:
    config = load_config(path)
    assert config.models and config.budgets and config.seeds


def test_required_configs_are_shipped() -> None:
    assert {"default", "fsdd", "speech_commands", "esc50", "smoke"} <= {p.stem for p in CONFIGS}


def test_defaults_and_shorthand() -> None:
    config = parse_config(BASE)
    assert config.models[0] == "mlp" and len(config.models) == 14
    assert [str(b.budget()) for b in config.budgets] == ["params=25k"]
    assert config.seeds == [0] and config.training.epochs == 30 and config.on_error == "raise"
    longhand = parse_config(BASE | {"budgets": [{"macs": "2M"}, {"params": 1000}]})
    assert [str(b.budget()) for b in longhand.budgets] == ["macs=2M", "params=1k"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"training": {"epoch": 3}}, "unknown key 'training.epoch' (did you mean 'epochs'?)"),
        ({"modles": ["mlp"]}, "unknown key 'modles' (did you mean 'models'?)"),
        ({"models": ["lstn"]}, "unknown model 'lstn'; did you mean lstm"),
        ({"models": []}, "no model selected"),
        ({"dataset": {"name": "fsd"}}, "unknown data set 'fsd'; did you mean fsdd?"),
        ({"budgets": [{"params": "1x"}]}, "malformed budget '1x'"),
        ({"budgets": [{"params": "-5"}]}, "must be a positive whole number"),
        ({"budgets": [{"params": 0}]}, "must be a positive whole number"),
        ({"budgets": [{"params": 10, "macs": 20}]}, "give exactly one of params or macs"),
        ({"budgets": []}, "budgets: List should have at least 1 item"),
        ({"training": {"epochs": "ten"}}, "training.epochs: Input should be a valid integer"),
        ({"training": {"lr": -1}}, "training.lr: Input should be greater than 0"),
        ({"seeds": [1, 1]}, "seeds must be distinct"),
        ({"on_error": "ignore"}, "on_error: Input should be 'raise' or 'skip'"),
        ({"name": "a b/c"}, "name: String should match pattern"),
        ({"input": {"feature": "mfcc", "n_mels": 32, "n_mfcc": 40}}, "n_mfcc (40) cannot exceed n_mels (32)"),
        ({"input": {"feature": "cqt"}}, "input.feature: Input should be 'logmel', 'mfcc' or 'raw'"),
    ],
)
def test_bad_configs(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SuiteError) as error:
        parse_config(BASE | changes, "my.yaml")
    assert str(error.value).startswith("my.yaml: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_key() -> None:
    with pytest.raises(SuiteError, match="missing key 'dataset'"):
        parse_config({"name": "x", "budgets": {"params": [1]}})


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndataset: {name: fsdd\nbudgets: [\n")
    with pytest.raises(SuiteError, match=r"bad.yaml: malformed YAML at line \d+"):
        load_config(path)


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump(["a", "b"]))
    with pytest.raises(SuiteError, match="expected a mapping"):
        load_config(path)
    with pytest.raises(SuiteError, match=r"config file .*nope\.yaml not found"):
        load_config(tmp_path / "nope.yaml")
