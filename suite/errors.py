"""Errors that are the user's to fix.

Everything raised as :class:`SuiteError` is printed by the CLI as one line, without a
traceback (unless ``--debug``), and ends the command with a non-zero exit code. Any
other exception is a bug in the suite and keeps its traceback.
"""

from __future__ import annotations

import reprlib
from typing import Any

#: The most characters of a user's value that an error message repeats.
ECHO_LIMIT = 200


def short_text(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def short_line(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` on one line (every whitespace run one space), cut to ``limit`` characters."""
    return short_text(" ".join(text.split()), limit)


def short_repr(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` of at most ``limit`` characters (an ellipsis marks a cut): a message echoes a value, never megabytes.

    Nested values are abbreviated as they are written (:mod:`reprlib`), so a value
    whose full repr would be huge is never built.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a NumPy scalar reads as the number it holds
        value = value.item()
    shorter = reprlib.Repr()
    shorter.maxlevel, shorter.maxdict, shorter.maxlist, shorter.maxtuple, shorter.maxset = 3, 8, 8, 8, 8
    shorter.maxstring = shorter.maxother = shorter.maxlong = limit
    try:
        text = shorter.repr(value)
    except ValueError:  # an integer of more than 4,300 digits has no repr
        text = f"<{type(value).__name__} too long to show>"
    return short_text(text, limit)


class SuiteError(Exception):
    """A problem with the user's input: a name, a number, a file or a setting."""


class UnknownNameError(SuiteError, KeyError):
    """A name that is not in a registry; the message lists what is available."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CountingError(RuntimeError):
    """A count that would be wrong: an op that carries MACs was left uncounted."""
