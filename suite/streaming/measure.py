"""What streaming costs per hop: latency (median and p99), real-time factor, state, lookahead, receptive field.

Timed at batch 1 on one thread, as a device that listens would run:

- **median per-hop latency**: one step (on the state reached after a clip) timed with the
  suite's rules (:func:`suite.measure.latency.measure_figure`: warm-up, blocks, the
  interleaved reference kernel, re-measured while unstable); a streamer whose work
  repeats every ``period`` hops (the causal CRNN's strided convolution) is timed over a
  period and divided by it, so the figure is its mean cost per hop;
- **p99**: of ``p99_steps`` individually timed steps while a stream plays (the state
  evolving as in use), after a clip of warm-up steps: the heavy hops of a periodic
  streamer show here;
- **front end per hop**: the incremental log-mel (:mod:`suite.streaming.frontend`) timed
  by the same rules; zero for raw-waveform models;
- **real-time factor**: ``(per-hop latency + front end per hop) / hop``: the share of
  one core's time that listening takes (below 1 keeps up);
- **lookahead**: the model's (0 for every streamer here) plus the front end's half
  window; **receptive field**: the hops one time step's features depend on, times the hop
  (unbounded for a recurrent state).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.measure.latency import DEFAULT_MIN_RUN_TIME, Timing, measure_figure
from suite.metrics import (
    LATENCY_REL,
    STREAM_FRAME_MS,
    STREAM_FRAME_P99_MS,
    STREAM_FRONTEND_MS,
    STREAM_LOOKAHEAD_MS,
    STREAM_MODE,
    STREAM_RECEPTIVE_FIELD_MS,
    STREAM_RTF,
    STREAM_STABILITY,
    STREAM_STATE_BYTES,
)
from suite.streaming.base import Streamer, state_bytes
from suite.streaming.frontend import IncrementalFrontEnd
from suite.streaming.select import streamer_for
from suite.streaming.settings import P99_STEPS

_CPU = torch.device("cpu")


def _random_hops(streamer: Streamer, count: int) -> torch.Tensor:
    return torch.randn(1, count, *streamer.hop_shape, generator=torch.Generator().manual_seed(0))


def _warm_state(streamer: Streamer, hops: torch.Tensor) -> dict[str, torch.Tensor]:
    """The state after streaming ``hops`` ``(1, T, *hop_shape)``: what a step sees in use."""
    state = streamer.initial_state(1)
    for index in range(hops.shape[1]):
        _, state = streamer.step(hops[:, index], state)
    return state


def _step_times_ms(streamer: Streamer, hops: torch.Tensor, steps: int) -> np.ndarray:
    """``steps`` individually timed steps of a stream that cycles through ``hops``, in ms."""
    state = _warm_state(streamer, hops)
    times = np.empty(steps)
    for index in range(steps):
        hop = hops[:, index % hops.shape[1]]
        start = time.perf_counter()
        _, state = streamer.step(hop, state)
        times[index] = time.perf_counter() - start
    return times * 1000


def per_hop(timing: Timing, period: int) -> Timing:
    """A timing of ``period`` hops as the timing of one hop: every time divided by ``period``."""
    if period == 1:
        return timing
    scale = 1 / period
    times = {name: getattr(timing, name) for name in ("median_ms", "iqr_ms", "min_ms", LATENCY_REL)}
    return dataclasses.replace(
        timing,
        **{name: None if value is None else value * scale for name, value in times.items()},
        times_ms=[t * scale for t in timing.times_ms],
        throughput=None if timing.throughput is None else timing.throughput * period,
    )


def measure_streaming(
    model: nn.Module, spec: InputSpec, min_run_time: float = DEFAULT_MIN_RUN_TIME, p99_steps: int = P99_STEPS
) -> tuple[dict[str, Any], list[Timing]]:
    """The streaming figures of ``model`` (flat, keyed by the ``STREAM_*`` metrics) and their two timings.

    The timings (scope ``stream``: one hop of the model; ``frontend``: one hop of the
    incremental front end) go with a trial's other timings, so ``suite compare`` and
    ``suite history`` judge them by the latency rules.

    Args:
        model (nn.Module): Takes ``(B, *spec.shape)``; put in eval mode.
        spec (InputSpec): Its input (clip length = the sliding window's length).
        min_run_time (float): Seconds of timed blocks for each median. (Default: ``0.3``)
        p99_steps (int): Individually timed steps for the p99. (Default: ``1000``)
    """
    model.eval()
    streamer = streamer_for(model, spec)
    clip_hops = spec.n_samples // spec.hop_length if spec.feature == "raw" else spec.n_frames
    hops = _random_hops(streamer, clip_hops)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            state = _warm_state(streamer, hops)
            hop = hops[:, 0]

            def one_period() -> None:  # the hops after which the work repeats (1 but for strided streamers)
                current = state
                for _ in range(streamer.period):
                    _, current = streamer.step(hop, current)

            base = {"scope": "stream", "device": "cpu", "backend": "eager", "dtype": "float32", "batch_size": 1, "threads": 1}
            frame = per_hop(measure_figure(one_period, base, _CPU, min_run_time=min_run_time), streamer.period)
            timings = [frame]
            p99 = float(np.percentile(_step_times_ms(streamer, hops, p99_steps), 99))
            frontend_ms, frontend_lookahead = 0.0, 0.0
            if spec.feature != "raw":
                frontend = IncrementalFrontEnd(spec)
                samples = torch.randn(1, spec.hop_length, generator=torch.Generator().manual_seed(1))
                front_state = frontend.initial_state(1)
                front = measure_figure(lambda: frontend.step(samples, front_state), base | {"scope": "frontend"}, _CPU,
                                       min_run_time=min_run_time)  # fmt: skip
                frontend_ms, frontend_lookahead = float(front.median_ms or 0.0), frontend.lookahead_ms
                timings.append(front)
    finally:
        torch.set_num_threads(previous)
    hop_ms = spec.hop_length / spec.sample_rate * 1000
    field = streamer.receptive_field_frames
    frame_ms = float(frame.median_ms or 0.0)
    figures = {
        STREAM_MODE: streamer.mode,
        STREAM_FRAME_MS: frame_ms,
        STREAM_FRAME_P99_MS: p99,
        STREAM_FRONTEND_MS: frontend_ms,
        STREAM_RTF: (frame_ms + frontend_ms) / hop_ms,
        STREAM_STATE_BYTES: state_bytes(state),
        STREAM_LOOKAHEAD_MS: streamer.lookahead_frames * hop_ms + frontend_lookahead,
        STREAM_RECEPTIVE_FIELD_MS: float("inf") if field is None else field * hop_ms,
        STREAM_STABILITY: frame.stability,
    }
    return figures, timings
