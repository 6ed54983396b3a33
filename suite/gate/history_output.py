"""Write a :class:`~suite.gate.history.History`: a Markdown or CSV trend table and a plot per model.

Run names, model names and notes come from the results: the Markdown escapes them with
:func:`suite.formatting.markdown_text` (the report's escaper), so they show as written.
"""

from __future__ import annotations

import math
from pathlib import Path

import seaborn as sns
from tabulate import tabulate

from suite.errors import SuiteError
from suite.formatting import markdown_text
from suite.gate.history import MARKS, History, series_labels
from suite.metrics import MACS, PARAMS
from suite.reporting.style import family_styles, new_figure, plot_style, save_figure

_VERDICT_STYLE = {"regressed": ("^", "tab:red"), "improved": ("v", "tab:green"), "changed": ("D", "tab:orange")}


def legend(history: History) -> str:
    """What the marks mean for this history's metric."""
    if history.metric in (PARAMS, MACS):
        return (
            f"{MARKS['regressed']} changed and failing the `--fail-on {history.metric}` rule, {MARKS['changed']} changed "
            "within it: each change from the run before is a step (params and MACs are exact)."
        )
    return (
        f"{MARKS['regressed']} regressed, {MARKS['improved']} improved: steps detected over each model's whole series "
        "(asv's step detection, penalised by the series' own run-to-run noise), marked at the run where the level first "
        "differs from the series' first level by the threshold, and again at a further step of the threshold. A run "
        "without the model is skipped; the newest run alone is marked only when far outside the noise."
    )


def render_history(history: History) -> str:
    """The trend table as GitHub Markdown, with a legend of the marks and the notes (latency basis, threshold)."""
    frame = history.table()
    cells = [[markdown_text(cell) for cell in row] for row in frame.itertuples(index=False)]
    headers = [markdown_text(column) for column in frame.columns]
    table = tabulate(cells, headers=headers, tablefmt="github", disable_numparse=True)
    notes = "".join(f"\n- {markdown_text(note)}" for note in history.notes)
    return f"### History of {markdown_text(history.metric)}\n\n{table}\n\n{legend(history)}\n{notes}\n"


def plot_history(history: History, stem: Path) -> Path:
    """One panel per model and budget: the metric run by run, its fitted levels and marks; returns the PNG."""
    values = history.values.assign(label=series_labels(history.values))
    order = {run: i for i, run in enumerate(history.runs["run"])}
    values = values.assign(position=values["run"].map(order))
    labels = list(dict.fromkeys(values["label"]))
    styles = family_styles(list(dict.fromkeys(values["model"])))
    columns = min(4, len(labels))
    rows = math.ceil(len(labels) / columns)
    with plot_style():
        figure = new_figure(3.2 * columns, 2.4 * rows)
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, label in zip(axes, labels, strict=False):
            series = values[values["label"] == label]
            style = styles[series["model"].iloc[0]]
            sns.lineplot(data=series, x="position", y="value", ax=ax, color=style.color, marker=style.marker)
            # The fitted levels the marks were judged on, as steps.
            ax.plot(series["position"], series["level"], drawstyle="steps-mid", linestyle="--", color="0.45", linewidth=1)
            for verdict, (marker, colour) in _VERDICT_STYLE.items():
                flagged = series[series["verdict"] == verdict]
                ax.scatter(flagged["position"], flagged["value"], marker=marker, s=80, color=colour, zorder=3, label=verdict)
            ax.set_title(label)
            ax.set_xlabel("run (oldest first)")
            ax.set_ylabel(history.followed or history.metric)
        for ax in axes[len(labels) :]:
            ax.set_visible(False)
        return save_figure(figure, stem).png


def write_history(history: History, out: Path) -> list[Path]:
    """Write ``out`` (``.md``: the trend table; ``.csv``: every value) and the plot beside it (``<out stem>.png`` and ``.svg``).

    Raises:
        SuiteError: for another suffix or a folder that cannot be written.
    """
    if out.suffix not in (".md", ".csv"):
        raise SuiteError(f"--out {out}: expected a .md or .csv file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        png = plot_history(history, out.with_suffix(""))
        if out.suffix == ".md":
            out.write_text(render_history(history) + f"\n![{history.metric} by run]({png.name})\n")
        else:  # full precision, one row per run and model
            history.values.merge(history.runs, on="run").to_csv(out, index=False)
    except OSError as error:
        raise SuiteError(f"cannot write {out}: {error.strerror or error}") from None
    return [out, png, png.with_suffix(".svg")]
