"""Render a report's content to ``index.html`` and ``README.md`` through Jinja2 templates.

The HTML is one file: styles inline, plots embedded as SVG data URIs, a
Content-Security-Policy that forbids every fetch, and no scripts. The Markdown is
GitHub-flavoured, with the plots as image files in ``plots/`` beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from suite.formatting import markdown_text
from suite.reporting.tables import Table

TEMPLATES = Path(__file__).parent / "templates"


def markdown_table(table: Table) -> str:
    """A GitHub-flavoured pipe table; the best cells of each column in bold."""

    def cell(text: str, best: bool) -> str:
        text = markdown_text(text)
        return f"**{text}**" if best and text else text

    align = ["---:" if numeric else ":---" for numeric in (table.numeric or [False] * len(table.columns))]
    lines = [
        "| " + " | ".join(markdown_text(c) or " " for c in table.columns) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(cell(c.text, c.best) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def environment() -> Environment:
    """The Jinja2 environment: HTML templates autoescaped, undefined names an error rather than blank text."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md_table"] = markdown_table
    env.filters["md"] = markdown_text
    return env


def render(template: str, context: dict[str, Any]) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)
