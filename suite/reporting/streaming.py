"""The report's "Streaming" part: what each model costs listening to a stream, one hop at a time.

A table per leaderboard (how the model streams, per-hop latency and p99, front end,
real-time factor, state, lookahead, receptive field, accuracy) and one plot: accuracy
against per-hop latency, exact streamers and sliding windows told apart by marker.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from suite import numbers
from suite.metrics import (
    ACCURACY,
    STREAM_FRAME_MS,
    STREAM_FRAME_P99_MS,
    STREAM_FRONTEND_MS,
    STREAM_LOOKAHEAD_MS,
    STREAM_MODE,
    STREAM_RECEPTIVE_FIELD_MS,
    STREAM_RTF,
    STREAM_STATE_BYTES,
)
from suite.reporting.plots import Plot, _log_axis
from suite.reporting.style import FamilyStyle, new_figure
from suite.reporting.tables import Column, Table, table_rows

#: Marker of each way of streaming (the colour is the family's).
MARKERS = {"state": "o", "window": "x"}
_MODE_TEXT = {"state": "state (exact)", "window": "sliding window"}


def has_streaming(board: pd.DataFrame) -> bool:
    """Whether any model of ``board`` was measured streaming (a run with ``measure.streaming``)."""
    return STREAM_FRAME_MS in board and board[STREAM_FRAME_MS].notna().any()


def _columns() -> list[Column]:
    mode = Column(STREAM_MODE.label, STREAM_MODE, lambda r: _MODE_TEXT.get(r[STREAM_MODE], numbers.MISSING), numeric=False)
    metrics = (STREAM_FRAME_MS, STREAM_FRAME_P99_MS, STREAM_FRONTEND_MS, STREAM_RTF, STREAM_STATE_BYTES)
    columns = [Column("model", "model", lambda r: str(r["model"]), numeric=False), mode]
    columns += [Column.of(metric) for metric in metrics]
    state = columns[-1]
    columns[-1] = dataclasses.replace(state, title="state (bytes)")
    columns += [Column.of(STREAM_LOOKAHEAD_MS), Column.of(STREAM_RECEPTIVE_FIELD_MS), Column.of(ACCURACY)]
    return columns


def streaming_table(board: pd.DataFrame, caption: str) -> Table:
    """One leaderboard's models listening to a stream: cost per hop, state, lookahead, and the accuracy they keep."""
    columns = _columns()
    rows = table_rows(board, columns)
    notes = [
        "One hop (the input's hop) at a time, CPU, batch 1, one thread. state (exact): the model's output after t hops "
        "is the full model's on those t frames, with a small state carried; sliding window: the whole clip-long input "
        "is recomputed at every hop. Per-hop latency: the model's step (median; p99 of individually timed steps); "
        "front end: one incremental log-mel frame. Real-time factor: (step + front end) / hop. Lookahead: the front "
        "end's half window (no streamer adds any). Receptive field: the hops one time step's features depend on "
        "(unbounded for a recurrent state); a time average covers everything heard so far on top."
    ]
    return Table([c.title for c in columns], rows, caption, notes, [c.numeric for c in columns])


def streaming_plot(summary: pd.DataFrame, styles: dict[str, FamilyStyle]) -> Plot:
    """Accuracy against per-hop latency: exact streamers (circles) and sliding windows (crosses)."""
    plot = Plot(
        "streaming",
        "Streaming: accuracy against the cost per hop",
        "Test accuracy (mean over seeds) against the model's per-hop latency when it listens to a stream (CPU, batch 1, "
        "median), log scale. Circle: streams exactly with a small state; cross: recomputes a clip-long window at every hop.",
    )
    wanted = [STREAM_FRAME_MS, STREAM_MODE, "accuracy_mean"]
    finished = summary[summary["n_ok"] > 0]
    data = finished.dropna(subset=[c for c in wanted if c in finished]) if all(c in finished for c in wanted) else None
    if data is None or data.empty:
        plot.note = "Omitted: no model was measured streaming (the config has no measure.streaming)."
        return plot
    figure = new_figure(7.5, 4.6)
    ax = figure.subplots()
    for _, row in data.iterrows():
        style = styles[str(row["model"])]
        ax.scatter(float(row[STREAM_FRAME_MS]), float(row["accuracy_mean"]), color=style.color,
                   marker=MARKERS.get(str(row[STREAM_MODE]), "o"), s=50, zorder=3)  # fmt: skip
    _log_axis(ax, data[STREAM_FRAME_MS].astype(float), numbers.milliseconds)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xlabel("per-hop latency, CPU, batch 1 (ms)")
    ax.set_ylabel("test accuracy")
    modes = [Line2D([], [], color="0.3", marker=m, linestyle="none", label=_MODE_TEXT[k]) for k, m in MARKERS.items()]
    families = [Line2D([], [], color=styles[n].color, label=n) for n in styles if n in set(data["model"])]
    figure.legend(handles=families + modes, loc="outside right upper", frameon=False)
    plot.figure = figure
    return plot
