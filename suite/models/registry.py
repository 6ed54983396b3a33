"""The model registry: families are registered, sizes are chosen by ``width``.

In the manner of timm: each family lives in a file of its own and registers a builder
with :func:`register_model`; :func:`create_model` builds one, :func:`list_models` lists
them. Depth and the other hyper-parameters of a family are fixed and documented in its
docstring (overridable as keyword arguments); the one integer ``width`` is what the
budget matcher scales.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from suite.errors import SuiteError, UnknownNameError, short_repr
from suite.input_spec import InputSpec
from suite.registry import Registry

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelFamily:
    """One architecture family and how its width may be chosen.

    Attributes:
        name: Registry name, e.g. ``"cnn2d"``.
        builder: ``builder(n_classes, input_spec, width, **overrides) -> nn.Module``.
        input_kinds: Front ends the family accepts; the first is used when a spec of
            another kind is adapted with :meth:`adapt_input`.
        summary: One line for listings.
        reference: The paper the family follows.
        default_width: Width used when none is given.
        min_width: Smallest width the family supports.
        max_width: Largest width the budget matcher will try ("largest plausible").
        width_multiple: Valid widths are multiples of this (e.g. the attention heads).
        variant_of: The family this one is a variant of (e.g. a causal ``tcn``); variants
            are chosen by name and are not part of ``all``.
    """

    name: str
    builder: Builder
    input_kinds: tuple[str, ...]
    summary: str
    reference: str
    default_width: int
    min_width: int = 1
    max_width: int = 2048
    width_multiple: int = 1
    variant_of: str | None = None

    def adapt_input(self, spec: InputSpec) -> InputSpec:
        """The spec this family is measured on: same clip, its own front end if needed."""
        return spec if spec.feature in self.input_kinds else spec.replace(feature=self.input_kinds[0])

    def valid_widths(self) -> range:
        """Every width the family can be built with, in increasing order."""
        first = -(-self.min_width // self.width_multiple) * self.width_multiple
        return range(first, self.max_width + 1, self.width_multiple)


#: Entry-point group through which installed packages offer model families.
ENTRY_POINT_GROUP = "audio_arch_suite.models"


def _adopt_family(name: str, loaded: object) -> ModelFamily:
    """A plugin's family under the name it was asked by: a :class:`ModelFamily`, or a builder :func:`register_model` decorated."""
    family = loaded if isinstance(loaded, ModelFamily) else getattr(loaded, "__suite_family__", None)
    if not isinstance(family, ModelFamily):
        raise SuiteError(
            f"it is a {type(loaded).__name__}, not a model family: give a suite.ModelFamily, "
            "or a builder decorated with @suite.register_model(...)"
        )
    return dataclasses.replace(family, name=name)


_REGISTRY: Registry[ModelFamily] = Registry("model", group=ENTRY_POINT_GROUP, adopt=_adopt_family)
#: Names of the families registered as a variant of another (not part of ``all``).
_VARIANTS: set[str] = set()


def register_model(
    name: str,
    *,
    input_kinds: tuple[str, ...] = ("logmel", "mfcc"),
    summary: str,
    reference: str,
    default_width: int,
    min_width: int = 1,
    max_width: int = 2048,
    width_multiple: int = 1,
    variant_of: str | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator that registers a family builder under ``name``.

    Used by the built-in families and by plugins alike: a plugin module decorates its
    builder, and an entry point or a ``module:attribute`` reference names the module's
    builder (see :mod:`suite.registry`).

    Args:
        name (str): Registry name.
        input_kinds (tuple[str, ...]): Front ends the family accepts. (Default: log-mel, MFCC)
        summary (str): One line for listings.
        reference (str): The paper (or source) the family follows.
        default_width (int): Width used when none is given.
        min_width, max_width (int): The range the budget matcher searches. (Default: 1, 2048)
        width_multiple (int): Valid widths are multiples of this. (Default: 1)
        variant_of (str, optional): The family this is a variant of: listed with
            ``list_models(variants=True)`` and chosen by its name, not by ``all`` or a pattern.
            (Default: ``None``)
    """

    def decorate(builder: Builder) -> Builder:
        family = ModelFamily(
            name=name,
            builder=builder,
            input_kinds=input_kinds,
            summary=summary,
            reference=reference,
            default_width=default_width,
            min_width=min_width,
            max_width=max_width,
            width_multiple=width_multiple,
            variant_of=variant_of,
        )
        _REGISTRY.add(name, family)
        if variant_of is not None:
            _VARIANTS.add(name)
        builder.__suite_family__ = family  # type: ignore[attr-defined]  # what a plugin reference to the builder finds
        return builder

    return decorate


def list_models(pattern: str = "*", variants: bool = False) -> list[str]:
    """Family names matching a shell-style ``pattern``: registered ones in registration order, then installed plugins.

    Variants (a family registered with ``variant_of``, e.g. ``tcn_causal``) are listed
    only with ``variants=True``, so that ``all`` and patterns mean each family once; a
    variant is chosen by its name.
    """
    return [name for name in _REGISTRY.names(pattern) if variants or name not in _VARIANTS]


def get_family(name: str) -> ModelFamily:
    """The :class:`ModelFamily` called ``name``; an unknown name lists close matches."""
    return _REGISTRY.get(name)


def ensure_family(family: ModelFamily) -> None:
    """Make ``family`` known by its name in this process (a worker), unless the name already resolves here.

    A built-in, an installed plugin or a ``module:attribute`` reference resolves by itself;
    a family registered only in the driver's process arrives with its trial and is
    registered here.
    """
    try:
        get_family(family.name)
    except UnknownNameError:
        _REGISTRY.add(family.name, family)


def resolve_model_names(selection: str) -> list[str]:
    """Parse ``all`` or a comma-separated list of names/patterns into family names."""
    names: list[str] = []
    for item in (part.strip() for part in selection.split(",")):
        if not item:
            continue
        if item == "all" or any(ch in item for ch in "*?["):
            matched = list_models("*" if item == "all" else item)  # variants are chosen by their own name
            if not matched:
                raise UnknownNameError(f"no model matches {short_repr(item)} (available: {', '.join(list_models())})")
            names.extend(matched)
        else:
            names.append(get_family(item).name)
    if not names:
        raise SuiteError("no model selected: give 'all' or a comma-separated list of names")
    return list(dict.fromkeys(names))  # keep order, drop repeats


def create_model(
    name: str,
    n_classes: int,
    input_spec: InputSpec,
    width: int | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build a model of family ``name``.

    Args:
        name (str): Family name, see :func:`list_models`.
        n_classes (int): Number of output logits.
        input_spec (InputSpec): What the model is fed; its ``feature`` must be one of
            the family's input kinds.
        width (int or None, optional): The width knob. (Default: the family's default)
        **overrides: Family hyper-parameters to change (documented per family).

    Returns:
        nn.Module: maps ``(B, *input_spec.shape)`` to logits ``(B, n_classes)``.
    """
    family = get_family(name)
    width = family.default_width if width is None else width
    if input_spec.feature not in family.input_kinds:
        raise SuiteError(f"model {name!r} takes {'/'.join(family.input_kinds)} input, not {input_spec.feature!r}")
    if not isinstance(n_classes, int) or n_classes < 2:
        raise SuiteError(f"n_classes must be an integer of at least 2, got {n_classes!r}")
    if not isinstance(width, int) or width < family.min_width or width % family.width_multiple:
        raise SuiteError(
            f"width of {name!r} must be an integer >= {family.min_width}"
            + (f" and a multiple of {family.width_multiple}" if family.width_multiple > 1 else "")
            + f", got {width!r}"
        )
    try:
        return family.builder(n_classes=n_classes, input_spec=input_spec, width=width, **overrides)
    except TypeError as error:
        if "unexpected keyword" in str(error):
            raise SuiteError(f"model {name!r}: {error}") from None
        raise
