"""The model zoo: one file per family, registered on import.

>>> from suite.models import create_model, list_models
>>> from suite.input_spec import InputSpec
>>> model = create_model("cnn2d", n_classes=10, input_spec=InputSpec(), width=32)
"""

# Importing a family module registers it; the order here is the order of `list_models()`.
from suite.models import mlp, cnn1d, cnn2d, samplecnn, tcn, resnet, recurrent, crnn, attention, transformer, dscnn, randwire  # noqa: F401, I001
from suite.models.registry import (
    ModelFamily,
    create_model,
    get_family,
    list_models,
    register_model,
    resolve_model_names,
)

__all__ = ["ModelFamily", "create_model", "get_family", "list_models", "register_model", "resolve_model_names"]
