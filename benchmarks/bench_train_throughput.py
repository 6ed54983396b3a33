"""Training throughput of the suite's trial loop vs a plain hand-written PyTorch loop.

Both train the same family at the same width on the same cached FSDD features with the
same batch size, side by side in one process, alternating so that machine noise hits
both alike. The plain loop is the minimum anyone would write: shuffle, slice a batch,
forward, cross-entropy, backward, AdamW step. The suite's loop adds what the protocol
needs (augmentation, label smoothing, gradient clipping, the schedule, progress
bookkeeping); the goal is a ratio of at least 0.95.

Run: ``python benchmarks/bench_train_throughput.py --data-root ../shared/data``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from suite.budget import Budget, match_budget
from suite.data import get_dataset
from suite.feature_cache import prepare_features
from suite.input_spec import input_preset
from suite.models import create_model, get_family
from suite.train import TrainingConfig, TrialData, standardize, train_model


def plain_epoch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, lr: float) -> float:
    """One epoch of the plainest loop; returns samples per second."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    start = time.perf_counter()
    for indices in torch.randperm(len(x)).split(batch_size):
        loss = F.cross_entropy(model(x[indices]), y[indices])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--models", default="mlp,cnn2d,lstm,transformer")
    parser.add_argument("--budget", default="100k")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dataset = get_dataset("fsdd", root=args.data_root)
    config = TrainingConfig(epochs=1, batch_size=64)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {config.batch_size}; median of {args.repeats}")
    print(f"{'model':12s} {'suite samples/s':>16s} {'plain samples/s':>16s} {'ratio':>7s}")
    for name in args.models.split(","):
        spec = get_family(name).adapt_input(input_preset("fsdd"))
        features = prepare_features(dataset, spec, progress=False)
        spectrogram = spec.feature != "raw"
        inputs = standardize(features.inputs, spectrogram)
        data = TrialData(inputs, features.targets, 10, 1000 / spec.hop_ms if spectrogram else spec.sample_rate, spectrogram)
        width = match_budget(name, spec, Budget.parse("params", args.budget)).width
        suite_rates, plain_rates = [], []
        for repeat in range(args.repeats):
            torch.manual_seed(repeat)
            model = create_model(name, 10, spec, width)
            suite_rates.append(train_model(model, data, config, repeat, torch.device("cpu"), progress=False).samples_per_second)
            torch.manual_seed(repeat)
            model = create_model(name, 10, spec, width)
            plain_rates.append(plain_epoch(model, inputs["train"], features.targets["train"], config.batch_size, config.lr))
        suite, plain = statistics.median(suite_rates), statistics.median(plain_rates)
        print(f"{name:12s} {suite:16.0f} {plain:16.0f} {suite / plain:7.3f}")


if __name__ == "__main__":
    main()
