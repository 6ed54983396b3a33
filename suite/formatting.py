"""Render lists of records as a table, CSV, JSON or Markdown for the CLI, and text that Markdown shows as it is.

:func:`markdown_text` is the one Markdown escaper of the suite: the report's Markdown, the
``md`` format here, ``suite compare --format md`` and ``suite history`` use it, so a model,
data-set or class name (or an error message) cannot break a table or inject HTML into a
README or a pull-request comment.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

from suite.measure import MAC_CONVENTION
from suite.metrics import is_metric, shown
from suite.numbers import compact_count

FORMATS = ("table", "csv", "json", "md")
#: What Markdown (CommonMark and GitHub's tables) could read as syntax, each backslash-escaped: ``&`` would start
#: an entity, ``<`` a tag, ``|`` a cell, ``~`` a strikethrough, ``$`` math on GitHub (``$\alpha$`` shown as α). An
#: ``_`` between two letters or digits cannot open or close emphasis (CommonMark's flanking rules), so
#: ``latency_rel`` stays as it is.
_MARKDOWN_SPECIAL = re.compile(r"[\\|*`<>\[\]&~#$]|(?<![^\W_])_|_(?![^\W_])")


def markdown_text(text: object) -> str:
    """``text`` as Markdown shows it literally: on one line (whitespace runs become one space), special characters escaped.

    Safe in a table cell, a heading, a list item or a paragraph. Code spans cannot hold
    escapes, so put untrusted text here, not between backticks.
    """
    return _MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(0), " ".join(str(text).split()))


def one_line(text: object) -> str:
    """``text`` with every whitespace run (newlines included) as one space, for a terminal table's cell."""
    return " ".join(str(text).split())


def _cell(key: str, value: Any) -> Any:
    """A value as people read it in a table: a metric as it declares (:mod:`suite.metrics`), a budget as written."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if key == "budget":
        return compact_count(value)
    return shown(key, value) if is_metric(key) else value


def _shown(value: Any, fmt: str) -> Any:
    """A cell as written: escaped for ``md``; on one line for ``table`` (numbers stay numbers, None stays blank)."""
    if value is None:
        return None
    if fmt == "md":
        return markdown_text(value)
    return one_line(value) if isinstance(value, str) else value


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
    rows = [[_shown(_cell(key, record.get(key, "")), fmt) for key in columns] for record in records]
    headers = [_shown(column, fmt) for column in columns]
    text = tabulate(rows, headers=headers, tablefmt="github" if fmt == "md" else "simple", disable_numparse=True)
    return f"{text}\n\n{footer}" if footer else text


def profile_footer() -> str:
    """The MAC convention, printed under every human-readable profile."""
    return f"Convention: {MAC_CONVENTION}. Full records with the uncounted ops: --format json."
