"""The public Python API: what each ``suite`` command does, as a function (the CLI calls these).

>>> import suite
>>> run = suite.run("configs/smoke.yaml", data_root="../shared/data", seeds=[0])  # doctest: +SKIP
>>> run.results[["model", "params", "accuracy"]]  # doctest: +SKIP
>>> suite.compare("results/baselines/ci", run.run_dir).exit_code  # doctest: +SKIP

Every function raises :class:`suite.errors.SuiteError` for input the caller must fix
(the CLI prints it as one line); anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from suite.errors import SuiteError
from suite.metrics import LATENCY_MS, PARAMS

if TYPE_CHECKING:  # the heavy modules load when a function is called, so `import suite` stays quick
    from suite.config import RunConfig
    from suite.executors import Executor
    from suite.gate import Comparison, FailOn, History
    from suite.measure.costs import LatencySettings
    from suite.reporting import ReportFiles


@dataclass(frozen=True)
class RunResult:
    """A finished (or resumed to the end) ``suite run``.

    Attributes:
        run_dir (Path): The results folder (``manifest.json``, ``trials.jsonl``, ``results.csv``).
        records (list[dict]): The latest record of every trial, as ``trials.jsonl`` holds them.
        results (pandas.DataFrame): One row per trial, the columns of ``results.csv``
            (model, budget, seed, width, params, macs, accuracy, macro_f1, latency, memory, status...).
    """

    run_dir: Path
    records: list[dict[str, Any]]
    results: pd.DataFrame

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The records whose status is ``failed`` (``infeasible`` budgets are results, not failures)."""
        return [record for record in self.records if record.get("status") == "failed"]


def _config(config: str | Path | Mapping[str, Any] | RunConfig, overrides: Mapping[str, Any]) -> tuple[RunConfig, str]:
    """The validated config with ``overrides`` (top-level keys) applied, and where it came from."""
    from suite.config import RunConfig, parse_config, read_config_data

    if isinstance(config, RunConfig):
        data, source = config.model_dump(mode="json", exclude_unset=True), "config"
    elif isinstance(config, Mapping):
        data, source = dict(config), "config"
    else:
        data, source = read_config_data(config), str(config)
    if not isinstance(data, dict):
        return parse_config(data, source), source  # parse_config names the problem
    return parse_config(data | dict(overrides), source), source


def run(
    config: str | Path | Mapping[str, Any] | RunConfig,
    *,
    data_root: str | Path | None = None,
    out: str | Path = "results",
    device: str = "auto",
    cache_dir: str | Path | None = None,
    executor: Executor | str = "local",
    resume: str | Path | bool | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    **overrides: Any,
) -> RunResult:
    """Train and measure every trial of a config (``suite run``).

    Args:
        config: A YAML file, a mapping of settings, or a :class:`suite.config.RunConfig`.
        data_root (str | Path, optional): Where the data sets live. (Default: ``$SUITE_DATA_ROOT``, then a per-user cache)
        out (str | Path): Parent of the new run folder ``out/<name>-<timestamp>``. (Default: ``results``)
        device (str): ``auto``, ``cpu`` or ``cuda``. (Default: ``auto``)
        cache_dir (str | Path, optional): Feature cache. (Default: a per-user cache)
        executor (Executor | str): ``local``, ``ray``, or an executor object. (Default: ``local``)
        resume (str | Path | bool, optional): A run folder to finish, or ``True`` for the latest of this config under ``out``.
        retry_failed (bool): When resuming, run ``failed`` trials again. (Default: ``False``)
        progress (bool): Progress bars on a terminal, lines in a log. (Default: ``True``)
        **overrides: Top-level config settings to replace, e.g. ``seeds=[0]`` or ``models=["cnn1d"]``.

    Returns:
        RunResult: The folder and its trials.
    """
    from suite.results import latest_records, read_trial_log
    from suite.runner import run_config

    validated, source = _config(config, overrides)
    options = {"data_root": data_root, "out": out, "device": device, "cache_dir": cache_dir, "progress": progress}
    run_dir = run_config(validated, source, **options, executor=executor, resume=resume, retry_failed=retry_failed)
    records = list(latest_records(read_trial_log(run_dir / "trials.jsonl")[0]).values())
    table = run_dir / "results.csv"
    return RunResult(run_dir, records, pd.read_csv(table) if table.is_file() else pd.DataFrame())


def profile(
    models: str | Sequence[str] = "all",
    budget: str | int = "100k",
    *,
    kind: str = PARAMS,
    input: str = "default",
    classes: int | None = None,
    tolerance: float | None = None,
    latency: LatencySettings | bool = False,
    streaming: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Match families to one budget and count (and optionally time) them, without training (``suite profile``).

    Args:
        models (str | Sequence[str]): ``all``, names, patterns (``cnn*``) or plugin references. (Default: ``all``)
        budget (str | int): The budget, e.g. ``100k`` or ``2.5M``. (Default: ``100k``)
        kind (str): ``params`` or ``macs``. (Default: ``params``)
        input (str): An input preset (``suite list inputs``). (Default: ``default``)
        classes (int, optional): Output classes. (Default: the preset's)
        tolerance (float, optional): Relative budget tolerance of the matcher. (Default: the matcher's)
        latency (LatencySettings | bool): Time and measure memory too; ``True`` for the default settings. (Default: ``False``)
        streaming (bool): Also the cost per hop of listening to a stream
            (:func:`suite.streaming.measure.measure_streaming`). (Default: ``False``)
        progress (bool): Progress on a terminal. (Default: ``True``)

    Returns:
        pandas.DataFrame: One row per family: width, params, MACs, bytes, budget error,
        status (``ok``/``infeasible``) and, with ``latency``, times in ms and peaks in MiB;
        with ``streaming``, the ``stream_*`` columns.
    """
    from suite.budget import DEFAULT_TOLERANCE, Budget
    from suite.input_spec import PRESET_CLASSES, input_preset
    from suite.measure.costs import LatencySettings
    from suite.measure.stability import quiet_wait_budget
    from suite.models import resolve_model_names
    from suite.profiling import profile_models

    names = resolve_model_names(models if isinstance(models, str) else ",".join(models))
    settings = LatencySettings() if latency is True else (latency or None)
    if settings is not None or streaming:
        quiet_wait_budget()  # a bad $SUITE_QUIET_WAIT_SECONDS is one error before any model is built
    records = profile_models(
        names,
        Budget.parse(kind, budget),
        input_preset(input),
        input,
        classes or PRESET_CLASSES[input],
        DEFAULT_TOLERANCE if tolerance is None else tolerance,
        progress=progress,
        latency=settings,
        memory=bool(latency),
        streaming=streaming,
    )
    return pd.DataFrame([record.to_dict() for record in records])


def report(run_dirs: str | Path | Iterable[str | Path], out: str | Path | None = None, formats: str = "html,md") -> ReportFiles:
    """Write an HTML and Markdown report of one or more results folders (``suite report``).

    Args:
        run_dirs: Results folders, or folders of them.
        out (str | Path, optional): The report folder. (Default: ``reports/<run name>``)
        formats (str): ``html``, ``md`` or ``html,md``; ``summary.csv`` and plots always. (Default: both)
    """
    from suite.reporting import write_report

    folders = [run_dirs] if isinstance(run_dirs, str | Path) else list(run_dirs)
    return write_report(folders, out=out, formats=formats)


def compare(
    base: str | Path,
    new: str | Path,
    fail_on: str | FailOn | None = None,
    *,
    basis: str = "auto",
    allow_different_data: bool = False,
) -> Comparison:
    """Judge NEW against BASE metric by metric (``suite compare``); ``.exit_code`` is 1 on a regression.

    Args:
        base, new: Results folders (a folder of several runs pools them) or a report's ``summary.csv``.
        fail_on (str | FailOn, optional): Thresholds, e.g. ``"latency=10%,accuracy=0.5pt"``. (Default: the suite's)
        basis (str): Latency in ``ms``, as ``rel`` (ratio to the reference kernel) or ``auto``; with ``auto``,
            the latency of sides from different machines is shown but not judged. (Default: ``auto``)
        allow_different_data (bool): Compare runs whose data differ (the output says so). (Default: ``False``)
    """
    from suite.gate import FailOn, compare_paths, parse_fail_on

    thresholds = fail_on if isinstance(fail_on, FailOn) else parse_fail_on(fail_on)
    if basis not in ("auto", "ms", "rel"):
        raise SuiteError(f"basis must be auto, ms or rel, got {basis!r}")
    return compare_paths(base, new, thresholds, basis=basis, allow_different_data=allow_different_data)  # type: ignore[arg-type]


def history(root: str | Path, metric: str = LATENCY_MS, fail_on: str | FailOn | None = None) -> History:
    """Follow one metric over every run under ``root`` and mark its steps (``suite history``)."""
    from suite.gate import FailOn, build_history, parse_fail_on

    thresholds = fail_on if isinstance(fail_on, FailOn) else parse_fail_on(fail_on)
    return build_history(root, metric=metric, fail_on=thresholds)


def load_results(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Every trial of one or more results folders, one row each (``run``, ``machine`` and the ``results.csv`` columns).

    Folders written by older versions of the suite are read as ``suite report`` reads them;
    what was skipped is in ``DataFrame.attrs["notes"]``.
    """
    from suite.results.load import load_results as load

    loaded = load([paths] if isinstance(paths, str | Path) else list(paths))
    trials = loaded.trials
    trials.attrs["notes"] = list(loaded.notes)
    return trials
