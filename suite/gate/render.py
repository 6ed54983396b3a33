"""Render a :class:`~suite.gate.compare.Comparison` as a terminal table, Markdown or JSON.

The Markdown is written for a pull-request comment or a CI job summary: a one-line
verdict first, then regressions and improvements in a table, and the unchanged metrics
folded away in a ``<details>`` block (and so are latencies not judged because the sides timed
them on different machines). Every text that comes from the results (model and
data-set names, paths, failure reasons, notes) is escaped by
:func:`suite.formatting.markdown_text`, the report's escaper, so it shows as written and
cannot break a table or put HTML into a comment; the terminal table puts each cell on one
line.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tabulate import tabulate

from suite.formatting import markdown_text, one_line
from suite.gate.compare import Comparison
from suite.metrics import LATENCY_MS, LATENCY_REL, by_name, is_metric, shown
from suite.numbers import compact_count

FORMATS = ("table", "md", "json")
_ORDER = {"regressed": 0, "missing": 1, "unstable": 2, "improved": 3, "changed": 4, "unchanged": 5, "not judged": 6}
_MARK = {
    "regressed": "❌ regressed",
    "improved": "✅ improved",
    "missing": "⚠️ missing",
    "unstable": "⚠️ unstable (not judged)",
    "changed": "changed",
    "unchanged": "unchanged",
    "not judged": "not judged (other machine)",
}


def _value(metric: str, value: Any, basis: str) -> str:
    """A side's value: a metric as it declares; a latency row (``latency cpu b1 t1``) in the comparison's basis."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if metric == "seeds":
        return f"{int(value)} ok"
    if metric.startswith(("latency ", "latency e2e")):
        return LATENCY_REL.show(value) + " ref" if basis == "rel" else LATENCY_MS.show(value)
    return shown(metric, value) if is_metric(metric) else str(value)


def _change(metric: str, change: float | None) -> str:
    if change is None or math.isnan(change):
        return ""
    return f"{change:+.2f} pt" if is_metric(metric) and by_name(metric).judge == "quality" else f"{change:+.1%}"


def _budget(row: dict[str, Any]) -> str:
    return f"{row['budget_kind']}={compact_count(float(row['budget']))}"


def _table_rows(comparison: Comparison, rows: list[dict[str, Any]], marks: bool, markdown: bool) -> list[list[str]]:
    clean = markdown_text if markdown else one_line
    return [
        [
            clean(cell)
            for cell in (
                row["model"],
                f"{row['dataset']}/{row['protocol']}",
                _budget(row),
                row["metric"],
                _value(row["metric"], row["base"], comparison.basis),
                _value(row["metric"], row["new"], comparison.basis),
                _change(row["metric"], row["change"]),
                _MARK[row["verdict"]] if marks else row["verdict"],
                row["detail"],
            )
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
    how = "shown, not judged, as" if comparison.count("not judged") else "compared as"
    return f"{verdict}: {counts} (latency {how} {comparison.basis})"


def render_comparison(comparison: Comparison, fmt: str) -> str:
    """The comparison in ``fmt`` (``table``, ``md`` or ``json``)."""
    if fmt == "json":
        payload = {
            "base": comparison.base,
            "new": comparison.new,
            "regressed": bool(comparison.exit_code),
            "latency_not_judged": comparison.count("not judged"),  # figures timed on different machines
            "latency_basis": comparison.basis,
            "latency_basis_reason": comparison.basis_reason,
            "fail_on": comparison.fail_on.describe(),
            "notes": comparison.notes,
            "rows": comparison.rows,
        }
        return json.dumps(payload, indent=2, default=lambda v: None if isinstance(v, float) and math.isnan(v) else str(v))
    rows = _sorted(comparison)
    thresholds = comparison.fail_on.describe()
    if fmt == "table":
        table = tabulate(_table_rows(comparison, rows, False, False), headers=HEADERS, disable_numparse=True)
        settings = f"Latency: {one_line(comparison.basis_reason)}. Thresholds: {thresholds}."
        return "\n\n".join([headline(comparison), table, settings, *map(one_line, comparison.notes)])
    # The basis reason names the machines, as the results recorded them: escaped like every other text.
    settings = f"Latency: {markdown_text(comparison.basis_reason)}. Thresholds: `{thresholds}`."
    flagged = [r for r in rows if r["verdict"] not in ("unchanged", "not judged")]
    quiet = [r for r in rows if r["verdict"] == "unchanged"]
    withheld = [r for r in rows if r["verdict"] == "not judged"]
    parts = [
        f"### Benchmark comparison: {headline(comparison)}",
        # Paths are escaped text, not code spans: a code span cannot escape a backtick in a folder name.
        f"BASE {markdown_text(comparison.base)} → NEW {markdown_text(comparison.new)}. {settings}",
    ]
    if flagged:
        table = tabulate(_table_rows(comparison, flagged, True, True), headers=HEADERS, tablefmt="github", disable_numparse=True)
        parts.append(table)
    for folded, summary in (
        (quiet, f"{len(quiet)} unchanged"),
        (withheld, f"{len(withheld)} latency figures not judged (timed on different machines)"),
    ):
        if folded:
            cells = _table_rows(comparison, folded, False, True)
            table = tabulate(cells, headers=HEADERS, tablefmt="github", disable_numparse=True)
            parts.append(f"<details><summary>{summary}</summary>\n\n{table}\n\n</details>")
    parts += [f"> {markdown_text(note)}" for note in comparison.notes]
    return "\n\n".join(parts) + "\n"
