"""One look for every plot: a colour and a marker per family, fixed for the whole report, and reproducible files.

Figures are built as :class:`matplotlib.figure.Figure` objects, never through pyplot's
global state, and saved with the Agg renderer; SVG ids are salted with a constant and
file dates are left out, so the same results give byte-identical plot files.

Every text is drawn as it is written: model names and class labels come from users, and
matplotlib would read ``$\\alpha$`` as mathtext (drawing α) and fail on ``$\\foo{$``.
:func:`plot_style` turns mathtext off (``text.parse_math``), so a figure must be built
and saved inside it.
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # a batch job: no window, whatever the environment says
    matplotlib.use("Agg")

import seaborn as sns  # after the backend is chosen
from matplotlib.figure import Figure

#: Distinct, print-safe markers; with 18 colours they tell up to 90 families apart.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*", "d", "H", "8")
PNG_DPI = 110
RC = {
    "svg.hashsalt": "audio-arch-suite",  # deterministic ids in SVG files
    "svg.fonttype": "path",  # text as outlines: the SVG looks the same without the font
    # Labels drawn literally, never as mathtext. Each Text reads this when it is made, tick
    # labels while drawing: hence figures are built and saved inside plot_style().
    "text.parse_math": False,
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "figure.dpi": PNG_DPI,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}


@dataclass(frozen=True)
class FamilyStyle:
    """How one family is drawn in every plot of a report."""

    color: tuple[float, float, float]
    marker: str


def family_styles(names: list[str]) -> dict[str, FamilyStyle]:
    """A colour and a marker per family, in the order given (the same order gives the same styles).

    The 18 colours of ``tab20`` other than its greys are taken dark shades first, so neighbouring families
    differ in hue, and markers cycle on a different period (15), so no two of the first
    90 families share both.
    """
    tab20 = sns.color_palette("tab20", 20)
    # Greys left out: training-loss lines and the Pareto front are grey.
    colours = [c for i, c in enumerate(tab20[0::2] + tab20[1::2]) if i not in (7, 17)]
    return {
        name: FamilyStyle(tuple(colours[i % len(colours)]), MARKERS[i % len(MARKERS)])  # type: ignore[arg-type]
        for i, name in enumerate(names)
    }


@contextmanager
def plot_style() -> Iterator[None]:
    """Seaborn's white-grid look and the report's settings (text drawn literally), for the duration of the block only."""
    with matplotlib.rc_context({**sns.axes_style("whitegrid"), **sns.plotting_context("paper"), **RC}):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure that is not registered with pyplot (no window, freed when dropped)."""
    return Figure(figsize=(width, height), layout="constrained")


@dataclass
class SavedPlot:
    """A plot written as PNG and SVG, with the SVG text for embedding in HTML."""

    png: Path
    svg: Path
    svg_data_uri: str


def save_figure(figure: Figure, stem: Path) -> SavedPlot:
    """Write ``stem.png`` and ``stem.svg``; returns their paths and the SVG as a data URI."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    figure.savefig(png, dpi=PNG_DPI, metadata={"Software": None})
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg.write_bytes(buffer.getvalue())
    uri = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return SavedPlot(png, svg, uri)
