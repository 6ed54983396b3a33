"""Plugins: families and data sets from outside the package, by entry point or ``module:attribute`` reference.

The example plugin (``examples/bcresnet_plugin``) is installed with pip, as a user would,
into a folder of its own (``pip install --target``: its package and its ``dist-info``
with the entry points), which the commands under test get on ``PYTHONPATH``; they run as
subprocesses, so nothing the plugin registers leaks into the other tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from suite.errors import SuiteError, UnknownNameError
from suite.models.registry import ModelFamily, ensure_family, get_family, list_models
from suite.registry import PluginError, Registry, is_reference

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "bcresnet_plugin"
SUITE = [sys.executable, "-m", "suite"]
#: What a reference may point at that is not a family (for the error test).
NOT_A_FAMILY = 42


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin pip-installed into a folder of its own (a copy is built: pip writes into its source)."""
    source = shutil.copytree(EXAMPLE, tmp_path_factory.mktemp("source") / "plugin")
    target = tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--target", str(target), str(source)], check=True, timeout=600, capture_output=True)
    return target


def suite(site: Path | None, *args: str, threads: int | None = None) -> subprocess.CompletedProcess[str]:
    """``suite ARGS`` in a subprocess whose ``PYTHONPATH`` has ``site`` (the installed plugin) first."""
    paths = [str(site)] if site else []
    env = os.environ | {"PYTHONPATH": os.pathsep.join([*paths, str(ROOT)])}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.run([*SUITE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_an_installed_plugin_is_listed_by_its_entry_point_names(site: Path) -> None:
    models = suite(site, "list", "models")
    assert models.returncode == 0, models.stderr
    assert "bcresnet" in models.stdout and "broadcasted residual CNN" in models.stdout
    datasets = suite(site, "list", "datasets")
    assert datasets.returncode == 0 and "beeps" in datasets.stdout, datasets.stderr


def test_the_example_config_matches_the_plugin_family_next_to_built_ins_and_reports_all_three(site: Path, tmp_path: Path) -> None:
    config = EXAMPLE / "config.yaml"
    done = suite(site, "run", str(config), "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr[-2000:]
    (run,) = (tmp_path / "r").iterdir()
    results = pd.read_csv(run / "results.csv")
    assert sorted(results["model"]) == ["bcresnet", "cnn2d", "dscnn"] and (results["status"] == "ok").all()
    assert (results["dataset"] == "beeps").all()
    assert ((results["params"] - 20_000).abs() <= 0.1 * 20_000).all(), results[["model", "params"]]  # matched to the budget
    assert (results["macs"] > 0).all() and results["accuracy"].between(0, 1).all()
    report = suite(site, "report", str(run), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    markdown = (tmp_path / "report" / "README.md").read_text()
    assert all(name in markdown for name in ("bcresnet", "cnn2d", "dscnn"))


def test_a_reference_names_a_family_without_installing_it(tmp_path: Path) -> None:
    """``module:attribute`` with the plugin's folder on the path: no entry point involved."""
    env_site = EXAMPLE  # the source folder itself, not installed
    listed = suite(env_site, "profile", "--models", "bcresnet_plugin.models:bcresnet,cnn1d", "--params", "20k")
    assert listed.returncode == 0, listed.stderr
    assert "bcresnet_plugin.models:bcresnet" in listed.stdout and "cnn1d" in listed.stdout


def test_an_unknown_or_broken_plugin_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken-0.1.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (broken / "entry_points.txt").write_text("[audio_arch_suite.models]\nbroken = no_such_module_anywhere:family\n")
    failed = suite(tmp_path, "profile", "--models", "broken", "--params", "20k")
    assert failed.returncode == 2 and len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert "cannot load entry point broken = no_such_module_anywhere:family" in failed.stderr
    assert "ModuleNotFoundError" in failed.stderr
    missing = suite(None, "profile", "--models", "no_such_module_anywhere:family", "--params", "20k")
    assert missing.returncode == 2 and "cannot load reference no_such_module_anywhere:family" in missing.stderr


def test_a_reference_to_something_that_is_not_a_family_says_what_it_is() -> None:
    with pytest.raises(PluginError, match="it is a int, not a model family"):
        get_family("tests.test_plugins:NOT_A_FAMILY")
    with pytest.raises(UnknownNameError, match="unknown model 'no-such-family'"):
        get_family("no-such-family")


def test_a_reference_to_a_registered_builder_is_that_family_under_the_reference() -> None:
    family = get_family("suite.models.cnn1d:cnn1d")
    assert isinstance(family, ModelFamily) and family.name == "suite.models.cnn1d:cnn1d"
    assert family.builder is get_family("cnn1d").builder and family.default_width == get_family("cnn1d").default_width
    assert "suite.models.cnn1d:cnn1d" not in list_models()  # resolvable, never part of `all`


def test_references_are_told_from_names() -> None:
    assert is_reference("pkg.module:attr") and is_reference("m:a.b")
    assert not is_reference("cnn1d") and not is_reference("c:/windows") and not is_reference("hf-hub:x/y")


def test_a_family_registered_only_in_the_driver_is_registered_in_a_worker_by_its_task() -> None:
    """A Ray worker gets the trial's family with its task (:func:`ensure_family`); names that resolve are left alone."""
    builtin = get_family("mlp")
    ensure_family(builtin)
    assert get_family("mlp") is builtin
    visitor = ModelFamily("only_in_the_driver", builtin.builder, builtin.input_kinds, "test", "none", 16)
    try:
        ensure_family(visitor)
        assert get_family("only_in_the_driver") is visitor and "only_in_the_driver" in list_models()
    finally:
        from suite.models import registry

        registry._REGISTRY._items.pop("only_in_the_driver", None)  # the registry has no public removal: only tests need one


def test_a_registry_adopts_what_a_plugin_gives_or_refuses_it_in_one_line() -> None:
    def adopt(name: str, loaded: object) -> str:
        if not isinstance(loaded, str):
            raise SuiteError("not a string")
        return f"{name}={loaded}"

    registry: Registry[str] = Registry("thing", adopt=adopt)
    assert registry.get("os.path:sep") == f"os.path:sep={os.sep}" and "os.path:sep" in registry
    with pytest.raises(PluginError, match=r"thing 'os:getcwd' \(reference os:getcwd\): not a string"):
        registry.get("os:getcwd")


def test_the_example_config_on_ray_gives_the_same_results_as_locally(site: Path, tmp_path: Path) -> None:
    """Ray's workers resolve the plugin's entry points themselves (they get the driver's ``PYTHONPATH``)."""
    pytest.importorskip("ray", reason="ray is not installed (pip install -c constraints.txt '.[ray]')")
    from tests.ray_child import Children, run_folder

    config = EXAMPLE / "config.yaml"
    local = suite(site, "run", str(config), "--out", str(tmp_path / "local"), "--cache-dir", str(tmp_path / "c"), threads=1)
    assert local.returncode == 0, local.stderr[-2000:]
    with Children(tmp_path / "children", env={"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}) as children:
        args = ["run", str(config), "--out", str(tmp_path / "ray"), "--cache-dir", str(tmp_path / "c"), "--executor", "ray"]
        children.run([*args, "--cpus-per-trial", "1"], own_ray=True)
    compared = ["model", "width", "params", "macs", "accuracy", "macro_f1", "epochs", "status"]
    tables = [pd.read_csv(run_folder(tmp_path / name) / "results.csv") for name in ("local", "ray")]
    pd.testing.assert_frame_equal(tables[0][compared], tables[1][compared])


def test_an_adapter_registered_only_in_the_driver_is_registered_in_a_worker_by_its_task() -> None:
    from suite.data.base import DATASETS, ensure_dataset, get_dataset
    from suite.data.synthetic import Synthetic

    ensure_dataset("synthetic", Synthetic)  # resolves already: left alone
    assert DATASETS.get("synthetic") is Synthetic
    try:
        ensure_dataset("only_in_the_driver", Synthetic)
        assert isinstance(get_dataset("only_in_the_driver", n_classes=2, examples_per_class=5), Synthetic)
    finally:
        DATASETS._items.pop("only_in_the_driver", None)  # the registry has no public removal: only tests need one
