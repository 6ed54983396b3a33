"""``suite run``: expand a config into trials (model x budget x seed x fold), train, record.

Each trial is matched to its budget, built with its seed, counted (params, MACs),
trained under the protocol and tested by an executor (:mod:`suite.executors`: in this
process, or on a Ray cluster); the driver appends its record to ``trials.jsonl`` as
soon as it ends. A trial that raises is recorded as ``failed`` with its error and the
run goes on; Ctrl-C stops after writing what finished. A run folder can be resumed
(:mod:`suite.resume`): trials already done are skipped, each trial is done once. A
results file that cannot be written (disk full, a file-size limit) stops the run in
one line with the command that resumes it (:class:`RunStopped`); what finished is kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import sys
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from suite.config import RunConfig, load_config
from suite.crossval import FOLD, Evaluation, describe_evaluation
from suite.data import get_dataset
from suite.data.base import AudioDataset
from suite.environment import environment
from suite.errors import SuiteError
from suite.executors import Executor, LocalExecutor, Trial, TrialTask, make_executor, resolve_device
from suite.fileio import check_writable
from suite.input_spec import InputSpec
from suite.measure import MAC_CONVENTION
from suite.measure.stability import quiet_wait_budget
from suite.metrics import ACCURACY
from suite.models import get_family
from suite.planning import dataset_identity, expand_trials, keep_trials, trial_id
from suite.progress import progress as show_progress
from suite.results import RESULTS_FORMAT, ResultsWriteError, RunWriter, describe_rejected, new_run_dir, rejected_path
from suite.results.manifest import contributors
from suite.resume import ResumePlan, plan_resume
from suite.run_eta import weigh_work

__all__ = [
    "RunInterrupted",
    "RunStopped",
    "Trial",
    "expand_trials",
    "resolve_device",
    "resume_command",
    "run_config",
    "run_suite",
    "trial_id",
]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says what finished and where it is.

    Attributes:
        run_dir: The run folder, to resume.
    """

    def __init__(self, message: str, run_dir: Path) -> None:
        super().__init__(message)
        self.run_dir = run_dir


class RunStopped(SuiteError):
    """A results file could not be written (disk full, a file-size limit): the run stopped, what finished is kept.

    The message names the file and the cause, how many trials finished and the command
    that resumes the run.

    Attributes:
        run_dir: The run folder, to resume.
    """

    def __init__(self, message: str, run_dir: Path) -> None:
        super().__init__(message)
        self.run_dir = run_dir


def resume_command(
    source: str,
    run_dir: Path,
    data_root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    device: str = "auto",
    retry_failed: bool = False,
    executor_options: list[str] | None = None,
) -> str:
    """The ``suite run`` command line that resumes ``run_dir`` with the same settings."""
    command = ["suite", "run", source, "--resume", str(run_dir)]
    for option, value in (("--data-root", data_root), ("--cache-dir", cache_dir)):
        if value:
            command += [option, str(value)]
    if device != "auto":
        command += ["--device", device]
    if retry_failed:
        command.append("--retry-failed")
    return shlex.join(command + list(executor_options or []))


def _check_folders(out: Path, resume: str | Path | bool | None, cache_dir: Path | None) -> None:
    """Refuse a results or cache folder that cannot be written before the data are scanned (minutes on a large set)."""
    folder = Path(resume) if isinstance(resume, str | Path) and not isinstance(resume, bool) else None
    if folder is None:
        check_writable(out, "--out")
    elif folder.exists():  # one that does not exist is refused by plan_resume
        check_writable(folder, "--resume")
    if cache_dir is not None:  # an explicit cache folder; the default one is skipped with a warning when unwritable
        check_writable(cache_dir, "--cache-dir")


def _trial_line(done: int, total: int, trial: Trial, record: dict[str, Any]) -> str:
    """One line per finished trial, so a log without a progress bar still shows progress."""
    outcome = f"accuracy {record[ACCURACY]:.1%}" if record["status"] == "ok" else record.get("error", "")
    fold = f" {record[FOLD]}" if record.get(FOLD) else ""
    head = f"[{done}/{total}] {trial.model} {trial.budget} seed {trial.seed}{fold}"
    return f"{head}: {record['status']} {outcome} ({record.get('wall_seconds', 0.0):.1f} s)"


def run_config(
    config: RunConfig,
    source: str = "config",
    data_root: str | Path | None = None,
    out: str | Path = "results",
    device: str = "auto",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    executor: Executor | str = "local",
    resume: str | Path | bool | None = None,
    retry_failed: bool = False,
    only: Collection[str] | None = None,
) -> Path:
    """Run every trial of ``config`` that is not done yet; returns the run folder.

    Args:
        config, source: The config and where it came from (for the manifest).
        data_root, cache_dir: Data root and feature cache (defaults: environment, then per-user caches).
        out: Parent of a new run folder (``out/<name>-<timestamp>``), or a run folder to resume.
        device: ``auto``, ``cpu`` or ``cuda``.
        progress: Show progress bars.
        executor: An :class:`~suite.executors.Executor`, or ``local``/``ray`` with default settings.
        resume: A run folder to resume, or ``True`` for the latest run of this config under ``out``.
        retry_failed: When resuming, run ``failed`` trials again (``ok`` and ``infeasible`` ones never).
        only: The ids of the trials to run; the config's others are left out of the run (``suite reference
            check`` re-runs one fold of a cross-validation this way). (Default: every trial)
    """
    if config.measure.latency is not None:
        quiet_wait_budget()  # a bad $SUITE_QUIET_WAIT_SECONDS fails now, not in every trial after its training
    runner = executor if isinstance(executor, Executor) else make_executor(executor, progress=progress)
    cache = Path(cache_dir).absolute() if cache_dir else None
    evaluation = config.dataset.evaluation()
    section = config.dataset
    datasets = {p: get_dataset(section.name, root=data_root, protocol=p, **section.options) for p in evaluation.protocols}
    first = datasets[evaluation.protocols[0]]
    spec = config.input.spec(first.sample_rate)
    trials = expand_trials(config)
    identities = {p: dataset_identity(config, dataset) for p, dataset in datasets.items()}
    ids = [trial_id(config, identities[trial.protocol], spec, trial) for trial in trials]  # type: ignore[index]
    if only is not None:
        trials, ids = keep_trials(trials, ids, set(only), config.name)
    _check_folders(Path(out), resume, cache)
    description = describe_evaluation(evaluation, datasets)  # finds (or downloads) the data before any folder is made
    plan: ResumePlan = plan_resume(Path(out), config, description, ids, resume, retry_failed)
    try:
        runner.prepare(device, config.trial_timeout)
        run = _Run(runner, plan, config, source, evaluation, datasets, description, spec, trials, ids, device, cache, progress)
        # Every feature set is ready before a folder is made: a file that cannot be decoded stops the run in one line.
        run.features = runner.warm(run.tasks(list(zip(trials, ids, strict=True))))
        writer = RunWriter(plan.run_dir or new_run_dir(Path(out), config.name, datetime.now(UTC).strftime("%Y%m%d-%H%M%S")), ids)
        writer.lock()
        try:
            if plan.run_dir is not None:
                plan.rejected = writer.reopen()
                if plan.rejected:  # never silently: how many lines, why, and where they are now
                    print(_moved_line(writer.run_dir, plan.rejected), file=sys.stderr)
                if isinstance(runner, LocalExecutor) and plan.manifest is not None:
                    note = another_machine_note(writer.run_dir, plan.manifest, writer.records, device)
                    if note:
                        print(note, file=sys.stderr)
            run.writer = writer
            return _drive(run)
        except ResultsWriteError as error:
            raise _stopped(error, writer, len(trials), source, data_root, cache_dir, device, retry_failed, runner) from None
        finally:
            writer.close()
    finally:
        runner.close()


def another_machine_note(run_dir: Path, manifest: dict[str, Any], records: list[dict[str, Any]], device: str) -> str:
    """``resume: the trials so far were measured on X; this is Y: ...``, or ``""`` when they are this machine's.

    A resumed run on another CPU generation (a fresh sitting of a cloud VM may land on
    one) is reported as two machines; saying so at the start lets the person decide
    before hours of trials are spent.
    """
    from suite.environment import this_machine  # torch: only for a resume
    from suite.results.load import RunInfo, trial_machine

    run = RunInfo(run_dir, manifest)
    earlier = list(dict.fromkeys(trial_machine(record, run) for record in records))
    here = this_machine(str(resolve_device(device)))
    if not earlier or earlier == [here]:
        return ""
    return (
        f"resume: the trials so far were measured on {'; '.join(earlier)}; this is {here}: "
        "reports and boards will show each machine's trials apart (latency is not comparable across them)"
    )


def _moved_line(run_dir: Path, rejected: list[tuple[int, str]]) -> str:
    """``resume: moved 2 lines of RUN/trials.jsonl to RUN/trials.jsonl.rejected: line 3 is ...; line 7 is ...``."""
    count = f"{len(rejected)} line{'s' if len(rejected) > 1 else ''}"
    return f"resume: moved {count} of {run_dir / 'trials.jsonl'} to {rejected_path(run_dir)}: {describe_rejected(rejected)}"


def _stopped(
    error: ResultsWriteError,
    writer: RunWriter,
    total: int,
    source: str,
    data_root: str | Path | None,
    cache_dir: str | Path | None,
    device: str,
    retry_failed: bool,
    runner: Executor,
) -> RunStopped:
    """The one line of a run stopped by a file it could not write: the file, the cause, what finished, what next."""
    lost = "" if error.saved else " (the trial that had just ended is not saved; it runs again on resume)"
    head = f"stopped: {error}{lost}; {len(writer.records)} of {total} trials finished"
    if not (writer.run_dir / "manifest.json").is_file():  # not yet a run folder that --resume takes
        return RunStopped(f"{head}; nothing was saved in {writer.run_dir}; run the same command again", writer.run_dir)
    command = resume_command(source, writer.run_dir, data_root, cache_dir, device, retry_failed, runner.resume_options())
    return RunStopped(f"{head}; their results are in {writer.run_dir}; resume with: {command}", writer.run_dir)


@dataclass
class _Run:
    """One ``suite run`` under way: what it runs, on what, where it writes and how."""

    runner: Executor
    plan: ResumePlan
    config: RunConfig
    source: str
    evaluation: Evaluation
    datasets: dict[str, AudioDataset]
    description: dict[str, Any]
    spec: InputSpec
    trials: list[Trial]
    ids: list[str]
    device: str
    cache: Path | None
    progress: bool
    writer: RunWriter = dataclasses.field(init=False)
    features: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def first(self) -> AudioDataset:
        """The first protocol's data set (every fold has the same classes and rate)."""
        return self.datasets[self.evaluation.protocols[0]]

    def todo(self) -> list[tuple[Trial, str]]:
        """The trials not done yet (by the resume plan's rule), with their ids."""
        done = {key for key, record in self.writer.latest.items() if self.plan.is_done(record)}
        return [(trial, key) for trial, key in zip(self.trials, self.ids, strict=True) if key not in done]

    def manifest(self, todo: int, now: str) -> dict[str, Any]:
        """A new run's manifest, or a resumed one's with this resumption added."""
        if self.plan.manifest is None:
            return {
                "name": self.config.name,
                "results_format": RESULTS_FORMAT,
                "config_source": self.source,
                "config": self.config.model_dump(mode="json"),
                "status": "running",
                "started": now,
                "ended": None,
                "trials_planned": len(self.trials),
                "device": str(resolve_device(self.device)) if isinstance(self.runner, LocalExecutor) else self.device,
                "executor": self.runner.describe(),
                "environment": environment(),
                "dataset": self.description,
                "class_names": self.first.class_names,
                "input_spec": dataclasses.asdict(self.spec),
                "mac_convention": MAC_CONVENTION,
            }
        manifest = self.plan.manifest
        resumed = {"at": now, "executor": self.runner.describe(), "trials_left": todo, "retry_failed": self.plan.retry_failed}
        resumed["environment"] = environment()  # a run resumed on another machine or commit says so
        if self.plan.rejected:
            resumed["rejected_lines"] = {"count": len(self.plan.rejected), "moved_to": rejected_path(self.writer.run_dir).name}
        manifest |= {"status": "running", "ended": None, "resumed": [*manifest.get("resumed", []), resumed]}
        manifest["config"]["trial_timeout"] = self.config.trial_timeout  # the one setting a resume may change
        return manifest

    def tasks(self, todo: list[tuple[Trial, str]]) -> list[TrialTask]:
        """A self-contained task per trial (what a worker anywhere needs to run it)."""
        root, cache = str(self.first.root.absolute()), str(self.cache) if self.cache else None
        adapter = type(self.first)
        tasks = []
        for trial, key in todo:
            head = {"trial_id": key, "model": trial.model, "dataset": self.first.name, "protocol": self.evaluation.label}
            if self.evaluation.is_cv:
                head[FOLD] = trial.protocol
            head |= {"budget_kind": trial.budget.kind, "budget": trial.budget.value, "seed": trial.seed}
            family = get_family(trial.model)
            tasks.append(
                TrialTask(key, trial, self.config, self.spec, head, root, cache, self.device, family=family, adapter=adapter)
            )
        return tasks

    def execute(self, manifest: dict[str, Any], tasks: list[TrialTask]) -> None:
        """Send ``tasks`` to the executor and record each as it ends; the manifest says how the run ended."""
        writer, runner, total = self.writer, self.runner, len(self.trials)
        features = dict(manifest.get("features") or {}) | self.features
        bar = show_progress(
            total=total, initial=total - len(tasks), desc=f"run {self.config.name}", unit="trial", enabled=self.progress
        )
        left, done_here = {task.trial_id: task.trial.model for task in tasks}, []
        try:
            for task, record in runner.run(tasks):
                writer.add_trial(record)
                done_here.append(left.pop(task.trial_id, task.trial.model))
                bar.weigh(*weigh_work(writer.latest.values(), done_here, list(left.values())))
                bar.update()
                bar.write(_trial_line(len(writer.records), total, task.trial, record))
                manifest |= {"features": features | runner.feature_summary(), "machines": contributors(writer.records)}
        except SuiteError as error:
            _end(writer, manifest, "failed", error=str(error))
            raise
        except KeyboardInterrupt:
            _end(writer, manifest | {"features": features | runner.feature_summary()}, "interrupted")
            raise RunInterrupted(
                f"interrupted: {len(writer.records)} of {total} trials finished; their results are in {writer.run_dir}",
                writer.run_dir,
            ) from None
        except BaseException as error:  # a bug or the system (disk full...): the manifest says so, then the error goes on
            _end(writer, manifest, "failed", error=f"{type(error).__name__}: {error}")
            raise
        finally:
            bar.close()
        manifest |= {
            "status": "complete",
            "ended": datetime.now(UTC).isoformat(),
            "features": features | runner.feature_summary(),
            "machines": contributors(writer.records),
        }
        writer.write_manifest(manifest)


def _end(writer: RunWriter, manifest: dict[str, Any], status: str, error: str | None = None) -> None:
    """Record how a run ended in its manifest, as far as the disk allows (the error being raised says the rest)."""
    manifest |= {"status": status, "ended": datetime.now(UTC).isoformat(), **({"error": error} if error else {})}
    with contextlib.suppress(ResultsWriteError):
        writer.write_manifest(manifest)


def _drive(run: _Run) -> Path:
    """Run the trials that are not done yet; returns the run folder."""
    todo, now = run.todo(), datetime.now(UTC).isoformat()
    manifest = run.manifest(len(todo), now)
    if not todo:
        if run.plan.manifest is None or manifest.get("status") != "complete":
            manifest |= {"status": "complete", "ended": now}
            run.writer.write_manifest(manifest)
        return run.writer.run_dir
    run.writer.write_manifest(manifest)
    run.execute(manifest, run.tasks(todo))
    return run.writer.run_dir


def run_suite(config_path: str | Path, **options: Any) -> Path:
    """Load the YAML config at ``config_path`` and :func:`run_config` it."""
    return run_config(load_config(config_path), str(config_path), **options)
