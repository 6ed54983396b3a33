"""Does the CI gate trust what it should? A/A false alarms and A/B detections of `suite compare`.

BASE is ``--base-runs`` runs (default 3, as ``results/baselines/ci``: the between-run spread is then measured) of
``configs/ci.yaml`` with its seeds (0, 1, 2). Then ``--repeats`` A runs and ``--repeats``
B runs, alternating A, B, A, B so that machine noise hits both alike, each with
``--new-seeds`` seeds (default 1; 3 is what a PR job running ``ci.yaml`` has) that
differ from BASE's (from ``--new-seed`` on, new ones each repeat: a CI job's seed is
not the baseline's, and accuracy moves with it). The A runs change nothing else; in the B
runs one model is made slower by a test-only wrapper that busy-waits for ``--slowdown``
(default 20 %) of that model's BASE median latency after every forward pass. With
``--noisy-neighbour`` a CPU-burning process pinned to one core runs during half of
every NEW run (starting at a random point of its first half), as a neighbour on a
shared CI runner would. Each run is compared with BASE exactly as ``suite compare BASE
NEW`` does, with the default thresholds, and one table row is printed per comparison.

With ``--base-when spread`` the first BASE run is made first and the others evenly
between the A/B pairs up to after the last one, and the runs are compared once all are
made: BASE then spans the same hours of the machine's drift as the NEW runs, as a
baseline refreshed at the times of day the CI runs at would. ``--out`` keeps every run and
a ``plan.jsonl`` of the NEW ones; ``--rescore OUT`` judges them again without running.
``--rescore OUT --resample N`` estimates the rates behind one such table more finely:
N A/A comparisons, each a BASE of three runs drawn from the kept BASE and A runs against
another A run, and N A/B comparisons, a BASE drawn alike against a B run (the runs are
reused, so the comparisons are not independent: the rates are estimates, not counts).

Wanted: no A run reports any regression (false-alarm rate 0), and every B run reports
the slowed model's model-scope latency as ``regressed``.

Run: ``python benchmarks/bench_compare_gate.py --data-root ../shared/data --noisy-neighbour --new-seeds 3``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

import suite.budget
from suite.config import parse_config
from suite.gate import DEFAULT_FAIL_ON, compare_paths
from suite.gate.compare import compare_sides
from suite.gate.sides import Side, load_side
from suite.runner import run_config


class BusyWait(nn.Module):
    """``model`` followed by ``seconds`` of busy-waiting: extra work of a known duration per call."""

    def __init__(self, model: nn.Module, seconds: float) -> None:
        super().__init__()
        self.model, self.seconds = model, seconds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        end = time.perf_counter() + self.seconds
        while time.perf_counter() < end:
            pass
        return out


@contextmanager
def slowed(name: str, seconds: float) -> Iterator[None]:
    """Build family ``name`` wrapped in :class:`BusyWait` while the block runs."""
    original = suite.budget.create_model

    def create(family: str, *args: object, **kwargs: object) -> nn.Module:
        model = original(family, *args, **kwargs)  # type: ignore[arg-type]
        return BusyWait(model, seconds) if family == name else model

    suite.budget.create_model = create  # type: ignore[assignment]
    try:
        yield
    finally:
        suite.budget.create_model = original


def headline_ms(run_dir: Path, model: str) -> float:
    for line in (run_dir / "trials.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["model"] == model:
            return float(record["latency_ms"])
    raise LookupError(f"{model} is not in {run_dir}")


class NoisyNeighbour:
    """A CPU-burning process pinned to one core, switched on for part of a run: the shared runner's neighbour."""

    def __init__(self, core: int) -> None:
        self.core = core
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        with contextlib.suppress(OSError):  # pinning is best effort (no sched_setaffinity on some systems)
            os.sched_setaffinity(self.process.pid, {self.core})

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@contextmanager
def neighbour_during(window: tuple[float, float] | None, core: int) -> Iterator[None]:
    """Run the block with a :class:`NoisyNeighbour` on from ``window[0]`` to ``window[1]`` seconds after its start."""
    if window is None:
        yield
        return
    neighbour = NoisyNeighbour(core)
    timers = [threading.Timer(window[0], neighbour.start), threading.Timer(window[1], neighbour.stop)]
    for timer in timers:
        timer.start()
    try:
        yield
    finally:
        for timer in timers:
            timer.cancel()
        neighbour.stop()


def base_positions(base_runs: int, repeats: int, when: str) -> list[int]:
    """For each BASE run, the A/B pair before which it is made (``repeats`` = after the last pair).

    ``first``: all BASE runs before the first pair (a baseline made once, then CI runs).
    ``spread``: the first before pair 0, the others evenly up to after the last pair, so
    BASE spans the same stretch of the machine's drift as the NEW runs (as a baseline
    refreshed at the times of day CI runs at would). Runs are compared once all are made.
    """
    if when == "first" or base_runs == 1:
        return [0] * base_runs
    return [round(i * repeats / (base_runs - 1)) for i in range(base_runs)]


def watched(rows: list[dict[str, Any]], model: str) -> dict[str, Any]:
    """The row the benchmark watches: the slowed model's model-scope batch-1 latency."""
    return next(r for r in rows if r["model"] == model and str(r["metric"]).startswith("latency cpu b1"))


def judge(plan: list[dict[str, object]], out: Path, model: str, basis: str = "auto") -> None:
    """Compare every NEW run of ``plan`` with ``out/base`` as ``suite compare --latency-basis BASIS`` does; print the table."""
    base = out / "base"
    bases = sorted(p for p in base.iterdir() if p.is_dir())
    print(f"BASE: {len(bases)} run(s) pooled from {base}")
    print(f"thresholds: {DEFAULT_FAIL_ON.describe()}")
    header = f"{'run':4s} {'seed':>4s} {'burner':>11s} {'regressed':>9s} {'improved':>8s} {'unstable':>8s} {'unchanged':>9s}"
    header += f" {'not judged':>10s}"
    print(f"{header}  {model} latency (model scope, b1)")
    false_alarms, detections, repeats = 0, 0, 0
    for entry in plan:
        comparison = compare_paths(base, out / str(entry["run"]), DEFAULT_FAIL_ON, basis=basis)  # type: ignore[arg-type]
        target = watched(comparison.rows, model)
        verdicts = ("regressed", 9), ("improved", 8), ("unstable", 8), ("unchanged", 9), ("not judged", 10)
        counts = " ".join(f"{comparison.count(v):>{w}d}" for v, w in verdicts)
        window = entry["burner"]
        burner = f"{window[0]:.0f}-{window[1]:.0f} s" if isinstance(window, list) else "off"
        label = f"{entry['kind']}{int(entry['repeat']) + 1}"
        seeds = entry["seeds"]
        assert isinstance(seeds, list)
        print(f"{label:<4s} {seeds[0]:>4d} {burner:>11s} {counts}  {target['verdict']}: {target['detail']}", flush=True)
        for row in comparison.rows:
            if row["verdict"] in ("regressed", "improved", "unstable") and row is not target:
                print(f"       also {row['verdict']}: {row['model']} {row['metric']} ({row['detail']})")
        if entry["kind"] == "A":
            repeats += 1
            false_alarms += comparison.exit_code
        else:
            detections += target["verdict"] == "regressed"
    print(f"A/A: {false_alarms} of {repeats} comparisons reported a regression (false alarms)")
    print(f"A/B: {detections} of {len(plan) - repeats} comparisons reported {model} regressed")


def _regressed(rows: list[dict[str, Any]], latency: bool) -> bool:
    """Whether a latency row (``latency``) or another row regressed."""
    return any(r["verdict"] == "regressed" and str(r["metric"]).startswith("latency") == latency for r in rows)


def resample(
    plan: list[dict[str, object]], out: Path, model: str, draws: int, basis: str = "auto", base_runs: int = 3, new_runs: int = 1
) -> None:
    """Print the A/A false-alarm rates and the A/B detection rate over ``draws`` resampled comparisons each.

    Each comparison pools ``base_runs`` runs drawn from the kept BASE and A runs into BASE,
    and ``new_runs`` others into NEW: A runs (A/A) or B runs (A/B). More runs a side is
    what a gate on a drifting host can buy (a NEW side of several runs is several CI jobs).
    Latency is what resampling measures faithfully. Accuracy depends on the seeds: a
    resampled BASE of three A runs has nine distinct seeds where the gate's BASE (three
    runs of seeds 0-2) has three, so its rows are counted apart, as another shape of gate.
    """
    bases = sorted(p for p in (out / "base").iterdir() if p.is_dir())
    a_runs = [out / str(e["run"]) for e in plan if e["kind"] == "A"]
    b_runs = [out / str(e["run"]) for e in plan if e["kind"] == "B"]
    rng = random.Random(0)

    def pick(runs: list[Path], k: int) -> list[Path]:  # one run by choice(): the draws of the one-run shape stay as they were
        return [rng.choice(runs)] if k == 1 else rng.sample(runs, k)

    loaded: dict[tuple[Path, ...], Side] = {}
    with tempfile.TemporaryDirectory(prefix="resample-") as scratch:

        def side(runs: tuple[Path, ...]) -> Side:
            if runs not in loaded:  # a BASE of several runs is a folder of links to them, read as one
                folder = Path(scratch) / f"side{len(loaded)}"
                folder.mkdir()
                for run in runs:
                    (folder / f"{run.parent.name}-{run.name}").symlink_to(run.resolve(), target_is_directory=True)
                loaded[runs] = load_side(folder)
            return loaded[runs]

        def compared(base: list[Path], new: list[Path]) -> list[dict[str, Any]]:
            return compare_sides(side(tuple(sorted(base))), side(tuple(sorted(new))), DEFAULT_FAIL_ON, basis).rows  # type: ignore[arg-type]

        latency_alarms = other_alarms = detections = 0
        for _ in range(draws):
            new = pick(a_runs, new_runs)
            rows = compared(rng.sample([r for r in [*bases, *a_runs] if r not in new], base_runs), new)
            latency_alarms += _regressed(rows, latency=True)
            other_alarms += _regressed(rows, latency=False)
            base = rng.sample([*bases, *a_runs], base_runs)
            detections += watched(compared(base, pick(b_runs, new_runs)), model)["verdict"] == "regressed"
    aa, ab = latency_alarms / draws, detections / draws
    print(
        f"resampled from {len(bases)} BASE, {len(a_runs)} A and {len(b_runs)} B runs, {draws} comparisons of each kind, "
        f"{base_runs} run(s) in BASE and {new_runs} in NEW"
    )
    print(
        f"A/A latency: {latency_alarms} of {draws} raised a regression ({aa:.1%}): 0 of 10 has a chance of {(1 - aa) ** 10:.0%}"
    )
    print(f"A/A other rows, BASE of nine distinct seeds (not the gate's three): {other_alarms} of {draws}")
    at_least_9 = ab**10 + 10 * ab**9 * (1 - ab)
    print(f"A/B: {detections} of {draws} caught {model} ({ab:.1%}): 9 or more of 10 has a chance of {at_least_9:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/ci.yaml")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the config's)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--model", default="cnn1d", help="the family made slower in the B runs")
    parser.add_argument("--slowdown", type=float, default=0.20)
    parser.add_argument("--base-runs", type=int, default=3, help="runs pooled into BASE (as results/baselines/ci)")
    parser.add_argument(
        "--base-when", choices=("first", "spread"), default="first", help="BASE runs all first, or spread over the session"
    )
    parser.add_argument("--new-seed", type=int, default=10, help="first seed of the NEW runs (BASE uses the config's)")
    parser.add_argument("--new-seeds", type=int, default=1, help="seeds per NEW run (3: as a PR job running ci.yaml)")
    parser.add_argument("--noisy-neighbour", action="store_true", help="burn one core during part of every NEW run")
    parser.add_argument("--out", default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--rescore", default=None, help="judge the runs an earlier --out kept, without running anything")
    parser.add_argument("--resample", type=int, default=0, help="with --rescore: that many resampled comparisons of each kind")
    parser.add_argument(
        "--new-runs", type=int, default=1, help="with --resample: runs pooled into NEW (BASE: --base-runs) (default: 1)"
    )
    parser.add_argument(
        "--latency-basis", choices=("auto", "ms", "rel"), default="auto", help="as suite compare's (default: auto)"
    )
    args = parser.parse_args()
    if args.rescore:
        plan = [json.loads(line) for line in (Path(args.rescore) / "plan.jsonl").read_text().splitlines()]
        if args.resample:
            resample(plan, Path(args.rescore), args.model, args.resample, args.latency_basis, args.base_runs, args.new_runs)
        else:
            judge(plan, Path(args.rescore), args.model, args.latency_basis)
        return
    data = yaml.safe_load(Path(args.config).read_text())
    if args.epochs is not None:
        data["training"]["epochs"] = args.epochs
    config = parse_config(data, args.config)
    out = Path(args.out or tempfile.mkdtemp(prefix="gate-"))
    if (out / "plan.jsonl").exists():
        raise SystemExit(f"{out} already holds a benchmark's runs: give a new --out, or --rescore {out}")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)

    def one_run(folder: Path, seeds: list[int] | None = None) -> Path:
        chosen = config if seeds is None else parse_config(data | {"seeds": seeds}, args.config)
        return run_config(chosen, source=args.config, data_root=args.data_root, out=folder, progress=False)

    before = Counter(base_positions(args.base_runs, args.repeats, args.base_when))
    started = time.perf_counter()
    bases = [one_run(out / "base") for _ in range(before[0])]
    # A NEW run trains --new-seeds seeds: its length is a BASE run's per seed times that.
    run_seconds = (time.perf_counter() - started) / len(bases) / len(config.seeds) * args.new_seeds
    extra = args.slowdown * sorted(headline_ms(b, args.model) for b in bases)[len(bases) // 2] / 1000
    print(f"BASE: {args.base_runs} run(s) of seeds {config.seeds}, {args.base_when}; a NEW run takes about {run_seconds:.0f} s")
    print(f"NEW: {args.new_seeds} seed(s) per run from {args.new_seed} on, new ones each repeat; B runs add {extra * 1e6:.0f} us")
    noise = "one core, half of every NEW run" if args.noisy_neighbour else "none"
    print(f"busy-wait to every {args.model} forward; noisy neighbour: {noise}", flush=True)
    plan: list[dict[str, object]] = []
    for repeat in range(args.repeats + 1):
        for _ in range(before[repeat] if repeat else 0):  # those before pair 0 are made above
            bases.append(one_run(out / "base"))
            print(f"BASE run {len(bases)} made before pair {repeat + 1}", flush=True)
        if repeat == args.repeats:
            break
        seeds = [args.new_seed + repeat * args.new_seeds + k for k in range(args.new_seeds)]
        for kind in ("A", "B"):
            window = None
            if args.noisy_neighbour:  # on for half a run, starting anywhere in its first half
                begin = rng.uniform(0, 0.5) * run_seconds
                window = (begin, begin + 0.5 * run_seconds)
            slowdown = slowed(args.model, extra) if kind == "B" else contextlib.nullcontext()
            with neighbour_during(window, core=1), slowdown:
                new = one_run(out / "new", seeds)
            run = str(new.resolve().relative_to(out.resolve()))
            burner = list(window) if window else None  # as plan.jsonl holds it, so --rescore reads the same
            entry = {"kind": kind, "repeat": repeat, "seeds": seeds, "burner": burner, "run": run}
            plan.append(entry)
            with (out / "plan.jsonl").open("a") as handle:  # kept as it goes: --rescore judges what was made
                handle.write(json.dumps(entry) + "\n")
            print(f"made {kind}{repeat + 1} ({new.name})", flush=True)
    judge(plan, out, args.model, args.latency_basis)


if __name__ == "__main__":
    main()
