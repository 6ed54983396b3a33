"""The report's "Deployed" part: float32 against int8, eager PyTorch against ONNX Runtime, per family.

A table per leaderboard (accuracy of each precision and its drop, batch-1 latency in
each runtime, file sizes, parity, what stayed float) and one plot: accuracy against
ONNX Runtime latency with each family's float32 and int8 points joined, so the cost
and the gain of quantizing read as one segment per family.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from suite import numbers
from suite.metrics import (
    ACCURACY,
    INT8,
    LATENCY_MS,
    LATENCY_MS_ONNXRUNTIME,
    LATENCY_MS_OPENVINO,
    MODEL_BYTES,
    MODEL_BYTES_ONNX,
    ONNX_MAX_ABS_DIFF,
    QUANTIZE_METHODS,
    int8_dtype,
)
from suite.reporting.plots import Plot, _log_axis
from suite.reporting.style import FamilyStyle, new_figure
from suite.reporting.tables import Column, Table, table_rows

#: Marker of each precision in the plot (the colour is the family's).
MARKERS = {"float32": "o", **{int8_dtype(m): marker for m, marker in zip(QUANTIZE_METHODS, ("v", "s"), strict=True)}}


def has_deployment(board: pd.DataFrame) -> bool:
    """Whether any model of ``board`` was exported (a run with ``onnxruntime`` or ``quantize``)."""
    columns = [MODEL_BYTES_ONNX, LATENCY_MS_ONNXRUNTIME]
    return any(c in board and board[c].notna().any() for c in columns)


def _drop(metric: str) -> Column:
    mean = f"{metric}_mean"
    return Column("drop", mean, lambda r: numbers.points(r[mean]), "min")


def _columns(board: pd.DataFrame) -> list[Column]:
    columns = [
        Column("model", "model", lambda r: str(r["model"]), numeric=False),
        dataclasses.replace(Column.of(ACCURACY), title="accuracy float32"),
    ]
    for method in QUANTIZE_METHODS:
        metrics = INT8[method]
        if f"{metrics.accuracy}_mean" in board and board[f"{metrics.accuracy}_mean"].notna().any():
            columns += [Column.of(metrics.accuracy), dataclasses.replace(_drop(metrics.drop), title=f"drop {method}")]
    columns += [
        dataclasses.replace(Column.of(LATENCY_MS), title="latency eager"),
        dataclasses.replace(Column.of(LATENCY_MS_ONNXRUNTIME), title="latency ORT float32"),
        dataclasses.replace(Column.of(LATENCY_MS_OPENVINO), title="latency OpenVINO float32"),
    ]
    columns += [dataclasses.replace(Column.of(INT8[m].latency), title=f"latency ORT int8 {m}") for m in QUANTIZE_METHODS]
    columns += [dataclasses.replace(Column.of(MODEL_BYTES), title="size float32 (weights)"), Column.of(MODEL_BYTES_ONNX)]
    columns += [Column.of(INT8[method].size) for method in QUANTIZE_METHODS]
    columns.append(Column.of(ONNX_MAX_ABS_DIFF))
    shown = [c for c in columns if c.value == "model" or (c.value in board and board[c.value].notna().any())]
    for method in QUANTIZE_METHODS:
        column = f"float_ops_{int8_dtype(method)}"
        if column in board and board[column].notna().any():
            shown.append(Column(f"float32 left ({method})", column, lambda r, c=column: _left(r[c]), numeric=False))
    return shown


def _left(value: object) -> str:
    if not isinstance(value, str):
        return numbers.MISSING
    return value or "none"


def deployed_table(board: pd.DataFrame, caption: str) -> Table:
    """One leaderboard's models as deployed: precision by precision, runtime by runtime."""
    columns = _columns(board)
    rows = table_rows(board, columns)
    notes = [
        "Latency: CPU, batch 1, the model's input in (model scope), the fewest threads timed; eager is PyTorch, ORT is "
        "ONNX Runtime. Drop: float32 accuracy minus int8 accuracy, in points, on the same test examples. Sizes: the ONNX "
        "files (float32, int8). “float32 left”: compute operations the quantizer left in float32 (none: all int8)."
    ]
    errors = board["deploy_error"].dropna() if "deploy_error" in board else pd.Series(dtype=object)
    for model, error in zip(board.loc[errors.index, "model"], errors, strict=True):
        if isinstance(error, str) and error:
            notes.append(f"{model}: {error}")
    return Table([c.title for c in columns], rows, caption, notes, [c.numeric for c in columns])


def deployed_plot(summary: pd.DataFrame, styles: dict[str, FamilyStyle]) -> Plot:
    """Accuracy against ONNX Runtime batch-1 latency: each family's float32 and int8 points joined."""
    plot = Plot(
        "deployed",
        "Deployed: float32 and int8 in ONNX Runtime",
        "Test accuracy (mean over seeds) against ONNX Runtime latency (CPU, batch 1), log scale. Each family's float32 "
        "point (circle) is joined to its int8 points (triangle: dynamic, square: static): a segment going left is a "
        "speed-up, going down an accuracy loss.",
    )
    points = [("float32", LATENCY_MS_ONNXRUNTIME, "accuracy_mean")]
    points += [(int8_dtype(m), INT8[m].latency, f"{INT8[m].accuracy}_mean") for m in QUANTIZE_METHODS]
    rows = []
    for _, row in summary[summary["n_ok"] > 0].iterrows():
        for precision, x, y in points:
            if x in row and y in row and pd.notna(row[x]) and pd.notna(row[y]):
                rows.append({"model": row["model"], "precision": precision, "x": float(row[x]), "y": float(row[y])})
    data = pd.DataFrame(rows)
    if data.empty:
        plot.note = "Omitted: no model was timed in ONNX Runtime (measure.latency.backends has no onnxruntime)."
        return plot
    figure = new_figure(7.5, 4.6)
    ax = figure.subplots()
    for model, part in data.groupby("model", sort=False):
        color = styles[str(model)].color
        ax.plot(part["x"], part["y"], color=color, linewidth=1, alpha=0.7, zorder=2)
        for _, point in part.iterrows():
            ax.scatter(point["x"], point["y"], color=color, marker=MARKERS[point["precision"]], s=45, zorder=3)
    _log_axis(ax, data["x"], numbers.milliseconds)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xlabel("latency, ONNX Runtime, CPU, batch 1 (ms)")
    ax.set_ylabel("test accuracy")
    precision_handles = [
        Line2D([], [], color="0.3", marker=marker, linestyle="none", label=name.replace("_", " "))
        for name, marker in MARKERS.items()
        if name in set(data["precision"])
    ]
    # Families by colour only: the markers here are the precisions.
    family_handles = [Line2D([], [], color=styles[n].color, label=n) for n in styles if n in set(data["model"])]
    figure.legend(handles=family_handles + precision_handles, loc="outside right upper", frameon=False)
    plot.figure = figure
    return plot
