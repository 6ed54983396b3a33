"""Compare runs for CI gating (``suite compare``) and follow metrics over time (``suite history``)."""

from suite.gate.compare import Comparison, compare_paths, compare_sides
from suite.gate.history import History, build_history
from suite.gate.history_output import render_history, write_history
from suite.gate.render import render_comparison
from suite.gate.sides import Side, load_side
from suite.gate.thresholds import DEFAULT_FAIL_ON, FailOn, parse_fail_on

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
