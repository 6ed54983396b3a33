"""Plots of training: learning curves per family and the confusion matrix of the best model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter

from suite import numbers
from suite.metrics import budget_text
from suite.reporting.plots import Plot
from suite.reporting.style import FamilyStyle, new_figure

LINESTYLES = ("-", "--", ":", "-.")


def learning_curves_plot(curves: pd.DataFrame, styles: dict[str, FamilyStyle]) -> Plot:
    """Validation accuracy (left axis) and training loss (right axis, grey) per epoch, one panel per family."""
    plot = Plot(
        "learning-curves",
        "Learning curves",
        "Validation accuracy per epoch (coloured, left axis) and training loss (dark grey, right axis), mean over seeds "
        "with the range over seeds shaded. Early stopping ends a seed's curve; the best epoch's weights were tested.",
    )
    if "fold" in curves and curves["fold"].notna().any():  # a cross-validation: each fold is a curve of its own
        plot.caption = plot.caption.replace("seeds", "seeds and folds").replace("a seed's curve", "a fold's curve")
    data = curves.dropna(subset=["val_accuracy"]) if not curves.empty else curves
    if data.empty:
        plot.note = "Omitted: the trials recorded no per-epoch curves."
        return plot
    data = data.assign(budget_label=[budget_text(k, b) for k, b in data[["budget_kind", "budget"]].itertuples(index=False)])
    models = list(dict.fromkeys(data["model"]))
    budgets = list(dict.fromkeys(data["budget_label"]))
    columns = min(5, len(models))
    rows = int(np.ceil(len(models) / columns))
    figure = new_figure(2.6 * columns + 1.2, 2.2 * rows + 0.4)
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True).ravel()
    for extra in axes[len(models) :]:
        extra.set_visible(False)
    loss_axes = []
    for index, (ax, model) in enumerate(zip(axes, models, strict=False)):
        part = data[data["model"] == model]
        loss_ax = ax.twinx()
        loss_axes.append(loss_ax)
        for i, budget in enumerate(budgets):
            rows_ = part[part["budget_label"] == budget]
            if rows_.empty:
                continue
            style = LINESTYLES[i % len(LINESTYLES)]
            sns.lineplot(
                data=rows_,
                x="epoch",
                y="val_accuracy",
                estimator="mean",
                errorbar=("pi", 100),
                color=styles[model].color,
                linestyle=style,
                ax=ax,
                legend=False,
            )
            sns.lineplot(
                data=rows_,
                x="epoch",
                y="train_loss",
                estimator="mean",
                errorbar=None,
                color="0.4",
                linestyle=style,
                linewidth=0.9,
                ax=loss_ax,
                legend=False,
            )
        ax.set_title(model, fontsize=9, color=styles[model].color)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        ax.set_xlabel("epoch")
        ax.set_ylabel("val. accuracy")
        last_in_row = (index + 1) % columns == 0 or index == len(models) - 1
        loss_ax.set_ylabel("train loss" if last_in_row else "", color="0.4")
        loss_ax.tick_params(axis="y", colors="0.4", labelsize=7, labelright=last_in_row)
        loss_ax.grid(False)
    top = max(ax.get_ylim()[1] for ax in loss_axes)
    for loss_ax in loss_axes:  # one loss scale for all panels, so families compare
        loss_ax.set_ylim(0, top)
    if len(budgets) > 1:
        handles = [Line2D([], [], color="0.2", linestyle=LINESTYLES[i % 4], label=b) for i, b in enumerate(budgets)]
        figure.legend(handles=handles, loc="outside lower center", ncols=len(budgets), frameon=False)
    plot.figure = figure
    return plot


def _replicates(row: pd.Series) -> str:
    """``3 seed(s)``, or ``5 folds × 1 seed(s)`` for a cross-validation (every test fold: each clip once a seed)."""
    folds = row.get("folds")
    if isinstance(folds, str) and folds:
        return f"{len(folds.split())} folds × {len(str(row.get('seeds', '')).split())} seed(s)"
    return f"{int(row['n_ok'])} seed(s)"


def confusion_plot(trials: pd.DataFrame, best: pd.Series, class_names: list[str]) -> Plot:
    """Confusion matrix of the most accurate model, summed over its seeds, coloured by recall per true class."""
    title = f"Confusion matrix: {best['model']} at {budget_text(best['budget_kind'], best['budget'])}"
    plot = Plot(
        "confusion-best",
        title,
        f"Test-set confusion matrix of the model with the highest mean accuracy ({best['model']}, "
        f"{numbers.percent(best['accuracy_mean'], best['accuracy_std'])}), counts summed over its "
        f"{_replicates(best)}; colour is the fraction of each true class (row).",
    )
    keys = ["dataset", "protocol", "machine", "budget_kind", "budget", "model"]
    chosen = trials[(trials["status"] == "ok") & (trials[keys] == best[keys]).all(axis=1)]
    matrices = [np.asarray(m) for m in chosen["confusion_matrix"] if isinstance(m, list) and m]
    shapes = {m.shape for m in matrices}
    if not matrices or len(shapes) != 1 or len(next(iter(shapes))) != 2:
        plot.note = "Omitted: the best model's trials recorded no confusion matrix."
        return plot
    counts = np.sum(matrices, axis=0)
    n = counts.shape[0]
    names = class_names if len(class_names) == n else [str(i) for i in range(n)]
    recall = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(11.0, max(4.0, 0.32 * n + 2))
    figure = new_figure(size + 1.2, size)
    ax = figure.subplots()
    sns.heatmap(
        recall,
        annot=counts if n <= 20 else False,
        fmt="d",
        cmap="Blues",
        vmin=0,
        vmax=1,
        square=True,
        xticklabels=names,
        yticklabels=names,
        cbar_kws={"label": "fraction of true class", "shrink": 0.8},
        annot_kws={"fontsize": 7},
        ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.tick_params(axis="both", labelsize=7 if n > 20 else 8)
    plot.figure = figure
    return plot
