"""``suite report``: results folders in, ``index.html``, ``README.md``, ``summary.csv`` and plots out.

It reads results only: nothing is trained, timed or measured here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from suite import __version__
from suite.errors import SuiteError
from suite.fileio import atomic_write
from suite.metrics import LATENCY_MS, MACS, PARAMS, PEAK_MEM_INFER_MB, budget_text
from suite.reporting.deployed import deployed_plot, deployed_table, has_deployment
from suite.reporting.methodology import families_table, methodology
from suite.reporting.overview import overview
from suite.reporting.plots import Plot, budget_plot, latency_plot, tradeoff_plot
from suite.reporting.plots_training import confusion_plot, learning_curves_plot
from suite.reporting.render import render
from suite.reporting.streaming import has_streaming, streaming_plot, streaming_table
from suite.reporting.style import FamilyStyle, family_styles, plot_style, save_figure
from suite.reporting.summary import (
    BOARD,
    families,
    is_pooled,
    pooled_machines,
    pooled_trials,
    quality_view,
    summarise,
    timed_settings,
    without_pooled,
)
from suite.reporting.tables import Table, leaderboard, machine_letters, problems, side_by_side
from suite.results.load import Results, RunInfo, load_results

FORMATS = ("html", "md")
DEFAULT_OUT = Path("reports")


@dataclass
class Board:
    """A table under a heading (one budget, maybe one machine)."""

    heading: str
    table: Table


@dataclass
class SectionPlot:
    """A plot as the templates use it: paths relative to the report folder and the embedded SVG."""

    key: str
    title: str
    caption: str
    note: str = ""
    png: str = ""
    svg: str = ""
    uri: str = ""
    width: int = 0
    height: int = 0


@dataclass
class Section:
    """One data set and protocol: its leaderboards and plots."""

    title: str
    slug: str
    leaderboards: list[Board] = field(default_factory=list)
    side_by_side: list[Board] = field(default_factory=list)
    deployed: list[Board] = field(default_factory=list)
    streaming: list[Board] = field(default_factory=list)
    plots: list[SectionPlot] = field(default_factory=list)


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote."""

    folder: Path
    files: list[Path]
    results: Results


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"html,md"`` -> ``("html", "md")``; an unknown or empty format is a :class:`SuiteError`."""
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    unknown = [t for t in items if t not in FORMATS]
    if unknown or not items:
        raise SuiteError(f"unknown report format {', '.join(unknown) or repr(text)}; expected html, md or html,md")
    return tuple(dict.fromkeys(items))


def default_out(runs: list[RunInfo]) -> Path:
    """``reports/<run>``, ``reports/<run1>+<run2>``, or ``reports/<run1>+3-more``: the same runs, the same folder."""
    names = [run.name for run in runs]
    name = "+".join(names) if len(names) <= 2 else f"{names[0]}+{len(names) - 1}-more"
    return DEFAULT_OUT / name


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "results"


def _section_title(runs: list[RunInfo], dataset: str, protocol: str) -> str:
    for run in runs:
        data = run.manifest.get("dataset") or {}
        if data.get("name") == dataset and data.get("protocol") == protocol:
            folds = data.get("folds")
            how = f"{len(folds)}-fold cross-validation ({protocol})" if isinstance(folds, dict) else f"protocol {protocol}"
            return f"{dataset} {data.get('version', '')}".strip() + f", {how}"
    return f"{dataset}, protocol {protocol}"


def _section_runs(results: Results, trials: pd.DataFrame) -> list[RunInfo]:
    names = set(trials["run"])
    return [run for run in results.runs if run.name in names]


def _plots(results: Results, summary: pd.DataFrame, trials: pd.DataFrame, styles: dict[str, FamilyStyle]) -> list[Plot]:
    """The section's plots, in the report's order; each draws itself or says why not."""
    runs = _section_runs(results, trials)
    keys = set(trials["trial_id"])
    curves = results.curves[results.curves["trial_id"].isin(keys)]
    timings = results.timings[results.timings["trial_id"].isin(keys)]
    names = [f for f in families(results) if f in set(trials["model"])]
    # Accuracy against a count from the pooled rows of a run that machines shared; against a time, per machine.
    quality, measured = quality_view(summary), without_pooled(summary)
    plots = [tradeoff_plot(quality, x, styles) for x in (PARAMS, MACS)] + [tradeoff_plot(measured, LATENCY_MS, styles)]
    plots += [latency_plot(timings, names), learning_curves_plot(curves, styles)]
    finished = quality[quality["n_ok"] > 0]
    if finished.empty:
        plots.append(Plot("confusion-best", "Confusion matrix", "", note="Omitted: no trial finished."))
    else:
        best = finished.loc[finished["accuracy_mean"].idxmax()]
        classes = next((r.manifest["class_names"] for r in runs if r.manifest.get("class_names")), [])
        source = pooled_trials(trials) if is_pooled(best["machine"]) else trials
        plots.append(confusion_plot(source, best, [str(c) for c in classes]))
    tolerance = next((float(t) for r in runs if (t := (r.manifest.get("config") or {}).get("tolerance")) is not None), 0.05)
    plots.append(budget_plot(quality, styles, tolerance))
    if has_deployment(measured):
        plots.append(deployed_plot(measured, styles))
    if has_streaming(measured):
        plots.append(streaming_plot(measured, styles))
    return plots


def _save(plot: Plot, folder: Path, slug: str) -> SectionPlot:
    saved = SectionPlot(plot.key, plot.title, plot.caption, plot.note)
    if plot.figure is None:
        return saved
    files = save_figure(plot.figure, folder / "plots" / f"{slug}-{plot.key}")
    width, height = (
        plot.figure.get_size_inches() * 115
    )  # CSS pixels (the PNG's scale): the layout is reserved before the image decodes
    saved.png, saved.svg = (p.relative_to(folder).as_posix() for p in (files.png, files.svg))
    saved.uri, saved.width, saved.height = files.svg_data_uri, round(width), round(height)
    return saved


def _section(results: Results, summary: pd.DataFrame, key: tuple, styles: dict[str, FamilyStyle], folder: Path) -> Section:
    dataset, protocol = key
    part = summary[(summary["dataset"] == dataset) & (summary["protocol"] == protocol)]
    trials = results.trials[(results.trials["dataset"] == dataset) & (results.trials["protocol"] == protocol)]
    title = _section_title(results.runs, str(dataset), str(protocol))
    section = Section(title, _slug(f"{dataset}-{protocol}"))
    settings = timed_settings(results)
    machines = list(dict.fromkeys(without_pooled(part)["machine"]))
    letters = machine_letters(machines)
    for (_, _, machine, kind, value), board in part.groupby(BOARD, sort=False, dropna=False):
        if is_pooled(machine):  # a run that machines shared: its quality over every trial, its costs per machine below
            shared = ", ".join(letters.get(m, m) for m in pooled_machines(str(machine)))
            heading = f"{budget_text(str(kind), value)}, machines {shared} pooled (times and memory per machine below)"
            section.leaderboards.append(Board(heading, leaderboard(board, settings, f"{title}; {heading}.")))
            continue
        heading = budget_text(str(kind), value) + (f", machine {letters[machine]} ({machine})" if len(machines) > 1 else "")
        section.leaderboards.append(Board(heading, leaderboard(board, settings, f"{title}; {heading}.")))
        if has_deployment(board):
            section.deployed.append(Board(heading, deployed_table(board, f"{title}; {heading}; deployed.")))
        if has_streaming(board):
            section.streaming.append(Board(heading, streaming_table(board, f"{title}; {heading}; streaming.")))
    if len(machines) > 1:
        shared = part.loc[part["machine"].map(is_pooled), ["budget_kind", "budget"]]
        pooled = set(shared.itertuples(index=False, name=None))  # a run's trials split, not machines compared
        for (kind, value), board in without_pooled(part).groupby(["budget_kind", "budget"], sort=False):
            if (kind, value) in pooled:
                continue
            caption = f"The same models measured on {len(machines)} machines."
            section.side_by_side.append(Board(budget_text(str(kind), value), side_by_side(board, machines, caption)))
    with plot_style():
        section.plots = [_save(plot, folder, section.slug) for plot in _plots(results, part, trials, styles)]
    return section


def _warnings(results: Results) -> list[str]:
    warnings = []
    for run in results.runs:
        if run.status == "running":
            warnings.append(f"Run {run.name} is still in progress: {run.n_trials} of {run.planned or '?'} trials so far.")
        elif run.status in ("interrupted", "failed"):
            warnings.append(f"Run {run.name} {run.status} after {run.n_trials} of {run.planned or '?'} trials.")
    return warnings


def _publish(staging: Path, folder: Path, written: list[Path]) -> list[Path]:
    """Move the finished report's files from ``staging`` into ``folder``; returns their new paths.

    Each file replaces its old version (an earlier report's) in one rename; then plot files
    the new report did not write are removed, so ``plots/`` holds this report's only.
    """
    files = []
    for path in written:
        target = folder / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        files.append(target)
    for old in (folder / "plots").glob("*.*"):
        if old.suffix in (".png", ".svg") and old.is_file() and old not in files:
            old.unlink()
    return files


def write_report(
    run_dirs: Sequence[str | Path], out: str | Path | None = None, formats: str | Sequence[str] = FORMATS
) -> ReportFiles:
    """Read results folders and write a report: ``index.html``, ``README.md``, ``summary.csv``, ``plots/``.

    The report is written to a hidden folder inside ``out`` and its files are moved into
    place once all are written, so a failure leaves no half-written report, an earlier
    report in ``out`` as it was, and no folder it created.

    Args:
        run_dirs (Sequence[str | Path]): Results folders (or folders of them).
        out (str | Path, optional): The report folder. (Default: ``reports/<run name>``)
        formats (str | Sequence[str]): ``html``, ``md`` or both (``"html,md"``); summary.csv
            and the plot files are always written.

    Returns:
        ReportFiles: the folder, the files written and the results that were read.

    Raises:
        SuiteError: for a missing folder, a folder without results, no finished or
            recorded trial at all, an unknown format, an output path that is a file, or
            an output folder that cannot be written.
    """
    chosen = parse_formats(formats)
    results = load_results(list(run_dirs))
    if results.trials.empty:
        raise SuiteError(f"no trials recorded yet in {', '.join(str(r.path) for r in results.runs)}")
    folder = Path(out) if out is not None else default_out(results.runs)
    if folder.exists() and not folder.is_dir():
        raise SuiteError(f"--out {folder} is a file, not a folder")
    made = _missing(folder)
    staging = folder / f".report-{os.getpid()}-{secrets.token_hex(4)}.part"
    done = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Inside the folder, not beside it: the same file system for the renames, and an
        # existing --out whose parent is read-only (``--out .``) still works.
        staging.mkdir()
        files = _publish(staging, folder, _write_files(results, staging, chosen))
        done = True
    except OSError as error:
        raise SuiteError(f"cannot write the report to {folder}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            _remove_empty(made)
    return ReportFiles(folder, files, results)


def _missing(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first (the order to remove them in)."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed report created, deepest first, if empty (a folder someone else filled stays)."""
    for path in folders:
        with contextlib.suppress(OSError):
            path.rmdir()


def _write_files(results: Results, folder: Path, chosen: tuple[str, ...]) -> list[Path]:
    """Write the report's files into ``folder``; returns them (plots, summary.csv, then index.html and/or README.md)."""
    summary = summarise(results)
    names = families(results)
    styles = family_styles(names)
    keys = list(dict.fromkeys(zip(summary["dataset"], summary["protocol"], strict=True)))
    sections = [_section(results, summary, key, styles, folder) for key in keys]
    measured = results.trials
    context = {
        "title": "Benchmark report: " + (results.runs[0].name if len(results.runs) == 1 else f"{len(results.runs)} runs"),
        "subtitle": f"{len(results.trials)} trials of {len(names)} model families from {len(results.runs)} results folder(s).",
        "warnings": _warnings(results),
        "notes": results.notes,
        "overview": overview(results.runs),
        "sections": sections,
        "problems": problems(results.trials, results.runs),
        "methodology": methodology(
            results.runs, bool(measured[LATENCY_MS].notna().any()), bool(measured[PEAK_MEM_INFER_MB].notna().any())
        ),
        "families": families_table(names),
        "version": __version__,
        "sources": [run.name for run in results.runs],
    }
    written = [p for s in sections for plot in s.plots if plot.png for p in (folder / plot.png, folder / plot.svg)]
    with atomic_write(folder / "summary.csv") as handle:
        summary.to_csv(handle, index=False, lineterminator="\n")
    written.append(folder / "summary.csv")
    for fmt, name, template in (("html", "index.html", "report.html.j2"), ("md", "README.md", "report.md.j2")):
        if fmt in chosen:
            with atomic_write(folder / name) as handle:
                handle.write(render(template, context))
            written.append(folder / name)
    return written
