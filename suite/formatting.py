"""Render lists of records as a table, CSV, JSON or Markdown for the CLI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

from suite.budget import format_count
from suite.measure import MAC_CONVENTION

FORMATS = ("table", "csv", "json", "md")


def _cell(key: str, value: Any) -> Any:
    """A value as people read it in a table."""
    if key in {"params", "macs", "flops", "budget"} and isinstance(value, int):
        return format_count(value)
    if key == "model_bytes" and isinstance(value, int):
        return f"{value / 2**20:.2f} MiB" if value >= 2**20 else f"{value / 2**10:.1f} KiB"
    if key in {"accuracy", "macro_f1"} and isinstance(value, float):
        return f"{value:.1%}"
    if key.endswith("_ms") and isinstance(value, float):
        return f"{value:.3g} ms"
    if key.endswith("_mb") and isinstance(value, float):
        return f"{value:.3g} MiB"
    if key == "throughput" and isinstance(value, float):
        return f"{value:,.0f}/s"
    if key == "latency_rel" and isinstance(value, float):
        return f"{value:.3g}x"
    if key == "budget_error" and isinstance(value, float):
        return f"{value:+.1%}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return value


def render(records: Sequence[Mapping[str, Any]], fmt: str, columns: Sequence[str], footer: str = "") -> str:
    """Render ``records``.

    Args:
        records: Rows as mappings.
        fmt: ``table`` and ``md`` show ``columns`` formatted for people, followed by
            ``footer``; ``csv`` and ``json`` keep every key at full precision.
        columns: Keys shown in ``table`` and ``md``.
        footer: A note printed under ``table`` and ``md`` output.
    """
    if fmt == "json":
        return json.dumps(list(records), indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        keys = list(dict.fromkeys(key for record in records for key in record))
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(k, v) if isinstance(v, (list, tuple)) else v for k, v in r.items()} for r in records)
        return buffer.getvalue().rstrip("\n")
    rows = [[_cell(key, record.get(key, "")) for key in columns] for record in records]
    text = tabulate(rows, headers=list(columns), tablefmt="github" if fmt == "md" else "simple", disable_numparse=True)
    return f"{text}\n\n{footer}" if footer else text


def profile_footer() -> str:
    """The MAC convention, printed under every human-readable profile."""
    return f"Convention: {MAC_CONVENTION}. Full records with the uncounted ops: --format json."
