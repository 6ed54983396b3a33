"""``suite run``: expand a config into trials (model x budget x seed), train, record.

Each trial is matched to its budget, built with its seed, counted (params, MACs),
trained under the protocol and tested; its record is appended to ``trials.jsonl`` as
soon as it ends. A trial that raises is recorded as ``failed`` with its error and the
run goes on; Ctrl-C stops after writing what finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from suite.budget import Budget
from suite.config import RunConfig, load_config
from suite.data import get_dataset
from suite.data.base import AudioDataset
from suite.environment import environment
from suite.errors import SuiteError
from suite.feature_cache import prepare_features
from suite.input_spec import InputSpec
from suite.measure import MAC_CONVENTION
from suite.measure.costs import measure_costs
from suite.models import get_family
from suite.profile import build_matched
from suite.results import RunWriter, new_run_dir
from suite.train import TrialData, train_model


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what finished and where it is."""


@dataclass(frozen=True)
class Trial:
    """One training of one family at one budget with one seed."""

    model: str
    budget: Budget
    seed: int


def expand_trials(config: RunConfig) -> list[Trial]:
    """Every (budget, model, seed) combination of the config, in that nesting order."""
    budgets = [section.budget() for section in config.budgets]
    return [Trial(model, budget, seed) for budget in budgets for model in config.models for seed in config.seeds]  # type: ignore[union-attr]


def trial_id(config: RunConfig, spec: InputSpec, trial: Trial) -> str:
    """A stable identity: hash of data set, protocol, input, model, budget, seed and training settings."""
    identity = {
        "dataset": config.dataset.model_dump(),
        "input": dataclasses.asdict(spec),
        "model": trial.model,
        "budget": [trial.budget.kind, trial.budget.value],
        "seed": trial.seed,
        "training": config.training.model_dump(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SuiteError("--device cuda was asked for, but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise SuiteError(f"unknown device {name!r}; expected auto, cpu or cuda")
    return torch.device(name)


class _Features:
    """Feature sets per front end, computed (or read from the cache) on first use."""

    def __init__(self, dataset: AudioDataset, config: RunConfig, cache_dir: Path | None, progress: bool) -> None:
        self.dataset, self.config, self.cache_dir, self.progress = dataset, config, cache_dir, progress
        self.summaries: dict[str, dict[str, Any]] = {}
        self.data: dict[InputSpec, TrialData] = {}

    def get(self, spec: InputSpec) -> TrialData:
        if spec not in self.data:
            features = prepare_features(self.dataset, spec, self.cache_dir, self.config.on_error, self.progress)
            self.summaries[spec.feature] = {
                "key": features.key,
                "cache_hit": features.cache_hit,
                "seconds": round(features.seconds, 3),
                "skipped": features.skipped,
            }
            self.data[spec] = TrialData.from_features(features, spec)
        return self.data[spec]

    def summary(self) -> dict[str, Any]:
        return dict(self.summaries)


def _run_trial(
    trial: Trial, config: RunConfig, spec: InputSpec, features: _Features, device: torch.device, progress: bool
) -> dict[str, Any]:
    """Match, build, count, train and test one trial; returns the fields of its record."""
    data = features.get(get_family(trial.model).adapt_input(spec))
    built = build_matched(trial.model, spec, trial.budget, data.n_classes, trial.seed, config.tolerance)
    record: dict[str, Any] = {
        "feature": built.spec.feature,
        "width": built.match.width,
        "params": built.params,
        "macs": built.macs,
        "flops": 2 * built.macs,
        "model_bytes": built.model_bytes,
        "budget_error": built.budget_error,
        "uncounted_ops": built.uncounted_ops,
    }
    if built.model is None:
        return record | {"status": "infeasible", "error": built.match.reason}
    deterministic = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        result = train_model(built.model, data, config.training, trial.seed, device, progress)
    finally:
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    record |= dataclasses.asdict(result)
    measure = config.measure
    if measure.latency is not None or measure.memory:
        costs, timings = measure_costs(
            built.model, built.spec, built.macs, measure.latency, measure.memory, config.training.batch_size, data.n_classes
        )
        record |= costs | {"timings": timings}
    return record | {"status": "ok", "error": ""}


def _trial_line(done: int, total: int, trial: Trial, record: dict[str, Any]) -> str:
    """One line per finished trial, so a log without a progress bar still shows progress."""
    outcome = f"accuracy {record['accuracy']:.1%}" if record["status"] == "ok" else record.get("error", "")
    head = f"[{done}/{total}] {trial.model} {trial.budget} seed {trial.seed}"
    return f"{head}: {record['status']} {outcome} ({record['wall_seconds']:.1f} s)"


def run_config(
    config: RunConfig,
    source: str = "config",
    data_root: str | Path | None = None,
    out: str | Path = "results",
    device: str = "auto",
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Run every trial of ``config`` and write ``out/<name>-<timestamp>/``; returns that folder."""
    torch_device = resolve_device(device)
    dataset = get_dataset(config.dataset.name, root=data_root, protocol=config.dataset.protocol, **config.dataset.options)
    spec = config.input.spec(dataset.sample_rate)
    trials = expand_trials(config)
    features = _Features(dataset, config, Path(cache_dir) if cache_dir else None, progress)
    description = dataset.describe()  # finds (or downloads) the data before any folder is made
    environment_info, class_names = environment(), dataset.class_names
    started = datetime.now(UTC)
    writer = RunWriter(new_run_dir(Path(out), config.name, started.strftime("%Y%m%d-%H%M%S")))
    manifest: dict[str, Any] = {
        "name": config.name,
        "config_source": source,
        "config": config.model_dump(mode="json"),
        "status": "running",
        "started": started.isoformat(),
        "ended": None,
        "trials_planned": len(trials),
        "device": str(torch_device),
        "environment": environment_info,
        "dataset": description,
        "class_names": class_names,
        "input_spec": dataclasses.asdict(spec),
        "mac_convention": MAC_CONVENTION,
    }
    writer.write_manifest(manifest)
    bar = tqdm(trials, desc=f"run {config.name}", unit="trial", disable=None if progress else True)
    try:
        for trial in bar:
            bar.set_postfix_str(f"{trial.model} {trial.budget} seed {trial.seed}")
            record: dict[str, Any] = {
                "trial_id": trial_id(config, spec, trial),
                "model": trial.model,
                "dataset": dataset.name,
                "protocol": dataset.protocol,
                "budget_kind": trial.budget.kind,
                "budget": trial.budget.value,
                "seed": trial.seed,
                "device": str(torch_device),
            }
            start = time.perf_counter()
            try:
                record |= _run_trial(trial, config, spec, features, torch_device, progress)
            except SuiteError:
                raise  # a problem with the data or settings: every trial would hit it
            except Exception as error:
                record |= {"status": "failed", "error": f"{type(error).__name__}: {error}"}
            record["wall_seconds"] = time.perf_counter() - start
            writer.add_trial(record)
            bar.write(_trial_line(len(writer.records), len(trials), trial, record), file=sys.stderr)
            manifest["features"] = features.summary()
    except SuiteError as error:
        manifest |= {"status": "failed", "error": str(error), "ended": datetime.now(UTC).isoformat()}
        writer.write_manifest(manifest)
        raise
    except KeyboardInterrupt:
        manifest |= {"status": "interrupted", "ended": datetime.now(UTC).isoformat(), "features": features.summary()}
        writer.write_manifest(manifest)
        raise RunInterrupted(
            f"interrupted: {len(writer.records)} of {len(trials)} trials finished; their results are in {writer.run_dir}"
        ) from None
    except BaseException as error:  # a bug or the system (disk full...): the manifest says so, then the error goes on
        manifest |= {"status": "failed", "error": f"{type(error).__name__}: {error}", "ended": datetime.now(UTC).isoformat()}
        with contextlib.suppress(OSError):
            writer.write_manifest(manifest)
        raise
    manifest |= {"status": "complete", "ended": datetime.now(UTC).isoformat(), "features": features.summary()}
    writer.write_manifest(manifest)
    return writer.run_dir


def run_suite(config_path: str | Path, **options: Any) -> Path:
    """Load the YAML config at ``config_path`` and :func:`run_config` it."""
    return run_config(load_config(config_path), str(config_path), **options)
