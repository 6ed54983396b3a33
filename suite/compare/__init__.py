"""Compare runs for CI gating (``suite compare``) and follow metrics over time (``suite history``)."""

from suite.compare.compare import Comparison, compare_paths, compare_sides
from suite.compare.history import History, build_history
from suite.compare.history_output import render_history, write_history
from suite.compare.render import render_comparison
from suite.compare.sides import Side, load_side
from suite.compare.thresholds import DEFAULT_FAIL_ON, FailOn, parse_fail_on

__all__ = [
    "DEFAULT_FAIL_ON",
    "Comparison",
    "FailOn",
    "History",
    "Side",
    "build_history",
    "compare_paths",
    "compare_sides",
    "load_side",
    "parse_fail_on",
    "render_comparison",
    "render_history",
    "write_history",
]
