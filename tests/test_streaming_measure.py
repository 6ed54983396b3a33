"""Streaming figures (per-hop latency, p99, front end, real-time factor), `suite profile --streaming`, causal variants."""

from __future__ import annotations

import math

import pytest

from suite.api import profile
from suite.budget import Budget, build_matched
from suite.cli import main
from suite.input_spec import InputSpec
from suite.metrics import (
    PARAMS,
    STREAM_FRAME_MS,
    STREAM_FRAME_P99_MS,
    STREAM_FRONTEND_MS,
    STREAM_LOOKAHEAD_MS,
    STREAM_MODE,
    STREAM_RECEPTIVE_FIELD_MS,
    STREAM_RTF,
    STREAM_STATE_BYTES,
    STREAMING,
)
from suite.models import create_model, get_family
from suite.streaming.measure import measure_streaming, per_hop

SPEC = InputSpec(sample_rate=8000, clip_seconds=0.3)


@pytest.mark.parametrize("name", ["gru", "tcn_causal", "mlp"])
def test_the_figures_of_one_model_hold_together(name: str) -> None:
    figures, timings = measure_streaming(create_model(name, 5, SPEC), SPEC, min_run_time=0.02, p99_steps=60)
    assert set(figures) == set(STREAMING)
    assert [t.scope for t in timings] == ["stream", "frontend"] and timings[0].median_ms == figures[STREAM_FRAME_MS]
    hop_ms = SPEC.hop_length / SPEC.sample_rate * 1000
    assert figures[STREAM_FRAME_MS] > 0 and figures[STREAM_FRAME_P99_MS] > 0 and figures[STREAM_FRONTEND_MS] > 0
    assert figures[STREAM_RTF] == pytest.approx((figures[STREAM_FRAME_MS] + figures[STREAM_FRONTEND_MS]) / hop_ms)
    assert figures[STREAM_LOOKAHEAD_MS] == pytest.approx(SPEC.n_fft / 2 / SPEC.sample_rate * 1000)  # the front end's
    field = figures[STREAM_RECEPTIVE_FIELD_MS]
    expected = {"gru": math.inf, "tcn_causal": 63 * hop_ms, "mlp": SPEC.n_frames * hop_ms}[name]
    assert field == pytest.approx(expected)
    assert figures[STREAM_MODE] == ("window" if name == "mlp" else "state") and figures[STREAM_STATE_BYTES] > 0


def test_a_raw_waveform_model_has_no_front_end_cost_and_no_lookahead() -> None:
    spec = SPEC.replace(feature="raw")
    figures, timings = measure_streaming(create_model("samplecnn", 5, spec), spec, min_run_time=0.02, p99_steps=30)
    assert [t.scope for t in timings] == ["stream"]
    assert figures[STREAM_FRONTEND_MS] == 0 and figures[STREAM_LOOKAHEAD_MS] == 0
    assert figures[STREAM_STATE_BYTES] == 4 * spec.n_samples


def test_profile_streaming_prints_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "--models", "gru,cnn1d", "--params", "5k", "--streaming", "--format", "csv"]) == 0
    header, *rows = capsys.readouterr().out.strip().splitlines()
    assert all(str(metric) in header.split(",") for metric in STREAMING) and len(rows) == 2
    table = profile("lstm", "5k", streaming=True, progress=False)
    assert table.loc[0, STREAM_MODE] == "state" and math.isinf(table.loc[0, STREAM_RECEPTIVE_FIELD_MS])


@pytest.mark.parametrize("name", ["tcn_causal", "crnn_causal", "cnn1d_causal", "attention_causal", "transformer_causal"])
def test_a_causal_variant_is_matched_to_a_budget_like_its_family(name: str) -> None:
    base = get_family(name).variant_of
    assert base is not None
    budget = Budget.parse(PARAMS, "100k")
    variant, family = (build_matched(n, InputSpec(), budget, 10, seed=0) for n in (name, base))
    assert variant.match.status == "ok" and abs(variant.budget_error) <= 0.05
    if name == "attention_causal":  # one LSTM direction of 2H units has more weights than two of H: a narrower model
        assert variant.match.width < family.match.width
    elif name == "transformer_causal":  # no class token or position embeddings: fewer weights at the same width
        assert variant.match.width == family.match.width and variant.params < family.params
    else:  # padding has no weights: the same width and parameters as the family
        assert (variant.match.width, variant.params) == (family.match.width, family.params)


def test_a_periodic_streamers_timing_is_per_hop() -> None:
    spec = SPEC
    figures, (stream, _) = measure_streaming(create_model("crnn_causal", 5, spec), spec, min_run_time=0.02, p99_steps=30)
    assert stream.median_ms == figures[STREAM_FRAME_MS] and stream.min_ms is not None
    halved = per_hop(stream, 2)
    assert halved.median_ms == pytest.approx(stream.median_ms / 2) and halved.times_ms[0] == pytest.approx(stream.times_ms[0] / 2)
