"""What ``suite list`` shows: the registered models (then their variants), data sets and input presets."""

from __future__ import annotations


def _model_rows() -> list[dict[str, str]]:
    """Every family, then the variants (``variant_of`` names the family each varies)."""
    from suite.models import get_family, list_models

    names = list_models()
    names += [name for name in list_models(variants=True) if name not in names]  # the variants after every family
    families = [get_family(name) for name in names]
    return [
        {"model": f.name, "input": "/".join(f.input_kinds), "summary": f.summary, "reference": f.reference,
         "variant_of": f.variant_of or ""}
        for f in families
    ]  # fmt: skip


def _dataset_rows() -> list[dict[str, str]]:
    """Every data set with its protocols (``cv`` where it has folds), licence and citation."""
    from suite.crossval import CV
    from suite.data.base import DATASETS, list_datasets

    rows = []
    for name in list_datasets():
        cls = DATASETS.get(name)
        protocols = ", ".join([*cls.protocols, *([CV] if cls.folds else [])])
        rows.append(
            {"dataset": name, "version": cls.version, "protocols": protocols, "license": cls.license, "citation": cls.citation}
        )
    return rows


def _input_rows() -> list[dict[str, object]]:
    from suite.input_spec import INPUT_PRESETS, PRESET_CLASSES

    return [{"input": name, "classes": PRESET_CLASSES[name], "spec": spec.describe()} for name, spec in INPUT_PRESETS.items()]


def listing(what: str) -> tuple[list[dict[str, object]], list[str]]:
    """The rows and columns of ``suite list what`` (``models``, ``datasets`` or ``inputs``)."""
    if what == "datasets":
        return _dataset_rows(), ["dataset", "version", "protocols", "license", "citation"]  # type: ignore[return-value]
    if what == "inputs":
        return _input_rows(), ["input", "classes", "spec"]
    return _model_rows(), ["model", "input", "summary", "reference", "variant_of"]  # type: ignore[return-value]
