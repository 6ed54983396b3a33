"""Every registered family: shapes, gradients, determinism and MAC counts."""

from __future__ import annotations

import pytest
import torch

from suite.input_spec import INPUT_PRESETS
from suite.measure import count_macs, count_params
from suite.measure.handles import MATRIX_OPS
from suite.measure.meta import count_on_meta
from suite.models import create_model, get_family
from tests.helpers import ALL_MODELS, spec_for


def test_registry_holds_every_seed_family() -> None:
    expected = {"mlp", "cnn1d", "cnn2d", "samplecnn", "tcn", "resnet", "rnn", "lstm", "gru", "crnn", "attention"}
    expected |= {"transformer", "dscnn", "randwire"}
    assert set(ALL_MODELS) == expected


@pytest.mark.parametrize("name", ALL_MODELS)
def test_output_shape(name: str) -> None:
    spec = spec_for(name)
    model = create_model(name, n_classes=7, input_spec=spec).eval()
    with torch.no_grad():
        logits = model(spec.example(batch_size=3))
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", ALL_MODELS)
@pytest.mark.parametrize("preset", ["fsdd", "esc50"])
def test_other_inputs_build_and_run(name: str, preset: str) -> None:
    spec = spec_for(name, INPUT_PRESETS[preset])
    model = create_model(name, n_classes=5, input_spec=spec, width=get_family(name).default_width // 2 or 1).eval()
    with torch.no_grad():
        assert model(spec.example(batch_size=2)).shape == (2, 5)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_gradient_reaches_every_parameter(name: str) -> None:
    spec = spec_for(name)
    model = create_model(name, n_classes=4, input_spec=spec).train()
    loss = torch.nn.functional.cross_entropy(model(spec.example(batch_size=4)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    for pname, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{pname} has a non-finite gradient"
        assert parameter.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_construction_is_deterministic_for_a_seed(name: str) -> None:
    spec = spec_for(name)
    states = []
    for _ in range(2):
        torch.manual_seed(123)
        states.append(create_model(name, n_classes=10, input_spec=spec).state_dict())
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    torch.manual_seed(124)
    other = create_model(name, n_classes=10, input_spec=spec).state_dict()
    assert any(not torch.equal(states[0][k], other[k]) for k in other if other[k].is_floating_point())


@pytest.mark.parametrize("name", ALL_MODELS)
def test_macs_positive_and_no_matrix_op_uncounted(name: str) -> None:
    spec = spec_for(name)
    counted = count_macs(create_model(name, n_classes=10, input_spec=spec), spec.example())
    assert counted.macs > 0
    assert not set(counted.uncounted_ops) & MATRIX_OPS
    assert sum(counted.by_op.values()) == counted.macs


@pytest.mark.parametrize("name", ALL_MODELS)
def test_meta_count_used_by_matcher_equals_fvcore_count(name: str) -> None:
    family = get_family(name)
    spec = spec_for(name)
    for width in (family.valid_widths()[0], family.default_width, 2 * family.default_width):
        model = create_model(name, n_classes=10, input_spec=spec, width=width)
        assert count_on_meta(name, spec, width, "params", 10) == count_params(model)
        assert count_on_meta(name, spec, width, "macs", 10) == count_macs(model, spec.example()).macs


@pytest.mark.parametrize("name", ALL_MODELS)
def test_counts_grow_with_width(name: str) -> None:
    """The matcher's binary search relies on counts that never shrink as width grows."""
    family = get_family(name)
    spec = spec_for(name)
    widths = [*list(family.valid_widths()[:40:3]), 512, 1024]
    for kind in ("params", "macs"):
        counts = [count_on_meta(name, spec, w, kind, 10) for w in widths]
        assert counts == sorted(counts), f"{kind} of {name} is not monotone in width"
