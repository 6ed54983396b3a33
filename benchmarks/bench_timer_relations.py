"""Relations the timer must show on real models, printed as ratios measured side by side (run on a quiet machine).

- batch 32 against batch 1 of cnn2d (32x the work: well above 2x);
- an LSTM (width 256) on 400 frames against 100 (4x the steps: about 4x, not constant, not quadratic);
- mlp end to end against model only (the front end adds time: at least 1x).

These were unit-test assertions until a test run beside two busy cores stretched the
LSTM's ratio outside its bounds; a busy machine stretches timings unevenly, so they are
measured here instead. Run: ``python benchmarks/bench_timer_relations.py``
"""

from __future__ import annotations

import torch
from torch import nn

from suite.input_spec import InputSpec
from suite.measure.latency import measure_latency
from suite.models import create_model

SPEC = InputSpec(sample_rate=8000)
SECONDS = 0.5


class _Last(nn.Module):
    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x.transpose(1, 2))[0][:, -1]


def _min(timings: list, **wanted: object) -> float:
    (match,) = [t for t in timings if all(getattr(t, k) == v for k, v in wanted.items())]
    return float(match.min_ms)


def main() -> None:
    torch.set_num_threads(1)
    cnn = measure_latency(create_model("cnn2d", 10, SPEC, 32), SPEC, batch_sizes=(1, 32), scopes=("model",), min_run_time=SECONDS)
    print(f"cnn2d batch 32 / batch 1 (fastest blocks): {_min(cnn, batch_size=32) / _min(cnn, batch_size=1):.2f} (wanted > 2)")
    lstm, lengths = _Last(nn.LSTM(40, 256, batch_first=True)), {}
    for frames in (100, 400):
        spec = InputSpec(sample_rate=8000, clip_seconds=frames / 100)
        lengths[frames] = _min(measure_latency(lstm, spec, scopes=("model",), batch_sizes=(1,), min_run_time=SECONDS))
    print(f"LSTM 400 / 100 frames: {lengths[400] / lengths[100]:.2f} (wanted 2.5-6)")
    mlp = measure_latency(create_model("mlp", 10, SPEC, 16), SPEC, batch_sizes=(1,), min_run_time=SECONDS)
    print(f"mlp end to end / model only: {_min(mlp, scope='e2e') / _min(mlp, scope='model'):.2f} (wanted >= 1)")


if __name__ == "__main__":
    main()
