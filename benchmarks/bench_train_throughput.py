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
from suite.models import create_model, get_family, list_models
from suite.train import TrainingConfig, TrialData, augment, train_model


def plain_epoch(model: torch.nn.Module, data: TrialData, config: TrainingConfig, augmented: bool) -> float:
    """One epoch of the plainest loop (optionally calling the suite's augmentation); returns samples per second."""
    x, y = data.inputs["train"], data.targets["train"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(0)
    model.train()
    start = time.perf_counter()
    for indices in torch.randperm(len(x)).split(config.batch_size):
        batch = augment(x[indices], data, config, generator) if augmented else x[indices]
        loss = F.cross_entropy(model(batch), y[indices])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--models", default=",".join(list_models()))
    parser.add_argument("--budget", default="100k")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dataset = get_dataset("fsdd", root=args.data_root)
    config = TrainingConfig(epochs=1, batch_size=64)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {config.batch_size}; median of {args.repeats}")
    print("suite: the trial loop; bare: forward/backward/step only; +aug: bare plus the suite's augmentation calls")
    print(f"{'model':12s} {'suite /s':>10s} {'bare /s':>10s} {'+aug /s':>10s} {'suite/bare':>11s} {'suite/+aug':>11s}")
    for name in args.models.split(","):
        spec = get_family(name).adapt_input(input_preset("fsdd"))
        features = prepare_features(dataset, spec, progress=False)
        data = TrialData.from_features(features, spec)
        width = match_budget(name, spec, Budget.parse("params", args.budget)).width
        rates: dict[str, list[float]] = {"suite": [], "bare": [], "aug": []}
        for repeat in range(args.repeats):  # alternate, so that noise hits all three alike
            torch.manual_seed(repeat)
            trained = train_model(create_model(name, 10, spec, width), data, config, repeat, torch.device("cpu"), progress=False)
            rates["suite"].append(trained.samples_per_second)
            for kind in ("bare", "aug"):
                torch.manual_seed(repeat)
                rates[kind].append(plain_epoch(create_model(name, 10, spec, width), data, config, augmented=kind == "aug"))
        suite, bare, aug = (statistics.median(rates[kind]) for kind in ("suite", "bare", "aug"))
        print(f"{name:12s} {suite:10.0f} {bare:10.0f} {aug:10.0f} {suite / bare:11.3f} {suite / aug:11.3f}")


if __name__ == "__main__":
    main()
