"""Plots of cost: accuracy against params, MACs and latency with the Pareto front, latency by batch size, budget match.

Each function returns a :class:`Plot`: a figure, or no figure and a note saying why it
was left out (no latency measured, nothing finished...), so a report never fails over
a plot it cannot draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator, PercentFormatter

from suite import numbers
from suite.metrics import BUDGET_ERROR, LATENCY_MS, MACS, PARAMS, budget_text
from suite.reporting.pareto import pareto_front
from suite.reporting.style import FamilyStyle, new_figure


@dataclass
class Plot:
    """One plot of a report section.

    Attributes:
        key (str): File stem, e.g. ``accuracy-vs-params``.
        title (str): Heading shown above it.
        caption (str): What it shows and how to read it.
        figure (Figure | None): The figure; None when it was left out.
        note (str): Why it was left out (empty when drawn).
    """

    key: str
    title: str
    caption: str
    figure: Figure | None = None
    note: str = ""


TRADEOFFS = {
    PARAMS: ("parameters", numbers.count),
    MACS: ("MACs per example", numbers.count),
    LATENCY_MS: ("latency, CPU, batch 1 (ms)", numbers.milliseconds),
}


def _facets(figure: Figure, n: int, columns: int = 2) -> list:
    columns = min(columns, n)
    rows = int(np.ceil(n / columns))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for extra in axes[n:]:
        extra.set_visible(False)
    return list(axes[:n])


def family_legend(figure: Figure, styles: dict[str, FamilyStyle], names: list[str], extra: list | None = None) -> None:
    """One legend for the figure: each family's colour and marker (and extra handles such as the front)."""
    handles = [
        Line2D([], [], color=styles[n].color, marker=styles[n].marker, linestyle="none", markersize=6, label=n) for n in names
    ]
    figure.legend(handles=handles + (extra or []), loc="outside right upper", frameon=False)


def _log_axis(ax: Axes, values: pd.Series, formatter: Callable[[float], str]) -> None:
    """Log x; when the points span less than a few-fold range (one budget), ticks at the data, not only at decades."""
    ax.set_xscale("log")
    low, high = float(values.min()), float(values.max())
    if high < 3 * low:
        pad = (high / low) ** 0.15 if high > low else 1.05
        ax.set_xlim(low / pad, high * pad)
        ax.set_xticks(np.geomspace(low, high, 4) if high > low else [low], minor=False)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: formatter(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def tradeoff_plot(summary: pd.DataFrame, x: str, styles: dict[str, FamilyStyle]) -> Plot:
    """Mean accuracy (± std over seeds) against a cost, log x, with the Pareto front, one panel per machine."""
    label, formatter = TRADEOFFS[x]
    key = "accuracy-vs-" + ("latency" if x == LATENCY_MS else x)
    crossed = "folds" in summary and summary["folds"].notna().any()
    spread = (
        "mean over the test folds, bars: ± one standard deviation across folds"
        if crossed
        else ("mean over seeds, bars: ± one standard deviation")
    )
    plot = Plot(
        key,
        f"Accuracy vs {label.split(',')[0].split(' (')[0]}",
        f"Test accuracy ({spread}) against {label}, log scale. "
        "The dashed line is the Pareto front: no other model is at least as accurate and at least as cheap; "
        "ringed points lie on it.",
    )
    data = summary[(summary["n_ok"] > 0) & summary[x].notna() & summary["accuracy_mean"].notna()]
    if data.empty:
        what = "no latency was measured (the config has no measure section)" if x == LATENCY_MS else "no trial finished"
        plot.note = f"Omitted: {what}."
        return plot
    machines = list(dict.fromkeys(data["machine"]))
    figure = new_figure(7.5 if len(machines) == 1 else 11, 4.6 if len(machines) <= 2 else 8)
    for ax, machine in zip(_facets(figure, len(machines)), machines, strict=True):
        part = data[data["machine"] == machine]
        sns.scatterplot(
            data=part,
            x=x,
            y="accuracy_mean",
            hue="model",
            style="model",
            palette={m: styles[m].color for m in part["model"].unique()},
            markers={m: styles[m].marker for m in part["model"].unique()},
            s=70,
            legend=False,
            zorder=3,
            ax=ax,
        )
        for model, rows in part.groupby("model", sort=False):
            ax.errorbar(
                rows[x],
                rows["accuracy_mean"],
                yerr=rows["accuracy_std"].fillna(0),
                fmt="none",
                ecolor=styles[str(model)].color,
                elinewidth=1,
                capsize=2,
                zorder=2,
            )
        mask = pareto_front(part[x].to_numpy(float), part["accuracy_mean"].to_numpy(float))
        front = part[mask].sort_values([x, "accuracy_mean"])
        ax.step(front[x], front["accuracy_mean"], where="post", color="0.25", linestyle="--", linewidth=1.1, zorder=1)
        ax.scatter(front[x], front["accuracy_mean"], s=190, facecolors="none", edgecolors="0.25", linewidths=1, zorder=4)
        for _, row in front.iterrows():
            ax.annotate(row["model"], (row[x], row["accuracy_mean"]), xytext=(6, -10), textcoords="offset points", fontsize=7)
        _log_axis(ax, part[x], formatter)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy")
        if len(machines) > 1:
            ax.set_title(machine, fontsize=9)
    front_handle = Line2D([], [], color="0.25", linestyle="--", marker="o", markerfacecolor="none", label="Pareto front")
    family_legend(figure, styles, [n for n in styles if n in set(data["model"])], [front_handle])
    plot.figure = figure
    return plot


def latency_plot(timings: pd.DataFrame, families: list[str]) -> Plot:
    """Median latency per call by family and batch size, one panel per budget, machine and timed setting."""
    plot = Plot(
        "latency-by-batch",
        "Latency by family and batch size",
        "Median time of one forward call (features in, logits out; mean over seeds of each trial's median), "
        "per batch size, log scale. Panels: budget, machine, device, threads and backend.",
    )
    ok = timings[(timings["status"] == "ok") & (timings["scope"] == "model")] if not timings.empty else timings
    if ok.empty:
        plot.note = "Omitted: no latency was measured (the config has no measure.latency section)."
        return plot
    ok = ok.assign(
        median_ms=pd.to_numeric(ok["median_ms"], errors="coerce"),
        batch=ok["batch_size"].astype(int).astype(str),
        panel=[
            f"{budget_text(k, b)} · {m} · {d.upper()}, {int(t)} thread{'s' if int(t) > 1 else ''}, {be}"
            for k, b, m, d, t, be in ok[["budget_kind", "budget", "machine", "device", "threads", "backend"]].itertuples(
                index=False
            )
        ],
    )
    data = ok.groupby(["panel", "model", "batch"], sort=False, as_index=False)["median_ms"].mean()
    panels = list(dict.fromkeys(data["panel"]))[:6]  # more panels would be unreadable; summary.csv has them all
    batches = sorted(data["batch"].unique(), key=int)
    figure = new_figure(10, 3.6 * len(panels))
    axes = figure.subplots(len(panels), 1, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=True):
        part = data[data["panel"] == panel]
        order = [f for f in families if f in set(part["model"])]
        sns.barplot(
            data=part,
            x="model",
            y="median_ms",
            hue="batch",
            order=order,
            hue_order=batches,
            palette="crest",
            ax=ax,
            legend=ax is axes[0],
        )
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: numbers.milliseconds(v)))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("")
        ax.set_ylabel("latency per call")
        ax.set_title(panel, fontsize=9)
        ax.tick_params(axis="x", rotation=30)
        if ax.get_legend():
            ax.get_legend().set_title("batch size")
    plot.figure = figure
    return plot


def budget_plot(summary: pd.DataFrame, styles: dict[str, FamilyStyle], tolerance: float) -> Plot:
    """Achieved count relative to the target per family, with the tolerance band; infeasible ones marked."""
    plot = Plot(
        "budget-match",
        "Target vs achieved budget",
        f"Achieved parameters or MACs relative to the target, per family and budget (the width nearest the target). "
        f"Inside the shaded band (± {tolerance:.0%}) a budget is matched; hollow crosses are infeasible targets, "
        "reported rather than trained.",
    )
    data = summary.copy()
    achieved = np.where(data["budget_kind"] == MACS, data[MACS], data[PARAMS])
    data["error"] = data[BUDGET_ERROR].fillna(pd.Series(achieved / data["budget"] - 1, index=data.index))
    data = data[data["error"].notna()]
    if data.empty:
        plot.note = "Omitted: no trial recorded its achieved parameters or MACs."
        return plot
    data = data.drop_duplicates(["budget_kind", "budget", "model"])
    kinds = list(dict.fromkeys(data["budget_kind"]))
    order = [n for n in styles if n in set(data["model"])]
    figure = new_figure(10, 3.4 * len(kinds))
    axes = figure.subplots(len(kinds), 1, squeeze=False).ravel()
    for ax, kind in zip(axes, kinds, strict=True):
        part = data[data["budget_kind"] == kind]
        budgets = sorted(part["budget"].unique())
        ax.axhspan(-tolerance, tolerance, color="0.9", zorder=0)
        ax.axhline(0, color="0.5", linewidth=0.8, zorder=1)
        for i, value in enumerate(budgets):
            offset = (i - (len(budgets) - 1) / 2) * 0.22  # budgets side by side within a family's slot
            for _, row in part[part["budget"] == value].iterrows():
                style = styles[row["model"]]
                xpos = order.index(row["model"]) + offset
                infeasible = row["n_infeasible"] > 0 and row["n_ok"] == 0
                ax.scatter(
                    xpos,
                    row["error"],
                    marker="X" if infeasible else style.marker,
                    s=60,
                    zorder=3,
                    facecolors="none" if infeasible else [style.color],
                    edgecolors=[style.color],
                )
                if not infeasible:
                    continue
                ax.annotate(
                    "infeasible",
                    (xpos, row["error"]),
                    xytext=(0, 6),
                    textcoords="offset points",
                    fontsize=6,
                    ha="center",
                    color="0.35",
                )
        if len(budgets) > 1:  # one title instead of a label at every point
            targets = ", ".join(numbers.count(b) for b in budgets)
            ax.set_title(f"{budget_text(kind, None)} targets, left to right within each family: {targets}", fontsize=9)
        ax.set_xticks(range(len(order)), order, rotation=30)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ax.set_ylabel(f"achieved / target − 1 ({kind})")
        ax.set_xlim(-0.6, len(order) - 0.4)
    plot.figure = figure
    return plot
