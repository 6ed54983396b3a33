"""A small name -> object registry with pattern listing, plugins and helpful errors.

Used for model families (:mod:`suite.models`) and data sets (:mod:`suite.data`). Besides
the names registered in-process, a registry resolves two kinds of outside names, as
timm's ``hf-hub:`` names and lm-evaluation-harness's plugins do:

- **Entry points** of installed packages, in the registry's group (e.g.
  ``audio_arch_suite.models``): the entry point's name is the name, and it is loaded
  (imported) only when that name is first asked for.
- **References** ``package.module:attribute``: the module is imported and the attribute
  is the item (or what the registry's ``adopt`` function turns into one).

Either way the item is then registered under the name it was asked by, so every later
lookup (and a Ray worker that resolves the same name) finds it.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from suite.errors import ECHO_LIMIT, SuiteError, UnknownNameError, short_repr, short_text

T = TypeVar("T")


class PluginError(SuiteError):
    """A plugin that is named but cannot be loaded, or does not hold what its registry needs."""


def is_reference(name: str) -> bool:
    """Whether ``name`` is a ``package.module:attribute`` reference rather than a registered name."""
    module, colon, attribute = name.partition(":")
    return bool(colon) and all(part.isidentifier() for part in (*module.split("."), *attribute.split(".")))


class Registry(Generic[T]):
    """Objects registered by name, listed in registration order, with lazily loaded plugins.

    Args:
        kind (str): What is registered, for error messages (``"model"``, ``"data set"``).
        group (str, optional): Entry-point group of installed plugins. (Default: none)
        adopt (Callable[[str, object], T], optional): Turns a loaded plugin object into an
            item called by the given name, raising :class:`SuiteError` when it cannot.
            (Default: the object itself)
    """

    def __init__(self, kind: str, group: str | None = None, adopt: Callable[[str, object], T] | None = None) -> None:
        self.kind = kind
        self.group = group
        self._adopt = adopt
        self._items: dict[str, T] = {}
        self._references: set[str] = set()  # resolvable, but not listed: `all` means registered and installed

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._items[name] = item
        return item

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style ``pattern``, then installed plugins' names not loaded yet."""
        registered = [name for name in self._items if name not in self._references]
        known = [*registered, *(name for name in self.plugin_names() if name not in self._items)]
        return [name for name in known if fnmatch.fnmatch(name, pattern)]

    def plugin_names(self) -> list[str]:
        """Names of the installed entry points of :attr:`group`, sorted."""
        return sorted(self._entry_points())

    def get(self, name: str) -> T:
        """The item called ``name``, loading a plugin or reference the first time; an unknown name lists close matches."""
        if name in self._items:
            return self._items[name]
        loaded = self._load(name)
        if loaded is not None:
            return loaded
        known = self.names()
        close = difflib.get_close_matches(str(name)[:ECHO_LIMIT], known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownNameError(f"unknown {self.kind} {short_repr(name)}{hint} (available: {', '.join(known)})")

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {point.name: point for point in entry_points(group=self.group)} if self.group else {}

    def _load(self, name: str) -> T | None:
        """The plugin or reference ``name``, registered under ``name``; ``None`` when it is neither."""
        if not isinstance(name, str):
            return None
        if is_reference(name):
            source, load = f"reference {name}", lambda: _import_reference(name)
        else:
            point = self._entry_points().get(name)
            if point is None:
                return None
            source, load = f"entry point {name} = {point.value} (group {self.group})", point.load
        try:
            loaded = load()
        except Exception as error:  # a plugin's import can fail in any way; the user needs its one line
            raise PluginError(f"{self.kind} {short_repr(name)}: cannot load {short_text(source)}: {_one_line(error)}") from error
        if name in self._items:  # importing the plugin registered it under this very name
            return self._items[name]
        try:
            item = self._adopt(name, loaded) if self._adopt else loaded
        except SuiteError as error:
            raise PluginError(f"{self.kind} {short_repr(name)} ({short_text(source)}): {error}") from None
        self._items[name] = item  # type: ignore[assignment]
        if is_reference(name):
            self._references.add(name)
        return item  # type: ignore[return-value]


def _import_reference(reference: str) -> object:
    module_name, _, attribute = reference.partition(":")
    value: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return short_text(f"{type(error).__name__}: {text}" if text else type(error).__name__)
