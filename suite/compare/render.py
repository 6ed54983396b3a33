"""Render a :class:`~suite.compare.compare.Comparison` as a terminal table, Markdown or JSON.

The Markdown is written for a pull-request comment or a CI job summary: a one-line
verdict first, then regressions and improvements in a table, and the unchanged metrics
folded away in a ``<details>`` block.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tabulate import tabulate

from suite.budget import format_count
from suite.compare.compare import Comparison

FORMATS = ("table", "md", "json")
_ORDER = {"regressed": 0, "missing": 1, "unstable": 2, "improved": 3, "changed": 4, "unchanged": 5}
_MARK = {
    "regressed": "❌ regressed",
    "improved": "✅ improved",
    "missing": "⚠️ missing",
    "unstable": "⚠️ unstable (not judged)",
    "changed": "changed",
    "unchanged": "unchanged",
}


def _value(metric: str, value: Any, basis: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if metric in ("accuracy", "macro_f1"):
        return f"{value:.2%}"
    if metric in ("params", "macs"):
        return format_count(int(value))
    if metric.startswith("peak_mem"):
        return f"{value:.3g} MiB"
    if metric.startswith("latency"):
        return f"{value:.3g}x ref" if basis == "rel" else f"{value:.3g} ms"
    return str(value)


def _change(metric: str, change: float | None) -> str:
    if change is None or math.isnan(change):
        return ""
    return f"{change:+.2f} pt" if metric in ("accuracy", "macro_f1") else f"{change:+.1%}"


def _budget(row: dict[str, Any]) -> str:
    return f"{row['budget_kind']}={format_count(int(row['budget']))}"


def _table_rows(comparison: Comparison, rows: list[dict[str, Any]], marks: bool) -> list[list[str]]:
    return [
        [
            row["model"],
            f"{row['dataset']}/{row['protocol']}",
            _budget(row),
            row["metric"],
            _value(row["metric"], row["base"], comparison.basis),
            _value(row["metric"], row["new"], comparison.basis),
            _change(row["metric"], row["change"]),
            _MARK[row["verdict"]] if marks else row["verdict"],
            row["detail"],
        ]
        for row in rows
    ]


HEADERS = ["model", "data", "budget", "metric", "base", "new", "change", "verdict", "how judged"]


def _sorted(comparison: Comparison) -> list[dict[str, Any]]:
    return sorted(comparison.rows, key=lambda r: _ORDER[r["verdict"]])


def headline(comparison: Comparison) -> str:
    """One line: how many metrics regressed, improved, ... and the overall verdict."""
    counts = ", ".join(f"{comparison.count(v)} {v}" for v in _ORDER if comparison.count(v))
    verdict = "REGRESSION" if comparison.exit_code else "no regression"
    return f"{verdict}: {counts} (latency compared as {comparison.basis})"


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """The comparison in ``fmt`` (``table``, ``md`` or ``json``)."""
    if fmt == "json":
        payload = {
            "base": comparison.base,
            "new": comparison.new,
            "regressed": bool(comparison.exit_code),
            "latency_basis": comparison.basis,
            "latency_basis_reason": comparison.basis_reason,
            "fail_on": comparison.fail_on.describe(),
            "notes": comparison.notes,
            "rows": comparison.rows,
        }
        return json.dumps(payload, indent=2, default=lambda v: None if isinstance(v, float) and math.isnan(v) else str(v))
    rows = _sorted(comparison)
    settings = f"Latency: {comparison.basis_reason}. Thresholds: `{comparison.fail_on.describe()}`."
    if fmt == "table":
        lines = [headline(comparison), tabulate(_table_rows(comparison, rows, False), headers=HEADERS, disable_numparse=True)]
        return "\n\n".join([*lines, settings.replace("`", ""), *comparison.notes])
    flagged = [r for r in rows if r["verdict"] != "unchanged"]
    quiet = [r for r in rows if r["verdict"] == "unchanged"]
    parts = [
        f"### Benchmark comparison: {headline(comparison)}",
        f"BASE `{comparison.base}` → NEW `{comparison.new}`. {settings}",
    ]
    if flagged:
        parts.append(tabulate(_table_rows(comparison, flagged, True), headers=HEADERS, tablefmt="github", disable_numparse=True))
    if quiet:
        table = tabulate(_table_rows(comparison, quiet, False), headers=HEADERS, tablefmt="github", disable_numparse=True)
        parts.append(f"<details><summary>{len(quiet)} unchanged</summary>\n\n{table}\n\n</details>")
    parts += [f"> {note}" for note in comparison.notes]
    return "\n\n".join(parts) + "\n"
