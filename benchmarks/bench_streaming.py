"""Streaming a clip frame by frame against recomputing a clip-long window at every hop, side by side.

Run: ``python benchmarks/bench_streaming.py [--budget 100k] [--models rnn,gru]`` (default: every family that streams exactly).
For each family that streams exactly, at the budget on the default input (16 kHz, 1 s,
40 log-mel bins x 101 frames), one process and one thread, batch 1, model only (the
front end costs the same per hop either way):

- **stream**: the 101 steps of :func:`suite.streaming.run_stream` over one clip, the
  state carried from hop to hop, as a device listening continuously would run it;
- **recompute**: the full model on a 101-frame window, 101 times, once per hop: what
  the same family costs as a sliding window (how a model that cannot stream listens),
  with batch norm folded into the convolutions (``torch.fx.experimental.optimization.fuse``)
  as the TCN's streamer folds it; ``as built`` is the model unfused.

Both are timed with ``torch.utils.benchmark.Timer.blocked_autorange`` in alternating
rounds (stream, recompute, stream, ...), and each figure is the median over rounds, so
that a change of the machine's speed falls on both. ``ratio`` is recompute / stream: how
many times more compute the sliding window spends per second of audio. Pause anything
else that runs on the machine.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse
from torch.utils.benchmark import Timer

from suite.budget import Budget, build_matched
from suite.input_spec import InputSpec
from suite.models import resolve_model_names
from suite.streaming import run_stream, streamer_for

ROUNDS = 5
#: The families with an exact streamer (``tests/test_streaming.py`` checks the same set).
EXACT_STREAMERS = (
    "rnn",
    "lstm",
    "gru",
    "tcn_causal",
    "crnn_causal",
    "cnn1d_causal",
    "attention_causal",
    "transformer_causal",
)


def _clip_ms(fn: object, seconds: float) -> float:
    """Median seconds per call of ``fn`` over blocks of ``seconds``, in ms."""
    return Timer(stmt="fn()", globals={"fn": fn}, num_threads=1).blocked_autorange(min_run_time=seconds).median * 1000


def _compare(model: torch.nn.Module, spec: InputSpec, min_run_time: float) -> tuple[str, float, float, float]:
    """The streamer's mode, and the median ms per clip of streaming and of recomputing the window (folded, as built)."""
    streamer = streamer_for(model, spec)
    folded = fuse(model)
    clip = torch.randn(1, *spec.shape, generator=torch.Generator().manual_seed(0))
    hops = clip.transpose(1, 2)  # (1, T, F)

    def stream() -> None:
        run_stream(streamer, hops)

    def recompute() -> None:
        for _ in range(spec.n_frames):
            folded(clip)

    def as_built() -> None:
        for _ in range(spec.n_frames):
            model(clip)

    sides = {"stream": stream, "recompute": recompute, "as built": as_built}
    times: dict[str, list[float]] = {side: [] for side in sides}
    with torch.inference_mode():
        for fn in sides.values():  # warm-up
            fn()
        for _ in range(ROUNDS):
            for side, fn in sides.items():
                times[side].append(_clip_ms(fn, min_run_time))
    medians = [float(np.median(times[side])) for side in sides]
    return streamer.mode, medians[0], medians[1], medians[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="100k")
    parser.add_argument("--models", default=",".join(EXACT_STREAMERS))
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds of blocks per round and side")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = InputSpec()
    print(f"torch {torch.__version__}, 1 thread, {os.cpu_count()} CPUs; {spec.describe()}, params={args.budget}, batch 1")
    print(
        f"{'family':18s} {'mode':>6s} {'stream ms/clip':>15s} {'recompute ms/clip':>18s} {'ratio':>7s} "
        f"{'as built':>9s} {'ratio':>7s}  per hop: stream, window"
    )
    for name in resolve_model_names(args.models):
        built = build_matched(name, spec, Budget.parse("params", args.budget), 10, seed=0)
        if built.model is None:
            print(f"{name:18s} budget not reachable: {built.match.reason}")
            continue
        mode, streamed, recomputed, unfused = _compare(built.model.eval(), spec, args.min_run_time)
        per_hop = f"{streamed / spec.n_frames:.3f} ms, {recomputed / spec.n_frames:.3f} ms"
        ratios = f"{recomputed / streamed:6.1f}x {unfused:9.2f} {unfused / streamed:6.1f}x"
        print(f"{name:18s} {mode:>6s} {streamed:15.2f} {recomputed:18.2f} {ratios}  {per_hop}", flush=True)


if __name__ == "__main__":
    main()
