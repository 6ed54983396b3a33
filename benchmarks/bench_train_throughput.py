"""Training throughput of the suite's trial loop vs plain hand-written PyTorch loops.

All loops train the same family at the same width on the same cached FSDD features with
the same batch size, side by side in one process, alternating so that machine noise
hits them alike. Two hand-written references:

- ``plain``: the protocol written as a bare loop: shuffle, slice, the same augmentation
  calls, label-smoothed cross-entropy, backward, gradient clipping, AdamW (fused, as the
  suite uses), the schedule. ``suite/plain`` is the cost of the suite's machinery
  (generators, bookkeeping, progress, validation excluded); the goal is at least 0.95.
- ``bare``: forward, cross-entropy, backward and a default AdamW step, nothing else.
  ``suite/bare`` is what the whole protocol costs over the least anyone would write.

Run: ``python benchmarks/bench_train_throughput.py --data-root ../shared/data``
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from suite.augment import EpochAugmentation, ShiftedWindows
from suite.budget import Budget, match_budget
from suite.data import get_dataset
from suite.feature_cache import file_features
from suite.input_spec import input_preset
from suite.models import create_model, get_family, list_models
from suite.train import TrainingConfig, TrialData, max_shift_steps, spec_masks, train_model


def plain_epoch(model: torch.nn.Module, data: TrialData, config: TrainingConfig, protocol: bool) -> float:
    """One epoch of a hand-written loop, with or without the protocol; returns samples per second."""
    x, y = data.inputs["train"], data.targets["train"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=protocol)
    batches = torch.randperm(len(x)).split(config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=len(batches))
    if protocol:  # built once per trial, outside the timed epochs, as in the suite
        windows = ShiftedWindows(x, max_shift_steps(data, config))
    model.train()
    start = time.perf_counter()
    if protocol:
        draws = EpochAugmentation.draw(len(x), tuple(x.shape[1:]), windows.max_shift, spec_masks(data, config), torch.Generator())
    for i, indices in enumerate(batches):
        if protocol:
            batch = draws.apply(windows, indices, slice(i * config.batch_size, i * config.batch_size + len(indices)))
            loss = F.cross_entropy(model(batch), y[indices], label_smoothing=config.label_smoothing)
        else:
            loss = F.cross_entropy(model(x[indices]), y[indices])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if protocol:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if protocol:
            scheduler.step()
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--models", default=",".join(list_models()))
    parser.add_argument("--budget", default="100k")
    parser.add_argument("--repeats", type=int, default=3, help="at least this many epochs of each loop")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="and at least this much time in each loop")
    args = parser.parse_args()
    dataset = get_dataset("fsdd", root=args.data_root)
    config = TrainingConfig(epochs=1, batch_size=64)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {config.batch_size}")
    print(f"median epoch rate over >= {args.repeats} epochs and >= {args.min_seconds} s of each loop")
    header = ("model", "suite /s", "plain /s", "bare /s", "suite/plain", "suite/bare", "epochs")
    print(f"{header[0]:12s} " + " ".join(f"{h:>11s}" for h in header[1:]))
    for name in args.models.split(","):
        spec = get_family(name).adapt_input(input_preset("fsdd"))
        features = file_features(dataset, spec, progress=False).select(dataset)
        data = TrialData.from_features(features, spec)
        width = match_budget(name, spec, Budget.parse("params", args.budget)).width
        rates: dict[str, list[float]] = {"suite": [], "plain": [], "bare": []}
        repeat = 0
        # Alternate one epoch of each loop, so that noise hits all three alike; a fast
        # model's epoch lasts a fraction of a second, so repeat until each loop ran long enough.
        n = len(data.targets["train"])
        while repeat < args.repeats or min(n * sum(1 / rate for rate in r) for r in rates.values()) < args.min_seconds:
            torch.manual_seed(repeat)
            trained = train_model(create_model(name, 10, spec, width), data, config, repeat, torch.device("cpu"), progress=False)
            rates["suite"].append(trained.samples_per_second)
            for kind in ("plain", "bare"):
                torch.manual_seed(repeat)
                rates[kind].append(plain_epoch(create_model(name, 10, spec, width), data, config, protocol=kind == "plain"))
            repeat += 1
        runs = len(rates["suite"])
        suite, plain, bare = (statistics.median(rates[kind]) for kind in ("suite", "plain", "bare"))
        row = f"{suite:11.0f} {plain:11.0f} {bare:11.0f} {suite / plain:11.3f} {suite / bare:11.3f} {runs:11d}"
        print(f"{name:12s} {row}", flush=True)


if __name__ == "__main__":
    main()
