"""suite.streaming: exact streamers equal the full model, the sliding window is the model on its window, the front end per hop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from suite.features import build_frontend
from suite.input_spec import InputSpec
from suite.models import create_model, list_models, resolve_model_names
from suite.streaming import run_stream, state_bytes, streamer_for
from suite.streaming.frontend import IncrementalFrontEnd
from tests.helpers import spec_for

#: A short clip keeps the window and the models small; every family builds on it.
SPEC = InputSpec(sample_rate=8000, clip_seconds=0.3)
EVERY_MODEL = list_models(variants=True)
EXACT = {"rnn", "lstm", "gru", "tcn_causal", "crnn_causal", "cnn1d_causal", "attention_causal", "transformer_causal"}


def _model(name: str) -> tuple[nn.Module, InputSpec]:
    """The family on :data:`SPEC`, in eval mode, with batch-norm statistics that are not the identity."""
    spec = spec_for(name, SPEC)
    model = create_model(name, 5, spec).eval()
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) * 2 - 1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model, spec


def test_the_families_that_stream_exactly_are_the_recurrent_and_causal_ones() -> None:
    modes = {name: streamer_for(*_model(name)).mode for name in EVERY_MODEL}
    assert {name for name, mode in modes.items() if mode == "state"} == EXACT
    assert "tcn_causal" not in list_models() and resolve_model_names("tcn*") == ["tcn"]  # chosen by name only
    assert resolve_model_names("tcn,tcn_causal") == ["tcn", "tcn_causal"]
    assert resolve_model_names("all") == list_models()


@pytest.mark.parametrize("name", sorted(EXACT))
@pytest.mark.parametrize("frames", [1, 6, 19, 37])
def test_streaming_gives_the_full_models_output_on_every_prefix(name: str, frames: int) -> None:
    model, spec = _model(name)
    x = torch.randn(2, spec.shape[0], frames, generator=torch.Generator().manual_seed(frames))
    streamed = run_stream(streamer_for(model, spec), x.transpose(1, 2))  # (B, T, n_classes)
    with torch.inference_mode():
        for length in sorted({1, (frames + 1) // 2, frames}):
            full = model(x[..., :length])
            assert torch.allclose(streamed[:, length - 1], full, atol=1e-5), (name, frames, length)


def _token_outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The transformer's patch tokens after its last block, ``(B, D, N)`` (the class token left out)."""
    seen: list[torch.Tensor] = []
    handle = model.blocks[-1].register_forward_hook(lambda module, args, out: seen.append(out))
    model(x)
    handle.remove()
    tokens = -(-x.shape[2] // model.patch_frames)  # ceil(T / p)
    return seen[0][:, -tokens:].transpose(1, 2)


@pytest.mark.parametrize(
    "name", ["tcn_causal", "crnn_causal", "cnn1d_causal", "transformer_causal", "tcn", "crnn", "cnn1d", "transformer"]
)
def test_a_causal_variant_never_sees_the_future_and_its_base_family_does(name: str) -> None:
    model, spec = _model(name)
    x = torch.randn(1, *spec.shape, generator=torch.Generator().manual_seed(0))  # the clip: the transformer needs its length
    changed = x.clone()
    changed[..., 21:] += 1.0  # every frame from 21 on
    if name.startswith("tcn"):  # per-frame features; frame 20 is the last unchanged one
        features, heard = (lambda v: model.blocks(model.stem(v))), 21
    elif name.startswith("cnn1d"):  # the first block's convolution, per frame
        features, heard = (lambda v: model.features[0](v)), 21
    elif name.startswith("transformer"):  # tokens of two frames: token 10 holds frames 20 and 21
        features, heard = (lambda v: _token_outputs(model, v)), 10
    else:  # convolution columns, one every 2 frames: column 10 ends at frame 20 (causal) or 21 ("same" padding)
        features, heard = (lambda v: model.conv(v.unsqueeze(1))), 11
    with torch.inference_mode():
        before, after = features(x)[..., :heard], features(changed)[..., :heard]
    assert torch.equal(before, after) == name.endswith("_causal"), name


@pytest.mark.parametrize("name", sorted(set(EVERY_MODEL) - EXACT))
def test_a_sliding_window_is_the_model_on_the_last_clip_length_of_the_stream(name: str) -> None:
    model, spec = _model(name)
    streamer = streamer_for(model, spec)
    window = streamer.receptive_field_frames
    assert streamer.mode == "window" and window is not None
    if spec.feature == "raw":
        x = torch.randn(1, (window + 3) * spec.hop_length, generator=torch.Generator().manual_seed(0))
        hops, last = x.reshape(1, window + 3, spec.hop_length), x[:, -spec.n_samples :]
    else:
        x = torch.randn(1, spec.shape[0], window + 3, generator=torch.Generator().manual_seed(0))
        hops, last = x.transpose(1, 2), x[..., -window:]
    streamed = run_stream(streamer, hops)
    with torch.inference_mode():
        assert torch.allclose(streamed[:, -1], model(last), atol=1e-5)
    assert state_bytes(streamer.initial_state(1)) == 4 * torch.Size(spec.shape).numel()  # the window, float32


@pytest.mark.parametrize("context", [1, 3])
def test_a_causal_transformer_forgets_what_lies_past_its_receptive_field(context: int) -> None:
    spec = spec_for("transformer_causal", SPEC)
    model = create_model("transformer_causal", 5, spec, context=context).eval()
    streamer = streamer_for(model, spec)
    window = streamer.receptive_field_frames  # 2 * (depth * (context - 1) + 1) frames
    assert window == 2 * (len(model.blocks) * (context - 1) + 1)
    x = torch.randn(1, spec.shape[0], window + 8, generator=torch.Generator().manual_seed(0))
    streamed = run_stream(streamer, x.transpose(1, 2))
    outside, inside = x.clone(), x.clone()
    outside[..., :8] += 1.0  # frames before the last token's receptive field
    inside[..., 8] += 1.0  # its first frame
    with torch.inference_mode():
        last = [_token_outputs(model, v)[..., -1] for v in (x, outside, inside)]
        for length in range(1, x.shape[2] + 1):  # every prefix, the caches rolling over
            assert torch.allclose(streamed[:, length - 1], model(x[..., :length]), atol=1e-5), (context, length)
    assert torch.equal(last[0], last[1]) and not torch.allclose(last[0], last[2])


def test_state_bytes_follow_the_formulas() -> None:
    gru, spec = _model("gru")
    hidden, layers = gru.rnn.hidden_size, gru.rnn.num_layers
    counter = 8  # the int64 frame count of the running mean
    assert state_bytes(streamer_for(gru, spec).initial_state(1)) == 4 * (layers * hidden + hidden) + counter
    lstm, spec = _model("lstm")
    hidden, layers = lstm.rnn.hidden_size, lstm.rnn.num_layers
    assert state_bytes(streamer_for(lstm, spec).initial_state(1)) == 4 * (2 * layers * hidden + hidden) + counter
    tcn, spec = _model("tcn_causal")
    width, depth = tcn.stem[0].out_channels, len(tcn.blocks)
    streamer = streamer_for(tcn, spec)
    assert streamer.receptive_field_frames == 1 + 2 * (2**depth - 1)  # kernel 3: (k - 1) * sum of dilations
    assert state_bytes(streamer.initial_state(1)) == 4 * (width * 2 * (2**depth - 1) + width) + counter
    transformer, spec = _model("transformer_causal")
    width, depth, kept = transformer.fc.in_features, len(transformer.blocks), transformer.context - 1
    caches, pending = 2 * depth * kept * width, spec.shape[0]  # keys and values per block; one frame of a 2-frame patch
    assert state_bytes(streamer_for(transformer, spec).initial_state(1)) == 4 * (caches + pending + width) + 3 * counter


@pytest.mark.parametrize("spec", [InputSpec(), InputSpec(sample_rate=8000), InputSpec(feature="mfcc", n_mfcc=13)])
def test_the_front_end_one_hop_at_a_time_gives_the_offline_frames(spec: InputSpec) -> None:
    frontend = IncrementalFrontEnd(spec)
    x = torch.randn(2, spec.n_samples, generator=torch.Generator().manual_seed(0))
    offline = build_frontend(spec)(x)  # (B, F, T), a centred STFT
    state, frames = frontend.initial_state(2), []
    for hop in x.reshape(2, -1, spec.hop_length).unbind(1):
        frame, state = frontend.step(hop, state)
        frames.append(frame)
    # The frame emitted at hop k is offline frame k + 1 - delay: it waits for half a window past its centre.
    delay = frontend.delay_hops
    streamed = torch.stack(frames, dim=2)[..., delay - 1 :]
    assert torch.allclose(streamed, offline[..., : streamed.shape[2]], atol=1e-4)
    assert frontend.lookahead_ms == pytest.approx(spec.n_fft / 2 / spec.sample_rate * 1000)
