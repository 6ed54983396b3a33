"""A small name -> object registry with pattern listing and helpful errors.

Used for model families (:mod:`suite.models`) and data sets (:mod:`suite.data`).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterator
from typing import Generic, TypeVar

from suite.errors import ECHO_LIMIT, UnknownNameError, short_repr

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects registered by name, listed in registration order.

    Args:
        kind (str): What is registered, for error messages (``"model"``, ``"data set"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item
        return item

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style ``pattern``."""
        return [name for name in self._items if fnmatch.fnmatch(name, pattern)]

    def get(self, name: str) -> T:
        """The item called ``name``; an unknown name lists close matches and every name."""
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name)[:ECHO_LIMIT], self._items, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            shown = short_repr(name)
            raise UnknownNameError(f"unknown {self.kind} {shown}{hint} (available: {', '.join(self._items)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
